"""Safe file output: write out of sight, then publish without replacing anything unexpected.

Every output is first written into a hidden temporary folder inside its own folder and only
then published under its real name:

* Without `overwrite`, publishing is `os.link(tmp, target)`, which fails atomically when the
  name is taken, so two runs into one folder never replace each other's files (a check then a
  rename leaves a window in which both see the name free).
* With `overwrite`, only a regular file (or a symlink to one, which is replaced, not followed)
  is replaced; device nodes, FIFOs, sockets and folders are refused, so `-o /dev/null` cannot
  delete the device node.
* A name that is one of the command's `inputs` (the same file: `os.path.samefile`, through any
  link) is never written, with or without `overwrite`, so a command cannot replace what it reads.
* `output_set` makes several files all or nothing: nothing is published until every file is
  written, and if a write or the publishing fails or is interrupted (Ctrl-C, or SIGTERM, which
  the CLI turns into an exception), what the set already published is removed again (with
  `overwrite`, the file it replaced is put back) and the temporary folder goes.

Only SIGKILL or a power cut can leave a `.genmedia-tmp-*` folder behind; it is safe to delete.
Its name carries the host and process that made it, and a later run into the same folder removes
those of its own host whose process is gone and that have not changed for `STALE_AFTER` seconds
(the age guards against a live writer in another PID namespace, such as a container).

Errors tell the caller how to allow replacing a file in its own words (`OverwriteWords`): the
CLI's by default ("use --overwrite"), the Python API's inside `worded(API_WORDS)` ("pass
overwrite=True").
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from genmedia.errors import FileError
from genmedia.inputs import describe_mode

HIDDEN_PREFIX = ".genmedia-tmp-"
STALE_AFTER = 3600.0  # seconds unchanged before a dead process's temporary folder is removed
_SWEPT: set[str] = set()  # folders `remove_stale_temporaries` has run on in this process
# link() errors meaning "this file system has no hard links" (FAT, some FUSE and network mounts).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})

Identity = tuple[int, int]  # (st_dev, st_ino): which file a name points at
Writer = Callable[[Path], object]
Inputs = Iterable[str | Path]  # the files a command reads, which none of its outputs may replace


@dataclass(frozen=True)
class OverwriteWords:
    """How errors tell the caller to allow replacing files: `ask` in "already exists (ASK to
    replace it)", `switch` in "SWITCH replaces only regular files"."""

    ask: str
    switch: str


CLI_WORDS = OverwriteWords("use --overwrite", "--overwrite")
API_WORDS = OverwriteWords("pass overwrite=True", "overwrite=True")
# The CLI's words are the default, so that its worker threads (which start with no context) use them too.
_WORDS: ContextVar[OverwriteWords] = ContextVar("genmedia_overwrite_words", default=CLI_WORDS)


@contextmanager
def worded(words: OverwriteWords) -> Iterator[None]:
    """Within the block (in this thread or task), errors name `words`' way to allow overwriting."""
    token = _WORDS.set(words)
    try:
        yield
    finally:
        _WORDS.reset(token)


class OutputError(FileError):
    """An output cannot be written."""


class OutputExistsError(OutputError):
    """An output file exists and the caller did not ask to overwrite it."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, f"already exists ({_WORDS.get().ask} to replace it)")


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(path, f"cannot write: {exc.strerror or exc}")


def _identity(path: Path) -> Identity:
    st = os.lstat(path)
    return st.st_dev, st.st_ino


def input_identities(inputs: Inputs) -> frozenset[Identity]:
    """Which files `inputs` name (following links); a name that cannot be stat'ed names none."""
    found = set()
    for path in inputs:
        with suppress(OSError, ValueError):  # missing, or a name the OS cannot hold
            st = os.stat(path)
            found.add((st.st_dev, st.st_ino))
    return frozenset(found)


def check_target(path: Path, *, overwrite: bool, inputs: Inputs | frozenset[Identity] = ()) -> None:
    """Raise unless `path` may be written: it must not exist, or (with `overwrite`) be a regular
    file; either way it must not be one of `inputs` (paths, or `input_identities` of them)."""
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:  # a parent is a file (ENOTDIR), or the folder cannot be searched
        raise _cannot_write(path, exc) from None
    identities = inputs if isinstance(inputs, frozenset) else input_identities(inputs)
    if identities and input_identities([path]) & identities:
        raise OutputError(path, "is an input of this command; an output never replaces an input "
                                "(choose another output name)")
    if not overwrite:
        raise OutputExistsError(path)
    via = "a symbolic link to " if stat.S_ISLNK(link.st_mode) else ""
    try:
        mode = os.stat(path).st_mode if via else link.st_mode
    except OSError:
        raise OutputError(path, f"is a broken symbolic link; {_WORDS.get().switch} replaces only regular "
                                "files") from None
    if not stat.S_ISREG(mode):
        raise OutputError(path, f"is {via}{describe_mode(mode)}, not a regular file; "
                                f"{_WORDS.get().switch} replaces only regular files")


