"""VGLC tile maps: the tile legend, parsing text maps into grids and writing them back.

A level is a 2-D `numpy.uint8` array of shape (rows, cols) holding the ASCII code of
each tile character, so checks and rendering need no vocabulary lookups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genmedia import limits
from genmedia.errors import InputError
from genmedia.inputs import read_input_bytes

SMB_CHARS = "XS-?QE<>[]oBb"  # Super Mario Bros. in VGLC: the tiles genmedia's check and tile art know


@dataclass(frozen=True)
class TileSet:
    """The tiles of one game: characters, in vocabulary order, and their legend properties."""

    chars: tuple[str, ...]
    properties: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> str:
        """The tile used for padding and erasing: the legend's 'empty', else the first passable one."""
        for wanted in ("empty", "passable"):
            for char in self.chars:
                if wanted in self.properties.get(char, ()):
                    return char
        return self.chars[0]

    def solid(self) -> frozenset[str]:
        """Tiles Mario can stand on or bump into (legend 'solid', enemies excluded)."""
        return frozenset(
            c for c in self.chars
            if "solid" in self.properties.get(c, ()) and "enemy" not in self.properties.get(c, ())
        )

    def codes(self) -> np.ndarray:
        """The ASCII codes of `chars`, in vocabulary order."""
        codes: np.ndarray = np.frombuffer("".join(self.chars).encode("ascii"), dtype=np.uint8).copy()
        return codes

    def to_indices(self, level: np.ndarray) -> np.ndarray:
        """Map a level of ASCII codes to vocabulary indices (same shape, int64)."""
        lut = np.full(256, -1, dtype=np.int64)
        lut[self.codes()] = np.arange(len(self.chars))
        idx: np.ndarray = lut[level]
        if (idx < 0).any():
            bad = chr(int(level[idx < 0][0]))
            raise ValueError(f"tile {bad!r} is not in the vocabulary {''.join(self.chars)!r}")
        return idx

    def from_indices(self, indices: np.ndarray) -> np.ndarray:
        """Map vocabulary indices back to a level of ASCII codes."""
        level: np.ndarray = self.codes()[indices]
        return level

    def to_json(self) -> dict[str, Any]:
        return {"chars": list(self.chars), "properties": {c: list(p) for c, p in self.properties.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TileSet:
        return cls(tuple(data["chars"]), {c: tuple(p) for c, p in data.get("properties", {}).items()})


MAX_LEGEND_BYTES = 1 << 20  # VGLC's legends are under 2 kB


def load_legend(path: Path) -> TileSet:
    """Read a VGLC legend (`{"tiles": {char: [properties]}}`) into a `TileSet`."""
    from genmedia.inputs import read_input_bytes

    data = read_input_bytes(path, limit=MAX_LEGEND_BYTES, what="tile legend")
    try:
        legend = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise InputError(path, "not a VGLC tile legend (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InputError(path, f"not a VGLC tile legend (not UTF-8 JSON: {exc})") from None
    tiles = legend.get("tiles") if isinstance(legend, dict) else None
    if not isinstance(tiles, dict) or not all(isinstance(v, list) and all(isinstance(p, str) for p in v)
                                              for v in tiles.values()):
        raise InputError(path, 'not a VGLC tile legend (expected {"tiles": {"X": ["solid", ...], ...}})')
    props = {str(c): tuple(v) for c, v in tiles.items()}
    for char in props:
        if len(char) != 1 or not char.isascii() or not char.isprintable():
            raise InputError(path, f"legend key {char!r} is not a single printable ASCII character")
    return TileSet(tuple(props), props)


def parse_level(text: str, *, source: str | Path = "<text>", tiles: TileSet | None = None) -> np.ndarray:
    """Parse VGLC map text into a (rows, cols) uint8 array of ASCII codes.

    Accepts LF or CRLF line ends and trailing blank lines. Raises `InputError` naming
    `source` for an empty map, ragged rows, non-ASCII text, more rows or columns than
    `genmedia.limits` allows or (given `tiles`) a tile that is not in the legend.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise InputError(source, "empty level map")
    width = len(lines[0])
    _check_size(len(lines), width, source)
    for number, line in enumerate(lines, start=1):
        if len(line) != width:
            raise InputError(source, f"line {number} has {len(line)} columns, expected {width} like line 1")
        if not line.isascii() or not line.isprintable() or " " in line:
            col = next(i for i, ch in enumerate(line) if not (ch.isascii() and ch.isprintable()) or ch == " ")
            raise InputError(source, f"line {number}, column {col + 1}: {line[col]!r} is not a tile character")
    if width == 0:
        raise InputError(source, "empty level map")
    grid: np.ndarray = np.frombuffer("".join(lines).encode("ascii"), dtype=np.uint8).reshape(len(lines), width).copy()
    if tiles is not None:
        _check_vocabulary(grid, tiles, source)
    return grid


def _check_size(rows: int, width: int, source: str | Path) -> None:
    """Refuse a map too big to draw or morph, before anything is allocated for its cells."""
    bounds = limits.current()
    if width > bounds.level_columns:
        raise InputError(source, f"line 1 has {limits.over(bounds, 'level_columns', width, 'columns')}")
    if rows > bounds.level_rows:
        raise InputError(source, f"has {limits.over(bounds, 'level_rows', rows, 'rows')}")


def unknown_tiles(level: np.ndarray, chars: str) -> str:
    """The distinct characters of `level` that are not in `chars`, in code order ('' if none)."""
    known = np.zeros(256, dtype=bool)
    known[np.frombuffer(chars.encode("ascii"), dtype=np.uint8)] = True
    return "".join(chr(c) for c in np.unique(level) if not known[c])


def _check_vocabulary(grid: np.ndarray, tiles: TileSet, source: str | Path) -> None:
    known = np.zeros(256, dtype=bool)
    known[tiles.codes()] = True
    bad = ~known[grid]
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(
            source,
            f"line {row + 1}, column {col + 1}: unknown tile {chr(grid[row, col])!r} "
            f"(this game's tiles are {''.join(tiles.chars)!r})",
        )


def read_level(path: Path, *, tiles: TileSet | None = None) -> np.ndarray:
    """Read and parse a VGLC map file; see `parse_level` for what is rejected.

    Only a regular file of at most `limits.level_bytes` is read (see `genmedia.inputs`).
    """
    path = Path(path)
    raw = read_input_bytes(path, limit=limits.current().level_bytes, what="level map",
                           raise_with=limits.ENV["level_bytes"])
    if b"\x00" in raw:
        raise InputError(path, "is a binary file, not a text level map")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"byte {exc.start + 1} is not ASCII; a level map is plain ASCII text") from None
    return parse_level(text, source=path, tiles=tiles)


def level_to_text(level: np.ndarray) -> str:
    """Format a level as VGLC text: one line per row, each ending in a newline."""
    rows = np.asarray(level, dtype=np.uint8)
    return "".join(bytes(row).decode("ascii") + "\n" for row in rows)


def level_from_lines(lines: list[str]) -> np.ndarray:
    """Build a level from equal-length strings (handy in tests and examples)."""
    return parse_level("\n".join(lines))


def find_legend(folder: Path) -> Path | None:
    """The VGLC legend for a folder of maps: a `*.json` with a "tiles" key in it or its parent."""
    for place in (Path(folder), Path(folder).parent):
        for candidate in sorted(place.glob("*.json")):
            try:
                if "tiles" in json.loads(candidate.read_text(encoding="utf-8")):
                    return candidate
            except (OSError, ValueError, TypeError):
                continue
    return None


def read_corpus(folder: Path, *, tiles: TileSet | None = None) -> tuple[TileSet, list[tuple[Path, np.ndarray]]]:
    """Read every `*.txt` map in `folder` (sorted by name) with the folder's legend.

    Without `tiles`, the legend is found with `find_legend`; raises `InputError` when
    there is none, the folder has no maps, or any map fails to parse.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "is not a folder of level maps")
    if tiles is None:
        legend = find_legend(folder)
        if legend is None:
            raise InputError(folder, "no VGLC tile legend (*.json with a 'tiles' key) here or in the parent folder")
        tiles = load_legend(legend)
    paths = sorted(folder.glob("*.txt"))
    if not paths:
        raise InputError(folder, "contains no .txt level maps")
    return tiles, [(p, read_level(p, tiles=tiles)) for p in paths]
