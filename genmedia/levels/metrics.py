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
- Counts per 100 columns (`per_100_columns`): enemies (`E`), gaps (runs of columns whose
  bottom row is not solid), pipes (`<` heads), blocks (`S ? Q`) and coins (`o`).

A reference set is summarised as a `Reference` (pattern counts, hashes of its windows,
each level's linearity and leniency, its counts), which is all the metrics need, so the
model's metadata can ship the training corpus's and `level eval` runs with no corpus.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from genmedia.levels.check import SMB_SOLID, check_playable
from genmedia.levels.repair import find_structure_errors, has_start_floor, pipe_stacks

KL_EPSILON = 1e-6
WINDOW = 16


def pattern_counts(levels: list[np.ndarray], size: int) -> Counter[bytes]:
    """Counts of every size x size tile window (as bytes) inside the levels."""
    counts: Counter[bytes] = Counter()
    for level in levels:
        rows, cols = level.shape
        if rows < size or cols < size:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(level, (size, size)).reshape(-1, size * size)
        counts.update(bytes(w) for w in np.ascontiguousarray(windows))
    return counts


def tile_pattern_kl(generated: list[np.ndarray], reference: list[np.ndarray] | Reference, size: int) -> float:
    """KL(generated || reference) of size x size tile-pattern distributions (see module docstring)."""
    p = pattern_counts(generated, size)
    q = reference.patterns[size] if isinstance(reference, Reference) else pattern_counts(reference, size)
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
    heights = sorted({lv.shape[0] for lv in levels})
    if len(heights) > 1:
        raise ValueError(f"levels of {', '.join(map(str, heights))} rows cannot be scored together: "
                         "give levels of one height")
    out = [np.lib.stride_tricks.sliding_window_view(lv, WINDOW, axis=1)[:, ::stride].transpose(1, 0, 2)
           for lv in levels if lv.shape[1] >= WINDOW]
    return np.concatenate(out).reshape(sum(len(o) for o in out), -1) if out else np.zeros((0, 0), np.uint8)


def _window_hash(window: np.ndarray) -> str:
    return hashlib.blake2b(bytes(window), digest_size=8).hexdigest()


def novelty(generated: list[np.ndarray], reference: list[np.ndarray] | Reference) -> float:
    """Share of generated WINDOW-column windows not found verbatim in the reference levels."""
    known = reference.windows if isinstance(reference, Reference) else {_window_hash(w) for w in _windows(reference, 1)}
    windows = _windows(generated, 1)
    return float(np.mean([_window_hash(w) not in known for w in windows])) if len(windows) else 0.0


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
    heights: np.ndarray = level.shape[0] - top
    return heights


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


COUNTED = ("enemies", "gaps", "pipes", "blocks", "coins")


def structure_counts(level: np.ndarray) -> dict[str, int]:
    """How many enemies, gaps, pipes, blocks and coins a level has (see the module docstring)."""
    hole = ~np.isin(level[-1], [ord(c) for c in SMB_SOLID])
    return {"enemies": int((level == ord("E")).sum()),
            "gaps": int(hole[0]) + int((hole[1:] & ~hole[:-1]).sum()),
            "pipes": int((level == ord("<")).sum()),
            "blocks": int(np.isin(level, [ord(c) for c in "S?Q"]).sum()),
            "coins": int((level == ord("o")).sum())}


def per_100_columns(levels: list[np.ndarray]) -> dict[str, float]:
    """Each of `COUNTED`, summed over the levels, per 100 columns of them."""
    columns = sum(lv.shape[1] for lv in levels)
    totals: Counter[str] = Counter()
    for level in levels:
        totals.update(structure_counts(level))
    return {k: 100.0 * totals[k] / columns if columns else 0.0 for k in COUNTED}


@dataclass(frozen=True)
class Reference:
    """What the metrics need of a reference set (see the module docstring); JSON-serialisable."""

    source: str
    levels: int
    patterns: dict[int, Counter[bytes]]  # window size -> counts of size x size patterns (bytes)
    windows: frozenset[str]  # blake2b-64 of every WINDOW-column window
    points: tuple[tuple[float, float], ...]  # (linearity, leniency) of each level
    per_100: dict[str, float]
    diversity: float

    @classmethod
    def from_levels(cls, levels: list[np.ndarray], *, source: str) -> Reference:
        return cls(source, len(levels), {k: pattern_counts(levels, k) for k in (2, 3)},
                   frozenset(_window_hash(w) for w in _windows(levels, 1)),
                   tuple((linearity(lv), leniency(lv)) for lv in levels), per_100_columns(levels), diversity(levels))

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "levels": self.levels, "window_columns": WINDOW,
                "patterns": {str(k): {key.decode("ascii"): n for key, n in sorted(c.items())}
                             for k, c in self.patterns.items()},
                "windows": sorted(self.windows), "points": [[round(x, 6), round(y, 6)] for x, y in self.points],
                "per_100_columns": {k: round(v, 4) for k, v in self.per_100.items()},
                "diversity": round(self.diversity, 6)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        if data.get("window_columns") != WINDOW:
            raise ValueError(f"reference statistics use {data.get('window_columns')}-column windows, not {WINDOW}")
        patterns = {int(k): Counter({key.encode("ascii"): int(n) for key, n in c.items()})
                    for k, c in data["patterns"].items()}
        return cls(str(data["source"]), int(data["levels"]), patterns, frozenset(data["windows"]),
                   tuple((float(x), float(y)) for x, y in data["points"]), dict(data["per_100_columns"]),
                   float(data["diversity"]))


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
    pipes_on_pipes: int  # pipe tiles standing on a pipe head
    no_start_floor: int  # levels whose first 3 columns do not all give Mario a floor
    per_100_columns: dict[str, float]
    reference_per_100_columns: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        def tidy(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: tidy(x) for k, x in v.items()}
            return round(v, 4) if isinstance(v, float) else v
        return {k: tidy(v) for k, v in asdict(self).items()}


def evaluate(levels: list[np.ndarray], reference: list[np.ndarray] | Reference) -> LevelReport:
    """All metrics for `levels` against `reference` maps or their `Reference` (see the module docstring)."""
    if not isinstance(reference, Reference):
        reference = Reference.from_levels(reference, source="<levels>")
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
        pipes_on_pipes=sum(len(pipe_stacks(lv)) for lv in levels),
        no_start_floor=sum(not has_start_floor(lv) for lv in levels),
        per_100_columns=per_100_columns(levels),
        reference_per_100_columns=dict(reference.per_100),
    )
