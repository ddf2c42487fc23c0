"""Tune styles (`genmedia.melody.styles`): labels from Nottingham file names, the priors that
`train melody-styles` fits, and `music sample --style`.

Runs on ONNX Runtime alone, with a copy of the shipped 2-bar model and hand-made MIDI files named
as the Nottingham collection names its tunes; no figure of a particular model is assumed.
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from click.testing import CliRunner

import genmedia
from genmedia.cli import cli
from genmedia.errors import ModelError
from genmedia.melody.data import read_folder
from genmedia.melody.midi import HOLD, REST, pitch_token as t
from genmedia.melody.model import MelodyModel, sample_melodies
from genmedia.melody.prior import KernelPrior
from genmedia.melody.styles import Style, load_style, sample_style, style_names, style_of

from midi_fixtures import TPB, copy_model as copy_files, write_midi


@pytest.mark.parametrize("name, style", [("jigs12.mid", "jig"), ("reelsa-c5.mid", "reel"), ("hpps3.mid", "hornpipe"),
                                         ("waltzes7.mid", "waltz"), ("dir/JIGS1.MID", "jig"), ("ashover1.mid", None),
                                         ("morris2.mid", None), ("xjigs1.mid", None)])
def test_styles_come_from_nottingham_file_names(name, style):
    assert style_of(name) == style


def test_a_sample_is_written_in_its_styles_meter_only_when_it_fits_it():
    jig = Style("jig", KernelPrior(np.zeros((1, 2), np.float32), 0.3), (6, 8))
    fits = np.full(32, REST)
    fits[0], fits[1], fits[11], fits[16] = t(60), HOLD, t(62), t(64)
    tokens, signature = jig.in_meter(fits)
    assert signature == (6, 8) and len(tokens) == 24
    assert list(tokens[:2]) == [t(60), HOLD] and tokens[11] == t(62) and tokens[12] == t(64)
    spills = fits.copy()
    spills[13] = t(67)  # a note in a padding step: kept, on the grid, in 4/4
    tokens, signature = jig.in_meter(spills)
    assert signature == (4, 4) and (tokens == spills).all()
    reel = Style("reel", jig.prior, (4, 4))
    assert reel.in_meter(spills)[1] == (4, 4) and (reel.in_meter(spills)[0] == spills).all()


def eighths(count: int, base: int, *, start: int = 0) -> list[tuple[int, int, int]]:
    steps = [0, 2, 4, 5, 7, 5, 4, 2]
    return [(start + i * TPB // 2, start + (i + 1) * TPB // 2, base + steps[i % 8]) for i in range(count)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """12 jigs in 6/8 and 12 reels in 4/4 (four bars each), named as Nottingham names them, and tunes of no style."""
    folder = tmp_path_factory.mktemp("nottingham")
    for i in range(12):
        write_midi(folder / f"jigs{i}.mid", [eighths(24, 60 + i % 5)], meter=(6, 8))
        write_midi(folder / f"reelsa-c{i}.mid", [eighths(32, 62 + i % 5)])
        write_midi(folder / f"ashover{i}.mid", [eighths(32, 55 + i % 5)])
    return folder


def copy_model(src: Path, dest: Path) -> Path:
    """A copy of a model without styles."""
    return copy_files(src, dest, without=("styles",))


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Path:
    return copy_model(MelodyModel.load(None).info.metadata_path, tmp_path_factory.mktemp("bare"))


@pytest.fixture(scope="module")
def styled(bare, corpus, tmp_path_factory) -> Path:
    path = copy_model(bare, tmp_path_factory.mktemp("styled"))
    result = CliRunner().invoke(cli, ["train", "melody-styles", "--model", str(path), "--data", str(corpus)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "jig (" in result.stderr and "6/8" in result.stderr
    return path


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_train_melody_styles_fits_a_prior_per_style_of_the_training_tunes(styled, corpus):
    meta = json.loads(styled.read_text())
    entry = meta["styles"]
    assert set(entry["styles"]) == {"jig", "reel"}  # no hornpipes or waltzes in the corpus; ashover has no style
    assert entry["styles"]["jig"]["time_signature"] == "6/8" and entry["styles"]["reel"]["time_signature"] == "4/4"
    for name, style in entry["styles"].items():  # each style's width chosen on its validation tunes, if any
        choice = style["bandwidth_choice"]
        if any(style_of(n) == name for n, _ in read_folder(corpus)[0]["valid"]):
            assert list(choice["sample_repeat_share_by_width"])[-1] == f"{style['bandwidth']:g}"
            assert choice["validation_windows"] > 0
        else:
            assert style["bandwidth"] == meta["prior"]["bandwidth"] and "no validation tunes" in choice["rule"]
    assert entry["command"] == f"genmedia train melody-styles --model {styled} --data {corpus}"
    assert meta["files"]["styles"]["path"] == f"{styled.stem}.styles.npy"
    model = MelodyModel.load(styled)  # the metadata passes the schema, the file its sha256
    assert style_names(model) == ("jig", "reel")
    train = read_folder(corpus)[0]["train"]
    jigs = [w for name, melody in train if style_of(name) == "jig" for w in model.windows_of(melody)]
    assert entry["styles"]["jig"]["tunes"] == sum(style_of(name) == "jig" for name, _ in train) > 0
    jig = load_style(model, "jig")
    assert jig.time_signature == (6, 8)
    assert np.allclose(jig.prior.means, model.encode(np.stack(jigs)), atol=1e-5)  # every window of so few kept
    assert not np.allclose(load_style(model, "reel").prior.means.mean(axis=0), jig.prior.means.mean(axis=0))


def test_a_style_samples_from_its_own_prior(styled):
    model = MelodyModel.load(styled)
    reel = load_style(model, "reel")  # 4/4: every sample fits, so one batch of latents from the reels' prior
    rng = np.random.default_rng(5)
    expected = model.decode(reel.prior.sample(rng, 6), temperature=1.0, rng=rng)
    found = sample_style(model, reel, count=6, seed=5)
    assert all(np.array_equal(tokens, want) and signature == (4, 4)
               for (tokens, signature), want in zip(found, expected))
    plain = sample_melodies(model, count=6, seed=5)
    assert not np.array_equal(plain, expected)
    assert [m.tokens.tolist() for m in genmedia.sample_melodies(count=6, seed=5, style="reel", model=styled)] == \
        expected.tolist()
    assert genmedia.melody_styles(styled) == ("jig", "reel")


def test_a_jig_is_drawn_again_until_it_fits_jig_bars(styled):
    model = MelodyModel.load(styled)
    jig = load_style(model, "jig")
    rng = np.random.default_rng(4)
    first = [jig.in_meter(t) for t in model.decode(jig.prior.sample(rng, 8), temperature=1.0, rng=rng)]
    fitting = [(t, sig) for t, sig in first if sig == (6, 8)]
    found = sample_style(model, jig, count=8, seed=4)
    assert len(found) == 8 and all(sig == (6, 8) and len(t) == 24 for t, sig in found[:len(fitting)])
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(found, fitting))  # the first batch's fitting ones first
    assert [t.tolist() for t, _ in found] == [t.tolist() for t, _ in sample_style(model, jig, count=8, seed=4)]


class Spiller:
    """A fake decoder whose windows have a note in a padding step of bar 1, except in call `fits_on`
    (None: never), where they fit 6/8 bars."""

    def __init__(self, fits_on: int | None):
        self.calls, self.fits_on = 0, fits_on

    def decode(self, z: np.ndarray, *, temperature: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        self.calls += 1
        out = np.full((len(z), 32), REST, dtype=np.int64)
        out[:, 0] = t(62)
        if self.calls != self.fits_on:
            out[:, 13] = t(60)
        return out


def test_a_padded_style_draws_again_until_its_samples_fit_and_keeps_the_rest_last():
    from genmedia.melody.styles import MAX_ROUNDS

    jig = Style("jig", KernelPrior(np.zeros((3, 4), np.float32), 0.5), (6, 8))
    second = Spiller(fits_on=2)
    found = sample_style(second, jig, count=3, seed=0)  # type: ignore[arg-type]
    assert second.calls == 2  # the second batch fitted: no third
    assert [sig for _, sig in found] == [(6, 8)] * 3 and all(len(tok) == 24 and tok[0] == t(62) for tok, _ in found)
    never = Spiller(fits_on=None)
    found = sample_style(never, jig, count=3, seed=0)  # type: ignore[arg-type]
    assert never.calls == MAX_ROUNDS
    assert [sig for _, sig in found] == [(4, 4)] * 3 and all(tok[13] == t(60) and len(tok) == 32 for tok, _ in found)
    reel = Style("reel", jig.prior, (4, 4))
    once = Spiller(fits_on=None)
    assert [sig for _, sig in sample_style(once, reel, count=3, seed=0)] == [(4, 4)] * 3  # type: ignore[arg-type]
    assert once.calls == 1  # 4/4 styles: every sample fits


def test_music_sample_style_is_reproducible_and_writes_each_samples_meter(styled, tmp_path):
    def sample(folder: str, *extra: str) -> list[bytes]:
        result = invoke("music", "sample", "--model", styled, "--count", "5", "--seed", "9", *extra,
                        "-o", tmp_path / folder)
        assert result.exit_code == 0, result.output
        return [(tmp_path / folder / f"melody-{i:03d}.mid").read_bytes() for i in range(5)]

    first = sample("a", "--style", "jig")
    assert first == sample("b", "--style", "jig")
    assert first != sample("plain")
    melodies = genmedia.sample_melodies(count=5, seed=9, style="jig", model=styled)
    assert any(melody.time_signature == (6, 8) for melody in melodies)  # jigs' latents write jigs' bars
    for i, melody in enumerate(melodies):
        midi = pretty_midi.PrettyMIDI(str(tmp_path / "a" / f"melody-{i:03d}.mid"))
        signature = midi.time_signature_changes[0]
        assert (signature.numerator, signature.denominator) == melody.time_signature
    shifted = sample("shifted", "--style", "jig", "--attribute", "density=1")  # styles and concept vectors combine
    assert shifted != first


def test_style_errors_are_one_line_and_write_nothing(styled, bare, tmp_path):
    result = CliRunner().invoke(cli, ["music", "sample", "--model", str(styled), "--style", "polka", "--seed", "1",
                                      "-o", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: model {styled.stem!r} has no style 'polka' (it has jig, reel)"]
    result = CliRunner().invoke(cli, ["music", "sample", "--model", str(bare), "--style", "jig", "-o",
                                      str(tmp_path / "s")])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "has no styles" in result.stderr and "genmedia train melody-styles" in result.stderr
    result = invoke("music", "sample", "--model", styled, "--style", "jig", "--prior", "normal", "-o", tmp_path / "s")
    assert result.exit_code == 2 and "--prior normal" in result.output.strip().splitlines()[-1]
    assert not (tmp_path / "s").exists()
    with pytest.raises(ValueError, match="cannot be combined"):
        genmedia.sample_melodies(count=1, seed=0, prior="normal", style="jig", model=styled)
    with pytest.raises(ValueError, match="has no style 'polka'"):  # a bad option, as the API's others are
        genmedia.sample_melodies(count=1, seed=0, style="polka", model=styled)


def test_a_style_is_written_in_the_meter_the_grid_keeps_of_its_tunes(bare, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    for i in range(8):
        write_midi(folder / f"jigs{i}.mid", [eighths(36, 60 + i % 5)], meter=(9, 8))  # slip jigs: not kept
        write_midi(folder / f"waltzes{i}.mid", [eighths(48, 60 + i % 5)], meter=(6, 4))  # two 3/4 bars a bar
    path = copy_model(bare, tmp_path / "m")
    result = invoke("train", "melody-styles", "--model", path, "--data", folder, "--bandwidth", "0.5")
    assert result.exit_code == 0, result.output
    styles = json.loads(path.read_text())["styles"]["styles"]
    assert styles["jig"]["time_signature"] == "4/4" and styles["waltz"]["time_signature"] == "3/4"
    assert styles["jig"]["bandwidth"] == styles["waltz"]["bandwidth"] == 0.5
    assert load_style(MelodyModel.load(path), "waltz").time_signature == (3, 4)


def test_a_model_without_the_meter_grid_writes_its_styles_in_four_four(bare, corpus, tmp_path):
    path = copy_files(bare, tmp_path / "m", without=("styles", "meter"))  # 6/8 tunes read straight onto 16 steps
    assert not MelodyModel.load(path).grid
    result = invoke("train", "melody-styles", "--model", path, "--data", corpus, "--bandwidth", "0.5")
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["styles"]["styles"]["jig"]["time_signature"] == "4/4"


def test_a_folder_without_styled_tunes_is_refused(bare, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(6):
        write_midi(folder / f"tune{i}.mid", [eighths(32, 60)])
    path = copy_model(bare, tmp_path / "m")
    result = CliRunner().invoke(cli, ["train", "melody-styles", "--model", str(path), "--data", str(folder)])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert str(folder) in result.stderr and "no training tunes of a known style" in result.stderr
    assert "styles" not in json.loads(path.read_text())


@pytest.mark.parametrize("field, value, needle", [("rows", [0, 10**6], "rows must be"),
                                                   ("rows", [5, 5], "rows must be"),
                                                   ("time_signature", "six-eight", "time_signature"),
                                                   ("time_signature", "9/8", "time_signature"),
                                                   ("time_signature", "3/12", "time_signature"),
                                                   ("time_signature", "12/8", "time_signature"),
                                                   ("bandwidth", -1, "bandwidth")])
def test_malformed_style_entries_are_refused_in_one_line(styled, tmp_path, field, value, needle):
    path = copy_model(styled, tmp_path / "m")
    original = json.loads(styled.read_text())
    meta = json.loads(path.read_text())
    meta["styles"], meta["files"]["styles"] = original["styles"], original["files"]["styles"]
    shutil.copy(styled.parent / original["files"]["styles"]["path"], path.parent)
    meta["styles"]["styles"]["jig"][field] = value
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=needle) as error:
        load_style(MelodyModel.load(path), "jig")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", ["melody-2bar", "melody-16bar"])
def test_the_shipped_models_have_the_four_nottingham_styles(name):
    model = MelodyModel.load(name)
    assert style_names(model) == ("jig", "reel", "hornpipe", "waltz")
    assert load_style(model, "jig").time_signature == (6, 8) and load_style(model, "waltz").time_signature == (3, 4)


# --- the kernel width chosen on validation windows (the model's prior and each style's) ---------------

class Copier:
    """A fake decoder: a latent within `reach` of one of `means` gives that exemplar's own training window
    back, any other a window never seen (so a narrow kernel hands back training windows)."""

    def __init__(self, means: np.ndarray, reach: float):
        self.means, self.reach = means, reach

    def decode(self, z: np.ndarray, *, temperature: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        out = np.zeros((len(z), 4), dtype=np.int64)
        for i, row in enumerate(z):
            distance = np.linalg.norm(self.means - row, axis=1)
            nearest = int(distance.argmin())
            out[i] = [nearest, 0, 0, 0] if distance[nearest] < self.reach else [-1 - i, 1, 1, 1]
        return out


def test_the_kernel_width_is_the_narrowest_whose_samples_repeat_about_as_often_as_unseen_windows():
    from genmedia.melody.prior import choose_bandwidth, kernel_samples

    means = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32) * 10
    model = Copier(means, reach=10.0)  # the means spread 10 per dimension: kernel noise of about 28 w in all
    seen = {np.array([i, 0, 0, 0], dtype=np.int64).tobytes() for i in range(50)}
    held = [np.array([i, 0, 0, 0]) for i in range(5)] + [np.array([100 + i, 2, 2, 2]) for i in range(95)]  # 5% seen
    width, choice = choose_bandwidth(partial(kernel_samples, model, means), seen=seen, held_out=held, samples=400)
    shares = choice["sample_repeat_share_by_width"]
    assert choice["validation_repeat_share"] == 0.05
    assert shares[f"{width:g}"] <= 0.05 + 0.02
    assert all(share > 0.07 for key, share in shares.items() if float(key) < width)  # every narrower width copied
    assert 0.3 < width < 1.0 and list(shares)[-1] == f"{width:g}"  # stopped at the first that passes
    wide, choice = choose_bandwidth(partial(kernel_samples, Copier(means, reach=1e9), means), seen=seen,
                                    held_out=held, samples=50)
    assert wide == 1.5 and choice["rule"].endswith("none did, so the widest")  # none passes: the widest tried
    with pytest.raises(ValueError, match="held-out"):
        choose_bandwidth(partial(kernel_samples, model, means), seen=seen, held_out=[])


def test_train_melody_prior_auto_records_how_it_chose_the_width(bare, corpus, tmp_path):
    path = copy_model(bare, tmp_path / "m")
    result = invoke("train", "melody-prior", "--model", path, "--data", corpus)
    assert result.exit_code == 0, result.output
    meta = json.loads(path.read_text())
    prior = meta["prior"]
    shares = prior["bandwidth_choice"]["sample_repeat_share_by_width"]
    assert list(shares)[-1] == f"{prior['bandwidth']:g}"
    target = prior["bandwidth_choice"]["validation_repeat_share"]
    assert all(share > target + 0.02 for share in list(shares.values())[:-1])
    assert prior["command"] == f"genmedia train melody-prior --model {path} --data {corpus}"
    fixed = invoke("train", "melody-prior", "--model", path, "--data", corpus, "--bandwidth", "0.45")
    assert fixed.exit_code == 0 and json.loads(path.read_text())["prior"]["bandwidth"] == 0.45
    assert "bandwidth_choice" not in json.loads(path.read_text())["prior"]
    for bad in ("0", "nan", "wide"):
        refused = invoke("train", "melody-prior", "--model", path, "--data", corpus, "--bandwidth", bad)
        assert refused.exit_code == 2
