"""Atomic, non-clobbering file output: write to a temporary file, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from genmedia.errors import GenmediaError


class OutputExistsError(GenmediaError):
    """An output file exists and the caller did not ask to overwrite it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path}: already exists (use --overwrite to replace it)")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(paths: list[Path], *, overwrite: bool) -> None:
    """Raise `OutputExistsError` for the first path that exists, unless `overwrite`."""
    if overwrite:
        return
    for path in paths:
        if path.exists():
            raise OutputExistsError(path)


@contextmanager
def atomic_path(path: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary file keeps `path`'s suffix so that libraries choosing a format by
    extension (Pillow, pretty_midi) still work.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not overwrite and path.exists():
            raise OutputExistsError(path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(path: Path, writer: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Call `writer(tmp_path)` and move the result onto `path` atomically; return `path`."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        writer(tmp)
    return Path(path)


def write_text_atomic(path: Path, text: str, *, overwrite: bool = False) -> Path:
    """Write `text` (UTF-8, newline-terminated lines as given) atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite)