def check_writable(paths: Iterable[Path], *, overwrite: bool, inputs: Inputs | frozenset[Identity] = ()) -> None:
    """Raise for the first path that `check_target` refuses (so a run can fail before its slow work)."""
    identities = inputs if isinstance(inputs, frozenset) else input_identities(inputs)
    for path in paths:
        check_target(Path(path), overwrite=overwrite, inputs=identities)


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return the ones this call created, outermost first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.is_dir():
            break
        missing.append(path)
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise OutputError(path, "exists and is not a folder") from None
            continue  # another run made it just now: theirs, not ours to remove
        except OSError as exc:
            raise OutputError(path, f"cannot create folder: {exc.strerror or exc}") from None
        created.append(path)
    return created


def _host_prefix() -> str:
    """`HIDDEN_PREFIX` with this host: `.genmedia-tmp-HOST-` (the host name without dashes)."""
    host = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:64] or "host"
    return f"{HIDDEN_PREFIX}{host}-"


def _own_prefix() -> str:
    """`_host_prefix` with this process: `.genmedia-tmp-HOST-PID-` (mkdtemp adds a random part)."""
    return f"{_host_prefix()}{os.getpid()}-"


def remove_stale_temporaries(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary folders in `folder` that runs on this host left when they were killed
    (their process is gone, and they are unchanged for `STALE_AFTER` seconds); return them. Folders
    of other hosts, of live processes and of other names are left alone, and so is anything that
    cannot be read or removed."""
    now = time.time() if now is None else now
    host_prefix = _host_prefix()
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(host_prefix):
            continue
        pid_text = entry.name[len(host_prefix):].split("-", 1)[0]
        with suppress(OSError, ValueError, OverflowError):  # (a PID too large for the OS: not a run of ours)
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if not entry.is_dir(follow_symlinks=False) or age < STALE_AFTER:
                continue
            pid = int(pid_text)
            if pid == os.getpid() or _alive(pid):
                continue
            shutil.rmtree(entry.path)
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if os.name == "nt":  # there os.kill(pid, 0) would terminate the process: never judge one gone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process, alive
        return True
    return True


class OutputBatch:
    """Files written under temporary names, published together when the `output_set` block ends.

    Names are relative to `folder` (they may contain subfolders, e.g. `levels/level-000.png`).
    Writers get a path that does not exist yet, with the output's own name (so libraries that
    choose a format by suffix still work), and create it. No name may be one of `inputs`.
    """

    def __init__(self, folder: Path, *, overwrite: bool, inputs: Inputs = ()) -> None:
        self.folder, self.overwrite = Path(folder), overwrite
        self.inputs = input_identities(inputs)
        self._temps: dict[Path, Path] = {}  # target -> where it is being written
        self._hidden: dict[Path, Path] = {}  # output folder -> its hidden temporary folder
        self._created: list[Path] = []  # folders this batch made (removed again on failure, if empty)
        self._ours: dict[Path, set[Identity]] = {}  # target -> files of ours that may now have its name
        self._backups: dict[Path, Path] = {}  # target -> hard link to the file `overwrite` replaced

    def check(self, names: Iterable[str | Path]) -> None:
        """Fail now, before any slow work, if any of `names` could not be written."""
        check_writable([self.folder / name for name in names], overwrite=self.overwrite, inputs=self.inputs)

    def reserve(self, name: str | Path) -> Path:
        """Check `name` and return the temporary path to write it to."""
        target = self.folder / name
        if target in self._temps:
            raise ValueError(f"{target} is written twice in one output set")
        check_target(target, overwrite=self.overwrite, inputs=self.inputs)
        try:
            self._temps[target] = self._hidden_dir(target.parent) / target.name
        except OSError as exc:
            raise _cannot_write(target, exc) from None
        return self._temps[target]

    def write(self, name: str | Path, writer: Writer) -> Path:
        """Call `writer(tmp)` to write `name` out of sight; return the path it will be published at."""
        tmp, target = self.reserve(name), self.folder / name
        try:
            writer(tmp)
        except OSError as exc:  # disk full, quota, permissions: name the output, not the temporary file
            raise _cannot_write(target, exc) from None
        except OutputError as exc:  # a nested single-file writer reports its path, which is our tmp
            if exc.path != tmp:
                raise
            raise OutputError(target, exc.why) from None
        return target

    def write_text(self, name: str | Path, text: str) -> Path:
        """Write `text` as UTF-8 (lines as given)."""
        return self.write(name, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def _hidden_dir(self, parent: Path) -> Path:
        if parent not in self._hidden:
            for _ in range(3):
                self._created += _make_folders(parent)
                with suppress(FileNotFoundError):  # a failed run removed the folder it had just made
                    real = os.path.realpath(parent)
                    if real not in _SWEPT:  # once per folder and process: a batch writes thousands of files
                        _SWEPT.add(real)
                        remove_stale_temporaries(parent)
                    self._hidden[parent] = Path(tempfile.mkdtemp(prefix=_own_prefix(), dir=parent))
                    break
            else:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(parent))
        return self._hidden[parent]

    def publish(self) -> None:
        """Check every target, then publish each; `output_set` calls this when its block succeeds."""
        # One order for every run: of two runs racing for the same names, the one that takes the
        # first name both want takes them all, and the other stops there (none is split).
        order = sorted(self._temps, key=str)
        check_writable(order, overwrite=self.overwrite, inputs=self.inputs)
        for target in order:
            try:
                self._publish_one(self._temps[target], target)
            except OSError as exc:
                raise _cannot_write(target, exc) from None

    def _publish_one(self, tmp: Path, target: Path) -> None:
        # Recorded before the name changes, so a rollback after an interruption at any point knows it.
        self._ours.setdefault(target, set()).add(_identity(tmp))
        if self.overwrite:
            check_target(target, overwrite=True, inputs=self.inputs)  # again: the node may have been swapped since
            self._back_up(target)
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise OutputExistsError(target) from None
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            self._claim_then_rename(tmp, target)
            return
        os.unlink(tmp)

    def _claim_then_rename(self, tmp: Path, target: Path) -> None:
        """Publish without hard links: claim the name with O_EXCL, then rename over our own claim.

        O_CREAT|O_EXCL takes the name atomically, so a run using this same protocol finds it
        taken and stops. Only a run told to --overwrite may replace the empty placeholder, and
        then the identity check backs off instead of renaming over that run's file. (A swap in the
        instant between the check and the rename is an --overwrite run's to win, which is what
        --overwrite means anyway.)
        """
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise OutputExistsError(target) from None
        try:
            claim = os.fstat(fd)
        finally:
            os.close(fd)
        self._ours[target].add((claim.st_dev, claim.st_ino))
        if _identity(target) != (claim.st_dev, claim.st_ino):
            raise OutputExistsError(target)
        os.replace(tmp, target)

    def _back_up(self, target: Path) -> None:
        """Keep the file `overwrite` is about to replace, so that a rollback can put it back."""
        backup = Path(tempfile.mkdtemp(prefix="replaced-", dir=self._hidden[target.parent])) / target.name
        try:
            os.link(target, backup, follow_symlinks=False)  # a symlink is kept as the link itself
        except FileNotFoundError:
            return  # nothing there to keep
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            shutil.copy2(target, backup, follow_symlinks=False)
        self._backups[target] = backup

    def _roll_back(self) -> None:
        """Undo what this batch published; leave any name that now points at someone else's file."""
        for target, ours in self._ours.items():
            with suppress(OSError):  # best effort: the error that got us here is the one to report
                if _identity(target) not in ours:
                    continue
                if target in self._backups:
                    os.replace(self._backups[target], target)
                else:
                    os.unlink(target)

    def finish(self, ok: bool) -> None:
        """Remove the temporary folders; after a failure, first undo the publishing.

        Done again if a signal interrupts it: the CLI ignores a second SIGTERM, so the second
        pass runs to the end, and every step is safe to repeat.
        """
        try:
            self._clean_up(ok)
        except BaseException:
            self._clean_up(ok)
            raise

    def _clean_up(self, ok: bool) -> None:
        if not ok:
            self._roll_back()
        for hidden in self._hidden.values():
            shutil.rmtree(hidden, ignore_errors=True)
        if not ok:
            for folder in reversed(self._created):
                with suppress(OSError):  # not empty: someone else is writing there too
                    folder.rmdir()


