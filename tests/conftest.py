"""Shared fixtures: hand-made maps and a tiny VGLC-style corpus (no ../shared needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SMB_LEGEND = {
    "tiles": {
        "X": ["solid", "ground"], "S": ["solid", "breakable"], "-": ["passable", "empty"],
        "?": ["solid", "question block"], "Q": ["solid", "question block"],
        "E": ["enemy", "damaging", "hazard", "moving"], "<": ["solid", "pipe"], ">": ["solid", "pipe"],
        "[": ["solid", "pipe"], "]": ["solid", "pipe"], "o": ["coin", "collectable", "passable"],
        "B": ["cannon", "solid", "hazard"], "b": ["cannon", "solid"],
    }
}


def python(code: str) -> str:
    """Run `code` in a fresh interpreter (nothing imported yet); its stripped stdout."""
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="Rewrite tests/golden/ from the current output.")


@pytest.fixture
def regen_golden(request) -> bool:
    return request.config.getoption("--regen-golden")


def flat_map(width: int = 40, rows: int = 14, gaps: tuple[range, ...] = ()) -> list[str]:
    """A `rows`-row map of sky over one row of ground, with the given gap column ranges."""
    ground = "".join("-" if any(c in g for g in gaps) else "X" for c in range(width))
    return ["-" * width] * (rows - 1) + [ground]


def with_column(lines: list[str], col: int, bottom_up: str) -> list[str]:
    """Write `bottom_up` into column `col`, starting just above the ground row."""
    out = [list(line) for line in lines]
    for i, char in enumerate(bottom_up):
        out[len(lines) - 2 - i][col] = char
    return ["".join(row) for row in out]


@pytest.fixture
def mini_corpus(tmp_path: Path) -> Path:
    """Three small hand-made 14-row maps and an SMB legend one folder up, as VGLC lays them out."""
    folder = tmp_path / "game" / "Processed"
    folder.mkdir(parents=True)
    (tmp_path / "game" / "legend.json").write_text(json.dumps(SMB_LEGEND))
    a = with_column(with_column(flat_map(48, gaps=(range(20, 23),)), 10, "[<"), 11, "]>")
    b = with_column(flat_map(40), 30, "bB")
    c = flat_map(56, gaps=(range(30, 33),))
    c[9] = c[9][:12] + "S?S" + c[9][15:]
    for name, lines in (("lvl-a.txt", a), ("lvl-b.txt", b), ("lvl-c.txt", c)):
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder
