"""`genmedia image denoise --ray`: the local batch's guarantees on a (local, 2-CPU) Ray cluster."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

ray = pytest.importorskip("ray")

from genmedia.cli import cli  # noqa: E402
from genmedia.image.batch import Job, plan  # noqa: E402
from genmedia.image.evaluate import add_noise  # noqa: E402
from genmedia.image.png16 import write_png16  # noqa: E402
from genmedia.image.ray_batch import denoise_files_ray  # noqa: E402
from genmedia.registry import get_model  # noqa: E402

from test_image_cli import digest, scene  # noqa: E402
from test_image_io import exif_bytes, srgb_icc  # noqa: E402


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def cluster():
    """A fresh local cluster of 2 CPUs for this module ('local': never one that happens to run here)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield
    ray.shutdown()


def make_batch(root: Path) -> Path:
    """A few tiny files of the kinds a batch keeps (8-bit PNG, gray JPEG with EXIF and ICC, 16-bit
    color PNG, lossless RGBA WebP in a sub-folder) and one broken file."""
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(add_noise(scene(48, 64), 20, seed=0, quantise=True)).save(src / "a.png")
    Image.fromarray(add_noise(scene(40, 56, seed=1), 15, seed=1, quantise=True)[..., 0]).save(
        src / "gray.jpg", quality=88, exif=exif_bytes(), icc_profile=srgb_icc())
    deep = np.clip(scene(32, 48, seed=3).astype(np.float64) * 257
                   + np.random.default_rng(3).normal(0, 12 * 257, (32, 48, 3)), 0, 65535).astype(np.uint16)
    write_png16(src / "deep.png", deep, None, {"dpi": (300, 300)})
    rgba = Image.fromarray(add_noise(scene(40, 40, seed=2), 20, seed=2, quantise=True)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    rgba.save(src / "sub" / "c.webp", lossless=True)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing a PNG needs")
    return src


def report_without_times(path: Path) -> list[dict]:
    files = json.loads(path.read_text())["files"]
    return [{k: v for k, v in entry.items() if k not in ("seconds", "output")} for entry in files]


def test_a_ray_batch_is_the_local_batch(cluster, tmp_path: Path) -> None:
    src = make_batch(tmp_path)
    before = digest(src)
    local = run("image", "denoise", src, "-o", tmp_path / "local", "-r", "--report", tmp_path / "local.json")
    on_ray = run("image", "denoise", src, "-o", tmp_path / "ray", "-r", "--report", tmp_path / "ray.json", "--ray")
    assert local.exit_code == on_ray.exit_code == 1, on_ray.output
    assert sorted(digest(tmp_path / "ray")) == ["a.png", "deep.png", "gray.jpg", "sub/c.webp"]  # no temporary files
    assert digest(tmp_path / "ray") == digest(tmp_path / "local")  # byte for byte
    assert digest(src) == before  # inputs untouched
    lines = on_ray.stderr.splitlines()
    assert any(line.startswith(f"error: {src / 'broken.png'}: ") for line in lines)
    assert "done 4, skipped 0, failed 1" in on_ray.stderr
    assert lines[-1] == f"failed: {src / 'broken.png'}"
    assert report_without_times(tmp_path / "ray.json") == report_without_times(tmp_path / "local.json")
    with Image.open(tmp_path / "ray" / "gray.jpg") as out, Image.open(src / "gray.jpg") as inp:
        assert out.mode == "L" and out.info["icc_profile"] == inp.info["icc_profile"]
        assert out.getexif()[0x010F] == "genmedia test camera"

    again = run("image", "denoise", src, "-o", tmp_path / "ray", "-r", "--ray", "--skip-existing")
    assert again.exit_code == 1 and "done 0, skipped 4, failed 1" in again.stderr
    refused = run("image", "denoise", src / "a.png", "-o", tmp_path / "ray", "--ray")
    assert refused.exit_code == 1 and f"output {tmp_path / 'ray' / 'a.png'} already exists" in refused.stderr
    (tmp_path / "ray" / "a.png").write_bytes(b"stale")
    replaced = run("image", "denoise", src / "a.png", "-o", tmp_path / "ray", "--ray", "--overwrite", "-j", "1")
    assert replaced.exit_code == 0, replaced.output
    says = [line for line in replaced.stderr.splitlines() if line.startswith("ray: ")]
    assert len(says) == 2 and says[0].startswith("ray: connecting (auto")  # the user knows what the wait is
    assert re.fullmatch(r"ray: \d+ CPUs? in the cluster, 1 denoiser actor", says[1]), says
    assert digest(tmp_path / "ray") == digest(tmp_path / "local")


def test_results_come_in_input_order_with_progress_by_tile(cluster, tmp_path: Path) -> None:
    src = make_batch(tmp_path)
    jobs, _ = plan([src], tmp_path / "out", recursive=True)
    seen: dict[Job, int] = {}

    def progress(job: Job, pixels: int) -> None:
        seen[job] = seen.get(job, 0) + pixels

    results = list(denoise_files_ray(get_model(None, task="denoise"), jobs, workers=2, progress=progress, tile=16))
    assert [r.job for r in results] == jobs
    assert [r.status for r in results] == ["done", "failed", "done", "done", "done"]  # a, broken, deep, gray, sub/c
    for result in results:
        if result.status == "done":
            assert seen[result.job] == round(result.megapixels * 1e6)  # every tile was reported