@contextmanager
def output_set(folder: str | Path, *, overwrite: bool = False, inputs: Inputs = ()) -> Iterator[OutputBatch]:
    """Write several files all or nothing: they appear only if the whole block succeeds.

        with output_set(outdir, overwrite=False) as batch:
            batch.write_text("a.txt", text)
            batch.write("a.png", lambda tmp: image.save(tmp, format="PNG"))

    Raises `OutputExistsError` for a name that is taken (also one taken by another run while
    this one was writing) and `OutputError` naming the file for a failed write or a name that is
    one of the command's `inputs`.
    """
    batch = OutputBatch(Path(folder), overwrite=overwrite, inputs=inputs)
    ok = False
    try:
        yield batch
        batch.publish()
        ok = True
    finally:
        batch.finish(ok)


def write_atomic(path: str | Path, writer: Writer, *, overwrite: bool = False, inputs: Inputs = ()) -> Path:
    """Call `writer(tmp_path)` and publish the result as `path` (see the module docstring); return `path`."""
    path = Path(path)
    with output_set(path.parent, overwrite=overwrite, inputs=inputs) as batch:
        batch.write(path.name, writer)
    return path


def write_text_atomic(path: str | Path, text: str, *, overwrite: bool = False, inputs: Inputs = ()) -> Path:
    """Write `text` (UTF-8, newline-terminated lines as given) atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite,
                        inputs=inputs)
