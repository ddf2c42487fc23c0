"""Open a file safely: never block on a FIFO or device, never read past a size limit.

Every reader of a file that may come from anyone goes through here: user inputs (maps, MIDI,
images), model metadata and model files (the registry and the runtime, which raise `ModelError`
through `error=`). `describe_mode` words what a non-regular file is, for outputs too.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from genmedia.errors import GenmediaError, InputError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_WHY = {errno.ENOENT: "no such file", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.ELOOP: "is a symbolic link loop", errno.ENOTDIR: "no such file (a parent is not a folder)",
        errno.ENAMETOOLONG: "file name too long"}
_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
          | getattr(os, "O_BINARY", 0))
BLOCK = 1 << 20  # bytes per read of `read_blocks`

ErrorFactory = Callable[[Path, str], GenmediaError]  # (the path to name, why) -> the error to raise


def describe_mode(mode: int) -> str:
    """What a file of this `st_mode` is, as an error message says it: 'a folder', 'a FIFO (named pipe)', ..."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def open_input(path: str | Path, *, what: str = "file", shown: str | Path | None = None,
               error: ErrorFactory = InputError) -> BinaryIO:
    """Open `path` for binary reading, refusing at once anything but a regular file.

    O_NONBLOCK makes opening a FIFO or a device return instead of waiting for a writer; the
    file's type is then checked on the open descriptor (fstat), so the answer is about the file
    actually opened. Raises `error(shown, why)` (an `InputError` naming `path` by default);
    `what` ("level map") words the messages.
    """
    named = Path(path if shown is None else shown)
    try:
        fd = os.open(path, _FLAGS)
    except IsADirectoryError:  # Windows; on POSIX a folder opens and fstat says so
        raise error(named, f"is a folder, not a {what}") from None
    except OSError as exc:
        why = _WHY.get(exc.errno) if exc.errno is not None else None
        raise error(named, why or exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error(named, f"is a folder, not a {what}")
        if not stat.S_ISREG(mode):
            raise error(named, f"is {describe_mode(mode)}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file never blocks; undo the flag for ordinary reads
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_input_bytes(path: str | Path, *, limit: int, what: str = "file", raise_with: str = "",
                     shown: str | Path | None = None, error: ErrorFactory = InputError) -> bytes:
    """All bytes of a regular file of at most `limit` bytes; `error(shown, why)` otherwise.

    The size is checked before reading, and the read stops one byte past `limit`, so a file that
    grows while it is read is refused too. `raise_with` names the setting that raises the limit.
    """
    named = Path(path if shown is None else shown)
    with open_input(path, what=what, shown=named, error=error) as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            data = handle.read(limit + 1) if size <= limit else b""
        except OSError as exc:  # an I/O error on a failing disk or a vanished network share
            raise error(named, exc.strerror or str(exc)) from None
        if size > limit or len(data) > limit:
            hint = f" (raise it with {raise_with})" if raise_with else ""
            raise error(named, f"is {max(size, len(data)):,} bytes, over the limit of {limit:,} bytes "
                               f"for a {what}{hint}")
    return data


def read_blocks(handle: BinaryIO, size: int, *, shown: str | Path, error: ErrorFactory = InputError) -> Iterator[bytes]:
    """The first `size` bytes of an open file, in blocks of at most `BLOCK`; a file that turns out
    shorter (it shrank while it was read) raises `error(shown, ...)`."""
    done = 0
    while done < size:
        try:
            block = handle.read(min(BLOCK, size - done))
        except OSError as exc:
            raise error(Path(shown), exc.strerror or str(exc)) from None
        if not block:
            raise error(Path(shown), "shrank while it was read")
        done += len(block)
        yield block
