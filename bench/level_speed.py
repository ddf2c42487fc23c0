"""Speed of level sampling: model time, library time and whole commands. Prints a table.

    python bench/level_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from genmedia.levels.model import LevelModel, sample_levels

from timing import command, print_table, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = LevelModel.load()
    z = np.random.default_rng(0).standard_normal((100, model.latent, model.steps_for(150))).astype(np.float32)
    model.decode(z, width=150)  # warm-up
    rows = [
        ("decoder only: 100 levels x 150 columns (ONNX Runtime)",
         timed(lambda: model.decode(z, width=150), args.repeats)),
        ("sample_levels(count=100, width=150, check=False)",
         timed(lambda: sample_levels(model, count=100, width=150, seed=0, check=False), args.repeats)),
        ("sample_levels(count=100, width=150) with the checker",
         timed(lambda: sample_levels(model, count=100, width=150, seed=0), args.repeats)),
        ("sample_levels(count=10, width=1000) with the checker",
         timed(lambda: sample_levels(model, count=10, width=1000, seed=0), args.repeats)),
        ("genmedia --help (whole process)", command(["--help"], args.repeats, outdir=False)),
        ("genmedia level sample --count 100 --width 150 --seed 0 (whole process, PNGs)",
         command(["level", "sample", "--count", "100", "--width", "150", "--seed", "0"], args.repeats)),
        ("genmedia level sample --count 10 --width 1000 --seed 0 (whole process, PNGs)",
         command(["level", "sample", "--count", "10", "--width", "1000", "--seed", "0"], args.repeats)),
        ("... --count 100 --width 150 --no-check --no-png (whole process)",
         command(["level", "sample", "--count", "100", "--width", "150", "--seed", "0", "--no-check", "--no-png"],
                 args.repeats)),
    ]
    print_table(rows, f"cpus {os.cpu_count()}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}, "
                      f"median of {args.repeats}; load average {os.getloadavg()[0]:.2f} at the end "
                      "(figures taken beside other work are pessimistic)")


if __name__ == "__main__":
    main()
