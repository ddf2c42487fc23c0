"""Run the command-line interface with `python -m genmedia`."""

from genmedia.cli import main

main()
