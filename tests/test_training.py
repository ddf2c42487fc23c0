"""Training (tiny runs on hand-made maps), ONNX export, and ONNX Runtime / torch parity."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A model trained for a few steps on the hand-made corpus, exported to ONNX."""
    from genmedia.training.level_vae import LevelVAEConfig, export, load_level_data, train

    from conftest import SMB_LEGEND, flat_map

    root = tmp_path_factory.mktemp("tiny")
    (root / "legend.json").write_text(json.dumps(SMB_LEGEND))
    for i in range(3):
        (root / f"m{i}.txt").write_text("\n".join(flat_map(40 + 8 * i, gaps=(range(10 + i, 13 + i),))) + "\n")
    data = load_level_data(root)
    model = train(data, LevelVAEConfig.preset("tiny"))
    meta = export(model, data, name="tiny", out_dir=root / "out", command="test", data_dir=root)
    return model, meta


@pytest.mark.parametrize("steps", [1, 4, 19, 125])
def test_decoder_parity_with_torch(tiny, steps):
    from genmedia.levels.model import LevelModel

    model, meta = tiny
    z = np.random.default_rng(steps).standard_normal((3, model.cfg.latent, steps)).astype(np.float32)
    with torch.no_grad():
        expected = model.decoder(torch.from_numpy(z)).numpy()
    got = LevelModel.load(meta).decoder.run(z=z)["logits"]
    assert got.shape == expected.shape == (3, model.cfg.vocab, model.cfg.rows_padded, 8 * steps)
    assert np.abs(got - expected).max() <= 1e-4


def test_encoder_parity_with_torch(tiny):
    from genmedia.levels.model import LevelModel

    model, meta = tiny
    idx = np.random.default_rng(0).integers(0, model.cfg.vocab, (2, model.cfg.rows_padded, 48))
    x = np.eye(model.cfg.vocab, dtype=np.float32)[idx].transpose(0, 3, 1, 2)
    with torch.no_grad():
        mean, logvar = (t.numpy() for t in model.encoder(torch.from_numpy(x)))
    got = LevelModel.load(meta).encoder.run(tiles=x)
    assert np.abs(got["mean"] - mean).max() <= 1e-4
    assert np.abs(got["logvar"] - logvar).max() <= 1e-4


def test_cli_trains_exports_and_loads_back(mini_corpus, tmp_path):
    from genmedia.levels.model import LevelModel, sample_levels

    out = tmp_path / "models"
    ckpt = tmp_path / "ckpt.pt"
    args = ["train", "level", "--data", str(mini_corpus), "--preset", "tiny", "--name", "mini", "--out", str(out),
            "--checkpoint", str(ckpt)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "mini.json").read_text())
    assert meta["task"] == "level" and meta["rows"] == 14 and meta["rows_padded"] == 16
    assert meta["training"]["command"] == (f"genmedia train level --data {mini_corpus} --name mini --out {out} "
                                           f"--preset tiny --checkpoint {ckpt}")
    assert meta["vocabulary"]["chars"][:3] == ["X", "S", "-"]
    assert {t["name"] for t in meta["tensors"]["decoder"]["inputs"]} == {"z"}
    assert ckpt.exists()
    model = LevelModel.load(out / "mini.json")
    levels = sample_levels(model, count=2, width=40, seed=1, check=False).levels
    assert [lv.shape for lv in levels] == [(14, 40), (14, 40)]
    again = CliRunner().invoke(cli, args, catch_exceptions=False)  # refuses to replace the export
    assert again.exit_code == 1 and "already exists" in again.output


def test_training_is_reproducible(mini_corpus):
    from genmedia.training.level_vae import LevelVAEConfig, load_level_data, train

    data = load_level_data(mini_corpus)
    a, b = (train(data, LevelVAEConfig.preset("tiny")) for _ in range(2))
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)


def test_train_without_torch_names_the_install_command(mini_corpus, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    result = CliRunner().invoke(cli, ["train", "level", "--data", str(mini_corpus)])
    assert result.exit_code == 1
    assert "pip install 'genmedia[train]'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch sees a CUDA GPU")
@pytest.mark.parametrize("command", [["level", "--data", "MAPS"], ["melody", "--data", "MAPS"],
                                     ["denoiser", "--gray", "MAPS", "--color", "MAPS"]])
def test_training_on_a_missing_gpu_is_refused_in_one_line(mini_corpus, tmp_path, command):
    args = ["train", *[str(mini_corpus) if a == "MAPS" else a for a in command], "--device", "cuda",
            "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.startswith("error: --device cuda: this torch") and result.output.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_interrupted_run_resumes_to_the_same_weights(mini_corpus, tmp_path, monkeypatch):
    """Stopped right after its first checkpoint and started again, a run ends where an
    uninterrupted one does: model, optimiser, step and data stream all come back."""
    from genmedia.training import loop
    from genmedia.training.level_vae import LevelVAEConfig, load_level_data, train

    data = load_level_data(mini_corpus)
    cfg = LevelVAEConfig.preset("tiny")
    cfg.steps = 6
    whole = train(data, cfg, log_every=2)
    real_save, ckpt = loop._save, tmp_path / "run.pt"

    def save_then_stop(*args):
        real_save(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(data, cfg, checkpoint=ckpt, log_every=2)
    assert torch.load(ckpt, weights_only=False)["step"] == 2
    monkeypatch.setattr(loop, "_save", real_save)
    lines = []
    resumed = train(data, cfg, checkpoint=ckpt, log_every=2, log=lines.append)
    assert lines[0] == f"resumed from {ckpt} at step 2"
    for pa, pb in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(pa, pb)


def test_max_minutes_pauses_with_status_75_and_the_same_command_finishes_the_run(mini_corpus, tmp_path,
                                                                                   monkeypatch):
    """A run cut into pieces by --max-minutes exports the same model as one run straight through,
    and its recorded command is the straight run's (the option is not recorded)."""
    from genmedia.training import loop

    out, ckpt = tmp_path / "out", tmp_path / "run.pt"
    base = ["train", "level", "--data", str(mini_corpus), "--preset", "tiny", "--steps", "6", "--name", "m"]
    straight = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "straight")], catch_exceptions=False)
    assert straight.exit_code == 0, straight.output

    clock = iter(range(0, 10_000, 50))  # every look at the clock: 50 s later
    monkeypatch.setattr(loop.time, "monotonic", lambda: next(clock))
    args = [*base, "--out", str(out), "--checkpoint", str(ckpt), "--max-minutes", "2"]
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 75 and not out.exists()
    assert first.output.splitlines()[-1] == (f"error: time limit reached at step 3 of 6; saved {ckpt}, "
                                             "and the same command resumes from it")
    second = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert f"resumed from {ckpt} at step 3" in second.output
    meta, ref = (json.loads(p.read_text()) for p in (out / "m.json", tmp_path / "straight" / "m.json"))
    assert meta["training"]["command"] == (ref["training"]["command"].replace(str(tmp_path / "straight"), str(out))
                                           + f" --checkpoint {ckpt}")
    assert {k: v["sha256"] for k, v in meta["files"].items()} == {k: v["sha256"] for k, v in ref["files"].items()}

    refused = CliRunner().invoke(cli, [*base, "--max-minutes", "1"])
    assert refused.exit_code == 2 and "--max-minutes needs --checkpoint" in refused.output
