"""Level attributes measured on windows along a level, their bins, and the conditioning a model reads.

A level is cut into windows of `WINDOW` columns from column 0 (the last, partial window of a
level whose width is not a multiple of `WINDOW` is measured on what it holds, and left out of
control accuracy). Each window gets six attributes (levels are (rows, cols) ASCII arrays):

- enemies: `E` tiles.
- pipes: pipe heads, `<` directly followed by `>`, counted in the window holding the `<`.
- gaps: columns whose bottom tile is not solid (no floor to stand on there).
- blocks: bricks and question blocks, `S ? Q` tiles.
- coins: `o` tiles.
- elevation: how high the walkable floor runs: over the window's columns that hold a ground
  tile `X`, the mean height of the topmost `X` (1 = the bottom row); 0 if no column holds one.

Counts fall into the bins none|few|some|many, elevation into low|high. The bins are edges
fitted on the training corpus's windows (every offset) by `Bins.fit`: for a count with many
zero windows, "none" is exactly 0 and the windows with some split into three bins as evenly as
whole numbers allow, so "many" means many for this game; elevation is split at the value that
halves the windows most evenly. (A corpus with too few distinct values, such as a test's
hand-made maps, gets whole-number steps above its largest value, so some bins stay empty.)
A value v is in bin k when edges[k-1] < v <= edges[k]. The edges ship in the model's metadata
(`attributes`), with each training map's bins per window.

A conditional level model reads, per latent step, the one-hot bins of the step's window for each
attribute in `NAMES` order and a one-hot of the step's place in its window (`condition`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from genmedia.levels.check import SMB_SOLID

WINDOW = 16  # columns per attribute window: two latent steps of the level VAE, the metrics' window
NAMES = ("enemies", "pipes", "gaps", "blocks", "coins", "elevation")
COUNT_LABELS = ("none", "few", "some", "many")
ELEVATION_LABELS = ("low", "high")
LABELS = {name: ELEVATION_LABELS if name == "elevation" else COUNT_LABELS for name in NAMES}
TILES = {"enemies": "E", "pipes": "<>[]", "gaps": "", "blocks": "S?Q", "coins": "o", "elevation": "X"}
ZERO_BIN_SHARE = 0.15  # a count whose corpus windows are at least this often 0 gets "none" = exactly 0

_SOLID = np.zeros(256, dtype=bool)
_SOLID[[ord(c) for c in SMB_SOLID]] = True
_BLOCKS = np.zeros(256, dtype=bool)
_BLOCKS[[ord(c) for c in "S?Q"]] = True


def column_values(level: np.ndarray) -> dict[str, np.ndarray]:
    """Per column, what each attribute adds up (counts) or averages (elevation: the topmost `X`'s
    height, NaN for a column without one)."""
    level = np.asarray(level, dtype=np.uint8)
    rows = level.shape[0]
    heads = np.zeros(level.shape, dtype=bool)
    heads[:, :-1] = (level[:, :-1] == ord("<")) & (level[:, 1:] == ord(">"))
    ground = level == ord("X")
    top = np.where(ground.any(0), rows - ground.argmax(0), np.nan)
    return {"enemies": (level == ord("E")).sum(0).astype(float), "pipes": heads.sum(0).astype(float),
            "gaps": (~_SOLID[level[-1]]).astype(float), "blocks": _BLOCKS[level].sum(0).astype(float),
            "coins": (level == ord("o")).sum(0).astype(float), "elevation": top.astype(float)}


def _reduce(name: str, part: np.ndarray) -> float:
    if name != "elevation":
        return float(part.sum())
    held = part[~np.isnan(part)]
    return float(held.mean()) if len(held) else 0.0


def windows(width: int, window: int = WINDOW) -> list[tuple[int, int]]:
    """(start, stop) of each window of a `width`-column level, the last one partial if need be."""
    return [(s, min(s + window, width)) for s in range(0, width, window)]


def measure(level: np.ndarray, window: int = WINDOW) -> dict[str, np.ndarray]:
    """Each attribute of each window (see the module docstring): name -> (windows,) float64."""
    values = column_values(level)
    spans = windows(level.shape[1], window)
    return {name: np.array([_reduce(name, values[name][a:b]) for a, b in spans]) for name in NAMES}


def sliding(level: np.ndarray, window: int = WINDOW) -> dict[str, np.ndarray]:
    """Each attribute of every whole `window`-column window at every offset (for fitting bins)."""
    values = column_values(level)
    n = level.shape[1] - window + 1
    if n <= 0:
        return {name: np.zeros(0) for name in NAMES}
    out = {}
    for name in NAMES:
        view = np.lib.stride_tricks.sliding_window_view(values[name], window)
        if name == "elevation":
            held = (~np.isnan(view)).sum(1)
            total = np.nansum(view, axis=1)
            out[name] = np.where(held > 0, total / np.maximum(held, 1), 0.0)
        else:
            out[name] = view.sum(1)
    return out


def _even_split(values: np.ndarray, parts: int) -> list[float]:
    """`parts - 1` edges between distinct values that split `values` into `parts` non-empty bins
    as evenly as possible (least squared deviation of the bin shares from 1 / parts)."""
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) < parts:  # a tiny corpus: every value its own bin, then whole steps above
        edges = [float(v) for v in distinct[:-1]] if len(distinct) else []
        top = float(distinct[-1]) if len(distinct) else 1.0
        while len(edges) < parts - 1:
            edges.append(top if not edges or top > edges[-1] else edges[-1] + 1.0)
            top = edges[-1] + 1.0
        return edges
    cum = np.cumsum(counts) / counts.sum()
    best: list[int] | None = None
    best_cost = np.inf

    def search(start: int, left: int, chosen: list[int]) -> None:
        nonlocal best, best_cost
        if left == 0:
            shares = np.diff([0.0, *[cum[i] for i in chosen], 1.0])
            cost = float(((shares - 1 / parts) ** 2).sum())
            if cost < best_cost - 1e-12:
                best, best_cost = list(chosen), cost
            return
        for i in range(start, len(distinct) - left):
            search(i + 1, left - 1, [*chosen, i])

    search(0, parts - 1, [])
    assert best is not None  # there are at least `parts` distinct values, so some split exists
    return [float(distinct[i]) for i in best]


@dataclass(frozen=True)
class Bins:
    """Bin edges per attribute: a value v is in bin k when edges[k-1] < v <= edges[k]."""

    edges: dict[str, tuple[float, ...]]
    window: int = WINDOW

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n in NAMES if n in self.edges)

    def labels(self, name: str) -> tuple[str, ...]:
        return LABELS[name]

    def index(self, name: str, values: np.ndarray | float) -> np.ndarray:
        """The bin index of each value of attribute `name`."""
        return np.searchsorted(np.asarray(self.edges[name]), np.asarray(values, dtype=float), side="left")

    def bounds(self, name: str, k: int) -> tuple[float, float]:
        """(low, high): bin k holds values low < v <= high."""
        edges = self.edges[name]
        return (-np.inf if k == 0 else edges[k - 1]), (np.inf if k == len(edges) else edges[k])

    def describe(self, name: str) -> str:
        """The bins in words, e.g. 'none 0, few 1, some 2-3, many 4+'."""
        parts, edges = [], self.edges[name]
        for k, label in enumerate(LABELS[name]):
            low, high = self.bounds(name, k)
            if name == "elevation":
                parts.append(f"{label} {'<=' if k == 0 else '>'} {edges[0]:g}")
            elif k == 0:
                parts.append(f"{label} {'0' if high == 0 else f'0-{high:g}'}")
            elif high == np.inf:
                parts.append(f"{label} {low + 1:g}+")
            else:
                parts.append(f"{label} {low + 1:g}" + (f"-{high:g}" if high > low + 1 else ""))
        return ", ".join(parts)

    def bin_level(self, level: np.ndarray) -> np.ndarray:
        """(windows, attributes) int64: the bin of each attribute of each window of `level`."""
        measured = measure(level, self.window)
        return np.stack([self.index(n, measured[n]) for n in self.names], axis=1).astype(np.int64)

    @classmethod
    def fit(cls, levels: list[np.ndarray], window: int = WINDOW) -> Bins:
        """Edges from the windows of `levels` at every offset (see the module docstring)."""
        pooled = {n: np.concatenate([sliding(lv, window)[n] for lv in levels]) for n in NAMES}
        edges = {}
        for name in NAMES:
            values = pooled[name]
            if name == "elevation":
                edges[name] = tuple(_even_split(values, 2))
            elif (values == 0).mean() >= ZERO_BIN_SHARE:
                edges[name] = (0.0, *_even_split(values[values > 0], 3))
            else:
                edges[name] = tuple(_even_split(values, 4))
        return cls(edges, window)

    def to_json(self) -> dict[str, Any]:
        return {"window_columns": self.window, "names": list(self.names),
                "labels": {n: list(LABELS[n]) for n in self.names},
                "edges": {n: [round(float(e), 6) for e in self.edges[n]] for n in self.names}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bins:
        return cls({n: tuple(float(e) for e in data["edges"][n]) for n in data["names"]}, int(data["window_columns"]))


def channels(bins: Bins, steps_per_window: int) -> int:
    """Conditioning channels per latent step: every attribute's bins, then the place in the window."""
    return sum(len(LABELS[n]) for n in bins.names) + steps_per_window


