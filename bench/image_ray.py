"""Throughput of `genmedia image denoise` on one machine: local `--jobs 1`, `--jobs 2`, and `--ray`
on a local Ray cluster of 2 CPUs (one actor per CPU, as `--ray` sizes its pool), same images.

    pip install '.[ray]'
    python bench/image_ray.py [--images DIR] [--count 12] [--megapixels 1.0] [--repeats 2]

Without `--images`, `--count` synthetic noisy pictures of `--megapixels` each (shaded shapes and
texture, Gaussian noise of sigma 20, PNG) are written to a temporary folder. Every configuration
runs as a fresh `genmedia` process into its own output folder. "batch" is what the command's own
summary measures (from the first file to the last, model loading and actor start-up included);
"command" is the whole process, Ray's cluster start-up and shutdown included. The Ray run starts
its cluster in the command's process (`ray.init(num_cpus=2)`, then `--ray` joins it), so it
takes 2 CPUs however many the machine has. The configurations take turns, `--repeats` rounds,
and each row gives its best round (the least disturbed by whatever else runs on the machine).
The outputs of all three are checked to be identical.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

RAY_DRIVER = ("import logging, sys, ray\n"
              "ray.init(address='local', num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,"
              " log_to_driver=False)\n"
              "from genmedia.cli import main\n"
              "sys.argv = ['genmedia', *sys.argv[1:]]\n"
              "main()\n")
SUMMARY = re.compile(r"done (\d+).*?; ([\d.]+) MP in ([\d.]+) s")


def picture(height: int, width: int, seed: int) -> np.ndarray:
    """A noisy synthetic photo: smooth shading, hard-edged discs, a striped patch, noise of sigma 20."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width].astype(np.float32)
    img = np.stack([90 + 60 * np.sin(x / 53), 120 + 50 * np.cos(y / 37), 100 + 80 * x / width], axis=-1)
    for _ in range(12):
        cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(20, 120)
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.integers(20, 235, 3)
    img[: height // 3, : width // 3] += 25 * np.sign(np.sin(x[: height // 3, : width // 3] / 3))[..., None]
    img += rng.normal(0, 20, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_images(folder: Path, count: int, megapixels: float) -> None:
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(megapixels * 1e6 / width))
    for i in range(count):
        Image.fromarray(picture(height, width, seed=i)).save(folder / f"noisy-{i:03d}.png")


def run(label: str, command: list[str], out: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([*command, "-o", str(out)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = SUMMARY.search(proc.stderr)
    if proc.returncode != 0 or match is None:
        sys.exit(f"{label} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {"label": label, "files": int(match[1]), "mp": float(match[2]), "batch": float(match[3]), "wall": wall}


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None, help="A folder of images (default: synthetic ones).")
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2, help="Rounds; each row is its configuration's best.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        images = args.images
        if images is None:
            images = tmp_path / "in"
            images.mkdir()
            make_images(images, args.count, args.megapixels)
        base = ["genmedia", "image", "denoise", str(images)]
        configs = [("local --jobs 1", [*base, "--jobs", "1"]), ("local --jobs 2", [*base, "--jobs", "2"]),
                   ("--ray (2 CPUs, 2 actors)", [sys.executable, "-c", RAY_DRIVER, *base[1:], "--ray"])]
        rounds = [[run(label, command, tmp_path / f"out-{i}-{k}") for i, (label, command) in enumerate(configs)]
                  for k in range(args.repeats)]
        same = len({tuple(sorted(digest(p).items())) for p in tmp_path.glob("out-*")}) == 1
        rows = [min((r[i] for r in rounds), key=lambda row: row["batch"]) for i in range(len(configs))]
        walls = [min(r[i]["wall"] for r in rounds) for i in range(len(configs))]
        for row, wall in zip(rows, walls):
            row["wall"] = wall

    print(f"{rows[0]['files']} images, {rows[0]['mp']:.1f} MP in all; best of {args.repeats} rounds; "
          f"outputs identical: {'yes' if same else 'NO'}")
    print("| configuration | batch s | batch MP/s | batch s/MP | command s | command MP/s |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['label']} | {row['batch']:.1f} | {row['mp'] / row['batch']:.3f} "
              f"| {row['batch'] / row['mp']:.2f} | {row['wall']:.1f} | {row['mp'] / row['wall']:.3f} |")
    ratio = (rows[2]["mp"] / rows[2]["batch"]) / (rows[1]["mp"] / rows[1]["batch"])
    print(f"Ray's batch throughput is {ratio:.0%} of --jobs 2's")


if __name__ == "__main__":
    main()
