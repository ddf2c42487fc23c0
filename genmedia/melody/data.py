"""Melody datasets: split tunes into train/valid/test by tune, cut bar-aligned windows."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from genmedia.errors import InputError
from genmedia.melody.meter import fill, to_grid
from genmedia.melody.midi import BAR_STEPS, HOLD, REST, Melody, read_melody

SPLITS = ("train", "valid", "test")


def split_of(name: str) -> str:
    """A tune's split, fixed by a hash of its file name: 80% train, 10% valid, 10% test."""
    bucket = zlib.crc32(name.encode()) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def read_folder(folder: Path) -> tuple[dict[str, list[tuple[str, Melody]]], list[str]]:
    """Every readable *.mid in `folder` by split, and the files that could not be read (with why).

    A folder with `train/`, `valid/` and `test/` subfolders (as `genmedia train melody-data` writes)
    is split by them; otherwise each file's split is `split_of(tune)`, where the tune is the file
    name up to a `--` (the voices of a chorale, `NAME--soprano.mid`, share their tune's split).
    """
    folder = Path(folder)
    by_split: dict[str, list[tuple[str, Melody]]] = {s: [] for s in SPLITS}
    skipped = []
    explicit = all((folder / s).is_dir() for s in SPLITS)
    paths = [(s, p) for s in SPLITS for p in sorted((folder / s).glob("*.mid"))] if explicit else \
        [(split_of(tune_of(p.name)), p) for p in sorted(folder.glob("*.mid"))]
    for split, path in paths:
        try:
            by_split[split].append((path.name, read_melody(path)))
        except InputError as exc:
            skipped.append(str(exc))
    return by_split, skipped


def tune_of(name: str) -> str:
    """The tune a file belongs to: its name up to `--` (voices of one chorale), else the whole name."""
    stem, sep, _ = name.partition("--")
    return f"{stem}.mid" if sep else name


def windows(melody: Melody, steps: int, *, hop_bars: int = 1, masks: bool = False, grid: bool = True,
            pad_short: bool = False) -> list[Any]:
    """Windows of `steps` tokens on the models' grid of 16-step bars (`genmedia.melody.meter`),
    starting at bar lines, that hold at least one note-on; with `masks`, (window, mask of the
    steps that hold the tune rather than padding) pairs.

    With `pad_short`, a tune shorter than `steps` gives one window: the whole tune, then rests (as
    a morph pads it at run time). With `grid=False`, windows of the tune's own tokens at its own bar
    lines (models trained before the grid). A window that starts inside a note re-articulates it
    (its leading HOLDs become the note).
    """
    out = []
    tokens = melody.tokens
    if grid:
        on_grid, mask = to_grid(tokens, melody.steps_per_bar)
        width, bar = fill(melody.steps_per_bar), BAR_STEPS
    else:  # models from before the meter grid: the tune's tokens as they are, its own bars
        on_grid, mask = tokens, np.ones(len(tokens), dtype=bool)
        width = bar = melody.steps_per_bar
    for start in range(0, max(0, len(on_grid) - steps) + 1, bar * hop_bars):
        window = on_grid[start:start + steps].copy()
        if len(window) < steps or not (window >= 2).any():
            continue
        if window[0] == HOLD:
            before = tokens[:start // bar * width + 1]  # up to the same step in the tune's own meter
            onsets = np.nonzero(before >= 2)[0]
            sounding = len(onsets) and (before[onsets[-1] + 1:] != REST).all()
            window[0] = before[onsets[-1]] if sounding else REST
        out.append((window, mask[start:start + steps].copy()) if masks else window)
    if not out and pad_short and grid and (on_grid >= 2).any():
        # A tune shorter than the window (common for 16 bars), whole, then rests; its mask ends with it.
        window, held = np.full(steps, REST, dtype=np.int64), np.zeros(steps, dtype=bool)
        window[: len(on_grid)], held[: len(on_grid)] = on_grid, mask
        out.append((window, held) if masks else window)
    return out
