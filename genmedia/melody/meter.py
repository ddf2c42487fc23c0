"""Bars of any common meter on the models' grid of 16-step bars.

The models read and write bars of 16 sixteenths (`BAR_STEPS`). A tune's own bar (from its time
signature at the first note) is laid on that grid so that bar lines stay bar lines:
- bars of 16 sixteenths (4/4, 2/2) are as they are; shorter bars that divide 16 (2/4: 8) go two
  (or more) to a grid bar, which changes nothing in the tokens;
- bars of 12 sixteenths (3/4, 6/8), and the halves of 24-sixteenth bars (6/4, 12/8), fill 12 steps
  of a grid bar, and its last 4 steps are padding (rests);
- other meters (5/4, 7/8, 9/8, ...) are read straight onto the 16-step grid, bar lines not kept.
A melody is turned back into its own meter by dropping the padding (`from_grid`).
"""

from __future__ import annotations

import numpy as np

from genmedia.melody.midi import BAR_STEPS, REST


def fill(steps_per_bar: int) -> int:
    """Steps of each 16-step grid bar that hold the tune (the rest is padding): 16 or 12."""
    if BAR_STEPS % steps_per_bar == 0 or steps_per_bar % BAR_STEPS == 0:
        return BAR_STEPS
    if steps_per_bar % 12 == 0:
        return 12
    return BAR_STEPS


def bar_steps(time_signature: tuple[int, int]) -> int:
    """Sixteenths in a bar of `time_signature` (at least 1)."""
    num, den = time_signature
    return max(1, num * 16 // den)


def grid_signature(time_signature: tuple[int, int]) -> tuple[int, int]:
    """The time signature that output on the grid is written in: the tune's own where its bars are
    kept (12/8 and 6/4 as 6/8 and 3/4, their halves), else 4/4."""
    num, den = time_signature
    steps = bar_steps(time_signature)
    if fill(steps) == 12:
        return (6, 8) if den == 8 else (3, 4)
    return (num, den) if BAR_STEPS % steps == 0 or steps % BAR_STEPS == 0 else (4, 4)


def to_grid(tokens: np.ndarray, steps_per_bar: int) -> tuple[np.ndarray, np.ndarray]:
    """A melody's tokens on the 16-step grid, and a mask of the steps that hold the tune (not padding)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    width = fill(steps_per_bar)
    if width == BAR_STEPS:
        return tokens.copy(), np.ones(len(tokens), dtype=bool)
    bars = -(-len(tokens) // width)
    grid = np.full((bars, BAR_STEPS), REST, dtype=np.int64)
    mask = np.zeros((bars, BAR_STEPS), dtype=bool)
    padded = np.full(bars * width, REST, dtype=np.int64)
    padded[: len(tokens)] = tokens
    grid[:, :width] = padded.reshape(bars, width)
    mask[:, :width] = True
    return grid.reshape(-1), mask.reshape(-1)


def from_grid(grid: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """Grid tokens back in the tune's own meter: the padding of each grid bar dropped."""
    grid = np.asarray(grid, dtype=np.int64)
    width = fill(steps_per_bar)
    if width == BAR_STEPS:
        same: np.ndarray = grid.copy()
        return same
    bars = -(-len(grid) // BAR_STEPS)
    padded = np.full(bars * BAR_STEPS, REST, dtype=np.int64)
    padded[: len(grid)] = grid
    return padded.reshape(bars, BAR_STEPS)[:, :width].reshape(-1)
