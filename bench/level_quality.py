"""Quality of the shipped level model, measured as the issue asks. Prints tables.

Samples 100 levels of 150 columns (seed 0) with `genmedia level sample`, checks them with
`genmedia level check --thorough`, scores them with `genmedia level eval` (the shipped corpus
statistics), morphs corpus pairs and sampled pairs in 7 steps with `genmedia level
interpolate`, and runs the checks on the 15 corpus levels, comparing the routes found with
VGLC's annotated paths. For calibration it also scores the corpus's first half (by name)
against its second half.

    python bench/level_quality.py [--model NAME] [--corpus DIR] [--frame-level] [--record]

`--frame-level` also runs the frame-by-frame search alone (without the fast search first) on
the 100 sampled levels (about a minute). `--record` writes the figures into the model's metadata.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from genmedia.levels import physics, search
from genmedia.levels.check import check_playable, solid_mask
from genmedia.levels.metrics import evaluate, leniency, linearity
from genmedia.levels.model import LevelModel
from genmedia.levels.tiles import read_level
from genmedia.registry import get_model, write_metadata
from genmedia.resources import resource_dir

CORPUS = Path(__file__).resolve().parents[2] / "shared/data/vglc/Super Mario Bros/Processed"
HELD_OUT = CORPUS.parents[1] / "Super Mario Bros 2 (Japan)/Processed"
SAMPLE = ["genmedia", "level", "sample", "--count", "100", "--width", "150", "--seed", "0", "--no-png", "-o"]


def to_rows(level: np.ndarray, rows: int) -> np.ndarray:
    """Bottom-align a map to `rows` rows: crop sky from the top or pad it."""
    if level.shape[0] >= rows:
        return level[-rows:]
    return np.concatenate([np.full((rows - level.shape[0], level.shape[1]), ord("-"), np.uint8), level])


def structure_recall(model: LevelModel, levels: list[np.ndarray]) -> float:
    """Share of non-sky tiles that encode-then-decode (the morph's endpoints) reproduces."""
    hits = total = 0
    for level in levels:
        z = model.encode(level)
        cond = model.condition(model.bins.bin_level(level), z.shape[1])[None] if model.conditional else None
        rebuilt = model.decode(z[None], width=level.shape[1], cond=cond)[0]
        solid = level != ord("-")
        hits += int((rebuilt[solid] == level[solid]).sum())
        total += int(solid.sum())
    return hits / total


def genmedia(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["genmedia", *args], capture_output=True, text=True)


def route_overlap(level: np.ndarray, actions: tuple[int, ...], annotated: np.ndarray) -> float:
    """Share of annotated columns where the route's feet pass within one row of an annotated path tile."""
    won, states = physics.replay(physics.Level(solid_mask(level)), list(actions))
    rows: dict[int, set[int]] = {}
    for m in states:
        rows.setdefault(int(m.x // physics.TILE), set()).add(int(m.y // physics.TILE))
    marked = annotated == ord("x")
    columns = [c for c in range(level.shape[1]) if marked[:, c].any()]
    near = [c for c in columns if any(abs(r - a) <= 1 for r in rows.get(c, ()) for a in np.flatnonzero(marked[:, c]))]
    return len(near) / max(1, len(columns))


def morphs(pairs: list[tuple[Path, Path]], out: Path, model: list[str]) -> tuple[int, int, int]:
    """(steps playable by the thorough check, steps, steps repaired) over 7-step morphs of the pairs."""
    playable = total = repaired = 0
    for i, (a, b) in enumerate(pairs):
        done = genmedia("level", "interpolate", str(a), str(b), *model, "--steps", "7", "-o", str(out / f"m{i}"))
        if done.returncode:
            total += 7
            print(f"  {a.name} -> {b.name}: {done.stderr.strip()}")
            continue
        note = done.stderr.split("; ", 1)[1].split(" failed")[0] if "failed the" in done.stderr else ""
        repaired += len(note.replace("steps ", "").replace("step ", "").split(", ")) if note else 0
        for step in sorted((out / f"m{i}").glob("step-*.txt")):
            total += 1
            playable += check_playable(read_level(step), thorough=True).playable
    return playable, total, repaired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="level model name or metadata path (default: the default)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--frame-level", action="store_true", help="also run the frame-level search alone")
    parser.add_argument("--record", action="store_true", help="store the figures in the model metadata")
    args = parser.parse_args()
    paths = sorted(args.corpus.glob("*.txt"))
    corpus = [read_level(p) for p in paths]
    model = ["--model", args.model] if args.model else []
    sample = [*SAMPLE[:3], *model, *SAMPLE[3:]]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "levels"
        subprocess.run([*sample, str(out)], check=True)
        generated = json.loads(genmedia("level", "eval", str(out), "--json").stdout)
        sampled_paths = sorted(out.glob("*.txt"))
        checked = genmedia("level", "check", "--thorough", *map(str, sampled_paths))
        thorough = sum(line.endswith(": playable") for line in checked.stdout.splitlines())
        frame_level = None
        if args.frame_level:
            frame_level = sum(search.search(physics.Level(solid_mask(read_level(p))), search.THOROUGH).won
                              for p in sampled_paths)
        corpus_pairs = list(zip(paths[:7], paths[1:8]))
        sampled_pairs = [(sampled_paths[2 * i], sampled_paths[2 * i + 1]) for i in range(7)]
        morph_corpus = morphs(corpus_pairs, Path(tmp) / "mc", model)
        morph_sampled = morphs(sampled_pairs, Path(tmp) / "ms", model)
        sampled = [read_level(p) for p in sampled_paths]
    half = len(corpus) // 2
    calibration = evaluate(corpus[:half], corpus[half:]).to_dict()
    print("| metric | generated (100 x 150, seed 0) | corpus first half vs second half |")
    print("|---|---|---|")
    print(f"| completed by `level check --thorough` | {thorough}/100 | |")
    if frame_level is not None:
        print(f"| completed by the frame-level search alone | {frame_level}/100 | |")
    for key in ("playable", "broken_structures", "pipes_on_pipes", "no_start_floor", "kl_2x2", "kl_3x3", "novelty",
                "diversity", "mean_linearity", "mean_leniency"):
        print(f"| {key} | {generated[key]} | {calibration[key]} |")
    print("\n| per 100 columns | generated | corpus | generated / corpus |")
    print("|---|---|---|---|")
    for key, ref in generated["reference_per_100_columns"].items():
        got = generated["per_100_columns"][key]
        print(f"| {key} | {got:.2f} | {ref:.2f} | {got / ref:.2f} |")
    print("\n| expressive range | linearity min..max | leniency min..max |")
    print("|---|---|---|")
    for name, levels in (("corpus", corpus), ("generated", sampled)):
        lin, len_ = [linearity(lv) for lv in levels], [leniency(lv) for lv in levels]
        print(f"| {name} | {min(lin):.3f}..{max(lin):.3f} | {min(len_):.3f}..{max(len_):.3f} |")
    print("\n| 7-step morphs | steps playable (thorough) | steps repaired |")
    print("|---|---|---|")
    for name, (ok, total, fixed) in (("corpus pairs (7)", morph_corpus), ("sampled pairs (7)", morph_sampled)):
        print(f"| {name} | {ok}/{total} | {fixed} |")
    corpus_table(paths, corpus, args.corpus.parent / "Paths")
    reconstruction(corpus, args.model)
    if args.record:
        info = get_model(args.model, task="level")
        meta = json.loads(info.metadata_path.read_text())
        meta["metrics"] = {k: generated[k] for k in ("playable", "broken_structures", "pipes_on_pipes",
                                                     "no_start_floor", "kl_2x2", "kl_3x3", "novelty", "diversity")}
        meta["metrics"]["thorough_completed"] = thorough / 100
        meta["metrics"]["measured_with"] = (" ".join(sample + ["OUT"]) + " && genmedia level eval OUT --json && "
                                            "genmedia level check --thorough OUT/*.txt (python bench/level_quality.py"
                                            + (f" --model {args.model}" if args.model else "") + ")")
        write_metadata(info.metadata_path, meta, overwrite=True)
        print(f"recorded in {info.metadata_path}")


def corpus_table(paths: list[Path], corpus: list[np.ndarray], annotated_dir: Path) -> None:
    print("\n| corpus level | fast check | thorough check | annotated path: route within 1 row |")
    print("|---|---|---|---|")
    for path, level in zip(paths, corpus):
        fast = check_playable(level)
        strict = fast if fast.playable else check_playable(level, thorough=True)
        note = annotated_dir / f"{path.stem}_Annotated_Path.txt"
        overlap = (f"{route_overlap(level, strict.actions, read_level(note)):.2f}"
                   if note.is_file() and strict.playable else "-")
        print(f"| {path.stem} | {fast.describe()} | {strict.describe()} | {overlap} |")


def reconstruction(corpus: list[np.ndarray], name: str | None = None) -> None:
    model = LevelModel.load(name)
    held = [to_rows(read_level(p), model.rows) for p in sorted(HELD_OUT.glob("*.txt"))] if HELD_OUT.is_dir() else []
    held = [lv for lv in held if np.isin(lv, model.tiles.codes()).all()]
    examples = [read_level(p) for p in sorted((resource_dir("assets") / "levels").glob("*.txt"))]
    print("\nreconstruction (encode, then decode: a morph's endpoints), share of non-sky tiles reproduced:")
    print(f"  training maps ({len(corpus)}): {structure_recall(model, corpus):.3f}")
    print(f"  example maps in assets/levels ({len(examples)}): {structure_recall(model, examples):.3f}")
    if held:
        print(f"  held-out Super Mario Bros 2 (Japan) maps, bottom 14 rows ({len(held)}): "
              f"{structure_recall(model, held):.3f}")


if __name__ == "__main__":
    main()
