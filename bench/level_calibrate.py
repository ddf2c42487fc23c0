"""Calibrate the shipped level model's decoding on its training corpus, and ship the corpus's statistics.

1. Per-tile logit biases (`decoding.tile_bias` in the model's metadata): sampled levels
   (the CLI's sampler, checks off for speed) are counted per 100 columns, and the bias of
   each calibrated tile moves by log(corpus rate / sampled rate), a few rounds, until
   enemies, coins and blocks (S, ? and Q, one bias) match the corpus's rates (gaps and
   pipes are already within 10%).
2. The corpus's `Reference` statistics (`reference` in the metadata: tile patterns, window
   hashes, linearity/leniency per level, counts), so `genmedia level eval DIR` needs no corpus.

For a conditional model (`--model smb-level-cvae`) the biases are per bin (`decoding.bin_bias`:
a window decoded with that bin gets them): for each bin but "none" of enemies (`E`), coins (`o`)
and blocks (`S ? Q`, one bias), levels are sampled asking for that bin in every window, and the
bias moves by log(corpus mean / sampled mean) of the attribute over the windows of that bin
(the corpus's windows at every offset), so a window asked for "some" enemies gets as many as the
corpus's "some" windows have. The other attributes already land in their bins without help.

    python bench/level_calibrate.py [--model NAME] [--corpus DIR] [--rounds 6] [--write]

Without `--write` it prints the table and changes nothing. Prints a table per round.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from genmedia.levels.metrics import Reference, per_100_columns
from genmedia.levels.model import LevelModel, sample_levels
from genmedia.levels.tiles import read_level
from genmedia.registry import get_model, write_metadata

CORPUS = Path(__file__).resolve().parents[2] / "shared/data/vglc/Super Mario Bros/Processed"
CALIBRATED = {"enemies": "E", "coins": "o", "blocks": "S?Q"}  # count -> the tiles whose bias moves it
STEP_CAP = 1.0  # nats: the most a bias moves in one round


def measure(model: LevelModel, *, count: int, width: int, seed: int) -> dict[str, float]:
    levels = sample_levels(model, count=count, width=width, seed=seed, check=False).levels
    return per_100_columns(levels)


BIN_CALIBRATED = {"enemies": "E", "coins": "o", "blocks": "S?Q", "pipes": "<>"}  # attribute -> its biased tiles


def calibrate_bins(model: LevelModel, corpus: list[np.ndarray], args) -> dict:
    """Per-bin biases of a conditional model (see the module docstring); returns decoding.bin_bias."""
    from genmedia.levels import attributes

    bins = model.bins
    pooled = {n: np.concatenate([attributes.sliding(lv, bins.window)[n] for lv in corpus]) for n in BIN_CALIBRATED}
    targets = {}
    for name in BIN_CALIBRATED:
        index = bins.index(name, pooled[name])
        for k, label in enumerate(attributes.LABELS[name][1:], start=1):
            targets[name, label] = float(pooled[name][index == k].mean())
    biases = dict.fromkeys(targets, 0.0)

    def apply() -> None:
        channel = {}
        offset = 0
        for name in bins.names:
            for label in attributes.LABELS[name]:
                channel[name, label] = offset
                offset += 1
        model.bin_bias[:] = 0.0
        for (name, label), nats in biases.items():
            for char in BIN_CALIBRATED[name]:
                model.bin_bias[model.tiles.chars.index(char), channel[name, label]] = nats

    print("| round | " + " | ".join(f"{n} {lab} (corpus {t:.2f}): mean, in bin" for (n, lab), t in targets.items())
          + " |")
    print("|---" * (len(targets) + 1) + "|")
    for rnd in range(args.rounds + 1):
        apply()
        cells = []
        for (name, label), target in targets.items():
            levels = sample_levels(model, count=args.count, width=args.width, seed=args.seed, check=False,
                                   request={name: [label]}).levels
            values = np.concatenate([attributes.measure(lv, bins.window)[name][: lv.shape[1] // bins.window]
                                     for lv in levels])
            inside = float((bins.index(name, values) == attributes.LABELS[name].index(label)).mean())
            cells.append(f"{values.mean():.2f}, {inside:.2f} (bias {biases[name, label]:+.2f})")
            if rnd < args.rounds:
                biases[name, label] += float(np.clip(np.log(target / max(values.mean(), 0.05)), -STEP_CAP, STEP_CAP))
        print(f"| {rnd} | " + " | ".join(cells) + " |", flush=True)
    out: dict = {}
    for (name, label), nats in biases.items():
        out.setdefault(name, {})[label] = {c: round(nats, 4) for c in BIN_CALIBRATED[name]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="level model name or metadata path (default: the default)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--width", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1234, help="sampling seed for calibration (not the bench's 0)")
    parser.add_argument("--write", action="store_true", help="store the biases and statistics in the metadata")
    args = parser.parse_args()
    corpus = [read_level(p) for p in sorted(args.corpus.glob("*.txt"))]
    reference = Reference.from_levels(corpus, source=f"{len(corpus)} training maps ({args.corpus.name})")
    target = reference.per_100
    model = LevelModel.load(args.model)
    model.tile_bias[:] = 0.0
    if model.conditional:
        bin_bias = calibrate_bins(model, corpus, args)
        if args.write:
            info = get_model(args.model, task="level")
            meta = json.loads(info.metadata_path.read_text())
            meta["decoding"] = {
                "bin_bias": bin_bias,
                "calibrated_with": f"python bench/level_calibrate.py --model {info.name} --rounds {args.rounds} "
                                   f"--count {args.count} --width {args.width} --seed {args.seed}: per bin, the mean "
                                   "count of windows asked for that bin (checks off) matched to the corpus's windows "
                                   "of that bin",
            }
            meta["reference"] = reference.to_json()
            write_metadata(info.metadata_path, meta, overwrite=True)
            print(f"recorded in {info.metadata_path}")
        return
    print("| round | " + " | ".join(f"{k} (corpus {target[k]:.2f})" for k in target) + " | biases |")
    print("|---" * (len(target) + 2) + "|")
    for rnd in range(args.rounds + 1):
        got = measure(model, count=args.count, width=args.width, seed=args.seed)
        biases = {c: round(float(model.tile_bias[model.tiles.chars.index(c)]), 3) for c in "".join(CALIBRATED.values())}
        print(f"| {rnd} | " + " | ".join(f"{got[k]:.2f}" for k in target) + f" | {biases} |")
        if rnd == args.rounds:
            break
        for count_name, chars in CALIBRATED.items():
            move = np.clip(np.log(target[count_name] / max(got[count_name], 1e-3)), -STEP_CAP, STEP_CAP)
            for char in chars:
                model.tile_bias[model.tiles.chars.index(char)] += move
    if args.write:
        info = get_model(args.model, task="level")
        meta = json.loads(info.metadata_path.read_text())
        meta["decoding"] = {
            "tile_bias": {c: round(float(model.tile_bias[model.tiles.chars.index(c)]), 4)
                          for c in "".join(CALIBRATED.values())},
            "calibrated_with": f"python bench/level_calibrate.py --rounds {args.rounds} --count {args.count} "
                               f"--width {args.width} --seed {args.seed}: enemies, coins and blocks per 100 columns of "
                               "sampled levels (checks off) matched to the training corpus's",
        }
        meta["reference"] = reference.to_json()
        write_metadata(info.metadata_path, meta, overwrite=True)
        print(f"recorded in {info.metadata_path}")


if __name__ == "__main__":
    main()
