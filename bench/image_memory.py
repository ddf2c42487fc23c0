"""Peak memory (RSS) and speed of `genmedia image denoise` on one large photo. Prints a table.

    python bench/image_memory.py [--megapixels 40] [--format jpg] [--tile 1024] [--noise white|coarse]

Makes a noisy color picture of about `--megapixels` (the demo landscape tiled, plus sigma 20
white noise, or with `--noise coarse` camera-like noise: RMS 5 per channel, blurred by 1.5 pixels,
which the blind path reads with its second look and denoises with the pixel-shuffle pass too),
denoises it in a fresh process and reads that process's peak resident set size.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from genmedia.resources import resource_dir
from genmedia.training.degrade import coarse_noise


def make_photo(path: Path, megapixels: float, noise: str = "white") -> tuple[int, int]:
    base = np.asarray(Image.open(resource_dir("assets") / "images" / "landscape-clean.png").convert("RGB"))
    width = int(math.sqrt(megapixels * 1e6 * 3 / 2))
    height = int(megapixels * 1e6 / width)
    reps = (math.ceil(height / base.shape[0]), math.ceil(width / base.shape[1]), 1)
    big = np.tile(base, reps)[:height, :width]
    rng = np.random.default_rng(0)
    for y in range(0, height, 1024):  # add noise in strips to keep this script's own memory low
        shape = big[y:y + 1024].shape
        if noise == "white":
            added = rng.standard_normal(shape, np.float32) * 20
        else:
            added = np.stack([coarse_noise(rng.standard_normal(shape[:2], np.float32), 1.5) * 5
                              for _ in range(shape[2])], axis=2)
        strip = big[y:y + 1024].astype(np.float32) + added
        big[y:y + 1024] = np.clip(np.rint(strip), 0, 255).astype(np.uint8)
    Image.fromarray(big).save(path, quality=92)
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, default=40.0)
    parser.add_argument("--format", default="jpg", choices=["jpg", "png", "tif"])
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--noise", default="white", choices=["white", "coarse"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"big.{args.format}"
        width, height = make_photo(src, args.megapixels, args.noise)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "genmedia", "image", "denoise", str(src), "-o", str(Path(tmp) / "out"),
                        "--tile", str(args.tile), "--quiet"], check=True)
        seconds = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    mp = width * height / 1e6
    print("| image | noise | tile | peak RSS | wall time | s/MP |")
    print("|---|---|---|---|---|---|")
    print(f"| {width}x{height} {args.format} ({mp:.1f} MP, color) | {args.noise} | {args.tile} | "
          f"{peak_kib / 1024**2:.2f} GiB | {seconds:.1f} s | {seconds / mp:.2f} |")


if __name__ == "__main__":
    main()
