"""Concept vectors of a melody model, measured on held-out tunes. Prints tables.

    python bench/melody_concepts.py --data ../shared/data/nottingham/midi/melody [--model NAME]
        [--split test] [--amount 1.5] [--steps 7] [--repeats 3]

For each source folder, the tunes of `--split` (as `genmedia.melody.data.read_folder` splits them)
each give their first window (`MelodyModel.window`, as `music transform` encodes it). Each attribute
is swept from -amount to +amount in `--steps` steps (`genmedia.melody.concepts.sweep`; with
`--oversample K` the steps are chosen among K times as many points, as `music transform --steps`
chooses them by default with K = 8), every decode
cut to the tune's length as the command cuts it, and every attribute is measured on every step:
- rho: Spearman correlation of the attribute with the step index, per tune, then the mean over
  tunes (a tune whose attribute does not change along the sweep counts as 0; one where it is
  undefined at some step, e.g. the pitch of a step without notes, is left out);
- move: the attribute at the last step minus at the first, in units of its spread (std) over the
  training windows the vectors were computed from (the model's metadata), mean over tunes;
- in key: the share of notes in key of the outputs (`in_key_share`), over all steps and over the
  steps with amount >= 0.
Targets: the swept attribute's rho >= 0.9 and move >= 0.5, every other attribute moving less (|move|)
than it, and >= 0.95 of notes in key (the key attribute's lowered half excepted).
Then the speed of `genmedia music transform` (whole process, and model time).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from genmedia.errors import InputError
from genmedia.melody.attributes import ATTRIBUTES, attribute_table
from genmedia.melody.concepts import attribute_steps, load_concepts, transform_melody
from genmedia.melody.data import read_folder
from genmedia.melody.model import MelodyModel
from genmedia.resources import resource_dir

from timing import command, print_table, timed

KEY = ATTRIBUTES.index("key")


def spearman(values: np.ndarray) -> float:
    """Spearman correlation of `values` (steps,) with 0, 1, 2, ...: NaN if any value is NaN, 0 if all are equal."""
    if not np.isfinite(values).all():
        return np.nan
    if np.ptp(values) == 0:
        return 0.0
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):  # ties share their mean rank
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    steps = np.arange(len(values), dtype=float)
    return float(np.corrcoef(ranks, steps)[0, 1])


def first_windows(model: MelodyModel, folder: Path, split: str) -> tuple[np.ndarray, list[int]]:
    """Each tune's first window and its length as `music transform` cuts it."""
    found, lengths = [], []
    for name, melody in read_folder(folder)[0][split]:
        try:
            found.append(model.window(melody, source=name))
        except InputError:
            continue
        lengths.append(model.covered(melody))
    return np.stack(found), lengths


def sweeps(model: MelodyModel, windows: np.ndarray, lengths: list[int], vectors: np.ndarray,
           amounts: np.ndarray, oversample: int = 1) -> np.ndarray:
    """Attributes (attribute swept, tune, step, attribute measured) of the greedy decodes of
    z + a x vector, z the refined latent (as `music transform` starts from), each cut to its tune's length.
    With `oversample` k the line is decoded at k times as many points and the steps chosen among them
    as `music transform --steps` chooses them (`genmedia.melody.concepts.attribute_steps`)."""
    z = np.concatenate([model.encode(windows[i:i + 256], refine=True) for i in range(0, len(windows), 256)])
    dense = np.linspace(amounts[0], amounts[-1], (len(amounts) - 1) * oversample + 1)
    out = np.empty((len(vectors), len(windows), len(amounts), len(ATTRIBUTES)))
    for i, vector in enumerate(vectors):
        latents = (z[:, None, :] + dense[None, :, None] * vector[None, None, :]).reshape(-1, z.shape[1])
        decoded = np.concatenate([model.decode(latents[j:j + 512].astype(np.float32))
                                  for j in range(0, len(latents), 512)]).reshape(len(z), len(dense), -1)
        for t, length in enumerate(lengths):
            table = attribute_table(decoded[t, :, :length])
            rising = table[:, i] if amounts[-1] >= amounts[0] else -table[:, i]  # a negative --amount sweeps down
            out[i, t] = table if oversample == 1 else table[attribute_steps(rising, len(amounts))]
    return out


