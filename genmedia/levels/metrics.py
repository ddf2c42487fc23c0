"""Level metrics: tile-pattern KL, novelty, diversity, and linearity/leniency for expressive range.

Definitions (all on levels as (rows, cols) arrays of ASCII codes):
- Tile-pattern KL (after Lucas & Volz 2019): counts of every k x k window lying wholly
  inside a level, pooled over a set of levels; each count over the union of patterns
  seen in either set gets `KL_EPSILON` added, and the result is KL(generated || reference)
  in nats.
- Novelty: the share of generated `WINDOW`-column windows (every offset) that occur
  nowhere verbatim in the reference levels.
- Diversity: the mean normalised Hamming distance over all pairs of generated
  `WINDOW`-column windows, taken every `WINDOW // 2` columns.
- Linearity (Smith & Whitehead 2010, as a 0-1 score): 1 - mean |residual| / rows of a
  least-squares line through each column's floor height (the topmost solid tile).
- Leniency: (power-up blocks - enemies - 0.5 * gap runs) per 10 columns.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from genmedia.levels.check import SMB_SOLID, check_playable
from genmedia.levels.repair import find_structure_errors

KL_EPSILON = 1e-6
WINDOW = 16


def pattern_counts(levels: list[np.ndarray], size: int) -> Counter:
    """Counts of every size x size tile window (as bytes) inside the levels."""
    counts: Counter = Counter()
    for level in levels:
        rows, cols = level.shape
        if rows < size or cols < size:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(level, (size, size)).reshape(-1, size * size)
        counts.update(bytes(w) for w in np.ascontiguousarray(windows))
    return counts


def tile_pattern_kl(generated: list[np.ndarray], reference: list[np.ndarray], size: int) -> float:
    """KL(generated || reference) of size x size tile-pattern distributions (see module docstring)."""
    p, q = pattern_counts(generated, size), pattern_counts(reference, size)
    keys = set(p) | set(q)
    p_total = sum(p.values()) + KL_EPSILON * len(keys)
    q_total = sum(q.values()) + KL_EPSILON * len(keys)
    kl = 0.0
    for key in keys:
        pk = (p[key] + KL_EPSILON) / p_total
        qk = (q[key] + KL_EPSILON) / q_total
        kl += pk * math.log(pk / qk)
    return kl


def _windows(levels: list[np.ndarray], stride: int) -> np.ndarray:
    out = [np.lib.stride_tricks.sliding_window_view(lv, WINDOW, axis=1)[:, ::stride].transpose(1, 0, 2)
           for lv in levels if lv.shape[1] >= WINDOW]
    return np.concatenate(out).reshape(sum(len(o) for o in out), -1) if out else np.zeros((0, 0), np.uint8)


def novelty(generated: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Share of generated WINDOW-column windows not found verbatim in the reference levels."""
    known = {bytes(w) for w in _windows(reference, 1)}
    windows = _windows(generated, 1)
    return float(np.mean([bytes(w) not in known for w in windows])) if len(windows) else 0.0


def diversity(levels: list[np.ndarray]) -> float:
    """Mean pairwise normalised Hamming distance between windows taken every WINDOW // 2 columns."""
    windows = _windows(levels, WINDOW // 2)
    n = len(windows)
    if n < 2:
        return 0.0
    total = 0.0
    for i in range(n - 1):  # row by row keeps memory at O(n * window)
        total += float((windows[i + 1:] != windows[i]).mean(axis=1).sum())
    return total / (n * (n - 1) / 2)


def floor_heights(level: np.ndarray, solid: frozenset[str] = SMB_SOLID) -> np.ndarray:
    """Per column, the height (rows above the bottom) of the topmost solid tile; 0 for a gap."""
    mask = np.isin(level, [ord(c) for c in solid])
    top = np.where(mask.any(0), mask.argmax(0), level.shape[0])
    return level.shape[0] - top


def linearity(level: np.ndarray) -> float:
    heights = floor_heights(level).astype(float)
    x = np.arange(len(heights), dtype=float)
    slope, intercept = np.polyfit(x, heights, 1)
    return float(1.0 - np.abs(heights - (slope * x + intercept)).mean() / level.shape[0])


def leniency(level: np.ndarray) -> float:
    enemies = int((level == ord("E")).sum())
    powerups = int((level == ord("?")).sum())
    gap = floor_heights(level) == 0
    gap_runs = int(gap[0]) + int((gap[1:] & ~gap[:-1]).sum())
    return float((powerups - enemies - 0.5 * gap_runs) * 10.0 / level.shape[1])


@dataclass
class LevelReport:
    """The figures `genmedia level eval` prints."""

    levels: int
    playable: float
    broken_structures: int
    kl_2x2: float
    kl_3x3: float
    novelty: float
    diversity: float
    mean_linearity: float
    mean_leniency: float

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def evaluate(levels: list[np.ndarray], reference: list[np.ndarray]) -> LevelReport:
    """All metrics for `levels` against `reference` (see the module docstring)."""
    return LevelReport(
        levels=len(levels),
        playable=float(np.mean([check_playable(lv).playable for lv in levels])),
        broken_structures=sum(bool(find_structure_errors(lv)) for lv in levels),
        kl_2x2=tile_pattern_kl(levels, reference, 2),
        kl_3x3=tile_pattern_kl(levels, reference, 3),
        novelty=novelty(levels, reference),
        diversity=diversity(levels),
        mean_linearity=float(np.mean([linearity(lv) for lv in levels])),
        mean_leniency=float(np.mean([leniency(lv) for lv in levels])),
    )
