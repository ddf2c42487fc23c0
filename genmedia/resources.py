"""Locate the package's data folders (`models/`, `assets/`), installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path


def resource_dir(name: str) -> Path:
    """`genmedia/<name>` in an installed package, else `<checkout>/<name>` beside the package."""
    here = Path(__file__).resolve().parent
    installed = here / name
    return installed if installed.is_dir() else here.parent / name
