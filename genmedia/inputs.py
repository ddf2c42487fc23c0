"""Open a user's input file safely: never block on a FIFO or device, never read past a size limit."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from genmedia.errors import InputError

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_WHY = {errno.ENOENT: "no such file", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.ELOOP: "is a symbolic link loop", errno.ENOTDIR: "no such file (a parent is not a folder)",
        errno.ENAMETOOLONG: "file name too long"}


def open_input(path: str | Path, *, what: str = "file") -> BinaryIO:
    """Open `path` for binary reading, refusing at once anything but a regular file.

    O_NONBLOCK makes opening a FIFO or a device return instead of waiting for a writer; the
    file's type is then checked on the open descriptor (fstat), so the answer is about the file
    actually opened. Raises `InputError` naming `path`; `what` ("level map") words the messages.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:  # Windows; on POSIX a folder opens and fstat says so
        raise InputError(path, f"is a folder, not a {what}") from None
    except OSError as exc:
        raise InputError(path, _WHY.get(exc.errno, exc.strerror or str(exc))) from None
    try:
        _check_regular(path, os.fstat(fd).st_mode, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file never blocks; undo the flag for ordinary reads
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _check_regular(path: str | Path, mode: int, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise InputError(path, f"is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise InputError(path, f"is {kind}, not a regular file")


def read_input_bytes(path: str | Path, *, limit: int, what: str = "file", raise_with: str = "") -> bytes:
    """All bytes of a regular file of at most `limit` bytes; `InputError` naming `path` otherwise.

    The size is checked before reading, and the read stops one byte past `limit`, so a file that
    grows while it is read is refused too. `raise_with` names the setting that raises the limit.
    """
    with open_input(path, what=what) as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            data = handle.read(limit + 1) if size <= limit else b""
        except OSError as exc:  # an I/O error on a failing disk or a vanished network share
            raise InputError(path, exc.strerror or str(exc)) from None
        if size > limit or len(data) > limit:
            hint = f" (raise it with {raise_with})" if raise_with else ""
            raise InputError(path, f"is {max(size, len(data)):,} bytes, over the limit of {limit:,} bytes "
                                   f"for a {what}{hint}")
    return data
