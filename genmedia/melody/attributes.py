"""Musical attributes of a token window, for concept vectors (`genmedia.melody.concepts`).

Each attribute is a number computed from the tokens exactly as given: a window on the models'
grid (`genmedia.melody.meter`) keeps the rests that pad a 3/4 or 6/8 bar to 16 steps, so such a
window is measured with its padding (its bars are still 16 steps apart). Notes are the spans of
`genmedia.melody.midi.note_spans` (a HOLD after a rest counts as a rest).

- ``density``: note-ons per bar of 16 sixteenths (note-ons x 16 / window steps).
- ``pitch``: mean MIDI note number of the note-ons (each note once, whatever its length).
- ``interval``: mean absolute step in semitones between consecutive note-ons (rests between them
  do not break the sequence).
- ``syncopation``: share of note-ons on odd 16th steps of the window, that is off the 8th-note
  grid (step 1, 3, 5, ... counting the window's first step, a bar line, as 0). Bars of the grid
  start on even steps (multiples of 16), so this is the share of note-ons on the second 16th of an
  8th note, in 3/4 and 6/8 windows as well. From 0 (every note on an 8th) to 1.
- ``key``: share of note-ons inside the best-fitting diatonic scale
  (`genmedia.melody.metrics.in_key_share`), from 0 to 1.

An attribute that needs notes the window does not have is NaN: ``pitch``, ``syncopation`` and
``key`` of a window with no note-on, ``interval`` of one with fewer than two.
"""

from __future__ import annotations

import math

import numpy as np

from genmedia.melody.metrics import in_key_share
from genmedia.melody.midi import BAR_STEPS, note_spans, pitch_token

ATTRIBUTES: tuple[str, ...] = ("density", "pitch", "interval", "syncopation", "key")
UNITS: dict[str, str] = {
    "density": "note-ons per 16-step bar",
    "pitch": "MIDI note number",
    "interval": "semitones",
    "syncopation": "share of note-ons on odd 16th steps (0-1)",
    "key": "share of note-ons in the best-fitting diatonic key (0-1)",
}


def note_density(tokens: np.ndarray) -> float:
    """Note-ons per bar of 16 sixteenths: note-ons x 16 / len(tokens); 0.0 for an empty window."""
    return _measure("density", note_spans(tokens), len(tokens))


def mean_pitch(tokens: np.ndarray) -> float:
    """Mean MIDI note number of the note-ons (each note counted once); NaN without a note."""
    return _measure("pitch", note_spans(tokens), len(tokens))


def mean_interval(tokens: np.ndarray) -> float:
    """Mean absolute interval in semitones between consecutive note-ons; NaN with fewer than two notes."""
    return _measure("interval", note_spans(tokens), len(tokens))


def syncopation(tokens: np.ndarray) -> float:
    """Share of note-ons on odd 16th steps (off the 8th-note grid; step 0 is the window's first
    step, a bar line); NaN without a note."""
    return _measure("syncopation", note_spans(tokens), len(tokens))


def key_share(tokens: np.ndarray) -> float:
    """Share of note-ons in the best-fitting diatonic scale (`in_key_share`); NaN without a note."""
    return _measure("key", note_spans(tokens), len(tokens))


def _measure(name: str, spans: list[tuple[int, int, int]], length: int) -> float:
    """Attribute `name` of a window of `length` steps whose notes are `spans` (start, end, pitch)."""
    if name == "density":
        return len(spans) * BAR_STEPS / length if length else 0.0
    if not spans or (name == "interval" and len(spans) < 2):
        return math.nan
    starts = np.array([s for s, _, _ in spans], dtype=np.int64)
    pitches = np.array([p for _, _, p in spans], dtype=np.int64)
    if name == "pitch":
        return float(pitches.mean())
    if name == "interval":
        return float(np.abs(np.diff(pitches)).mean())
    if name == "syncopation":
        return float((starts % 2 == 1).mean())
    if name == "key":
        return _in_key_of_pitches(pitches)
    raise ValueError(f"unknown attribute {name!r}; choose from {', '.join(ATTRIBUTES)}")


def _in_key_of_pitches(pitches: np.ndarray) -> float:
    """`genmedia.melody.metrics.in_key_share` from note-on pitches rather than tokens."""
    return in_key_share(np.array([pitch_token(int(p)) for p in pitches], dtype=np.int64))


def attributes(tokens: np.ndarray) -> dict[str, float]:
    """Every attribute of one token window, by name (see the module docstring for units)."""
    spans = note_spans(tokens)
    return {name: float(_measure(name, spans, len(tokens))) for name in ATTRIBUTES}


def attribute_table(windows: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """Attributes of many windows: (len(windows), len(ATTRIBUTES)) float64, columns in `ATTRIBUTES` order."""
    rows = []
    for window in windows:
        spans = note_spans(window)
        rows.append([_measure(name, spans, len(window)) for name in ATTRIBUTES])
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(ATTRIBUTES))
