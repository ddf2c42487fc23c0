"""Timing helpers shared by the bench scripts (run them as `python bench/NAME.py`)."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `fn()` over `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command(args: list[str], repeats: int, *, outdir: bool = True, output: str = "") -> float:
    """Median wall time of `genmedia ARGS [-o TMPDIR]` (or `-o TMPDIR/OUTPUT`) run as a fresh process."""
    def run() -> None:
        with tempfile.TemporaryDirectory() as out:
            target = f"{out}/{output}" if output else out
            subprocess.run(["genmedia", *args, *(["-o", target] if outdir else [])], check=True, capture_output=True)
    return timed(run, repeats)


def print_table(rows: list[tuple[str, float]], note: str) -> None:
    width = max(len(name) for name, _ in rows)
    print(note)
    print(f"| {'what':<{width}} | seconds |")
    print(f"|{'-' * (width + 2)}|---------|")
    for name, seconds in rows:
        print(f"| {name:<{width}} | {seconds:7.3f} |")
