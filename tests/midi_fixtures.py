"""Hand-made MIDI files for tests, written with mido (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import mido

TPB = 480  # ticks per quarter note


def write_midi(path: Path, tracks: list[list[tuple[int, int, int]]], *, tempo_bpm: float = 120.0,
               meter: tuple[int, int] = (4, 4), meta_track: int = 0, names: list[str] | None = None,
               channels: list[int] | None = None) -> Path:
    """Write a type-1 file; each track is (start_tick, end_tick, pitch); tempo/meter go on `meta_track`."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meta = [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
            mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1], time=0)]
    for index, notes in enumerate(tracks):
        events = []
        channel = (channels or [0] * len(tracks))[index]
        for start, end, pitch in notes:
            events.append((start, mido.Message("note_on", note=pitch, velocity=80, channel=channel)))
            events.append((end, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
        events.sort(key=lambda e: (e[0], e[1].type == "note_on"))
        track = mido.MidiTrack()
        if names:
            track.append(mido.MetaMessage("track_name", name=names[index], time=0))
        if index == meta_track:
            track.extend(meta)
        last = 0
        for tick, msg in events:
            track.append(msg.copy(time=tick - last))
            last = tick
        midi.tracks.append(track)
    if meta_track >= len(tracks):
        midi.tracks.append(mido.MidiTrack(meta))
    midi.save(str(path))
    return path


def scale_tune(bars: int = 2, start_bar: int = 0, base: int = 60) -> list[tuple[int, int, int]]:
    """Eighth notes up and down a C major scale, `bars` bars of 4/4 starting at `start_bar`."""
    steps = [0, 2, 4, 5, 7, 9, 11, 12]
    pitches = (steps + steps[::-1]) * bars
    eighth = TPB // 2
    offset = start_bar * 4 * TPB
    return [(offset + i * eighth, offset + (i + 1) * eighth, base + p) for i, p in enumerate(pitches[: 8 * bars])]


def copy_model(src: Path, dest: Path, *, without: tuple[str, ...] = (), extra: dict | None = None) -> Path:
    """A copy of a model's metadata and files in `dest`, leaving out the metadata entries and files
    named in `without` (e.g. "concepts", "styles") and adding the entries of `extra`."""
    import json
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    meta = json.loads(src.read_text())
    for key in without:
        meta.pop(key, None)
        meta["files"].pop(key, None)
    meta.update(extra or {})
    for entry in meta["files"].values():
        shutil.copy(src.parent / entry["path"], dest / entry["path"])
    out = dest / src.name
    out.write_text(json.dumps(meta, indent=2) + "\n")
    return out
