"""The conditional level VAE, tiny and trained here on hand-made maps: export, ONNX parity with torch,
`level sample --enemies ... / --prompt`, the LEVEL.json records, `level transform`, `level eval`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli
from genmedia.levels.tiles import read_level

from conftest import SMB_LEGEND, flat_map, with_column

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytestmark = pytest.mark.torch


def corpus_maps() -> dict[str, list[str]]:
    """Four 64-column maps with enemies, pipes, gaps, blocks, coins and raised ground."""
    a = flat_map(64)
    for c in (5, 9, 22, 40, 41, 55):
        a = with_column(a, c, "E")
    a = with_column(with_column(a, 30, "[<"), 31, "]>")
    b = flat_map(64, gaps=(range(12, 15), range(36, 40)))
    for c in range(20, 28):
        b = with_column(b, c, "X" * (1 + (c - 20) // 3))
    c_map = flat_map(64, gaps=(range(50, 53),))
    rows = [list(r) for r in c_map]
    rows[9][10:16] = list("S?SQSS")
    rows[5][30:34] = list("oooo")
    rows[9][40:42] = list("??")
    c_map = ["".join(r) for r in rows]
    c_map = with_column(with_column(c_map, 20, "[[<"), 21, "]]>")
    d = flat_map(64)
    for col in (3, 18, 34, 46):
        d = with_column(d, col, "E")
    d = with_column(with_column(d, 26, "[<"), 27, "]>")
    d = with_column(with_column(d, 58, "[<"), 59, "]>")
    return {"a.txt": a, "b.txt": b, "c.txt": c_map, "d.txt": d}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("cvae")
    folder = root / "game" / "Processed"
    folder.mkdir(parents=True)
    (root / "game" / "legend.json").write_text(json.dumps(SMB_LEGEND))
    for name, lines in corpus_maps().items():
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def tiny(corpus, tmp_path_factory):
    """A tiny conditional model trained for a few dozen steps (it learns sky over ground), exported."""
    from genmedia.training.level_vae import LevelVAEConfig, export, load_level_data, train

    data = load_level_data(corpus)
    cfg = LevelVAEConfig.preset("tiny-conditional")
    cfg.steps = 60
    model = train(data, cfg)
    out = tmp_path_factory.mktemp("out")
    meta = export(model, data, name="tiny-cvae", out_dir=out, command="test", data_dir=corpus)
    return model, meta


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_export_metadata_describes_the_bins_and_the_conditioning(tiny):
    from genmedia.levels.attributes import NAMES
    from genmedia.levels.model import LevelModel

    model, meta_path = tiny
    meta = json.loads(meta_path.read_text())
    spec = meta["attributes"]
    assert spec["names"] == list(NAMES) and spec["window_columns"] == 16 and spec["steps_per_window"] == 2
    assert spec["channels"] == model.cfg.cond_channels == 24
    assert spec["edges"]["enemies"][0] == 0.0  # most windows have none
    assert [len(w) for w in spec["corpus"]] == [4, 4, 4, 4]  # four 16-column windows per 64-column map
    assert {t["name"] for t in meta["tensors"]["decoder"]["inputs"]} == {"z", "cond"}
    assert {t["name"] for t in meta["tensors"]["encoder"]["inputs"]} == {"tiles", "cond"}
    assert set(meta["training"]["control_accuracy_argmax"]) == set(NAMES)
    assert LevelModel.load(meta_path).conditional


@pytest.mark.parametrize("steps", [1, 2, 5, 19])
def test_decoder_parity_with_torch(tiny, steps):
    from genmedia.levels.model import LevelModel

    model, meta = tiny
    rng = np.random.default_rng(steps)
    z = rng.standard_normal((3, model.cfg.latent, steps)).astype(np.float32)
    vae = LevelModel.load(meta)
    cond = np.stack([vae.condition(rng.integers(0, 2, (-(-steps // 2), 6)), steps) for _ in range(3)])
    with torch.no_grad():
        expected = model.decoder(torch.from_numpy(z), torch.from_numpy(cond)).numpy()
    got = vae.decoder.run(z=z, cond=cond)["logits"]
    assert got.shape == expected.shape == (3, model.cfg.vocab, model.cfg.rows_padded, 8 * steps)
    assert np.abs(got - expected).max() <= 1e-4


def test_encoder_parity_with_torch(tiny):
    from genmedia.levels.model import LevelModel

    model, meta = tiny
    vae = LevelModel.load(meta)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, model.cfg.vocab, (2, model.cfg.rows_padded, 48))
    x = np.eye(model.cfg.vocab, dtype=np.float32)[idx].transpose(0, 3, 1, 2)
    cond = np.stack([vae.condition(rng.integers(0, 2, (3, 6)), 6) for _ in range(2)])
    with torch.no_grad():
        mean, logvar = (t.numpy() for t in model.encoder(torch.from_numpy(x), torch.from_numpy(cond)))
    got = vae.encoder.run(tiles=x, cond=cond)
    assert np.abs(got["mean"] - mean).max() <= 1e-4
    assert np.abs(got["logvar"] - logvar).max() <= 1e-4


def test_sample_writes_levels_and_the_bins_asked_for(tiny, tmp_path):
    _, meta = tiny
    args = ["level", "sample", "--model", meta, "--count", "3", "--width", "70", "--seed", "4", "--enemies", "many",
            "--pipes", "none,few", "--elevation", "high"]
    result = run(*args, "-o", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "wrote 3 levels of 70 columns (--enemies many --pipes none,few --elevation high)" in result.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        f"level-00{i}.{ext}" for i in range(3) for ext in ("json", "png", "txt")]
    record = json.loads((tmp_path / "a" / "level-001.json").read_text())
    assert record["format"] == "genmedia level attributes 1" and record["model"] == "tiny-cvae"
    assert record["width"] == 70 and record["window_columns"] == 16 and record["seed"] == 4
    assert record["requested"] == {"enemies": ["many"] * 5, "pipes": ["none", "none", "none", "few", "few"],
                                   "elevation": ["high"] * 5}
    assert set(record["others"]) == {"gaps", "blocks", "coins"} and record["others_are"] == "drawn as in the corpus"
    assert all(len(v) == 5 for v in record["others"].values())
    assert read_level(tmp_path / "a" / "level-001.txt").shape == (14, 70)
    again = run(*args, "-o", tmp_path / "b")
    assert again.exit_code == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == {
        p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}


def test_unasked_bins_are_drawn_as_in_the_corpus_and_independent_of_count(tiny):
    from genmedia.levels.model import LevelModel, sample_levels

    vae = LevelModel.load(tiny[1])
    few = sample_levels(vae, count=2, width=64, seed=9, check=False)
    many = sample_levels(vae, count=5, width=64, seed=9, check=False)
    assert all(np.array_equal(x, y) for x, y in zip(few.levels, many.levels))
    assert all(np.array_equal(x, y) for x, y in zip(few.conditions, many.conditions))
    corpus_rows = {tuple(row) for rows in vae.corpus_bins for row in rows}
    assert all(tuple(row) in corpus_rows for c in many.conditions for row in c)  # jointly, as training windows


def test_prompt_is_read_and_what_it_does_not_say_is_named(tiny, tmp_path):
    _, meta = tiny
    result = run("level", "sample", "--model", meta, "--count", "1", "--width", "32", "--seed", "0", "--no-png",
                 "--no-check", "--prompt", "many pipes, no enemies, purple clouds, low elevation",
                 "--enemies", "few", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("prompt:")]
    assert lines == [("prompt: did not understand 'purple clouds' (say e.g. 'many pipes', 'no enemies', 'few gaps', "
                      "'some blocks', 'many coins', 'low elevation')")]
    record = json.loads((tmp_path / "level-000.json").read_text())
    assert record["requested"] == {"enemies": ["few"] * 2, "pipes": ["many"] * 2, "elevation": ["low"] * 2}
    assert record["prompt"] == "many pipes, no enemies, purple clouds, low elevation"
    # a prompt that asks for nothing: sampled as without it (the default, unconditional model; no .json)
    plain = run("level", "sample", "--count", "1", "--width", "32", "--seed", "0", "--no-png", "--prompt",
                "purple clouds", "-o", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    assert ("prompt: nothing in it asked for an attribute, so the levels are sampled as without --prompt"
            in plain.output.splitlines())
    unasked = run("level", "sample", "--count", "1", "--width", "32", "--seed", "0", "--no-png", "-o",
                  tmp_path / "unasked")
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["level-000.txt"]
    assert (tmp_path / "plain" / "level-000.txt").read_bytes() == (tmp_path / "unasked" / "level-000.txt").read_bytes()
    assert unasked.exit_code == 0


def test_bad_bins_and_unconditional_models_are_refused(tiny, tmp_path):
    bad = CliRunner().invoke(cli, ["level", "sample", "--model", str(tiny[1]), "--enemies", "lots", "-o",
                                   str(tmp_path / "x")])
    assert bad.exit_code == 2 and "'lots' is not one of none|few|some|many" in bad.output
    plain = CliRunner().invoke(cli, ["level", "sample", "--model", "smb-level-vae", "--coins", "many", "--seed", "0",
                                     "-o", str(tmp_path / "y")])
    assert plain.exit_code == 2 and "is not conditional" in plain.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_transform_keeps_the_latents_and_changes_the_bins(tiny, corpus, tmp_path):
    from genmedia.levels.model import LevelModel, transform_level

    _, meta = tiny
    source = corpus / "a.txt"
    out = tmp_path / "t" / "a-many.txt"
    result = run("level", "transform", source, "--model", meta, "--coins", "many", "--no-check", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (--coins many): coins in its bin in" in result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["a-many.json", "a-many.png", "a-many.txt"]
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["requested"] == {"coins": ["many"] * 4} and record["others_are"] == "measured on the input"
    vae = LevelModel.load(meta)
    level = read_level(source)
    measured = vae.bins.bin_level(level)
    names = vae.bins.names
    assert record["others"] == {n: [vae.bins.labels(n)[k] for k in measured[:, names.index(n)]]
                                for n in names if n != "coins"}
    done = transform_level(vae, level, request={"coins": ["many"]}, check=False)
    assert np.array_equal(read_level(out), done.level)  # the CLI is the library call, deterministic
    assert np.array_equal(done.before, measured)
    column = names.index("coins")
    assert (done.bins[:, column] == 3).all()
    assert np.array_equal(np.delete(done.bins, column, 1), np.delete(measured, column, 1))
    # coins are decoded into their bins: every whole window has 4 or more
    assert (vae.bins.bin_level(done.level)[:4, column] == 3).all()
    refused = CliRunner().invoke(cli, ["level", "transform", str(source), "--model", str(meta), "-o",
                                       str(tmp_path / "u.txt")])
    assert refused.exit_code == 2 and "say what to change" in refused.output
    assert run("level", "transform", source, "--model", meta, "--coins", "many", "--no-check",
               "-o", out).exit_code == 1  # no silent overwrite


def test_transform_and_sample_stay_playable_with_the_check(tiny, corpus, tmp_path):
    from genmedia.levels.check import check_playable

    _, meta = tiny
    out = tmp_path / "p.txt"
    result = run("level", "transform", corpus / "b.txt", "--model", meta, "--gaps", "none", "--no-png", "-o", out)
    assert result.exit_code == 0, result.output
    assert check_playable(read_level(out)).playable
    sampled = run("level", "sample", "--model", meta, "--count", "2", "--width", "48", "--seed", "1", "--gaps", "few",
                  "--no-png", "-o", tmp_path / "s")
    assert sampled.exit_code == 0, sampled.output
    assert all(check_playable(read_level(p)).playable for p in (tmp_path / "s").glob("*.txt"))


def test_eval_scores_control_of_sampled_levels(tiny, corpus, tmp_path):
    _, meta = tiny
    assert run("level", "sample", "--model", meta, "--count", "4", "--width", "64", "--seed", "2", "--enemies",
               "none", "--no-png", "--no-check", "-o", tmp_path / "g").exit_code == 0
    result = run("level", "eval", tmp_path / "g", "--reference", corpus, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["control"]["enemies"]["none"]["windows"] == 16  # 4 levels x 4 whole windows
    assert 0 <= report["control"]["enemies"]["none"]["accuracy"] <= 1
    assert set(report["control_others"]) >= {"mean", "lowest", "pooled"}


def test_interpolate_with_a_conditional_model_blends_the_bins(tiny, corpus, tmp_path):
    _, meta = tiny
    result = run("level", "interpolate", corpus / "a.txt", corpus / "b.txt", "--model", meta, "--steps", "3",
                 "--no-check", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert [read_level(tmp_path / f"step-0{k}.txt").shape for k in range(3)] == [(14, 64)] * 3


def test_cli_trains_a_conditional_model(corpus, tmp_path):
    out = tmp_path / "m"
    args = ["train", "level", "--data", str(corpus), "--preset", "tiny-conditional", "--beta", "0.5",
            "--control-weight", "2", "--name", "c", "--out", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "enemies: none 0, few 1, some 2, many 3+ (per 16 columns)" in result.output
    meta = json.loads((out / "c.json").read_text())
    assert meta["training"]["config"]["conditional"] and meta["training"]["config"]["control_weight"] == 2.0
    assert meta["training"]["config"]["beta"] == 0.5
    assert meta["training"]["command"] == (f"genmedia train level --data {corpus} --name c --out {out} --preset "
                                           "tiny-conditional --beta 0.5 --control-weight 2.0")
    plain = CliRunner().invoke(cli, ["train", "level", "--data", str(corpus), "--preset", "tiny",
                                     "--control-weight", "2", "--out", str(tmp_path / "n")])
    assert plain.exit_code == 2 and "--control-weight needs a conditional model" in plain.output


def test_window_walk_goes_through_training_windows_with_the_bins_asked_for(tiny):
    from genmedia.levels.model import LevelModel, WindowWalk
    from genmedia.levels.prior import load_prior

    vae = LevelModel.load(tiny[1])
    walk = WindowWalk(vae, load_prior(vae.info.metadata, vae.latent))
    column = vae.bins.names.index("gaps")
    have = set(walk.table[:, column].tolist())
    assert len(have) >= 2  # the hand-made corpus has windows with and without gaps
    wanted = np.full((6, len(vae.bins.names)), -1)
    wanted[:, column] = max(have)
    z, bins = walk.draw(np.random.default_rng(0), wanted, 0.0)
    assert z.shape == (vae.latent, 12) and (bins[:, column] == max(have)).all()
    # at temperature 0 each window's latents are those of a training window with those bins
    for w in range(6):
        assert any(np.allclose(z[:, 2 * w:2 * w + 2], walk.prior.sequences[i][:, t:t + 2])
                   for i, t in (walk.where[k] for k in np.flatnonzero(walk.table[:, column] == max(have))))
    again = walk.draw(np.random.default_rng(0), wanted, 0.5)
    assert np.array_equal(again[0], walk.draw(np.random.default_rng(0), wanted, 0.5)[0])


def test_counts_are_decoded_into_the_bins_given(tiny):
    """Hand-made logits: the fewest tiles flip, by the logits' margins, enemies only where they stand."""
    from genmedia.levels.model import LevelModel, _counts_into_bins

    vae = LevelModel.load(tiny[1])
    chars = vae.tiles.chars
    rows, width = 14, 32
    logits = np.zeros((len(chars), rows, width), np.float32)
    logits[chars.index("-")] = 5.0
    logits[chars.index("X"), -1] = 9.0
    # window 0: three enemies decoded (margins 1, 2, 3), window 1: none, but two likely spots
    for col, margin in ((4, 1.0), (6, 2.0), (8, 3.0)):
        logits[chars.index("E"), -2, col] = 5.0 + margin
    logits[chars.index("E"), -2, 20] = 4.5  # standing on the ground: the most likely place
    logits[chars.index("E"), -5, 24] = 4.9  # in the air: not a place for an enemy
    logits[chars.index("E"), -2, 27] = 4.0
    indices = logits.argmax(0)
    names = vae.bins.names
    wbins = np.zeros((2, len(names)), np.int64)
    wbins[0, names.index("enemies")] = 1  # few: exactly one
    wbins[1, names.index("enemies")] = 2  # some: exactly two
    before = indices.copy()
    _counts_into_bins(vae, logits, indices, vae.condition(wbins, 4))
    enemy = chars.index("E")
    assert [(r, c) for r, c in zip(*np.nonzero(indices == enemy))] == [(12, 8), (12, 20), (12, 27)]
    assert (indices != before).sum() == 4  # two enemies gone, two added; nothing else touched


