"""Control of the conditional level model, measured as the issue asks. Prints tables.

Sampling: for every bin of every attribute (and unconditioned, a MarioGPT-style prompt, and a level
asked for in two parts), `genmedia level sample --model M --count 100 --width 150 --seed 0 --no-png
--ATTR BIN -o OUT`, then `genmedia level eval OUT --json`: control accuracy (the share of whole
16-column windows whose measured attribute lands in the bin asked for, read from the
level-NNN.json beside each level) with the figures of bench/level_quality.py (playability,
structure, tile-pattern KL, novelty, diversity; against the shipped corpus statistics).

Transform: the 100 unconditioned levels (seed 0), each transformed to every bin of every attribute,
as `genmedia level transform IN.txt --model M --ATTR BIN -o OUT.txt` does (through
`transform_level`, which that command calls, in one process): the share of whole windows whose
attribute is in the bin asked for (of all windows, and of those that had to change), the share of
the other non-sky tiles of IN that stay where they were (the attribute's own tiles left out:
E for enemies, `<>[]` for pipes, the bottom row for gaps, `S?Q` for blocks, `o` for coins, `X` for
elevation), and the share that pass the playability check.

Speed: `genmedia level sample --model M --count 100 --width 150 --seed 0` (checker and PNGs
included), unconditioned and with --enemies many, timed as whole processes.

    python bench/level_control.py [--model smb-level-cvae] [--count 100] [--no-transform]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from genmedia.levels import attributes
from genmedia.levels.check import check_playable
from genmedia.levels.model import LevelModel, SamplingError, transform_level
from genmedia.levels.tiles import read_level

QUALITY = ("playable", "broken_structures", "pipes_on_pipes", "no_start_floor", "kl_2x2", "kl_3x3", "novelty",
           "diversity")


def genmedia(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["genmedia", *args], capture_output=True, text=True)


def settings(model: LevelModel) -> list[tuple[str, list[str], str | None]]:
    """(label, sample options, the attribute:bin whose accuracy the row is about)."""
    rows = [("unconditioned", [], None)]
    for name in model.bins.names:
        rows += [(f"--{name} {label}", [f"--{name}", label], f"{name}:{label}") for label in attributes.LABELS[name]]
    rows.append(('--prompt "many pipes, no enemies, low elevation"',
                 ["--prompt", "many pipes, no enemies, low elevation"], None))
    rows.append(("--enemies none,many --gaps many,none (two parts)", ["--enemies", "none,many", "--gaps", "many,none"],
                 None))
    return rows


def sample_table(model: LevelModel, name: str, count: int, tmp: Path) -> Path:
    print(f"| setting ({count} levels x 150 columns, seed 0) | control accuracy | " + " | ".join(QUALITY) + " |")
    print("|---" * (len(QUALITY) + 2) + "|")
    shares, unconditioned = [], None
    for i, (label, options, focus) in enumerate(settings(model)):
        out = tmp / f"s{i}"
        done = genmedia("level", "sample", "--model", name, "--count", str(count), "--width", "150", "--seed", "0",
                        "--no-png", *options, "-o", str(out))
        if done.returncode:
            print(f"| {label} | failed: {done.stderr.strip().splitlines()[-1]} |")
            continue
        report = json.loads(genmedia("level", "eval", str(out), "--json").stdout)
        control = report.get("control", {})
        if focus:
            attr, bin_ = focus.split(":")
            accuracy = control[attr][bin_]["accuracy"]
            shares.append(accuracy)
            shown = f"{accuracy:.3f}"
        elif control:
            shown = f"mean {control['mean']:.3f}, lowest {control['lowest']:.3f}"
        else:
            others = report["control_others"]
            shown = f"(drawn bins: mean {others['mean']:.3f}, lowest {others['lowest']:.3f})"
        print(f"| {label} | {shown} | " + " | ".join(str(report[k]) for k in QUALITY) + " |", flush=True)
        if not options:
            unconditioned = out
    print(f"\ncontrol accuracy over the {len(shares)} single-bin settings: mean {np.mean(shares):.3f}, "
          f"lowest {np.min(shares):.3f} (targets: mean >= 0.80, every bin >= 0.60)")
    print(f"command per row: genmedia level sample --model {name} --count {count} --width 150 --seed 0 --no-png "
          "OPTIONS -o OUT && genmedia level eval OUT --json")
    return unconditioned


def own_tiles(level: np.ndarray, name: str) -> np.ndarray:
    mask = np.isin(level, [ord(c) for c in attributes.TILES[name]])
    if name == "gaps":
        mask[-1] = True
    return mask


def transform_table(model: LevelModel, name: str, folder: Path) -> None:
    inputs = [read_level(p) for p in sorted(folder.glob("*.txt"))]
    print(f"\n| transform {len(inputs)} unconditioned levels to | windows in the bin | of those that had to move "
          "| other non-sky tiles kept | playable |")
    print("|---|---|---|---|---|")
    moved_all, kept_all = [], []
    for attr in model.bins.names:
        column = model.bins.names.index(attr)
        for k, label in enumerate(attributes.LABELS[attr]):
            hit = total = moved = needed = kept = others = playable = 0
            for level in inputs:
                whole = level.shape[1] // model.bins.window
                before = model.bins.bin_level(level)[:whole, column]
                try:
                    out = transform_level(model, level, request={attr: [label]}).level
                except SamplingError:
                    total += whole
                    needed += int((before != k).sum())
                    continue
                playable += check_playable(out).playable
                got = model.bins.bin_level(out)[:whole, column]
                hit += int((got == k).sum())
                total += whole
                moved += int(((got == k) & (before != k)).sum())
                needed += int((before != k).sum())
                mask = (level != ord("-")) & ~own_tiles(level, attr)
                kept += int((out[mask] == level[mask]).sum())
                others += int(mask.sum())
            moved_all.append(hit / total)
            kept_all.append(kept / others)
            print(f"| --{attr} {label} | {hit / total:.3f} | {moved / max(1, needed):.3f} ({needed} windows) | "
                  f"{kept / others:.3f} | {playable}/{len(inputs)} |", flush=True)
    print(f"\ntransform over {len(moved_all)} settings: windows in the bin mean {np.mean(moved_all):.3f}, lowest "
          f"{np.min(moved_all):.3f}; other tiles kept mean {np.mean(kept_all):.3f}, lowest {np.min(kept_all):.3f} "
          "(targets: >= 0.80 in the bin while >= 0.70 kept)")
    print(f"command per level: genmedia level transform IN.txt --model {name} --ATTR BIN -o OUT.txt")


def speed(name: str, tmp: Path) -> None:
    print("\n| whole command (checker and PNGs included) | seconds |\n|---|---|")
    for options in ([], ["--enemies", "many"], ["--prompt", "many pipes, no enemies, low elevation"]):
        out = tmp / f"speed{len(options)}"
        started = time.perf_counter()
        genmedia("level", "sample", "--model", name, "--count", "100", "--width", "150", "--seed", "0", *options,
                 "-o", str(out))
        shown = " ".join(f'"{o}"' if " " in o else o for o in options)
        print(f"| genmedia level sample --model {name} --count 100 --width 150 --seed 0 {shown} | "
              f"{time.perf_counter() - started:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smb-level-cvae")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--no-transform", action="store_true")
    args = parser.parse_args()
    model = LevelModel.load(args.model)
    print("bins per 16-column window: " + "; ".join(f"{n}: {model.bins.describe(n)}" for n in model.bins.names))
    print()
    with tempfile.TemporaryDirectory() as tmp:
        unconditioned = sample_table(model, args.model, args.count, Path(tmp))
        if not args.no_transform and unconditioned is not None:
            transform_table(model, args.model, unconditioned)
        speed(args.model, Path(tmp))


if __name__ == "__main__":
    main()
