"""Meters on the models' 16-step grid, training sources with their own splits, and the corpus preparation."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from genmedia.cli import cli
from genmedia.melody.data import read_folder, split_of, tune_of, windows
from genmedia.melody.meter import fill, from_grid, grid_signature, to_grid
from genmedia.melody.midi import HOLD, REST, Melody, melody_to_midi, pitch_token, read_melody

from midi_fixtures import TPB, scale_tune, write_midi


def waltz(bars: int, base: int = 60) -> list[tuple[int, int, int]]:
    """A 3/4 tune: a dotted half note on every downbeat, then nothing: bar k starts at 3k quarters."""
    return [(k * 3 * TPB, k * 3 * TPB + 3 * TPB, base + (k % 5)) for k in range(bars)]


@pytest.mark.parametrize("signature, steps, width", [((4, 4), 16, 16), ((2, 4), 8, 16), ((2, 2), 16, 16),
                                                      ((3, 4), 12, 12), ((6, 8), 12, 12), ((12, 8), 24, 12),
                                                      ((9, 8), 18, 16), ((5, 4), 20, 16)])
def test_fill_per_meter(signature, steps, width):
    assert Melody(np.zeros(1, np.int64), 120.0, signature).steps_per_bar == steps
    assert fill(steps) == width


def test_grid_signatures():
    assert grid_signature((3, 4)) == (3, 4) and grid_signature((6, 8)) == (6, 8)
    assert grid_signature((12, 8)) == (6, 8) and grid_signature((6, 4)) == (3, 4)
    assert grid_signature((2, 4)) == (2, 4) and grid_signature((9, 8)) == (4, 4)


def test_three_four_bars_are_padded_on_the_grid_and_come_back_unchanged():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, 12 * 5 + 7)  # five whole 3/4 bars and part of a sixth
    grid, mask = to_grid(tokens, 12)
    assert len(grid) == 6 * 16 and mask.sum() == 6 * 12
    assert (grid.reshape(6, 16)[:, 12:] == REST).all() and not mask.reshape(6, 16)[:, 12:].any()
    back = from_grid(grid, 12)
    assert (back[: len(tokens)] == tokens).all() and (back[len(tokens):] == REST).all()
    four = rng.integers(0, 50, 40)
    assert (to_grid(four, 16)[0] == four).all() and (from_grid(four, 16) == four).all()


def test_windows_start_on_the_tunes_bar_lines(tmp_path):
    path = write_midi(tmp_path / "waltz.mid", [waltz(8)], meter=(3, 4))
    melody = read_melody(path)
    assert melody.steps_per_bar == 12
    found = windows(melody, 32, masks=True)
    assert len(found) == 7  # 8 bars of 3/4 on the grid: windows of 2 grid bars at each bar line
    for k, (window, mask) in enumerate(found):
        assert window[0] == pitch_token(60 + k % 5) and window[16] == pitch_token(60 + (k + 1) % 5)
        assert (window[1:12] == HOLD).all() and (window[12:16] == REST).all()
        assert mask.sum() == 24
    old = windows(melody, 32, grid=False)  # models from before the grid read the tokens as they are
    assert len(old) == len(range(0, len(melody.tokens) - 32 + 1, 12)) and (old[0] == melody.tokens[:32]).all()


def test_a_window_inside_a_held_note_re_articulates_it(tmp_path):
    # A 3/4 tune whose second bar's note is tied over from the first bar's last beat.
    notes = [(0, 2 * TPB, 60), (2 * TPB, 4 * TPB, 64), (4 * TPB, 9 * TPB, 67)]
    melody = read_melody(write_midi(tmp_path / "tied.mid", [notes], meter=(3, 4)))
    second = windows(melody, 32)[1]  # starts at bar 2, inside the 64 held from bar 1
    assert second[0] == pitch_token(64)


def test_melody_to_midi_writes_the_meter_and_accents_its_bars():
    tokens = np.array([pitch_token(60), HOLD, REST] * 8)
    pm = melody_to_midi(tokens, tempo=120, time_signature=(3, 4))
    assert [(t.numerator, t.denominator) for t in pm.time_signature_changes] == [(3, 4)]
    accents = [n.velocity for n in pm.instruments[0].notes]
    assert accents[0] == 100 and accents[4] == 100  # steps 0 and 12: downbeats of 3/4
    assert accents[1] == 76 and accents[2] == 76  # steps 3 and 6: between the quarter-note beats (0, 4, 8)
    compound = melody_to_midi(np.array([pitch_token(62)] * 12), tempo=120, time_signature=(6, 8))
    assert [n.velocity for n in compound.instruments[0].notes][:7] == [100, 76, 76, 76, 76, 76, 88]


def test_sources_with_split_folders_and_chorale_voices(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / "src" / split).mkdir(parents=True)
        write_midi(tmp_path / "src" / split / f"{split}-tune.mid", [scale_tune(2)])
    by_split, skipped = read_folder(tmp_path / "src")
    assert {s: [n for n, _ in t] for s, t in by_split.items()} == {s: [f"{s}-tune.mid"] for s in by_split}
    assert not skipped
    assert tune_of("bwv1.6--alto.mid") == "bwv1.6.mid" and tune_of("reel.mid") == "reel.mid"
    flat = tmp_path / "flat"
    flat.mkdir()
    for voice in ("soprano", "alto", "tenor", "bass"):
        write_midi(flat / f"chorale7--{voice}.mid", [scale_tune(2)])
    by_split, _ = read_folder(flat)
    assert [len(t) for t in by_split.values()].count(4) == 1  # the four voices share their chorale's split
    assert len(by_split[split_of("chorale7.mid")]) == 4


def test_fingerprint_and_jsb_voices(tmp_path):
    from genmedia.training.melody_corpus import fingerprint, jsb_voices

    assert fingerprint([60, 60, 62, 64, 64, 62]) == (2, 2, -2) == fingerprint([65, 67, 69, 67])
    nan = float("nan")
    chorale = np.array([[72, 67, 64, 48], [72, 67, 64, 48], [74, nan, 65, 50], [72, 67, 64, 48]], dtype=float)
    sets = {s: np.empty(1, dtype=object) for s in ("train", "valid", "test")}
    for s in sets:
        sets[s][0] = chorale
    np.savez(tmp_path / "jsb.npz", **sets)
    voices = jsb_voices(tmp_path / "jsb.npz")["train"][0][1]
    assert voices[0] == [(0.0, 0.5, 72), (0.5, 0.75, 74), (0.75, 1.0, 72)]  # repeats are held: no onset at 0.25
    assert voices[1] == [(0.0, 0.5, 67), (0.75, 1.0, 67)]  # the rest where the alto is silent


def test_prepare_refuses_the_evaluation_collections(tmp_path):
    from genmedia.training.melody_corpus import prepare

    with pytest.raises(ValueError, match="reserved for evaluation"):
        prepare(tmp_path, jsb_npz=None, collections=["oneills1850"])


def test_music21_pickup_bars_land_on_bar_lines(tmp_path):
    pytest.importorskip("music21")
    from genmedia.training.melody_corpus import _music21_parts, _write_notes

    abc = tmp_path / "tune.abc"
    abc.write_text("X:1\nT:Pickup\nM:4/4\nL:1/8\nK:G\nD2|G2A2B2c2|d8|]\n")
    (num, den), parts = _music21_parts(abc)
    assert (num, den) == (4, 4)
    starts = [s for s, _, _ in parts[0]]
    assert starts[:2] == [3.0, 4.0]  # the pickup quarter ends the first bar; G falls on the downbeat
    _write_notes(tmp_path / "tune.mid", parts[0])
    melody = read_melody(tmp_path / "tune.mid")
    assert melody.tokens[12] >= 2 and melody.tokens[16] == pitch_token(67)


@pytest.mark.torch
def test_a_morph_of_two_waltzes_is_written_in_three_four(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    corpus = tmp_path / "tunes"
    corpus.mkdir()
    for i in range(12):
        write_midi(corpus / f"waltz{i:02d}.mid", [waltz(6, base=55 + i)], meter=(3, 4))
    out = tmp_path / "models"
    trained = CliRunner().invoke(cli, ["train", "melody", "--data", str(corpus), "--preset", "tiny", "--out",
                                       str(out), "--name", "w"], catch_exceptions=False)
    assert trained.exit_code == 0, trained.output
    assert "meter" in json.loads((out / "w.json").read_text())
    morph = CliRunner().invoke(cli, ["music", "interpolate", str(corpus / "waltz00.mid"), str(corpus / "waltz03.mid"),
                                     "--model", str(out / "w.json"), "--steps", "3", "-o", str(tmp_path / "m")],
                               catch_exceptions=False)
    assert morph.exit_code == 0, morph.output
    for name in ("step-00.mid", "step-02.mid", "morph.mid"):
        midi = mido.MidiFile(str(tmp_path / "m" / name))
        signatures = [(m.numerator, m.denominator) for t in midi.tracks for m in t if m.type == "time_signature"]
        assert signatures == [(3, 4)]
    step = read_melody(tmp_path / "m" / "step-00.mid")
    assert step.steps_per_bar == 12 and len(step.tokens) <= 24  # two bars of 3/4, not 32 sixteenths
    whole = read_melody(tmp_path / "m" / "morph.mid")
    assert len(whole.tokens) <= 3 * 24  # three steps of two 3/4 bars each, end to end


@pytest.mark.torch
def test_training_on_several_sources_records_each_and_balances_them(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from genmedia.training.melody_vae import MelodyVAEConfig, load_melody_data, train

    folk, reels = tmp_path / "folk", tmp_path / "reels"
    folk.mkdir()
    reels.mkdir()
    for i in range(30):
        write_midi(folk / f"folk{i:02d}.mid", [scale_tune(4, base=55 + i % 12)])
    for i in range(6):  # windows unlike any of folk's: 3/4 bars, padded on the grid
        write_midi(reels / f"reels{i:02d}.mid", [waltz(6, base=70 + i)], meter=(3, 4))
    data, summary = load_melody_data([folk, reels], 32)
    assert set(summary["sources"]) == {"folk", "reels"}
    source = summary["_train_source"]
    assert len(source) == len(data["train"]) and set(np.unique(source)) == {0, 1}
    # Balanced, a batch draws as many windows of the small source as of the large one.
    seen = []

    def spy(batch, rng, limit):
        seen.append(batch)
        return batch

    import genmedia.training.melody_trainer as mv  # where the trainer looks it up
    original = mv.transpose_batch
    mv.transpose_batch = spy
    try:
        cfg = MelodyVAEConfig.preset("tiny")
        cfg.source_balance, cfg.batch, cfg.train_steps = 1.0, 400, 1
        train(data, cfg, sources=source)
    finally:
        mv.transpose_batch = original
    reel_windows = {bytes(w) for w in data["train"][source == 1]}
    drawn = np.mean([bytes(w) in reel_windows for w in seen[0]])
    assert 0.4 < drawn < 0.6 and (source == 1).mean() < 0.3

    out = tmp_path / "models"
    result = CliRunner().invoke(cli, ["train", "melody", "--data", str(folk), "--data", str(reels), "--preset", "tiny",
                                      "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "melody-2bar.json").read_text())
    assert meta["training"]["command"].count("--data") == 2  # a repeated option is recorded repeated
    assert meta["training"]["data"] == [str(folk), str(reels)]
    for name, source_info in meta["training"]["sources"].items():
        for split in ("valid", "test"):
            has = source_info["windows"].get(split, 0) > 0
            assert (f"greedy_accuracy_{split}_{name}" in meta["metrics"]) == has
