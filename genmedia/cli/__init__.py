"""The `genmedia` command: a thin Click layer over the library (parse, validate, call, report)."""

from __future__ import annotations

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


def main() -> None:
    cli(prog_name="genmedia")
