"""Shared CLI pieces: the error boundary, common options and the batch report."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import click

from genmedia.errors import GenmediaError


class GenmediaGroup(click.Group):
    """A group whose commands report library errors as one `error: ...` line and exit with the
    error's `exit_code` (1; 75 for training paused at its time limit)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GenmediaError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # disk full, permissions on an output folder, ...
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(1)


class FiniteFloatRange(click.FloatRange):
    """A `click.FloatRange` that also refuses nan and inf: nan passes every range comparison, and
    inf passes an open-ended range, so either would reach the library as a 'valid' number."""

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def seed_option(func):
    return click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None,
                        help="Random seed; the same seed gives byte-identical output. Default: a fresh seed, printed.")(func)


def overwrite_option(func):
    return click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")(func)


def outdir_option(func):
    return click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help="Folder to write into (created if missing).")(func)


def resolve_seed(seed: int | None) -> int:
    """The user's seed, or a fresh one announced on stderr so the run can be repeated."""
    if seed is None:
        seed = secrets.randbelow(2**32)
        click.echo(f"seed {seed} (pass --seed {seed} to reproduce)", err=True)
    return seed


@dataclass
class Report:
    """Counts per-file outcomes of a batch and decides the exit code (0, or 1 if any failed)."""

    done: int = 0
    failed: list[str] = field(default_factory=list)

    def fail(self, path: Path | str, why: str, verb: str = "read") -> None:
        click.echo(f"error: cannot {verb} {path}: {why}", err=True)
        self.failed.append(str(path))

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0
