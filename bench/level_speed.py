"""Speed of level sampling: model time, library time and whole commands. Prints a table.

    python bench/level_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

from genmedia.levels.model import LevelModel, sample_levels


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command(args: list[str], repeats: int, *, outdir: bool = True) -> float:
    """Median wall time of `genmedia ARGS [-o TMPDIR]` run as a fresh process."""
    def run() -> None:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(["genmedia", *args, *(["-o", out] if outdir else [])], check=True, capture_output=True)
    return timed(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = LevelModel.load()
    z = np.random.default_rng(0).standard_normal((100, model.latent, model.steps_for(150))).astype(np.float32)
    model.decode(z, width=150)  # warm-up
    rows = [
        ("decoder only: 100 levels x 150 columns (ONNX Runtime)", timed(lambda: model.decode(z, width=150), args.repeats)),
        ("sample_levels(count=100, width=150, check=False)",
         timed(lambda: sample_levels(model, count=100, width=150, seed=0, check=False), args.repeats)),
        ("sample_levels(count=100, width=150) with the checker",
         timed(lambda: sample_levels(model, count=100, width=150, seed=0), args.repeats)),
        ("sample_levels(count=10, width=1000) with the checker",
         timed(lambda: sample_levels(model, count=10, width=1000, seed=0), args.repeats)),
        ("genmedia --help (whole process)", command(["--help"], args.repeats, outdir=False)),
        ("genmedia level sample --count 100 --width 150 --seed 0 (whole process, PNGs)",
         command(["level", "sample", "--count", "100", "--width", "150", "--seed", "0"], args.repeats)),
        ("... --no-check --no-png (whole process)",
         command(["level", "sample", "--count", "100", "--width", "150", "--seed", "0", "--no-check", "--no-png"],
                 args.repeats)),
    ]
    print(f"cpus {os.cpu_count()}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"median of {args.repeats}")
    print(f"| {'what':<78} | seconds |")
    print(f"|{'-' * 80}|---------|")
    for name, seconds in rows:
        print(f"| {name:<78} | {seconds:7.3f} |")


if __name__ == "__main__":
    main()
