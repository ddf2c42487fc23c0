"""Melody training data: windows per split from folders of MIDI files, random transposition and
chromatic alteration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from genmedia.melody.data import read_folder, windows
from genmedia.melody.midi import MAX_PITCH, MIN_PITCH


def transpose_batch(batch: np.ndarray, rng: np.random.Generator, limit: int) -> np.ndarray:
    """Shift each example's note-ons by a random number of semitones that keeps them in range."""
    out = batch.copy()
    for row in out:
        notes = row[row >= 2]
        if not len(notes) or not limit:
            continue
        lo = max(-limit, 2 - int(notes.min()))
        hi = min(limit, 2 + MAX_PITCH - MIN_PITCH - int(notes.max()))
        row[row >= 2] += rng.integers(lo, hi + 1)
    return out


def alter_batch(batch: np.ndarray, rng: np.random.Generator, share: float, most: int = 3) -> np.ndarray:
    """Move 1 to `most` note-ons of a `share` of the examples a semitone up or down (where that stays
    in range): out-of-key notes the corpora rarely have (`MelodyVAEConfig.chromatic`)."""
    out = batch.copy()
    if share <= 0:
        return out
    for i in np.flatnonzero(rng.random(len(out)) < share):
        row = out[i]  # a view: edits land in `out`
        notes = np.flatnonzero(row >= 2)
        if not len(notes):
            continue
        for at in rng.choice(notes, size=min(len(notes), int(rng.integers(1, most + 1))), replace=False):
            step = int(rng.choice([-1, 1]))
            if not 2 <= row[at] + step <= 2 + MAX_PITCH - MIN_PITCH:
                step = -step
            row[at] += step
    return out


def source_name(folder: Path) -> str:
    """The name a training source goes by in metadata and reports: its folder's name."""
    return Path(folder).name


def load_melody_data(folders: Path | list[Path], steps: int) -> tuple[dict[str, np.ndarray], dict]:
    """Windows per split (train, valid, test) pooled over the source folders, and a summary with
    each source's tunes, windows, split rule and per-split windows (`summary["by_source"]`, arrays
    kept out of the JSON under the key `"_windows"`)."""
    folders = [Path(folders)] if isinstance(folders, (str, Path)) else [Path(f) for f in folders]
    pooled: dict[str, list[np.ndarray]] = {}
    sources: dict[str, dict] = {}
    per_source: dict[str, dict[str, np.ndarray]] = {}
    for folder in folders:
        by_split, skipped = read_folder(folder)
        data = {s: np.stack(ws) for s, tunes in by_split.items()
                if (ws := [w for _, m in tunes for w in windows(m, steps, pad_short=True)])}
        rule_file = folder / "split.json"
        rule = (json.loads(rule_file.read_text())["split"] if rule_file.is_file()
                else "by tune: crc32(file name, up to any '--') % 10 == 0 test, == 1 valid, else train")
        name = source_name(folder)
        sources[name] = {"folder": str(folder), "split": rule, "tunes": {s: len(t) for s, t in by_split.items()},
                         "windows": {s: len(w) for s, w in data.items()}, "skipped": skipped[:20],
                         "skipped_count": len(skipped)}
        per_source[name] = data
        for split, w in data.items():
            pooled.setdefault(split, []).append(w)
    merged = {s: np.concatenate(ws) for s, ws in pooled.items()}
    train_source = np.concatenate([np.full(len(d["train"]), i) for i, d in enumerate(per_source.values())
                                   if "train" in d] or [np.zeros(0, dtype=np.int64)])
    tunes = {s: sum(src["tunes"].get(s, 0) for src in sources.values()) for s in ("train", "valid", "test")}
    summary = {"_train_source": train_source, "tunes": tunes,
               "windows": {s: len(w) for s, w in merged.items()}, "sources": sources, "_windows": per_source}
    return merged, summary

