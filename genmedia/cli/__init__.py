"""The `genmedia` command: a thin Click layer over the library (parse, validate, call, report)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

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
    """Raised in the main thread on SIGTERM, SIGINT (Ctrl-C) or SIGHUP (the terminal closed, an ssh
    session dropped), so that `finally` blocks remove
    temporary outputs. A BaseException, like KeyboardInterrupt, so that no `except Exception`
    swallows it; not a KeyboardInterrupt, which Click would turn into "Aborted!" and exit 1."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the cleanup short
    raise Terminated(signum)


def main() -> None:
    """The console entry point. SIGTERM, Ctrl-C and SIGHUP clean up, then exit 128 + the signal's
    number (143, 130, 129) after one line. SIGQUIT (Ctrl-\\) is left as the way to stop at once.

    The handlers are installed here, not on import, so the library leaves signals to its caller;
    a signal the parent chose to ignore stays ignored.
    """
    # numpy's OpenBLAS (the noise estimator's patch covariance is its one large product here) keeps its
    # worker threads spinning after each product, on the cores ONNX Runtime then runs on: with its default
    # of one thread per core, blind color denoising measured 1.60 s/MP (estimate 0.28, network 1.32), with
    # one thread 1.14 (0.15 and 0.99). Set here, before numpy is first imported (commands import it when
    # they run), not on import; a value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    defaults: dict[int, Callable[[int, FrameType | None], object] | int] = {
        signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
    if hasattr(signal, "SIGHUP"):  # POSIX only
        defaults[signal.SIGHUP] = signal.SIG_DFL
    installed = [signum for signum, default in defaults.items() if signal.getsignal(signum) is default]
    for signum in installed:
        signal.signal(signum, _on_signal)
    try:
        cli(prog_name="genmedia")
    except Terminated as exc:
        what = "interrupted" if exc.signum == signal.SIGINT else f"terminated by {signal.Signals(exc.signum).name}"
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone (EIO)
            click.echo(f"error: {what}; unfinished outputs were removed", err=True)
        sys.exit(128 + exc.signum)
    finally:
        for signum in installed:  # for callers of main() that go on running
            signal.signal(signum, defaults[signum])
