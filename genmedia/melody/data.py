"""Melody datasets: split tunes into train/valid/test by tune, cut bar-aligned windows."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from genmedia.errors import InputError
from genmedia.melody.midi import HOLD, REST, Melody, read_melody

SPLITS = ("train", "valid", "test")


def split_of(name: str) -> str:
    """A tune's split, fixed by a hash of its file name: 80% train, 10% valid, 10% test."""
    bucket = zlib.crc32(name.encode()) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def read_folder(folder: Path) -> tuple[dict[str, list[tuple[str, Melody]]], list[str]]:
    """Every readable *.mid in `folder` by split, and the files that could not be read (with why)."""
    by_split: dict[str, list[tuple[str, Melody]]] = {s: [] for s in SPLITS}
    skipped = []
    for path in sorted(Path(folder).glob("*.mid")):
        try:
            by_split[split_of(path.name)].append((path.name, read_melody(path)))
        except InputError as exc:
            skipped.append(str(exc))
    return by_split, skipped


def windows(melody: Melody, steps: int, *, hop_bars: int = 1) -> list[np.ndarray]:
    """Bar-aligned windows of `steps` tokens that hold at least one note-on.

    A window that starts inside a note re-articulates it (its leading HOLDs become the note).
    """
    out = []
    tokens = melody.tokens
    bar = melody.steps_per_bar
    for start in range(0, max(0, len(tokens) - steps) + 1, bar * hop_bars):
        window = tokens[start:start + steps].copy()
        if len(window) < steps or not (window >= 2).any():
            continue
        if window[0] == HOLD:
            before = tokens[:start + 1]
            onsets = np.nonzero(before >= 2)[0]
            sounding = len(onsets) and (before[onsets[-1] + 1:] != REST).all()
            window[0] = before[onsets[-1]] if sounding else REST
        out.append(window)
    return out