def condition(bins: Bins, window_bins: np.ndarray, steps: int, steps_per_window: int) -> np.ndarray:
    """(channels, steps) float32: for latent step t, the one-hot bins of window t // steps_per_window
    (`window_bins`: (windows, attributes) ints, or floats summing to 1 per attribute as
    (windows, attributes, labels) for a blend) and the one-hot of t % steps_per_window."""
    window_bins = np.asarray(window_bins)
    owner = np.minimum(np.arange(steps) // steps_per_window, len(window_bins) - 1)
    parts = []
    for a, name in enumerate(bins.names):
        n = len(LABELS[name])
        if window_bins.ndim == 3:
            parts.append(window_bins[owner, a, :n].T)
        else:
            parts.append(np.eye(n, dtype=np.float32)[window_bins[owner, a]].T)
    parts.append(np.eye(steps_per_window, dtype=np.float32)[np.arange(steps) % steps_per_window].T)
    return np.concatenate(parts, axis=0).astype(np.float32)


def one_hot(bins: Bins, window_bins: np.ndarray) -> np.ndarray:
    """(windows, attributes) ints -> (windows, attributes, max labels) float32 one-hots (for blends)."""
    width = max(len(LABELS[n]) for n in bins.names)
    hots: np.ndarray = np.eye(width, dtype=np.float32)[np.asarray(window_bins)]
    return hots


def accuracy(bins: Bins, level: np.ndarray, requested: dict[str, list[str]]) -> dict[str, list[tuple[str, bool]]]:
    """Per attribute, (requested label, hit) for each whole window of `level` whose bin was
    requested; `requested` maps an attribute to one label per window (None: not requested)."""
    got = bins.bin_level(level)
    whole = level.shape[1] // bins.window
    out: dict[str, list[tuple[str, bool]]] = {}
    for a, name in enumerate(bins.names):
        labels = requested.get(name)
        if not labels:
            continue
        for w in range(min(whole, len(labels))):
            if labels[w] is not None:
                out.setdefault(name, []).append((labels[w], LABELS[name][int(got[w, a])] == labels[w]))
    return out


# --- asking for attributes: options, prompts, and the record written beside each level -------------

QUANTITY_WORDS = {"none": ("no", "none", "zero", "without", "without any"),
                  "few": ("few", "a few", "little", "a little", "some few", "not many", "hardly any"),
                  "some": ("some", "several", "medium", "moderate"),
                  "many": ("many", "lots of", "a lot of", "plenty of", "loads of", "tons of", "more", "much")}
NOUNS = {"enemies": ("enemies", "enemy", "goombas", "goomba", "koopas", "monsters"),
         "pipes": ("pipes", "pipe", "warp pipes", "tubes"),
         "gaps": ("gaps", "gap", "holes", "pits", "chasms"),
         "blocks": ("blocks", "block", "bricks", "brick", "question blocks", "boxes"),
         "coins": ("coins", "coin")}
ELEVATION_WORDS = {"low": ("low", "flat", "lower"), "high": ("high", "tall", "higher", "hilly")}
ELEVATION_NOUNS = ("elevation", "ground", "floor", "terrain")


def parse_labels(name: str, text: str) -> list[str]:
    """An option's value: one label ('many') or labels for equal parts of the level ('none,many')."""
    labels = [part.strip().lower() for part in text.split(",")]
    for label in labels:
        if label not in LABELS[name]:
            raise ValueError(f"{label!r} is not a bin of {name}; choose from {'|'.join(LABELS[name])}")
    return labels


def parse_prompt(prompt: str) -> tuple[dict[str, str], list[str]]:
    """MarioGPT-style phrasing ("many pipes, no enemies, some blocks, low elevation") -> ({attribute:
    label}, [the clauses not understood]). Clauses are split at commas, semicolons and 'and';
    quantities: no/none/without -> none, few/little -> few, some -> some, many/lots of -> many."""
    import re

    found: dict[str, str] = {}
    missed: list[str] = []
    quantity = {w: label for label, words in QUANTITY_WORDS.items() for w in words}
    noun = {w: name for name, words in NOUNS.items() for w in words}
    height = {w: label for label, words in ELEVATION_WORDS.items() for w in words}
    q_alt = "|".join(sorted(map(re.escape, quantity), key=len, reverse=True))
    n_alt = "|".join(sorted(map(re.escape, noun), key=len, reverse=True))
    h_alt = "|".join(sorted(map(re.escape, height), key=len, reverse=True))
    e_alt = "|".join(ELEVATION_NOUNS)
    patterns: list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str, str]]]] = [
        (re.compile(rf"(?:with )?({q_alt}) ({n_alt})"), lambda m: (noun[m[2]], quantity[m[1]])),
        (re.compile(rf"({n_alt}):? ({q_alt}|{'|'.join(COUNT_LABELS)})"),
         lambda m: (noun[m[1]], quantity.get(m[2], m[2]))),
        (re.compile(rf"(?:an? )?({h_alt}) ({e_alt})"), lambda m: ("elevation", height[m[1]])),
        (re.compile(rf"({e_alt}):? ({h_alt})"), lambda m: ("elevation", height[m[2]])),
    ]
    for clause in re.split(r",|;|\band\b|\bwith\b(?= (?:no|few|some|many|lots|a|little|plenty))|\.", prompt.lower()):
        clause = " ".join(clause.replace("-", " ").split())
        if not clause:
            continue
        for pattern, read in patterns:
            match = pattern.fullmatch(clause)
            if match:
                name, label = read(match)
                found[name] = label
                break
        else:
            missed.append(clause)
    return found, missed