def report(label: str, table: np.ndarray, spread: np.ndarray, amounts: np.ndarray, tunes: int) -> None:
    """Print the attribute-by-attribute tables of one source (or pooled)."""
    rho = np.array([[np.nanmean([spearman(table[i, t, :, j]) for t in range(table.shape[1])])
                     for j in range(len(ATTRIBUTES))] for i in range(len(ATTRIBUTES))])
    move = np.nanmean(table[:, :, -1, :] - table[:, :, 0, :], axis=1) / spread[None, :]
    head = " | ".join(f"{a:>11}" for a in ATTRIBUTES)
    print(f"\n### {label}: {tunes} tunes, sweeps from {amounts[0]:+g} to {amounts[-1]:+g} in {len(amounts)} steps")
    print("\nSpearman rho of each attribute (columns) with the step index, sweeping the row's attribute:")
    print(f"| swept       | {head} |")
    print("|-------------|" + "|".join(["-------------"] * len(ATTRIBUTES)) + "|")
    for i, name in enumerate(ATTRIBUTES):
        print(f"| {name:<11} | " + " | ".join(f"{v:>11.3f}" for v in rho[i]) + " |")
    print("\nEnd-to-end move of each attribute (columns) in corpus std, sweeping the row's attribute:")
    print(f"| swept       | {head} |")
    print("|-------------|" + "|".join(["-------------"] * len(ATTRIBUTES)) + "|")
    for i, name in enumerate(ATTRIBUTES):
        print(f"| {name:<11} | " + " | ".join(f"{v:>+11.3f}" for v in move[i]) + " |")
    print("\nMean of the swept attribute at each step (its own units), notes in key, and the targets:")
    print("| swept       | mean by step" + " " * max(0, 8 * len(amounts) - 12) + " | in key all | in key a>=0 "
          "| rho>=0.9 | move>=0.5 | others less | key>=0.95 |")
    print("|-------------|" + "-" * (max(12, 8 * len(amounts)) + 2) + "|------------|-------------"
          "|----------|-----------|-------------|-----------|")
    upper = amounts >= 0
    for i, name in enumerate(ATTRIBUTES):
        means = " ".join(f"{v:7.3g}" for v in np.nanmean(table[i, :, :, i], axis=0))
        key_all = np.nanmean(table[i, :, :, KEY])
        key_up = np.nanmean(table[i, :, upper, KEY])
        others = np.abs(np.delete(move[i], i))
        key_ok = (key_up if name == "key" else key_all) >= 0.95
        checks = [rho[i, i] >= 0.9, move[i, i] >= 0.5, bool((others < abs(move[i, i])).all()), key_ok]
        marks = [f"{'yes' if ok else 'NO':>8}" for ok in checks]
        print(f"| {name:<11} | {means:<{max(12, 8 * len(amounts))}} | {key_all:10.3f} | {key_up:11.3f} | "
              f"{marks[0]} | {marks[1]:>9} | {marks[2]:>11} | {marks[3]:>9} |")


def speed(model_arg: str | None, model: MelodyModel, repeats: int) -> None:
    example = str(resource_dir("assets") / "melodies" / "example-a.mid")
    extra = ["--model", model_arg] if model_arg else []
    concepts = load_concepts(model)
    from genmedia.melody.midi import read_melody

    melody = read_melody(example)
    transform_melody(model, melody, attribute="density", amount=1.0, concepts=concepts)  # warm-up

    def one_file() -> None:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(["genmedia", "music", "transform", example, "--attribute", "density", "--amount", "1",
                            *extra, "-o", str(Path(out) / "out.mid")], check=True, capture_output=True)

    rows = [
        ("transform, model time (encode + 1 greedy decode)",
         timed(lambda: transform_melody(model, melody, attribute="density", amount=1.0, concepts=concepts), repeats)),
        ("genmedia music transform IN --attribute density -o OUT.mid (whole process)", timed(one_file, repeats)),
        ("genmedia music transform IN --attribute density --steps 7 -o DIR (whole process)",
         command(["music", "transform", example, "--attribute", "density", "--steps", "7", *extra], repeats)),
        ("genmedia music transform IN --attribute density --steps 7 --wav -o DIR (whole process)",
         command(["music", "transform", example, "--attribute", "density", "--steps", "7", "--wav", *extra],
                 repeats)),
    ]
    print()
    print_table(rows, f"{model.info.name}: cpus {os.cpu_count()}, OMP_NUM_THREADS "
                      f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, median of {repeats}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="Melody model (default: the default one, melody-2bar).")
    parser.add_argument("--data", type=Path, action="append", required=True, help="Source folder (repeatable).")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])
    parser.add_argument("--amount", type=float, default=1.5)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--oversample", type=int, default=1,
                        help="Choose the steps among this many times as many points, as `music transform --steps` "
                             "does (its default: 8); 1 measures the vectors at evenly spaced amounts.")
    parser.add_argument("--repeats", type=int, default=3, help="Timing repeats (0: no timing).")
    args = parser.parse_args()
    model = MelodyModel.load(args.model)
    concepts = load_concepts(model)
    vectors = np.stack([concepts.vector(a) for a in ATTRIBUTES])
    spread = np.array([concepts.corpus_std[a] for a in ATTRIBUTES])
    amounts = np.linspace(-args.amount, args.amount, args.steps)
    print(f"steps: {'evenly spaced amounts' if args.oversample == 1 else f'chosen among {args.oversample}x as many'}")
    print(f"model {model.info.name} ({model.info.metadata_path}); concept vectors from "
          f"{model.info.metadata['concepts'].get('fitted_on', '?')}")
    print("corpus std: " + ", ".join(f"{a} {s:.4g}" for a, s in zip(ATTRIBUTES, spread)))
    tables = []
    for folder in args.data:
        windows, lengths = first_windows(model, folder, args.split)
        tables.append(sweeps(model, windows, lengths, vectors, amounts, args.oversample))
        report(f"{folder} ({args.split})", tables[-1], spread, amounts, len(windows))
    if len(tables) > 1:
        pooled = np.concatenate(tables, axis=1)
        report(f"all sources ({args.split})", pooled, spread, amounts, pooled.shape[1])
    if args.repeats:
        speed(args.model, model, args.repeats)


if __name__ == "__main__":
    main()
