"""Melody metrics: reconstruction accuracy, key fit, note density, distinctness, morph distances."""

from __future__ import annotations

import numpy as np

from genmedia.melody.midi import note_spans

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])


def token_accuracy(predicted: np.ndarray, target: np.ndarray) -> float:
    """Per-step token accuracy, as in MusicVAE's Table 1."""
    return float((np.asarray(predicted) == np.asarray(target)).mean())


def in_key_share(tokens: np.ndarray) -> float:
    """Share of note-ons inside the best-fitting diatonic scale (any of the 12 major/relative minor keys)."""
    pitches = np.array([p for _, _, p in note_spans(tokens)])
    if not len(pitches):
        return 0.0
    classes = np.bincount(pitches % 12, minlength=12)
    return float(max(classes[(MAJOR + k) % 12].sum() for k in range(12)) / len(pitches))


def notes_per_2_bars(tokens: np.ndarray) -> float:
    return len(note_spans(tokens)) * 32 / len(tokens)


def distinct(batch: np.ndarray) -> int:
    return len({bytes(np.asarray(row, dtype=np.int64)) for row in batch})


def token_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Share of steps whose tokens differ (the complement of token accuracy)."""
    return 1.0 - token_accuracy(a, b)

