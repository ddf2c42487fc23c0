"""Speed of the melody model: morph and sampling, model time and whole commands. Prints a table.

    python bench/melody_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

from genmedia.melody.midi import read_melody
from genmedia.melody.model import MelodyModel, interpolate_melodies, sample_melodies
from genmedia.resources import resource_dir


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command(args: list[str], repeats: int) -> float:
    def run() -> None:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(["genmedia", *args, "-o", out], check=True, capture_output=True)
    return timed(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    examples = resource_dir("assets") / "melodies"
    a, b = (str(examples / f"example-{x}.mid") for x in "ab")
    model = MelodyModel.load()
    wa, wb = (model.window(read_melody(p), source=p) for p in (a, b))
    interpolate_melodies(model, wa, wb, steps=7)  # warm-up
    rows = [
        ("7-step 2-bar morph, model time (encode + 7 greedy decodes)",
         timed(lambda: interpolate_melodies(model, wa, wb, steps=7), args.repeats)),
        ("100 samples, model time", timed(lambda: sample_melodies(model, count=100, seed=0), args.repeats)),
        ("genmedia music interpolate A B --steps 7 (whole process)",
         command(["music", "interpolate", a, b, "--steps", "7"], args.repeats)),
        ("genmedia music interpolate A B --steps 7 --wav (whole process)",
         command(["music", "interpolate", a, b, "--steps", "7", "--wav"], args.repeats)),
        ("genmedia music sample --count 100 --seed 0 (whole process)",
         command(["music", "sample", "--count", "100", "--seed", "0"], args.repeats)),
    ]
    print(f"cpus {os.cpu_count()}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"median of {args.repeats}")
    print(f"| {'what':<66} | seconds |")
    print(f"|{'-' * 68}|---------|")
    for name, seconds in rows:
        print(f"| {name:<66} | {seconds:7.3f} |")


if __name__ == "__main__":
    main()