def spread(labels: list[str], count: int) -> list[str]:
    """Labels for `count` windows from labels for equal parts of the level, in order."""
    return [labels[min(len(labels) - 1, w * len(labels) // count)] for w in range(count)]


def record(bins: Bins, window_bins: np.ndarray, asked: dict[str, list[str]], *, model: str, width: int,
           others: str = "drawn as in the corpus") -> dict[str, Any]:
    """What `genmedia level sample` and `transform` write beside each level (LEVEL.json): the bins
    the decoder was given per window, split into those asked for ("requested") and the others
    (drawn as in the corpus, or kept as measured on a transform's input), with the bins' edges."""
    requested: dict[str, list[str]] = {}
    rest: dict[str, list[str]] = {}
    for a, name in enumerate(bins.names):
        labels = [LABELS[name][int(k)] for k in window_bins[:, a]]
        (requested if name in asked else rest)[name] = labels
    return {"format": "genmedia level attributes 1", "model": model, "width": width,
            "window_columns": bins.window, "edges": {n: list(bins.edges[n]) for n in bins.names},
            "requested": requested, "others": rest, "others_are": others}


def read_record(data: object) -> tuple[Bins, dict[str, list[str]], dict[str, list[str]]]:
    """(bins, requested, others) from a LEVEL.json `record` wrote; ValueError if it is not one."""
    if not isinstance(data, dict) or data.get("format") != "genmedia level attributes 1":
        raise ValueError("not a genmedia level attributes record")
    try:
        window = int(data["window_columns"])
        edges = {n: tuple(float(e) for e in data["edges"][n]) for n in NAMES if n in data["edges"]}
        parts = []
        for key in ("requested", "others"):
            part = {}
            for name, labels in dict(data.get(key, {})).items():
                if name not in edges or not isinstance(labels, list) or not all(b in LABELS[name] for b in labels):
                    raise ValueError(f"{key}.{name} is not a list of {name} bins")
                if len(edges[name]) != len(LABELS[name]) - 1:
                    raise ValueError(f"edges.{name} must have {len(LABELS[name]) - 1} values")
                part[name] = labels
            parts.append(part)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a genmedia level attributes record ({exc})") from None
    if window < 1:
        raise ValueError("window_columns must be at least 1")
    return Bins(edges, window), parts[0], parts[1]


@dataclass
class ControlTally:
    """Windows asked for each (attribute, bin), and how many landed in it."""

    hits: dict[str, dict[str, int]]
    windows: dict[str, dict[str, int]]

    @classmethod
    def empty(cls) -> ControlTally:
        return cls({}, {})

    def add(self, results: dict[str, list[tuple[str, bool]]]) -> None:
        for name, pairs in results.items():
            for label, hit in pairs:
                self.windows.setdefault(name, {}).setdefault(label, 0)
                self.hits.setdefault(name, {}).setdefault(label, 0)
                self.windows[name][label] += 1
                self.hits[name][label] += int(hit)

    def to_dict(self) -> dict[str, Any]:
        """Per attribute and bin: windows, share in the bin; the mean over (attribute, bin) pairs and
        the lowest; pooled over all windows."""
        out: dict[str, Any] = {}
        shares = []
        for name in NAMES:
            if name not in self.windows:
                continue
            out[name] = {}
            for label in LABELS[name]:
                n = self.windows[name].get(label, 0)
                if n:
                    share = self.hits[name][label] / n
                    shares.append(share)
                    out[name][label] = {"windows": n, "accuracy": round(share, 4)}
        total = sum(sum(v.values()) for v in self.windows.values())
        hits = sum(sum(v.values()) for v in self.hits.values())
        out["mean"] = round(float(np.mean(shares)), 4) if shares else None
        out["lowest"] = round(float(min(shares)), 4) if shares else None
        out["pooled"] = round(hits / total, 4) if total else None
        return out
