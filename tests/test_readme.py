"""The README's Python API examples run as written, from a folder that has only the shipped assets."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def section(text: str, title: str) -> str:
    """The body of the `## title` section: up to the next heading of level 2."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.S | re.M)


BLOCKS = python_blocks(section(README.read_text(encoding="utf-8"), "Python API"))


@pytest.fixture
def user_folder(tmp_path: Path, monkeypatch) -> Path:
    """A working folder holding a copy of `assets/` (what a user's checkout has), and nothing of ../shared."""
    shutil.copytree(ROOT / "assets", tmp_path / "assets", ignore=shutil.ignore_patterns("*.py", "tiles"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_section_has_an_example_per_job():
    joined = "\n".join(BLOCKS)
    assert len(BLOCKS) >= 3
    for call in ("sample_levels", "morph_levels", "sample_melodies", "morph_melodies", "denoise"):
        assert f"genmedia.{call}(" in joined
    assert "../shared" not in joined


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_example_runs_as_written(number, user_folder, capsys):
    code = BLOCKS[number]
    exec(compile(code, f"README.md (Python API, example {number + 1})", "exec"), {"__name__": "__readme__"})
    written = sorted(p.name for p in user_folder.iterdir() if p.name != "assets")
    assert written, "the example writes files"
    for name in written:
        assert os.path.getsize(user_folder / name) > 0
