"""Hostile inputs at the command line: each gives one `error: FILE: why` line (or a usage error), fast.

One test per class of input from the "Hostile inputs" issue: files that are not regular files,
inputs that ask for unbounded work (huge maps, hours-long notes), broken MIDI, non-finite numbers,
unreadable files in a batch, and multi-frame images.
"""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import click
import mido
import numpy as np
import pretty_midi
import pytest
from click.testing import CliRunner
from PIL import Image

from genmedia import limits
from genmedia.cli import cli
from genmedia.cli.common import FiniteFloatRange
from genmedia.errors import GenmediaError, InputError
from genmedia.image.io import read_photo
from genmedia.levels.tiles import read_level
from genmedia.melody.midi import load_midi, melody_to_midi
from genmedia.melody.synth import synthesize

from conftest import flat_map, with_column

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")


def run(*args, env: dict[str, str] | None = None):
    return CliRunner(env=env).invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run_process(*args, timeout: float = 20) -> subprocess.CompletedProcess:
    """The CLI in a child process, so that a reader blocking on a FIFO fails the test, not hangs it."""
    return subprocess.run([sys.executable, "-m", "genmedia", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def assert_one_error(result, path: Path, why: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: {path}: {why}\n"


def map_file(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def one_note_midi(path: Path, *, ticks: int = 480, tpb: int = 480, tempo: int = 500_000,
                  later_tempo: int | None = None) -> Path:
    """A type-0 file of one note, `ticks` long, optionally with a tempo change 10 ticks in."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                            mido.Message("note_on", note=64, velocity=90, time=0)])
    if later_tempo is not None:
        track.append(mido.MetaMessage("set_tempo", tempo=later_tempo, time=10))
        ticks -= 10
    track.append(mido.Message("note_off", note=64, velocity=0, time=ticks))
    midi = mido.MidiFile(type=0, ticks_per_beat=tpb)
    midi.tracks.append(track)
    midi.save(str(path))
    return path


# Files that are not regular files ---------------------------------------------------------------

@needs_fifo
def test_a_fifo_is_refused_at_once_by_every_reader(tmp_path):
    fifo = tmp_path / "level.txt"
    os.mkfifo(fifo)
    good = map_file(tmp_path / "good.txt", flat_map(20))
    for args in (("level", "render", fifo, "-o", tmp_path / "a.png"),
                 ("music", "render", fifo, "-o", tmp_path / "a.wav")):
        started = time.monotonic()
        result = run_process(*args)
        assert result.returncode == 1 and time.monotonic() - started < 20
        assert result.stderr == f"error: {fifo}: is a FIFO (named pipe), not a regular file\n"
    checked = run_process("level", "check", fifo, good)
    assert checked.returncode == 1
    assert f"error: {fifo}: is a FIFO (named pipe), not a regular file" in checked.stderr
    assert f"{good}: playable" in checked.stdout  # the batch went on past the FIFO
    photo = subprocess.run([sys.executable, "-c", "import sys; from genmedia.image.io import read_photo\n"
                            "try: read_photo(sys.argv[1])\nexcept Exception as e: print(e)", str(fifo)],
                           capture_output=True, text=True, timeout=20)
    assert photo.stdout == f"{fifo}: is a FIFO (named pipe), not a regular file\n"


def test_devices_and_folders_are_refused(tmp_path):
    for reader in (read_level, load_midi, read_photo):
        with pytest.raises(InputError, match="is a folder"):
            reader(tmp_path)
        if os.path.exists(os.devnull) and os.name == "posix":
            with pytest.raises(InputError, match="is a character device, not a regular file"):
                reader(Path(os.devnull))


# Bounded work -------------------------------------------------------------------------------------

def test_a_map_300000_columns_wide_is_refused_while_reading(tmp_path):
    full = map_file(tmp_path / "full.txt", ["-" * 300_000] * 13 + ["X" * 300_000])  # 4.2 MB
    assert_one_error(run("level", "render", full, "-o", tmp_path / "full.png"), full,
                     "is 4,200,014 bytes, over the limit of 1,048,576 bytes for a level map "
                     "(raise it with GENMEDIA_MAX_LEVEL_BYTES)")
    wide = map_file(tmp_path / "wide.txt", ["-" * 300_000] * 2 + ["X" * 300_000])  # under the byte limit
    why = "line 1 has 300,000 columns, over the limit of 10,000 columns (raise it with GENMEDIA_MAX_LEVEL_COLUMNS)"
    tracemalloc.start()
    try:
        assert_one_error(run("level", "render", wide, "-o", tmp_path / "wide.png"), wide, why)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20  # the map's text and lines, not its 3 GB drawing
    assert not (tmp_path / "wide.png").exists()
    result = run("level", "interpolate", wide, wide, "-o", tmp_path / "morph")
    assert result.exit_code == 1 and why in result.stderr and not (tmp_path / "morph").exists()


def test_level_limits_can_be_raised_and_lowered(tmp_path, monkeypatch):
    path = map_file(tmp_path / "a.txt", flat_map(40))
    monkeypatch.setenv("GENMEDIA_MAX_LEVEL_COLUMNS", "39")
    with pytest.raises(InputError, match="40 columns, over the limit of 39 columns"):
        read_level(path)
    monkeypatch.setenv("GENMEDIA_MAX_LEVEL_COLUMNS", "40")
    monkeypatch.setenv("GENMEDIA_MAX_LEVEL_ROWS", "13")
    with pytest.raises(InputError, match="has 14 rows, over the limit of 13 rows"):
        read_level(path)
    monkeypatch.setenv("GENMEDIA_MAX_LEVEL_ROWS", "14")
    assert read_level(path).shape == (14, 40)
    monkeypatch.setenv("GENMEDIA_MAX_LEVEL_BYTES", "100")
    with pytest.raises(InputError, match=r"is 574 bytes, over the limit of 100 .*GENMEDIA_MAX_LEVEL_BYTES"):
        read_level(path)


def test_a_bad_limit_setting_is_one_line(tmp_path):
    path = map_file(tmp_path / "a.txt", flat_map(20))
    result = run("level", "render", path, "-o", tmp_path / "a.png", env={"GENMEDIA_MAX_LEVEL_COLUMNS": "lots"})
    assert result.exit_code == 1 and result.stderr == "error: GENMEDIA_MAX_LEVEL_COLUMNS='lots' is not an integer\n"
    for bad in ("0", "-5", "nan", "inf"):
        with pytest.raises(limits.LimitError, match="must be a positive number|is not"):
            limits.current({"GENMEDIA_MAX_MIDI_SECONDS": bad})
    assert limits.current({"GENMEDIA_MAX_MIDI_SECONDS": "7200"}).midi_seconds == 7200.0


def test_every_limit_has_a_documented_environment_variable():
    for name, value in vars(limits.DEFAULT).items():
        assert limits.ENV[name].startswith("GENMEDIA_MAX_") and value > 0
    assert limits.current({}) == limits.DEFAULT
    assert limits.DEFAULT.level_columns == 10_000  # the level model's widest map (`level sample --width`)


def long_note_44_bytes(path: Path) -> Path:
    """44 bytes: one note of 9,999,000 ticks at 96 per beat and 120 BPM, 14.5 hours (18.5 GB of audio)."""
    path = one_note_midi(path, ticks=9_999_000, tpb=96)
    assert path.stat().st_size == 44
    return path


def test_a_44_byte_midi_asking_for_18_gb_is_refused_fast(tmp_path):
    path = long_note_44_bytes(tmp_path / "long.mid")
    started = time.monotonic()
    result = run("music", "render", path, "-o", tmp_path / "long.wav")
    assert time.monotonic() - started < 10
    assert_one_error(result, path,
                     "lasts 52,078 s, over the limit of 1,800 s (raise it with GENMEDIA_MAX_MIDI_SECONDS)")
    assert not (tmp_path / "long.wav").exists()


def test_one_long_note_is_refused_naming_the_file(tmp_path):
    path = one_note_midi(tmp_path / "held.mid", ticks=480 * 2 * 600)  # 600 s at 120 BPM
    assert_one_error(run("music", "render", path, "-o", tmp_path / "held.wav"), path,
                     "has a note at 0.0 s lasting 600 s, over the limit of 120 s "
                     "(raise it with GENMEDIA_MAX_NOTE_SECONDS)")
    short = one_note_midi(tmp_path / "short.mid", ticks=480 * 2 * 3)  # 3 s
    result = run("music", "render", short, "-o", tmp_path / "short.wav", env={"GENMEDIA_MAX_NOTE_SECONDS": "2.5"})
    assert_one_error(result, short, "has a note at 0.0 s lasting 3 s, over the limit of 2.5 s "
                                    "(raise it with GENMEDIA_MAX_NOTE_SECONDS)")
    result = run("music", "render", short, "-o", tmp_path / "short.wav", env={"GENMEDIA_MAX_NOTE_SECONDS": "3"})
    assert result.exit_code == 0, result.output


def test_the_synthesiser_refuses_before_allocating(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(90, 60, 0.0, 52_000.0))
    pm.instruments.append(inst)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            synthesize(pm, source=tmp_path / "x.mid")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith(f"{tmp_path / 'x.mid'}: has a note at 0.0 s lasting 52,000 s")
    assert peak < 2**20
    inst.notes[0].end = math.nan
    with pytest.raises(InputError, match="has a note from 0.0 s to nan s"):
        synthesize(pm, source="x.mid")


def test_notes_and_bytes_limits(tmp_path, monkeypatch):
    path = tmp_path / "tune.mid"
    midi = mido.MidiFile(type=0)
    midi.tracks.append(mido.MidiTrack(m for p in range(60, 76) for m in (
        mido.Message("note_on", note=p, velocity=80, time=0), mido.Message("note_off", note=p, time=120))))
    midi.save(str(path))
    monkeypatch.setenv("GENMEDIA_MAX_MIDI_NOTES", "15")
    with pytest.raises(InputError, match="has 16 notes, over the limit of 15 notes .*GENMEDIA_MAX_MIDI_NOTES"):
        load_midi(path)
    monkeypatch.setenv("GENMEDIA_MAX_MIDI_NOTES", "16")
    monkeypatch.setenv("GENMEDIA_MAX_MIDI_BYTES", "20")
    with pytest.raises(InputError, match=r"bytes, over the limit of 20 bytes for a MIDI file \(raise it with "
                                         "GENMEDIA_MAX_MIDI_BYTES\\)"):
        load_midi(path)
    monkeypatch.delenv("GENMEDIA_MAX_MIDI_BYTES")
    assert len(load_midi(path).instruments[0].notes) == 16


def many_long_notes(path: Path, *, count: int = 400, seconds: float = 119.0) -> Path:
    """`count` notes of `seconds` each, all at once (120 BPM): each under the one-note limit."""
    voices = [(channel, 30 + i) for i in range(60) for channel in range(16) if channel != 9][:count]  # 9: drums
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)])
    track += [mido.Message("note_on", channel=c, note=n, velocity=80, time=0) for c, n in voices]
    ticks = round(seconds * 2 * 480)
    track += [mido.Message("note_off", channel=c, note=n, time=0 if i else ticks) for i, (c, n) in enumerate(voices)]
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(path))
    return path


def test_the_summed_sound_of_the_notes_is_bounded_when_rendering(tmp_path):
    path = many_long_notes(tmp_path / "wall.mid")  # 47,600 note-seconds in a few kB: minutes of synthesis
    assert path.stat().st_size < 4096
    started = time.monotonic()
    result = run("music", "render", path, "-o", tmp_path / "wall.wav")
    assert time.monotonic() - started < 10
    assert_one_error(result, path, "has notes sounding for a total of 47,632 s, over the limit of 7,200 s "
                                   "(raise it with GENMEDIA_MAX_MIDI_NOTE_SECONDS_TOTAL)")
    assert not (tmp_path / "wall.wav").exists()
    assert len(load_midi(path).instruments) == 15  # reading the notes (a morph, training) is not bounded by it
    short = many_long_notes(tmp_path / "short.mid", count=4, seconds=1.0)  # 4 x (1 s + 0.08 s release)
    env = {"GENMEDIA_MAX_MIDI_NOTE_SECONDS_TOTAL": "4.3"}
    assert_one_error(run("music", "render", short, "-o", tmp_path / "short.wav", env=env), short,
                     "has notes sounding for a total of 4.3 s, over the limit of 4.3 s "
                     "(raise it with GENMEDIA_MAX_MIDI_NOTE_SECONDS_TOTAL)")
    env = {"GENMEDIA_MAX_MIDI_NOTE_SECONDS_TOTAL": "4.4"}
    assert run("music", "render", short, "-o", tmp_path / "short.wav", env=env).exit_code == 0


def test_a_burst_of_fast_tempo_cannot_make_the_melody_grid_huge(tmp_path):
    path = one_note_midi(tmp_path / "burst.mid", ticks=9_000_000, tpb=1, later_tempo=1)  # 9 M beats in 9 s
    result = run("music", "render", path, "-o", tmp_path / "burst.wav")
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {path}: is 9,000,000 beats long")


# Broken MIDI ----------------------------------------------------------------------------------------

def patched(path: Path, at: int, data: bytes) -> Path:
    raw = bytearray(path.read_bytes())
    raw[at:at + len(data)] = data
    path.write_bytes(bytes(raw))
    return path


def with_key_signature(path: Path, sf: int, mode: int) -> Path:
    """A one-note file with a key signature mido refuses to write, spliced in as bytes."""
    raw = one_note_midi(path).read_bytes()
    event = bytes([0xFF, 0x59, 0x02, sf & 0xFF, mode, 0x00])  # meta event, then the next event's delta 0
    at = raw.index(b"\xff\x51")
    raw = raw[:at] + event + raw[at:]
    path.write_bytes(raw[:18] + struct.pack(">I", struct.unpack(">I", raw[18:22])[0] + len(event)) + raw[22:])
    return path


@pytest.mark.parametrize("make, why", [
    (lambda p: one_note_midi(p, tempo=0), "has a tempo of 0 microseconds per beat at tick 0"),
    (lambda p: one_note_midi(p, later_tempo=0), "has a tempo of 0 microseconds per beat at tick 10"),
    (lambda p: patched(one_note_midi(p), 12, b"\x00\x00"), "has 0 ticks per beat"),
    (lambda p: patched(one_note_midi(p), 12, b"\xe7\x28"),
     "uses SMPTE (frames per second) timing, which genmedia does not read"),
    (lambda p: with_key_signature(p, 20, 0),
     "has an invalid key signature (Could not decode key with 20 sharps and mode 0)"),
    (lambda p: with_key_signature(p, 0, 5),
     "has an invalid key signature (Could not decode key with 0 flats and mode 5)"),
])
def test_broken_midi_is_one_line(tmp_path, make, why):
    path = make(tmp_path / "bad.mid")
    assert_one_error(run("music", "render", path, "-o", tmp_path / "bad.wav"), path, why)
    other = one_note_midi(tmp_path / "ok.mid")
    result = run("music", "interpolate", path, other, "-o", tmp_path / "morph")
    assert_one_error(result, path, why)


def test_render_writes_only_wav_and_says_what_it_wrote(tmp_path):
    path = one_note_midi(tmp_path / "a.mid")
    result = run("music", "render", path, "-o", tmp_path / "a.mp3")
    assert result.exit_code == 2 and "a.mp3 must end in .wav: render writes WAV audio only" in result.stderr
    assert not (tmp_path / "a.mp3").exists()
    result = run("music", "render", path, "-o", tmp_path / "a.WAV")
    assert result.exit_code == 0 and result.stderr == f"wrote {tmp_path / 'a.WAV'}\n"
    level = map_file(tmp_path / "a.txt", flat_map(20))
    result = run("level", "render", level, "-o", tmp_path / "a.png")
    assert result.exit_code == 0 and result.stderr == f"wrote {tmp_path / 'a.png'}\n"


# Numbers --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("level", "sample", "--temperature", "nan"), ("level", "sample", "--temperature", "inf"),
    ("music", "sample", "--temperature", "nan"), ("music", "sample", "--tempo", "nan"),
    ("music", "sample", "--tempo", "-inf"),
])
def test_non_finite_numbers_are_usage_errors(tmp_path, args):
    result = run(*args, "-o", tmp_path / "out")
    assert result.exit_code == 2 and f"'{args[-1]}' is not a finite number." in result.stderr
    assert not (tmp_path / "out").exists()


def test_finite_float_range_keeps_the_range_checks():
    kind = FiniteFloatRange(0.0, 3.0)
    assert kind.convert("2.5", None, None) == 2.5
    with pytest.raises(click.BadParameter, match="is not in the range"):
        kind.convert("3.5", None, None)
    with pytest.raises(click.BadParameter, match="is not a finite number"):
        FiniteFloatRange(0.0).convert("1e400", None, None)  # overflows to inf, which a lower bound lets by


def test_library_refuses_a_non_finite_tempo():
    with pytest.raises(ValueError, match="finite"):
        melody_to_midi(np.array([10, 1, 1]), tempo=math.nan)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_library_sampling_refuses_non_finite_numbers(bad):
    from genmedia.levels.model import LevelModel, sample_levels
    from genmedia.melody.model import MelodyModel, fit_prior, sample_melodies

    with pytest.raises(ValueError, match="temperature must be a finite number"):
        sample_levels(LevelModel.load(), count=1, width=16, seed=0, temperature=bad)
    melody = MelodyModel.load()
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        sample_melodies(melody, count=1, seed=0, temperature=bad)
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        melody.decode(np.zeros((1, melody.latent), np.float32), temperature=bad)
    with pytest.raises(ValueError, match="bandwidth must be a finite number"):
        fit_prior(melody, np.zeros((2, melody.steps), np.int64), bandwidth=bad)
    with pytest.raises(ValueError, match="width must be a finite number"):
        sample_levels(LevelModel.load(), count=1, width=bad, seed=0)


def test_level_sample_width_follows_the_column_limit_when_it_runs(tmp_path):
    args = ("level", "sample", "--count", "1", "--seed", "0", "--no-check", "--no-png")
    result = run(*args, "--width", "10001", "-o", tmp_path / "a")
    assert result.exit_code == 2
    assert ("Invalid value for '--width': 10,001 columns, over the limit of 10,000 columns (raise it with "
            "GENMEDIA_MAX_LEVEL_COLUMNS)") in result.stderr
    result = run(*args, "--width", "10001", "-o", tmp_path / "a", env={"GENMEDIA_MAX_LEVEL_COLUMNS": "10001"})
    assert result.exit_code == 0, result.output
    assert {len(line) for line in (tmp_path / "a" / "level-000.txt").read_text().splitlines()} == {10_001}
    result = run(*args, "--width", "150", "-o", tmp_path / "b", env={"GENMEDIA_MAX_LEVEL_COLUMNS": "100"})
    assert result.exit_code == 2 and "150 columns, over the limit of 100 columns" in result.stderr


# Drawing levels ---------------------------------------------------------------------------------

def test_level_render_refuses_a_drawing_over_the_pixel_limit(tmp_path):
    big = map_file(tmp_path / "big.txt", ["-" * 10_000] * 99 + ["X" * 10_000])  # 1 MB of text, 5.8 GB drawn
    tracemalloc.start()
    try:
        result = run("level", "render", big, "-o", tmp_path / "big.png", "--tile-size", "32")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_one_error(result, big, "has 100 x 10,000 tiles; drawing them at 32 pixels a tile takes 1,024,000,000 "
                                  "pixels, over the limit of 120,000,000 pixels (raise it with GENMEDIA_MAX_PIXELS)")
    assert peak < 100 * 2**20 and not (tmp_path / "big.png").exists()
    small = map_file(tmp_path / "small.txt", flat_map(40))  # 14 x 40 tiles, drawn at 16 pixels: 143,360
    for size in ("16", "4"):  # a smaller tile is drawn at the art's 16 pixels first, then scaled
        result = run("level", "render", small, "-o", tmp_path / "small.png", "--tile-size", size,
                     env={"GENMEDIA_MAX_PIXELS": "143359"})
        assert_one_error(result, small, "has 14 x 40 tiles; drawing them at 16 pixels a tile takes 143,360 pixels, "
                                        "over the limit of 143,359 pixels (raise it with GENMEDIA_MAX_PIXELS)")
    result = run("level", "render", small, "-o", tmp_path / "small.png", env={"GENMEDIA_MAX_PIXELS": "143360"})
    assert result.exit_code == 0
    with Image.open(tmp_path / "small.png") as drawn:
        assert drawn.size == (640, 224)


def test_a_morph_strip_over_the_pixel_limit_is_refused_before_the_morph(tmp_path, monkeypatch):
    from genmedia.levels import model
    from genmedia.levels.render import render_strip

    a, b = map_file(tmp_path / "a.txt", flat_map(40)), map_file(tmp_path / "b.txt", flat_map(48))
    monkeypatch.setattr(model, "interpolate_levels", lambda *args, **kw: pytest.fail("morphed before the check"))
    result = run("level", "interpolate", a, b, "--steps", "7", "-o", tmp_path / "out",
                 env={"GENMEDIA_MAX_PIXELS": "300000"})  # each map fits; the strip of 9 does not
    assert_one_error(result, tmp_path / "out" / "morph.png",
                     "a strip of 9 maps at 8 pixels a tile is 480 x 1,040 = 499,200 pixels, over the limit of "
                     "300,000 pixels (raise it with GENMEDIA_MAX_PIXELS)")
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("GENMEDIA_MAX_PIXELS", "300000")
    with pytest.raises(InputError, match="^strip.png: a strip of 9 maps"):
        render_strip([read_level(a)] * 9, source="strip.png")


# Files in a batch -----------------------------------------------------------------------------------

def test_check_goes_on_past_unreadable_files_and_names_them(tmp_path):
    good = map_file(tmp_path / "good.txt", flat_map(30))
    loop = tmp_path / "loop.txt"
    loop.symlink_to(tmp_path / "loop2.txt")
    (tmp_path / "loop2.txt").symlink_to(loop)
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    result = run("level", "check", loop, folder, good, tmp_path / "missing.txt")
    assert result.exit_code == 1
    assert result.stdout == f"{good}: playable\n"
    assert result.stderr.splitlines() == [
        f"error: {loop}: is a symbolic link loop",
        f"error: {folder}: is a folder, not a level map",
        f"error: {tmp_path / 'missing.txt'}: no such file",
        f"1 of 4 levels playable; cannot read 3: {loop}, {folder}, {tmp_path / 'missing.txt'}",
    ]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_check_goes_on_past_a_file_without_read_permission(tmp_path):
    locked = map_file(tmp_path / "locked.txt", flat_map(30))
    locked.chmod(0)
    good = map_file(tmp_path / "good.txt", flat_map(30))
    result = run("level", "check", locked, good)
    assert result.exit_code == 1 and f"error: {locked}: permission denied" in result.stderr
    assert f"{good}: playable" in result.stdout


def test_thorough_check_passes_a_timed_jump_the_fast_check_misses(tmp_path):
    """A wall 5 tiles high is one tile above a full jump; the way over is a jump from a single block
    floating 4 tiles up, cut short to keep under nothing and timed to clear the wall's edge: the fast
    search's whole moves miss it, the frame-by-frame search finds it (as for the corpus's 2-1, 3-3,
    6-2 and 6-3), and the route it finds plays to the end."""
    from genmedia.levels import physics
    from genmedia.levels.check import check_playable, solid_mask

    lines = with_column(with_column(flat_map(30), 4, "XXXX"), 5, "XXXX")
    lines = with_column(with_column(with_column(lines, 8, "---S"), 14, "XXXXX"), 15, "XXXXX")
    path = map_file(tmp_path / "timed.txt", lines)
    fast = run("level", "check", path)
    assert fast.exit_code == 1 and fast.stdout.startswith(f"{path}: not playable: stuck at column 14")
    assert "try --thorough" in fast.stdout
    thorough = run("level", "check", "--thorough", path)
    assert thorough.exit_code == 0 and thorough.stdout == f"{path}: playable\n"
    grid = read_level(path)
    result = check_playable(grid, thorough=True)
    assert physics.replay(physics.Level(solid_mask(grid)), list(result.actions))[0]


def test_check_warns_about_unknown_tiles(tmp_path):
    lines = flat_map(30)
    lines[5] = "-" * 10 + "Z@Z" + "-" * 17
    path = map_file(tmp_path / "odd.txt", lines)
    result = run("level", "check", path)
    assert result.exit_code == 0
    assert (f"warning: {path}: unknown tiles '@', 'Z', not in Super Mario Bros. (pass --legend for another "
            "game); they are checked as open space") in result.stderr


# Images ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, suffix", [("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tif")])
def test_multi_frame_images_are_refused(tmp_path, fmt, suffix):
    frames = [Image.new("RGB", (16, 16), (50 * i, 0, 0)) for i in range(5)]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])
    with pytest.raises(InputError) as info:
        read_photo(path)
    assert str(info.value) == f"{path}: has 5 frames; genmedia denoises single images"
    frames[0].save(path, format=fmt)  # one frame of the same format reads
    assert read_photo(path).pixels.shape == (16, 16, 3)


def test_the_pixel_limit_setting_and_option(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    Image.new("RGB", (100, 50)).save(path)
    monkeypatch.setenv("GENMEDIA_MAX_PIXELS", "4999")
    with pytest.raises(GenmediaError, match="5,000 pixels is over the limit of 4,999 .*GENMEDIA_MAX_PIXELS"):
        read_photo(path)
    assert read_photo(path, max_pixels=5000).pixels.shape == (50, 100, 3)  # --max-pixels wins over it


def test_read_input_bytes_stops_at_the_limit(tmp_path):
    from genmedia.inputs import read_input_bytes

    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 10)
    assert read_input_bytes(path, limit=10) == b"x" * 10
    path.write_bytes(b"x" * 11)
    with pytest.raises(InputError, match="is 11 bytes, over the limit of 10 bytes for a file"):
        read_input_bytes(path, limit=10)


def _npy_claiming(path: Path, shape: tuple, payload: int = 1024) -> Path:
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    header = header + " " * (118 - len(header)) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * payload)
    return path


@pytest.mark.parametrize("shape, why", [((100_000_000_000, 128), "with at most"),
                                        ((4_000_000, 128), "promises 2048000000 bytes of data but the file holds 1024"),
                                        ((64,), "shape (64,)")])
def test_a_prior_whose_header_claims_a_huge_array_is_one_model_error(tmp_path, shape, why):
    import hashlib
    import json
    import shutil

    from genmedia.resources import resource_dir

    models = resource_dir("models")
    meta = json.loads((models / "melody-2bar.json").read_text())
    for entry in meta["files"].values():
        shutil.copy(models / entry["path"], tmp_path / entry["path"])
    prior = _npy_claiming(tmp_path / meta["files"]["prior"]["path"], shape)
    meta["files"]["prior"].update(sha256=hashlib.sha256(prior.read_bytes()).hexdigest(), bytes=prior.stat().st_size)
    (tmp_path / "melody-2bar.json").write_text(json.dumps(meta))
    result = run("music", "sample", "--count", "1", "--seed", "1", "-o", tmp_path / "out",
                 "--model", tmp_path / "melody-2bar.json")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {prior}: ") and why in result.stderr


def test_music_eval_names_each_bad_midi_scores_the_rest_and_fails(tmp_path):
    import shutil

    from genmedia.resources import resource_dir

    folder = tmp_path / "midis"
    folder.mkdir()
    for name in ("example-a.mid", "example-b.mid"):
        shutil.copy(resource_dir("assets") / "melodies" / name, folder / name)
    (folder / "junk.mid").write_bytes(b"not midi at all")
    (folder / "empty.mid").write_bytes(b"")
    result = run("music", "eval", folder, "--samples", "2", "--json")
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 2, result.stderr
    assert errors[0].startswith(f"error: {folder / 'empty.mid'}: ")
    assert errors[1].startswith(f"error: {folder / 'junk.mid'}: ")
    report = __import__("json").loads(result.stdout)
    assert report["tunes"] == 2 and report["unreadable_files"] == 2  # the good files were scored


def test_music_eval_of_a_single_tune_has_no_morphs_and_no_traceback(tmp_path):
    import json
    import shutil

    from genmedia.resources import resource_dir

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    shutil.copy(resource_dir("assets") / "melodies" / "example-a.mid", one / "a.mid")
    for name in ("example-a.mid", "example-b.mid"):
        shutil.copy(resource_dir("assets") / "melodies" / name, two / name)
    result = run("music", "eval", one, two, "--samples", "2", "--refine-windows", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sources"]["one"]["morph_pairs"] == 0 and "morph_monotone_share" not in report["sources"]["one"]
    assert report["sources"]["two"]["morph_pairs"] == 1
    assert report["pooled"]["morph_monotone_share"] == report["sources"]["two"]["morph_monotone_share"]
    text = run("music", "eval", one, "--samples", "2", "--refine-windows", "2")
    assert text.exit_code == 0 and "morph_pairs  0" in text.stdout
    assert "{" not in text.stdout and text.stdout.count("folder") == 1  # no dict printed raw, no repeated source


def test_image_eval_goes_on_past_bad_files_and_names_them(tmp_path):
    import json

    folder = tmp_path / "clean"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / "b-good.png")
    frames = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(2)]
    frames[0].save(folder / "a-animated.png", save_all=True, append_images=frames[1:])
    (folder / "c-junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = run("image", "eval", folder, "--sigma", "15", "--json")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {folder / 'a-animated.png'}: ")
    assert lines[1].startswith(f"error: {folder / 'c-junk.png'}: ")
    assert lines[2] == f"failed: {folder / 'a-animated.png'}, {folder / 'c-junk.png'}" and len(lines) == 3
    report = json.loads(result.stdout)
    assert [entry["image"] for entry in report["images"]] == ["b-good.png"]  # the good one was scored


def test_level_eval_goes_on_past_bad_maps_and_names_them(tmp_path):
    import json

    folder = tmp_path / "maps"
    folder.mkdir()
    map_file(folder / "a.txt", flat_map(40))
    map_file(folder / "c.txt", flat_map(48, gaps=(range(20, 23),)))
    (folder / "b.txt").write_bytes(b"\xff\xfe\x00 not a map")
    reference = tmp_path / "ref"
    reference.mkdir()
    map_file(reference / "r.txt", flat_map(40))
    (reference / "z.txt").write_text("")
    result = run("level", "eval", folder, "--reference", reference, "--json")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {folder / 'b.txt'}: ")
    assert lines[1].startswith(f"error: {reference / 'z.txt'}: ")
    assert len(lines) == 3 and lines[2].startswith("failed: 2 ")
    assert json.loads(result.stdout)["levels"] == 2  # the readable maps were scored


def test_level_eval_names_a_map_of_another_height_and_scores_the_rest(tmp_path):
    import json

    folder = tmp_path / "maps"
    folder.mkdir()
    map_file(folder / "a.txt", flat_map(40))
    map_file(folder / "b.txt", flat_map(48, gaps=(range(20, 23),)))
    map_file(folder / "short.txt", flat_map(40, rows=5))  # windows of 5 rows cannot be compared with 14
    for args in ((), ("--reference", folder)):
        result = run("level", "eval", folder, *args, "--json")
        assert result.exit_code == 1, result.output
        lines = result.stderr.splitlines()
        assert lines[0] == (f"error: {folder / 'short.txt'}: 5 rows, where the folder's other maps have 14 "
                            "(the maps scored together must have one height)")
        assert lines[-1].startswith("failed: ") and "Traceback" not in result.output
        assert json.loads(result.stdout)["levels"] == 2
        # (with --reference the same folder, the map is left out twice: as a map and as a reference)
        assert lines[-1] == ("failed: 1 map left out" if not args else "failed: 2 maps left out")
    tall = tmp_path / "tall"
    tall.mkdir()
    map_file(tall / "t.txt", flat_map(40, rows=16))
    result = run("level", "eval", tall, "--reference", folder, "--json")
    assert (f"warning: the maps in {tall} have 16 rows and those in {folder} 14: no window can match, so novelty "
            "reads 1.0") in result.stderr.splitlines()


def test_a_model_failing_at_run_time_is_one_line_naming_the_model(tmp_path):
    import json
    import shutil

    from genmedia.resources import resource_dir

    models = resource_dir("models")
    meta = json.loads((models / "denoise-unet.json").read_text())
    for entry in meta["files"].values():
        shutil.copy(models / entry["path"], tmp_path / entry["path"])
    meta["input"]["multiple"] = 7  # pads tiles to a size the network's reshapes cannot take
    (tmp_path / "denoise-unet.json").write_text(json.dumps(meta))
    src = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(src)
    done = run_process("image", "denoise", src, "-o", tmp_path / "out", "-q", "--model", tmp_path / "denoise-unet.json")
    assert done.returncode == 1
    onnx = tmp_path / meta["files"]["denoiser"]["path"]
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {onnx}: "), done.stderr  # no ORT log line
    assert str(src) not in done.stderr and "\x1b" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_ssim_of_images_smaller_than_its_window():
    from genmedia.image.evaluate import ssim

    rng = np.random.default_rng(0)
    for shape in ((8, 8, 3), (1, 5, 1), (2, 30, 3)):
        clean = rng.integers(0, 256, shape).astype(np.uint8)
        assert ssim(clean, clean) == pytest.approx(1.0)
        noisy = np.clip(clean.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
        assert -1.0 <= ssim(clean, noisy) < 1.0


def test_running_out_of_memory_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    import genmedia.api

    def too_big(**kwargs):  # as numpy does when a raised GENMEDIA_MAX_* limit asks for more than the machine has
        raise MemoryError("Unable to allocate 9.31 GiB for an array")

    monkeypatch.setattr(genmedia.api, "sample_levels", too_big)
    result = run("level", "sample", "-n", "1", "--seed", "1", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: out of memory (ask for less: a smaller size, count or tile, or "
                                          "the default limits)"]
    assert not (tmp_path / "out").exists()


def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad\nname.png").write_bytes(b"")
    result = run("image", "denoise", folder, "-o", tmp_path / "out", "-q")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {folder}/bad\\nname.png: empty file (0 bytes)", lines
    assert lines[1] == f"failed: {folder}/bad\\nname.png"
    # a good image of such a name: its own line (stderr) is one line too
    Image.fromarray(np.full((24, 24, 3), 128, np.uint8)).save(folder / "good\nname.png")
    result = run("image", "denoise", folder / "good\nname.png", "-o", tmp_path / "out2")
    assert result.exit_code == 0 and result.stderr.splitlines()[0].startswith(f"{folder}/good\\nname.png: ")
    # a terminal escape Click does not strip (OSC: set the window title) reaches no line, stdout included
    title = tmp_path / "lv\x1b]0;owned\x07x.txt"
    title.write_text("")
    result = run("level", "check", title, tmp_path / "missing.txt")
    assert result.exit_code == 1 and "\x1b" not in result.output and "\x07" not in result.output
    assert "lv\\x1b]0;owned\\x07x.txt" in result.stderr
    map_file(title, flat_map(20))
    result = run("level", "check", title)
    assert result.exit_code == 0 and result.stdout == f"{tmp_path}/lv\\x1b]0;owned\\x07x.txt: playable\n"


def test_a_transform_that_stays_unplayable_says_how_many_decodes_it_tried(tmp_path, monkeypatch):
    from genmedia.levels import model as level_model
    from genmedia.levels.check import PlayResult
    from genmedia.resources import resource_dir

    def never(model, level, previous):  # every decode stuck where the search ran out of moves
        return PlayResult(False, 5, level.shape[1], "stuck at column 6 (gave up after 10 moves)", gave_up=True)

    monkeypatch.setattr(level_model, "_check_again", never)
    source = resource_dir("assets") / "levels" / "example-a.txt"
    for attempts, tried in (("1", "1 decode"), ("3", "3 decodes (2 local repairs)")):
        result = run("level", "transform", source, "--enemies", "many", "--max-attempts", attempts,
                     "-o", tmp_path / "out.txt")
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [f"error: {source}: the transformed level is not playable after {tried} "
                                              "(stuck at column 6 (gave up after 10 moves))"]
        assert "--thorough" not in result.stderr  # transform has no such option
        assert not list(tmp_path.iterdir())


def test_one_line_escapes_every_control_character_and_keeps_the_rest():
    from genmedia.cli.common import one_line

    assert one_line("a\nb\tc\rd\x1b[2J\x07\x7f\x9b2J") == "a\\nb\\tc\\rd\\x1b[2J\\x07\\x7f\\x9b2J"
    assert one_line("Café über Ålesund — photo 1.png") == "Café über Ålesund — photo 1.png"  # letters stay as they are