def test_bin_biases_are_read_per_bin_and_refused_when_they_do_not_fit(tiny, tmp_path):
    import shutil

    from genmedia.errors import ModelError
    from genmedia.levels.model import LevelModel

    meta_path = tiny[1]
    for f in meta_path.parent.glob("tiny-cvae.*"):
        shutil.copy(f, tmp_path / f.name)
    target = tmp_path / "tiny-cvae.json"
    meta = json.loads(target.read_text())
    meta["decoding"] = {"bin_bias": {"enemies": {"many": {"E": 1.5}}, "coins": {"few": {"o": -0.5}}}}
    target.write_text(json.dumps(meta))
    vae = LevelModel.load(target)
    chars = vae.tiles.chars
    assert vae.bin_bias[chars.index("E"), 3] == 1.5 and vae.bin_bias[chars.index("o"), 17] == -0.5
    assert np.count_nonzero(vae.bin_bias) == 2
    for bad, why in (({"enemies": {"lots": {"E": 1.0}}}, "not a bin of enemies"),
                     ({"enemies": {"many": {"Z": 1.0}}}, "not in vocabulary.chars"),
                     ({"speed": {"many": {"E": 1.0}}}, "not one of attributes.names")):
        meta["decoding"] = {"bin_bias": bad}
        target.write_text(json.dumps(meta))
        with pytest.raises(ModelError, match=why):
            LevelModel.load(target)
    meta.pop("decoding")
    meta["attributes"]["channels"] = 7
    target.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="attributes.channels"):
        LevelModel.load(target)
