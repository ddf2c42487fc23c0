"""The `genmedia` command: a thin Click layer over the library (parse, validate, call, report)."""

from __future__ import annotations

import signal
import sys

import click

from genmedia import __version__
from genmedia.cli.common import GenmediaGroup
from genmedia.cli.demo import demo
from genmedia.cli.image import image
from genmedia.cli.level import level
from genmedia.cli.models import models
from genmedia.cli.music import music
from genmedia.cli.train import train


@click.group(cls=GenmediaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genmedia")
def cli() -> None:
    """Autoencoders as creative tools: game levels, melodies and image cleanup."""


cli.add_command(demo)
cli.add_command(image)
cli.add_command(level)
cli.add_command(models)
cli.add_command(music)
cli.add_command(train)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that `finally` blocks remove temporary outputs.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it.
    """


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    raise Terminated


def main() -> None:
    """The console entry point. SIGTERM cleans up like Ctrl-C, then exits 143 (128 + SIGTERM).

    The handler is installed here, not on import, so the library leaves signals to its caller;
    a SIGTERM the parent chose to ignore stays ignored.
    """
    installed = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    if installed:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli(prog_name="genmedia")
    except Terminated:
        click.echo("error: terminated by SIGTERM; unfinished outputs were removed", err=True)
        sys.exit(128 + signal.SIGTERM)
    finally:
        if installed:  # for callers of main() that go on running
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
