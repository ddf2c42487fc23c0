"""Whole training runs as library calls (genmedia.training.runs), the shared VAE pieces, and the
melody trainer's old import path."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import SMB_LEGEND
from midi_fixtures import scale_tune, write_midi

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytestmark = pytest.mark.torch


def test_gaussian_kl_is_the_closed_form_per_element():
    from genmedia.training.vae import gaussian_kl

    mean = torch.tensor([[0.0, 1.5, -2.0], [0.3, 0.0, 4.0]])
    logvar = torch.tensor([[0.0, -1.0, 0.7], [2.0, -3.0, 0.0]])
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mean, torch.exp(0.5 * logvar)),
                                                 torch.distributions.Normal(0.0, 1.0))
    got = gaussian_kl(mean, logvar)
    assert got.shape == mean.shape
    assert torch.allclose(got, expected, atol=1e-6)
    assert got[0, 0] == 0.0  # the prior itself costs nothing


def test_reparameterise_draws_from_the_posterior_and_passes_gradients():
    from genmedia.training.vae import reparameterise

    mean = torch.full((20_000,), 3.0, requires_grad=True)
    logvar = torch.full((20_000,), float(np.log(0.25)), requires_grad=True)
    torch.manual_seed(0)
    z = reparameterise(mean, logvar)
    torch.manual_seed(0)
    assert torch.equal(z, mean + torch.randn(20_000) * 0.5)  # one draw of torch's stream, scaled
    assert abs(z.mean().item() - 3.0) < 0.02 and abs(z.std().item() - 0.5) < 0.02
    z.sum().backward()
    assert torch.equal(mean.grad, torch.ones(20_000)) and logvar.grad.abs().sum() > 0


def test_the_old_melody_vae_path_names_the_split_modules_objects():
    import genmedia.training.melody_vae as old
    from genmedia.training import melody_data, melody_export, melody_losses, melody_net, melody_trainer

    homes = {m.__name__: m for m in (melody_data, melody_export, melody_losses, melody_net, melody_trainer)}
    for name in old.__all__:
        thing = getattr(old, name)
        assert getattr(homes[thing.__module__], name) is thing, name  # defined in one of them, not in the old one


def level_corpus(root: Path, legend: dict) -> Path:
    from conftest import flat_map, with_column

    folder = root / "maps"
    folder.mkdir(parents=True)
    (folder / "legend.json").write_text(json.dumps(legend))
    for i, width in enumerate((48, 56, 64)):
        lines = with_column(flat_map(width, gaps=(range(20, 23),)), 10 + i, "E")
        (folder / f"m{i}.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_a_level_run_starts_a_conditional_model_from_an_unconditional_one(tmp_path):
    from genmedia.errors import InputError
    from genmedia.training.level_vae import LevelVAEConfig
    from genmedia.training.runs import train_level_model

    maps = level_corpus(tmp_path, SMB_LEGEND)
    lines: list[str] = []
    plain = train_level_model(maps, LevelVAEConfig.preset("tiny"), name="plain", out_dir=tmp_path / "out",
                              command="genmedia train level test", log=lines.append)
    assert lines[0] == f"training on 3 maps from {maps} (13 tiles)" and lines[-1].startswith("step 3/3 loss")
    assert json.loads(plain.read_text())["training"]["command"] == "genmedia train level test"

    lines.clear()
    cond = train_level_model(maps, LevelVAEConfig.preset("tiny-conditional"), name="cond", out_dir=tmp_path / "out",
                             command="c", init=plain, log=lines.append)
    assert [line.split(":")[0] for line in lines[:6]] == ["enemies", "pipes", "gaps", "blocks", "coins", "elevation"]
    assert lines[6].startswith("training on 3 maps")
    meta = json.loads(cond.read_text())
    assert meta["training"]["init"]["model"] == "plain" and "attributes" in meta

    wider = replace(LevelVAEConfig.preset("tiny"), latent=5)
    with pytest.raises(InputError) as caught:
        train_level_model(maps, wider, name="wide", out_dir=tmp_path / "out", command="c", init=plain)
    assert caught.value.path == plain and "encoder" in caught.value.why
    assert not (tmp_path / "out" / "wide.json").exists()


def test_a_conditional_level_run_on_other_tiles_names_the_data_folder(tmp_path):
    from genmedia.errors import InputError
    from genmedia.training.level_vae import LevelVAEConfig
    from genmedia.training.runs import train_level_model

    legend = {"tiles": {k: v for k, v in SMB_LEGEND["tiles"].items() if k not in "Qo"}}
    maps = level_corpus(tmp_path, legend)
    with pytest.raises(InputError) as caught:
        train_level_model(maps, LevelVAEConfig.preset("tiny-conditional"), name="c", out_dir=tmp_path / "out",
                          command="c")
    assert caught.value.path == maps and caught.value.why.endswith("this vocabulary lacks 'Qo'")


def test_a_melody_run_measures_exports_and_fits_the_prior(tmp_path):
    from genmedia.errors import GenmediaError
    from genmedia.training.melody_net import MelodyVAEConfig
    from genmedia.training.runs import NoTrainingData, train_melody_model

    tunes, empty = tmp_path / "tunes", tmp_path / "empty"
    tunes.mkdir()
    empty.mkdir()
    for i in range(24):
        write_midi(tunes / f"tune{i:02d}.mid", [scale_tune(4, base=55 + i % 12)])
    lines: list[str] = []
    meta_path = train_melody_model([tunes], MelodyVAEConfig.preset("tiny"), name="m", out_dir=tmp_path / "out",
                                   command="genmedia train melody test", log=lines.append)
    assert lines[0].startswith("training on ") and lines[0].endswith(" tunes")
    meta = json.loads(meta_path.read_text())
    splits = [s for s in ("train", "valid", "test") if meta["training"]["windows"].get(s)]
    expected = {f"greedy_accuracy_{s}" for s in splits} | {f"greedy_accuracy_{s}_tunes" for s in splits if s != "train"}
    assert set(meta["metrics"]) == expected and len(splits) == 3
    assert all(0.0 <= v <= 1.0 for v in meta["metrics"].values())
    assert meta["training"]["command"] == "genmedia train melody test" and "prior" in meta["files"]

    with pytest.raises(NoTrainingData) as caught:
        train_melody_model([empty, empty], MelodyVAEConfig.preset("tiny"), name="e", out_dir=tmp_path / "e",
                           command="c")
    assert isinstance(caught.value, GenmediaError)
    assert str(caught.value) == f"{empty}, {empty}: no training melodies found"
    assert not (tmp_path / "e").exists()
