"""Bounds on the work any one input file may ask for, each raisable with an environment variable.

Every reader checks its input against `current()` before it allocates in proportion to what the
file claims (a map's width, a note's length, an image's pixel count), so a small hostile file
cannot ask for gigabytes. The defaults are far above what real levels, melodies and photos need;
set e.g. `GENMEDIA_MAX_MIDI_SECONDS=7200` to raise one. The variables are read at each call, so a
running process (or a test's `monkeypatch.setenv`) sees a change at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from genmedia.errors import GenmediaError


class LimitError(GenmediaError):
    """An environment variable meant to raise a limit does not hold a positive number."""


@dataclass(frozen=True)
class Limits:
    """The bounds in force; each field's environment variable is `ENV[field name]`."""

    level_bytes: int = 1024 * 1024
    """Bytes in one level map file; a 14-row map of the widest level (10,000 columns) is 140 kB."""
    level_columns: int = 10_000
    """Columns in one level map, read or sampled: render and morph allocate in proportion to them."""
    level_rows: int = 1_000
    """Rows in one level map (VGLC's tallest, Kid Icarus, have a few hundred)."""
    midi_bytes: int = 4 * 1024 * 1024
    """Bytes in one MIDI file; mido parses about 1 MB a second, so this bounds the parsing time."""
    midi_seconds: float = 1800.0
    """Seconds from the start of a MIDI file to its last event; WAV rendering holds this much audio."""
    midi_notes: int = 100_000
    """Notes (note-on events) in one MIDI file, over all tracks."""
    note_seconds: float = 120.0
    """Seconds any one note may sound: the synthesiser renders each note as one array."""
    midi_note_seconds_total: float = 7200.0
    """Seconds all the notes of a MIDI file sound for, summed (with each note's release), when it is
    rendered to audio: the synthesiser's work grows with it (about 200 note-seconds a second), and a
    song of 30 minutes has 4 voices on average before it reaches the default."""
    image_pixels: int = 120_000_000
    """Pixels (width x height) in one image: a decompression-bomb guard; `--max-pixels` overrides it."""


ENV = {
    "level_bytes": "GENMEDIA_MAX_LEVEL_BYTES",
    "level_columns": "GENMEDIA_MAX_LEVEL_COLUMNS",
    "level_rows": "GENMEDIA_MAX_LEVEL_ROWS",
    "midi_bytes": "GENMEDIA_MAX_MIDI_BYTES",
    "midi_seconds": "GENMEDIA_MAX_MIDI_SECONDS",
    "midi_notes": "GENMEDIA_MAX_MIDI_NOTES",
    "note_seconds": "GENMEDIA_MAX_NOTE_SECONDS",
    "midi_note_seconds_total": "GENMEDIA_MAX_MIDI_NOTE_SECONDS_TOTAL",
    "image_pixels": "GENMEDIA_MAX_PIXELS",
}
DEFAULT = Limits()


def current(environ: Mapping[str, str] | None = None) -> Limits:
    """The limits in force: the defaults, each replaced by its environment variable where set.

    Raises `LimitError` for a variable that is not a positive (finite) number, rather than
    silently falling back to the default.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}  # each of its field's type (int or float)
    for spec in fields(Limits):
        text = environ.get(ENV[spec.name], "").strip()
        if text:
            values[spec.name] = _parse(ENV[spec.name], text, type(getattr(DEFAULT, spec.name)))
    return Limits(**values)


def _parse(name: str, text: str, kind: type[int] | type[float]) -> int | float:
    try:
        value: int | float = kind(text.replace("_", ""))
    except ValueError:
        raise LimitError(f"{name}={text!r} is not a{'n integer' if kind is int else ' number'}") from None
    if not math.isfinite(value) or value <= 0:
        raise LimitError(f"{name}={text!r} must be a positive number")
    return value


def over(limits: Limits, field_name: str, value: float, unit: str) -> str:
    """The end of a refusal: 'VALUE UNIT, over the limit of LIMIT UNIT (raise it with GENMEDIA_...)'."""
    limit = getattr(limits, field_name)
    return (f"{value:,.{_digits(value)}f} {unit}, over the limit of {limit:,.{_digits(limit)}f} {unit} "
            f"(raise it with {ENV[field_name]})")


def _digits(value: float) -> int:
    return 0 if float(value).is_integer() or abs(value) >= 100 else 1
