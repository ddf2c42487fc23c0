"""Calibrate the shipped level model's decoding on its training corpus, and ship the corpus's statistics.

1. Per-tile logit biases (`decoding.tile_bias` in the model's metadata): sampled levels
   (the CLI's sampler, checks off for speed) are counted per 100 columns, and the bias of
   each calibrated tile moves by log(corpus rate / sampled rate), a few rounds, until
   enemies and coins match the corpus's rates (the other counts are already within 30%).
2. The corpus's `Reference` statistics (`reference` in the metadata: tile patterns, window
   hashes, linearity/leniency per level, counts), so `genmedia level eval DIR` needs no corpus.

    python bench/level_calibrate.py [--corpus DIR] [--rounds 6] [--write]

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
CALIBRATED = {"enemies": "E", "coins": "o"}  # count -> the tiles whose bias moves it
STEP_CAP = 1.0  # nats: the most a bias moves in one round


def measure(model: LevelModel, *, count: int, width: int, seed: int) -> dict[str, float]:
    levels = sample_levels(model, count=count, width=width, seed=seed, check=False).levels
    return per_100_columns(levels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
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
    model = LevelModel.load()
    model.tile_bias[:] = 0.0
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
        info = get_model(None, task="level")
        meta = json.loads(info.metadata_path.read_text())
        meta["decoding"] = {
            "tile_bias": {c: round(float(model.tile_bias[model.tiles.chars.index(c)]), 4)
                          for c in "".join(CALIBRATED.values())},
            "calibrated_with": f"python bench/level_calibrate.py --rounds {args.rounds} --count {args.count} "
                               f"--width {args.width} --seed {args.seed}: enemies and coins per 100 columns of "
                               "sampled levels (checks off) matched to the training corpus's",
        }
        meta["reference"] = reference.to_json()
        write_metadata(info.metadata_path, meta, overwrite=True)
        print(f"recorded in {info.metadata_path}")


if __name__ == "__main__":
    main()
