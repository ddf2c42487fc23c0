"""Shared CLI pieces: the error boundary, common options and the batch report."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from genmedia.errors import GenmediaError

F = TypeVar("F", bound=Callable[..., Any])  # a command function, as a Click decorator takes and returns it

# Control characters (a newline in a file name, a terminal escape) shown as escapes, so that every
# message stays one line and cannot drive the terminal.
_CONTROLS = ({code: f"\\x{code:02x}" for code in [*range(32), *range(127, 160)]}  # C0, DEL and C1 (U+009B is CSI)
             | {9: "\\t", 10: "\\n", 13: "\\r"})


def one_line(text: str) -> str:
    """`text` with its control characters escaped (a newline in a file name becomes `\\n`)."""
    return text.translate(_CONTROLS)


def echo_line(text: str, *, err: bool = False) -> None:
    """Print `text` as one line (`one_line`): every line that can hold a file name goes out this way."""
    click.echo(one_line(text), err=err)


class GenmediaGroup(click.Group):
    """A group whose commands report library errors as one `error: ...` line and exit with the
    error's `exit_code` (1; 75 for training paused at its time limit)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GenmediaError as exc:
            echo_line(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # disk full, permissions on an output folder, ...
            where = f"{exc.filename}: " if exc.filename else ""
            echo_line(f"error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(1)
        except MemoryError:  # a limit raised past what the machine holds (GENMEDIA_MAX_*)
            click.echo("error: out of memory (ask for less: a smaller size, count or tile, or the default "
                       "limits)", err=True)
            ctx.exit(1)


class FiniteFloatRange(click.FloatRange):
    """A `click.FloatRange` that also refuses nan and inf: nan passes every range comparison, and
    inf passes an open-ended range, so either would reach the library as a 'valid' number."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        checked: float = super().convert(number, param, ctx)
        return checked


def seed_option(func: F) -> F:
    return click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None,
                        help="Random seed; the same seed gives byte-identical output. Default: a fresh seed, "
                             "printed.")(func)


def overwrite_option(func: F) -> F:
    return click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")(func)


def outdir_option(func: F) -> F:
    return click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help="Folder to write into (created if missing).")(func)


def resolve_seed(seed: int | None) -> int:
    """The user's seed, or a fresh one announced on stderr so the run can be repeated."""
    if seed is None:
        seed = secrets.randbelow(2**32)
        click.echo(f"seed {seed} (pass --seed {seed} to reproduce)", err=True)
    return seed


def _to_stderr(line: str) -> None:
    echo_line(line, err=True)


@dataclass
class Report:
    """The outcome of a batch, shaped like black's `Report`, and the one way every batch command reports.

    The batch goes on past a bad file: `fail` names it at once with one line on stderr,
    `error: PATH: why` (the form a single-file command prints too); the command prints its own
    summary from `done`, `skipped` and `failed` (`counts` gives the usual part of it); `finish` ends
    the run with `failed: PATH, PATH, ...` and exit code 1 if any file failed. `echo` writes one
    stderr line (a progress bar passes its own, so that lines do not cut through the bar).
    """

    done: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    echo: Callable[[str], None] = field(default=_to_stderr, repr=False, compare=False)

    def fail(self, path: Path | str, why: str) -> None:
        """`path` failed: `error: PATH: why`."""
        self.error(path, f"{path}: {why}")

    def error(self, path: Path | str, message: str) -> None:
        """`path` failed, told by a message that already names it (a library error's text, such as
        `ModelError`'s "PATH: why", or one naming a pair of files): `error: MESSAGE`."""
        self.echo(f"error: {message}")
        self.failed.append(str(path))

    def counts(self, *, skipped: bool = True, done_note: str = "") -> str:
        """'done D (done_note), skipped S, failed F': without the note if it is empty, without the
        skipped part for a batch that never skips."""
        parts = [f"done {self.done}" + (f" ({done_note})" if done_note else "")]
        parts += [f"skipped {self.skipped}"] if skipped else []
        return ", ".join([*parts, f"failed {len(self.failed)}"])

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def finish(self) -> None:
        """End the batch: if any file failed, name them all on one line and exit 1; else return."""
        if self.failed:
            self.echo("failed: " + ", ".join(self.failed))
            raise SystemExit(1)
