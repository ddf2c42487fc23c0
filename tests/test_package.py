"""The package as installed: no torch on the runtime path, shipped models intact, the CLI entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from genmedia.registry import DEFAULT_MODELS, get_model, list_models

from conftest import python


def test_importing_the_cli_does_not_import_torch_or_numerics():
    loaded = python("import sys, genmedia, genmedia.cli; "
                    "print(sorted(m for m in ('torch', 'numpy', 'onnxruntime') if m in sys.modules))")
    assert loaded == "[]"


def test_running_a_level_command_does_not_import_torch(tmp_path):
    code = (
        "import sys; from genmedia.cli import cli\n"
        f"cli(['level', 'sample', '--count', '2', '--width', '32', '--seed', '0', '-o', r'{tmp_path}'],"
        " standalone_mode=False)\n"
        "print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    assert python(code).splitlines()[-1] == "False True"


def test_denoising_does_not_import_torch(tmp_path):
    from genmedia.resources import resource_dir

    noisy = resource_dir("assets") / "images" / "landscape-noisy.png"
    code = (
        "import sys; from genmedia.cli import cli\n"
        f"cli(['image', 'denoise', r'{noisy}', '-o', r'{tmp_path}', '-q'], standalone_mode=False)\n"
        "print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    assert python(code).splitlines()[-1] == "False True"
    assert (tmp_path / "landscape-noisy.png").exists()


def test_the_cli_runs_numpys_blas_with_one_thread_unless_told_otherwise():
    import os

    code = ("import os, sys; import genmedia.cli as c; print(os.environ.get('OPENBLAS_NUM_THREADS'));"
            " sys.argv = ['genmedia', '--version']\ntry: c.main()\nexcept SystemExit: pass\n"
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert out[0] == "None" and out[-1] == "1"  # set by the command, not by importing the CLI
    mine = subprocess.run(run, env={**env, "OPENBLAS_NUM_THREADS": "2"}, check=True, capture_output=True, text=True)
    assert mine.stdout.split()[-1] == "2"  # the user's own setting stays


def test_every_shipped_model_resolves_and_matches_its_hash():
    models = list_models()
    assert {m.name for m in models} >= set(DEFAULT_MODELS.values())
    for info in models:
        for role, entry in info.metadata["files"].items():
            path = info.file(role)  # raises ModelError on a missing file or a hash mismatch
            assert path.stat().st_size == entry["bytes"]
        assert info.metadata["training"]["command"].startswith("genmedia train ")
    assert get_model(None, task="level").name == "smb-level-vae"


@pytest.mark.skipif(shutil.which("genmedia") is None, reason="the package is not installed")
def test_console_script_runs():
    out = subprocess.run(["genmedia", "--help"], check=True, capture_output=True, text=True).stdout
    assert "level" in out and "models" in out and "demo" in out


CAMERA_GAIN_DB = 4.6  # the shipped denoiser gains 5.33 dB on it (27.96 -> 33.29; 3.93 without the pixel-shuffle pass)


def test_demo_writes_levels(tmp_path):
    from click.testing import CliRunner

    from genmedia.cli import cli

    result = CliRunner().invoke(cli, ["demo", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "levels").iterdir())
    assert "morph.png" in names and "level-003.txt" in names and "morph-04.png" in names
    melodies = sorted(p.name for p in (tmp_path / "melodies").iterdir())
    assert {"morph.mid", "morph.wav", "jig-000.mid", "jig-000.wav", "jig-001.mid"} <= set(melodies)
    import pretty_midi

    jig = pretty_midi.PrettyMIDI(str(tmp_path / "melodies" / "jig-000.mid"))
    assert [(t.numerator, t.denominator) for t in jig.time_signature_changes] == [(6, 8)]  # a jig, in jig bars
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        "before-after-camera.png", "before-after.png", "landscape-camera-denoised.jpg", "landscape-denoised.png"]
    line = next(x for x in result.output.splitlines() if x.startswith("images:"))
    before, after = (float(v) for v in line.split("clean drawing ")[1].split(" dB")[0].split(" -> "))
    assert after > before + 8  # the demo photo really is cleaned
    before, after = (float(v) for v in line.split("landscape-camera.jpg (")[1].split(" dB")[0].split(" -> "))
    assert after > before + CAMERA_GAIN_DB  # and so is the camera JPEG, which the noise estimator reads as clean
    assert CliRunner().invoke(cli, ["demo", str(tmp_path)]).exit_code == 1  # will not clobber
