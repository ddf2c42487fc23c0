"""Speed of the melody model: morph and sampling, model time and whole commands. Prints a table.

    python bench/melody_speed.py [--model NAME] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os

import genmedia
from genmedia.melody.midi import read_melody
from genmedia.melody.model import MelodyModel, interpolate_melodies, sample_melodies
from genmedia.resources import resource_dir

from timing import command, print_table, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="Melody model (default: the default one, melody-2bar).")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    examples = resource_dir("assets") / "melodies"
    a, b = (str(examples / f"example-{x}.mid") for x in "ab")
    model = MelodyModel.load(args.model)
    name = model.info.name
    extra = ["--model", args.model] if args.model else []
    wa, wb = (model.window(read_melody(p), source=p) for p in (a, b))
    interpolate_melodies(model, wa, wb, steps=7)  # warm-up
    rows = [
        (f"7-step {name} morph, model time (encode, 49 greedy decodes, 7 chosen)",
         timed(lambda: interpolate_melodies(model, wa, wb, steps=7), args.repeats)),
        (f"7-step {name} morph, evenly spaced (encode + 7 greedy decodes)",
         timed(lambda: interpolate_melodies(model, wa, wb, steps=7, oversample=1), args.repeats)),
        ("100 samples, model time", timed(lambda: sample_melodies(model, count=100, seed=0), args.repeats)),
        ("genmedia music interpolate A B --steps 7 (whole process)",
         command(["music", "interpolate", a, b, "--steps", "7", *extra], args.repeats)),
        ("genmedia music interpolate A B --steps 7 --wav (whole process)",
         command(["music", "interpolate", a, b, "--steps", "7", "--wav", *extra], args.repeats)),
        ("genmedia music sample --count 100 --seed 0 (whole process)",
         command(["music", "sample", "--count", "100", "--seed", "0", *extra], args.repeats)),
    ]
    if "concepts" in model.info.files:  # the concept-vector transform (issue 19: under 1 s, whole command)
        melody = read_melody(a)
        rows += [
            ("transform, model time (encode, one greedy decode)",
             timed(lambda: genmedia.transform_melody(melody, attribute="density", amount=1.0, model=model),
                   args.repeats)),
            ("genmedia music transform A --attribute density --amount 1 -o OUT.mid (whole process)",
             command(["music", "transform", a, "--attribute", "density", "--amount", "1", *extra], args.repeats,
                     output="out.mid")),
            ("genmedia music transform A --attribute pitch --amount 1.5 --steps 7 --wav (whole process)",
             command(["music", "transform", a, "--attribute", "pitch", "--amount", "1.5", "--steps", "7", "--wav",
                      *extra], args.repeats)),
        ]
    print_table(rows, f"cpus {os.cpu_count()}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}, "
                      f"median of {args.repeats}")


if __name__ == "__main__":
    main()
