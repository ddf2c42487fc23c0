"""Quality of the shipped level model, measured as the issue asks. Prints a table.

Samples 100 levels of 150 columns (seed 0) with `genmedia level sample`, scores them
with `genmedia level eval` against the SMB corpus, and for calibration scores the
corpus's first half (by name) against its second half and runs the checker on it.

    python bench/level_quality.py [--corpus DIR] [--record]

`--record` writes the figures into the model's metadata (`metrics`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from genmedia.levels.check import check_playable
from genmedia.levels.metrics import evaluate
from genmedia.levels.model import LevelModel
from genmedia.levels.tiles import read_level
from genmedia.registry import get_model, write_metadata
from genmedia.resources import resource_dir

CORPUS = Path(__file__).resolve().parents[2] / "shared/data/vglc/Super Mario Bros/Processed"
HELD_OUT = CORPUS.parents[1] / "Super Mario Bros 2 (Japan)/Processed"


def to_rows(level: np.ndarray, rows: int) -> np.ndarray:
    """Bottom-align a map to `rows` rows: crop sky from the top or pad it."""
    if level.shape[0] >= rows:
        return level[-rows:]
    return np.concatenate([np.full((rows - level.shape[0], level.shape[1]), ord("-"), np.uint8), level])


def structure_recall(model: LevelModel, levels: list[np.ndarray]) -> float:
    """Share of non-sky tiles that encode-then-decode (the morph's endpoints) reproduces."""
    hits = total = 0
    for level in levels:
        rebuilt = model.decode(model.encode(level)[None], width=level.shape[1])[0]
        solid = level != ord("-")
        hits += int((rebuilt[solid] == level[solid]).sum())
        total += int(solid.sum())
    return hits / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--record", action="store_true", help="store the figures in the model metadata")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        sample = ["genmedia", "level", "sample", "--count", "100", "--width", "150", "--seed", "0", "--no-png", "-o", out]
        if args.temperature is not None:
            sample += ["--temperature", str(args.temperature)]
        subprocess.run(sample, check=True)
        evaluated = subprocess.run(["genmedia", "level", "eval", out, "--reference", str(args.corpus), "--json"],
                                   check=True, capture_output=True, text=True)
    generated = json.loads(evaluated.stdout)
    paths = sorted(args.corpus.glob("*.txt"))
    corpus = [read_level(p) for p in paths]
    half = len(corpus) // 2
    calibration = evaluate(corpus[:half], corpus[half:]).to_dict()
    print("| metric | generated (100 x 150, seed 0) | corpus first half vs second half |")
    print("|---|---|---|")
    for key in ("playable", "broken_structures", "kl_2x2", "kl_3x3", "novelty", "diversity", "mean_linearity",
                "mean_leniency"):
        print(f"| {key} | {generated[key]} | {calibration[key]} |")
    model = LevelModel.load()
    held = [to_rows(read_level(p), model.rows) for p in sorted(HELD_OUT.glob("*.txt"))] if HELD_OUT.is_dir() else []
    held = [lv for lv in held if np.isin(lv, model.tiles.codes()).all()]
    examples = [read_level(p) for p in sorted((resource_dir("assets") / "levels").glob("*.txt"))]
    print("\nreconstruction (encode, then decode: a morph's endpoints), share of non-sky tiles reproduced:")
    print(f"  training maps ({len(corpus)}): {structure_recall(model, corpus):.3f}")
    print(f"  example maps in assets/levels ({len(examples)}): {structure_recall(model, examples):.3f}")
    if held:
        print(f"  held-out Super Mario Bros 2 (Japan) maps, bottom 14 rows ({len(held)}): "
              f"{structure_recall(model, held):.3f}")
    print("\ncorpus levels through the checker:")
    for path, level in zip(paths, corpus):
        print(f"  {path.name}: {check_playable(level).describe()}")
    if args.record:
        info = get_model(None, task="level")
        meta = json.loads(info.metadata_path.read_text())
        meta["metrics"] = {k: generated[k] for k in ("playable", "broken_structures", "kl_2x2", "kl_3x3",
                                                     "novelty", "diversity")}
        meta["metrics"]["measured_with"] = " ".join(sample[:-2] + ["-o", "OUT"]) + " && genmedia level eval OUT --json"
        write_metadata(info.metadata_path, meta, overwrite=True)
        print(f"recorded in {info.metadata_path}")


if __name__ == "__main__":
    main()
