"""Concept vectors: attributes of token windows, top-minus-bottom quartile vectors, and the commands
that compute and use them (`train melody-concepts`, `music transform`, `music sample --attribute`).

Runs on ONNX Runtime alone (no torch), with a copy of the shipped 2-bar model and hand-made MIDI
files; no figure of a particular model is assumed (it may be retrained).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli
from genmedia.errors import ModelError
from genmedia.melody import concepts as concepts_mod
from genmedia.melody.attributes import (
    ATTRIBUTES,
    attribute_table,
    attributes,
    key_share,
    mean_interval,
    mean_pitch,
    note_density,
    syncopation,
)
from genmedia.melody.concepts import (
    Concepts,
    concept_vectors,
    in_meter,
    load_concepts,
    quartile_vectors,
    sample_shifted,
    sweep,
    training_windows,
    transform_melody,
)
from genmedia.melody.midi import HOLD, REST, note_spans, pitch_token as t, read_melody
from genmedia.melody.model import MelodyModel, sample_melodies
from genmedia.resources import resource_dir

from midi_fixtures import TPB, copy_model as copy_files, scale_tune, write_midi

# --- attributes -------------------------------------------------------------------------------

def test_attributes_of_a_hand_made_window():
    # bar 1: C4 (2 steps), D4 on step 2, rest, E4 on step 5 (odd), held; bar 2: F#4 on 16, C#4 on 19 (odd)
    w = np.full(32, REST)
    w[0], w[1], w[2], w[5], w[6], w[16], w[19] = t(60), HOLD, t(62), t(64), HOLD, t(66), t(61)
    assert note_density(w) == 5 * 16 / 32  # 5 note-ons in 2 bars
    assert mean_pitch(w) == (60 + 62 + 64 + 66 + 61) / 5
    assert mean_interval(w) == (2 + 2 + 2 + 5) / 4
    assert syncopation(w) == 2 / 5  # steps 5 and 19 are off the 8th-note grid
    assert key_share(w) == 4 / 5  # G major holds C D E F#, D major D E F# C#; no key holds all five
    assert attributes(w) == {"density": 2.5, "pitch": 62.6, "interval": 2.75, "syncopation": 0.4, "key": 0.8}


def test_key_share_is_the_best_diatonic_fit_and_a_hold_after_a_rest_is_a_rest():
    w = np.array([t(60), t(62), t(64), t(65), t(67), t(69), t(71), t(61)] + [REST, HOLD] * 4)
    assert key_share(w) == 7 / 8  # C major scale and one C#
    assert note_density(w) == 8.0  # the HOLD after a REST starts nothing
    assert mean_interval(np.array([t(72), REST, REST, t(60)] + [REST] * 12)) == 12.0  # rests do not break it


def test_attributes_without_notes_are_nan_and_density_is_zero():
    empty = np.full(16, REST)
    one = empty.copy()
    one[3] = t(70)
    table = attribute_table([empty, one])
    assert table.shape == (2, len(ATTRIBUTES))
    assert table[0, 0] == 0.0 and np.isnan(table[0, 1:]).all()
    assert list(table[1]) == [1.0, 70.0, pytest.approx(math.nan, nan_ok=True), 1.0, 1.0]


def test_attributes_of_a_padded_three_four_window_count_the_padding():
    # one 3/4 bar on the grid: 12 steps of tune (quarter notes), 4 steps of padding
    w = np.full(16, REST)
    w[[0, 4, 8]] = t(67), t(69), t(71)
    assert note_density(w) == 3.0  # note-ons per 16-step grid bar: per 3/4 bar here
    assert syncopation(w) == 0.0 and mean_interval(w) == 2.0


# --- vectors ------------------------------------------------------------------------------------

def test_quartile_vectors_are_top_minus_bottom_means():
    rng = np.random.default_rng(1)
    means = rng.standard_normal((12, 3))
    values = np.array([5.0, 1, 9, 3, np.nan, 7, 2, 8, 4, 6, 0, 10])
    vector, info = quartile_vectors(means, values)
    # 11 valid values -> quarter 2: bottom {0, 1} (rows 10, 1), top {9, 10} (rows 2, 11)
    assert np.allclose(vector, means[[2, 11]].mean(0) - means[[10, 1]].mean(0), atol=1e-6)
    assert info["windows"] == 11 and info["bottom_quartile_mean"] == 0.5 and info["top_quartile_mean"] == 9.5
    with pytest.raises(ValueError, match="at least 4"):
        quartile_vectors(means[:3], values[:3])


def test_quartile_vectors_split_ties_at_random_but_reproducibly():
    means = np.arange(16, dtype=float)[:, None]
    values = np.array([1.0] * 12 + [0.0] * 4)  # ties at the top, as the in-key share has
    a, _ = quartile_vectors(means, values, seed=3)
    b, _ = quartile_vectors(means, values, seed=3)
    # bottom: the 4 zeros (rows 12-15, mean 13.5); top: 4 of the 12 tied rows 0-11, the same for a seed
    assert (a == b).all() and 1.5 - 13.5 <= a[0] <= 9.5 - 13.5
    assert len({float(quartile_vectors(means, values, seed=s)[0][0]) for s in range(8)}) > 1


class FakeModel:
    """encode() puts (note-ons, first pitch) of each window into the latent: the vectors are known."""

    steps, latent, grid = 16, 4, True

    def encode(self, tokens):
        out = np.zeros((len(tokens), self.latent), dtype=np.float32)
        for i, w in enumerate(tokens):
            notes = w[w >= 2]
            out[i, 0], out[i, 1] = len(notes), notes[0] - 2 + 48
        return out


def test_concept_vectors_on_a_synthetic_latent():
    windows = []
    for k in range(1, 9):  # k note-ons, at even steps, all at pitch 60 + k
        w = np.full(16, REST)
        w[np.arange(k) * 2] = t(60 + k)
        windows.append(w)
    vectors, details, table = concept_vectors(FakeModel(), np.stack(windows))
    density, pitch = vectors[ATTRIBUTES.index("density")], vectors[ATTRIBUTES.index("pitch")]
    assert np.allclose(density, [7.5 - 1.5, 7.5 - 1.5, 0, 0])  # top 2 (k = 7, 8) minus bottom 2 (k = 1, 2)
    assert np.allclose(pitch, [6, 6, 0, 0])
    assert details["density"]["windows"] == 8 and table.shape == (8, len(ATTRIBUTES))
    assert details["interval"]["windows"] == 7  # the one-note window has no interval


def test_training_windows_without_windows_of_and_the_cap(tmp_path):
    for i in range(30):
        write_midi(tmp_path / f"tune{i:02d}.mid", [scale_tune(4, base=55 + i % 12)])

    class Plain:
        steps, grid = 32, True

    every = training_windows(Plain(), [tmp_path], max_windows=10_000)
    assert every.shape[1] == 32 and len(every) > 10
    capped = training_windows(Plain(), [tmp_path], max_windows=10, seed=5)
    assert len(capped) == 10 and (capped == training_windows(Plain(), [tmp_path], max_windows=10, seed=5)).all()


def test_a_shift_adds_amounts_times_vectors():
    c = Concepts(("density", "pitch"), np.array([[1, 0], [0, 2]], dtype=np.float32), {})
    assert list(c.shift({"density": 2.0, "pitch": -0.5})) == [2.0, -1.0]
    with pytest.raises(ModelError, match="no concept vector for 'key'"):
        c.vector("key")


# --- the shipped model, with vectors computed on a tiny corpus ----------------------------------

def copy_model(src: Path, dest: Path, *, keep_concepts: bool = False, meter: bool = False) -> Path:
    """A copy of a model (its metadata and files) in `dest`, without concept vectors unless kept."""
    grid = {"meter": {"grid": "bars of 16 sixteenths", "bar_steps": 16}}
    needs_meter = meter and "meter" not in json.loads(src.read_text())
    return copy_files(src, dest, without=() if keep_concepts else ("concepts",), extra=grid if needs_meter else None)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tunes")
    for i in range(24):
        notes = scale_tune(4, base=55 + i % 12)
        if i % 3 == 0:  # some denser tunes: 16ths
            notes = [(s // 2, s // 2 + TPB // 4, p) for s, _, p in notes] + \
                    [(s // 2 + 2 * TPB * 4, s // 2 + 2 * TPB * 4 + TPB // 4, p) for s, _, p in notes]
        write_midi(folder / f"tune{i:02d}.mid", [notes])
    return folder


@pytest.fixture(scope="module")
def shipped() -> Path:
    return MelodyModel.load(None).info.metadata_path


@pytest.fixture(scope="module")
def with_concepts(shipped, corpus, tmp_path_factory) -> Path:
    path = copy_model(shipped, tmp_path_factory.mktemp("model"), meter=True)
    result = CliRunner().invoke(cli, ["train", "melody-concepts", "--model", str(path), "--data", str(corpus)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_train_melody_concepts_stores_the_vectors(with_concepts, corpus):
    meta = json.loads(with_concepts.read_text())
    entry = meta["files"]["concepts"]
    assert entry["path"] == f"{with_concepts.stem}.concepts.npy"
    assert meta["concepts"]["attributes"] == list(ATTRIBUTES)
    assert set(meta["concepts"]["corpus_std"]) == set(ATTRIBUTES)
    assert meta["concepts"]["command"] == f"genmedia train melody-concepts --model {with_concepts} --data {corpus}"
    model = MelodyModel.load(with_concepts)  # the metadata still passes the schema, the file its sha256
    loaded = load_concepts(model)
    assert loaded.vectors.shape == (len(ATTRIBUTES), model.latent) and np.isfinite(loaded.vectors).all()
    windows = training_windows(model, [corpus])
    means = model.encode(windows)
    dens = attribute_table(windows)[:, 0]
    expected, _ = quartile_vectors(means, dens, seed=0)
    assert np.allclose(loaded.vector("density"), expected, atol=1e-5)


def test_transform_and_sweep_decode_shifted_latents(with_concepts, corpus):
    model = MelodyModel.load(with_concepts)
    concepts = load_concepts(model)
    melody = read_melody(corpus / "tune01.mid")
    window = model.window(melody, source="tune01")
    z = model.encode(window[None], refine=True)  # what transform starts from
    for amount in (0.0, 1.0):
        expected = model.decode(z + amount * concepts.vector("pitch")[None])[0]
        assert (transform_melody(model, window, attribute="pitch", amount=amount) == expected).all()
    row = sweep(model, melody, attribute="pitch", amount=1.0, steps=3)
    assert row.shape == (3, model.covered(melody))
    assert (row[2] == transform_melody(model, melody, attribute="pitch", amount=1.0)).all()
    assert (row[1] == model.decode(z)[0][: row.shape[1]]).all()


def test_music_transform_writes_one_file(with_concepts, corpus, tmp_path):
    out = tmp_path / "out.mid"
    result = invoke("music", "transform", corpus / "tune02.mid", "--attribute", "density", "--amount", "1.0",
                    "--model", with_concepts, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mid"]
    assert "density" in result.output and "->" in result.output
    melody = read_melody(out)
    model = MelodyModel.load(with_concepts)
    expected = transform_melody(model, read_melody(corpus / "tune02.mid"), attribute="density", amount=1.0)
    assert (melody.tokens == expected[: len(melody.tokens)]).all()
    again = invoke("music", "transform", corpus / "tune02.mid", "--attribute", "density", "--model", with_concepts,
                   "-o", out)
    assert again.exit_code != 0 and "exists" in again.output  # never replaced without --overwrite
    assert invoke("music", "transform", corpus / "tune02.mid", "--attribute", "density", "--model", with_concepts,
                  "-o", out, "--overwrite").exit_code == 0
    onto_input = invoke("music", "transform", corpus / "tune02.mid", "--attribute", "density", "--model",
                        with_concepts, "-o", corpus / "tune02.mid", "--overwrite")
    assert onto_input.exit_code != 0 and read_melody(corpus / "tune02.mid").tokens.size
    bad = invoke("music", "transform", corpus / "tune02.mid", "--attribute", "density", "--model", with_concepts,
                 "-o", tmp_path / "out.txt")
    assert bad.exit_code == 2 and "must end in .mid" in bad.output.strip().splitlines()[-1]
    # NAME=AMOUNT, as `music sample --attribute` takes it, is the same as --amount
    short = invoke("music", "transform", corpus / "tune02.mid", "--attribute", "density=-0.5", "--model",
                   with_concepts, "-o", tmp_path / "short.mid")
    assert short.exit_code == 0, short.output
    lower = transform_melody(model, read_melody(corpus / "tune02.mid"), attribute="density", amount=-0.5)
    written = read_melody(tmp_path / "short.mid").tokens
    assert (written == lower[: len(written)]).all()
    both = invoke("music", "transform", corpus / "tune02.mid", "--attribute", "density=1", "--amount", "1",
                  "--model", with_concepts, "-o", tmp_path / "both.mid")
    assert both.exit_code == 2 and "leave out --amount" in both.output.strip().splitlines()[-1]
    assert not (tmp_path / "both.mid").exists()


def test_music_transform_steps_writes_a_sweep(with_concepts, corpus, tmp_path):
    out = tmp_path / "sweep"
    result = invoke("music", "transform", corpus / "tune04.mid", "--attribute", "pitch", "--amount", "1.5",
                    "--steps", "5", "--wav", "--model", with_concepts, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [f"step-{k:02d}.{x}" for k in range(5) for x in ("mid", "wav")]
    model = MelodyModel.load(with_concepts)
    melody = read_melody(corpus / "tune04.mid")
    row = sweep(model, melody, attribute="pitch", amount=1.5, steps=5, oversample=8)  # the command's default
    for k in range(5):
        tokens = read_melody(out / f"step-{k:02d}.mid").tokens
        assert (tokens == row[k][: len(tokens)]).all()
    even = tmp_path / "even"
    result = invoke("music", "transform", corpus / "tune04.mid", "--attribute", "pitch", "--amount", "1.5",
                    "--steps", "5", "--oversample", "1", "--model", with_concepts, "-o", even)
    assert result.exit_code == 0, result.output
    assert "-1.5: " in result.stderr and "-0.75: " in result.stderr and "+0.75: " in result.stderr
    plain = sweep(model, melody, attribute="pitch", amount=1.5, steps=5)
    for k in range(5):
        tokens = read_melody(even / f"step-{k:02d}.mid").tokens
        assert (tokens == plain[k][: len(tokens)]).all()


def test_attribute_steps_choose_a_rising_row_with_both_ends():
    from genmedia.melody.concepts import attribute_steps

    wobbly = np.array([1.0, 3.0, 0.5, 2.5, 4.0, 3.5, 3.0, 4.5, 6.0])  # 9 points, 5 steps
    assert np.any(np.diff(wobbly[[0, 2, 4, 6, 8]]) < 0)  # the evenly spaced steps fall twice
    chosen = attribute_steps(wobbly, 5)
    assert chosen[0] == 0 and chosen[-1] == 8 and len(chosen) == 5
    assert np.all(np.diff(chosen) > 0) and np.all(np.diff(wobbly[chosen]) >= 0)
    assert list(attribute_steps(np.full(9, 2.0), 5)) == [0, 2, 4, 6, 8]  # nothing to choose by: even
    assert list(attribute_steps(np.full(9, np.nan), 5)) == [0, 2, 4, 6, 8]
    gaps = np.array([1.0, np.nan, 0.5, np.nan, 3.0, 4.0, np.nan, 3.5, 6.0])  # undefined values take their neighbours'
    chosen = attribute_steps(gaps, 5)
    filled = np.interp(np.arange(9), [0, 2, 4, 5, 7, 8], [1.0, 0.5, 3.0, 4.0, 3.5, 6.0])
    assert 2 not in chosen and np.all(np.diff(filled[chosen]) >= 0)  # 0.5 (step 2 of the even row) is left out
    with pytest.raises(ValueError, match="cannot hold"):
        attribute_steps(wobbly, 4)  # 9 points do not split into 3 even gaps


def test_an_oversampled_sweep_moves_its_attribute_one_way_where_the_line_allows(with_concepts, corpus):
    from genmedia.melody.concepts import sweep_points

    model = MelodyModel.load(with_concepts)
    melody = read_melody(corpus / "tune01.mid")
    for amount in (1.5, -1.5):
        dense = sweep(model, melody, attribute="density", amount=amount, steps=25)  # the line, evenly, 4x as fine
        amounts, row = sweep_points(model, melody, attribute="density", amount=amount, steps=7, oversample=4)
        assert amounts[0] == -amount and amounts[-1] == amount and len(row) == 7
        assert all(np.isclose(a, np.linspace(-amount, amount, 25)).any() for a in amounts)  # points of the line
        for a, tokens in zip(amounts, row):
            assert (tokens == dense[int(np.argmin(np.abs(np.linspace(-amount, amount, 25) - a)))]).all()
        values = attribute_table(row)[:, 0] * (1 if amount > 0 else -1)
        line = attribute_table(dense)[:, 0] * (1 if amount > 0 else -1)
        assert line[-1] > line[0]  # the density vector's line ends denser than it starts (either way round) ...
        assert np.all(np.diff(values) >= 0)  # ... so a rising row of steps exists, and is chosen
    with pytest.raises(ValueError, match="oversample"):
        sweep_points(model, melody, attribute="density", amount=1.0, steps=3, oversample=0)


def test_a_three_four_tune_is_transformed_in_three_four(with_concepts, tmp_path):
    waltz = [(k * 3 * TPB + q * TPB, k * 3 * TPB + (q + 1) * TPB, 60 + (k + q) % 5) for k in range(4)
             for q in range(3)]
    src = write_midi(tmp_path / "waltz.mid", [waltz], meter=(3, 4))
    model = MelodyModel.load(with_concepts)
    assert model.grid  # the copy says it reads the meter grid
    result = invoke("music", "transform", src, "--attribute", "density", "--model", with_concepts,
                    "-o", tmp_path / "w.mid")
    assert result.exit_code == 0, result.output
    midi = mido.MidiFile(str(tmp_path / "w.mid"))
    assert [(m.numerator, m.denominator) for tr in midi.tracks for m in tr if m.type == "time_signature"] == [(3, 4)]
    melody = read_melody(src)
    tokens, signature = in_meter(model, melody, transform_melody(model, melody, attribute="density", amount=1.0))
    assert signature == (3, 4) and len(tokens) == model.covered(melody) // 16 * 12  # bars of 12 sixteenths
    written = read_melody(tmp_path / "w.mid").tokens
    assert note_spans(written) == note_spans(tokens[: len(written)])  # a HOLD after a rest is written as a rest


def test_unknown_attribute_is_one_line(with_concepts, corpus, tmp_path):
    result = invoke("music", "transform", corpus / "tune02.mid", "--attribute", "loudness", "--model", with_concepts,
                    "-o", tmp_path / "x.mid")
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error:") and "loudness" in last and "density" in last
    assert not (tmp_path / "x.mid").exists()


def test_a_model_without_concepts_says_which_command_computes_them(shipped, corpus, tmp_path):
    bare = copy_model(shipped, tmp_path / "bare")
    for args in (["music", "transform", corpus / "tune02.mid", "--attribute", "key", "-o", tmp_path / "x.mid"],
                 ["music", "sample", "--attribute", "key=1", "--seed", "1", "-o", tmp_path / "s"]):
        result = CliRunner().invoke(cli, [str(a) for a in args] + ["--model", str(bare)])
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            (f"error: {bare}: model {bare.stem!r} has no concept vectors; compute them with "
             f"`genmedia train melody-concepts --model {bare.stem} --data DIR` (its training folders)")]
    assert not (tmp_path / "x.mid").exists() and not (tmp_path / "s").exists()
    with pytest.raises(ModelError, match="melody-concepts"):
        load_concepts(MelodyModel.load(bare))


def test_sample_with_attributes_is_reproducible(with_concepts, tmp_path):
    def sample(folder: str, *attrs: str):
        args = ["music", "sample", "--model", with_concepts, "--count", "6", "--seed", "7", "-o", tmp_path / folder]
        result = invoke(*args, *[x for a in attrs for x in ("--attribute", a)])
        assert result.exit_code == 0, result.output
        return [(tmp_path / folder / f"melody-{i:03d}.mid").read_bytes() for i in range(6)]

    assert sample("a", "density=+1.0", "pitch=-0.5") == sample("b", "density=+1.0", "pitch=-0.5")
    assert sample("zero", "density=0") == sample("plain")  # no shift: the plain samples, seed for seed
    model = MelodyModel.load(with_concepts)
    concepts = load_concepts(model)
    shifted = sample_shifted(model, count=4, seed=2, attribute_shift={"density": 1.0}, concepts=concepts)
    rng = np.random.default_rng(2)
    from genmedia.melody.prior import load_prior

    z = load_prior(model.info, model.latent).sample(rng, 4) + concepts.vector("density")
    assert (shifted == model.decode(z.astype(np.float32), temperature=1.0, rng=rng)).all()
    assert (sample_shifted(model, count=4, seed=2, attribute_shift={}) == sample_melodies(model, count=4, seed=2)).all()


@pytest.mark.parametrize("item, needle", [("bogus=1", "unknown attribute 'bogus'"), ("density=nan", "not a finite"),
                                          ("density=inf", "not a finite"), ("density", "NAME=AMOUNT"),
                                          ("density=1,density=2", "not a finite"),
                                          ("density=1e308", "outside -10 to 10")])
def test_sample_attribute_errors_are_one_line(with_concepts, tmp_path, item, needle):
    result = invoke("music", "sample", "--model", with_concepts, "--seed", "1", "--attribute", item,
                    "-o", tmp_path / "s")
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error:") and needle in last
    assert not (tmp_path / "s").exists()


def test_an_attribute_given_twice_is_refused(with_concepts, tmp_path):
    result = invoke("music", "sample", "--model", with_concepts, "--attribute", "key=1", "--attribute", "key=2",
                    "-o", tmp_path / "s")
    assert result.exit_code == 2 and "'key' is given twice" in result.output.strip().splitlines()[-1]


def test_malformed_concept_files_are_refused_in_one_line(with_concepts, tmp_path):
    copy = copy_model(with_concepts, tmp_path / "m", keep_concepts=True)
    from genmedia.registry import sha256_file

    meta = json.loads(copy.read_text())
    npy = copy.parent / meta["files"]["concepts"]["path"]
    np.save(npy, np.zeros((2, 3), dtype=np.float32))
    meta["files"]["concepts"].update(sha256=sha256_file(npy), bytes=npy.stat().st_size)
    copy.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"shape \(2, 3\)") as info:
        load_concepts(MelodyModel.load(copy))
    assert "\n" not in str(info.value)
    npy.write_bytes(b"junk")
    meta["files"]["concepts"].update(sha256=sha256_file(npy), bytes=4)
    copy.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a concept vectors .npy file"):
        load_concepts(MelodyModel.load(copy))


def test_the_example_melody_transforms_in_the_readme_way(with_concepts, tmp_path):
    example = resource_dir("assets") / "melodies" / "example-a.mid"
    result = invoke("music", "transform", example, "--attribute", "syncopation", "--amount", "-1",
                    "--model", with_concepts, "--wav", "-o", tmp_path / "a.mid")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mid", "a.wav"]


def test_concepts_module_is_torch_free():
    import ast

    source = Path(concepts_mod.__file__).read_text()
    names = {n.names[0].name.split(".")[0] for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import)}
    names |= {n.module.split(".")[0] for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.module}
    assert "torch" not in names


def test_the_cli_bounds_amounts_as_the_library_does(with_concepts, corpus):
    import importlib

    import genmedia
    music_cli = importlib.import_module("genmedia.cli.music")  # (genmedia.cli.music is also the command group)

    assert music_cli.MAX_AMOUNT == concepts_mod.MAX_AMOUNT
    assert music_cli.ATTRIBUTE_NAMES == tuple(ATTRIBUTES)
    melody = sorted(Path(corpus).rglob("*.mid"))[0]
    with pytest.raises(ValueError, match="amount must be from -10 to 10"):
        genmedia.transform_melody(melody, attribute="pitch", amount=1e308, model=with_concepts)
    with pytest.raises(ValueError, match="from -10 to 10"):
        genmedia.sample_melodies(count=1, seed=0, shift={"density": -11.0}, model=with_concepts)
