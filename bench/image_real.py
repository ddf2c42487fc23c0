"""Real and camera-like noise: genmedia blind, genmedia with a given level, OpenCV's non-local means
at its best fixed h, and the `bm3d` package on a subset, side by side (PSNR dB / SSIM).

    pip install -r bench/requirements.txt   # opencv-python-headless and bm3d: the bench only
    python bench/image_real.py [--sets polyu,cbsd68,bsd68] [--limit N] [--bm3d-count 6] [--skip-bm3d] [--skip-nlm]

The sets:
- polyu: ../shared/data/images/polyu-val, 62 real noisy camera JPEGs (`real/`) with clean references
  (`mean/`, the mean of many shots). Validation and reporting only.
- cbsd68 / bsd68: the test sets put through genmedia's camera pipeline (genmedia.training.degrade:
  Poisson-Gaussian sensor noise on an RGGB mosaic, bilinear demosaicing, white balance, colour
  correction, tone curve and gamma, sharpening in half the draws, 8 bits, JPEG at quality 60-95
  with 4:2:0 or 4:4:4 chroma in three draws of four; no resizing). Each image's draw is seeded by
  a hash of its file name (`camera_image(clean, seed=crc32(name))`), so every run sees the same
  noisy images. bsd68 goes through the same pipeline and is made gray (luma) before 8 bits and JPEG.
  Test sets: nothing is chosen with them; the fixed h and levels below are the best per set, which
  favours NLM and the given-level rows, not genmedia blind.

"best fixed" means the one value, from a small grid, that gives the best mean PSNR over the set
(not per image). bm3d runs on the first `--bm3d-count` images of each set only (it takes about a
minute per color megapixel), with its own best fixed sigma; its row gives genmedia blind on the
same subset beside it.
"""

from __future__ import annotations

import argparse
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from genmedia.image.denoise import Denoiser
from genmedia.image.evaluate import psnr, ssim
from genmedia.image.noise import estimate_sigma
from genmedia.training.degrade import camera_image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT.parent / "shared" / "data" / "images"
NLM_H = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20)
LEVELS = (2, 5, 10, 15, 20, 30)
BM3D_SIGMA = (3, 6, 10, 15)

Case = tuple[str, np.ndarray, np.ndarray]  # name, noisy, clean (uint8 (H, W, C))


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        array = np.asarray(im.convert("L" if im.mode in ("L", "I;16", "1") else "RGB"))
    return array[..., None] if array.ndim == 2 else array


def polyu_cases(limit: int | None) -> list[Case]:
    real = sorted((IMAGES / "polyu-val" / "real").iterdir())[:limit]
    return [(p.name, _read(p), _read(IMAGES / "polyu-val" / "mean" / p.name)) for p in real]


def camera_cases(folder: str, limit: int | None) -> list[Case]:
    files = sorted((IMAGES / folder).iterdir())[:limit]
    cases = []
    for path in files:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        noisy, clean = camera_image(rgb, seed=zlib.crc32(path.name.encode()), gray=folder == "bsd68")
        cases.append((path.name, noisy, clean))
    return cases


def score(cases: list[Case], fn: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float, float]:
    """Mean PSNR, mean SSIM and seconds per megapixel of `fn(noisy) -> uint8` over `cases`."""
    scores, seconds, mp = [], 0.0, 0.0
    for _, noisy, clean in cases:
        start = time.perf_counter()
        out = fn(noisy)
        seconds += time.perf_counter() - start
        mp += clean.shape[0] * clean.shape[1] / 1e6
        scores.append((psnr(clean, out), ssim(clean, out)))
    mean = np.mean(scores, axis=0)
    return float(mean[0]), float(mean[1]), seconds / mp


def best_fixed(cases: list[Case], make: Callable[[float], Callable], grid: tuple) -> tuple[float, tuple]:
    """The grid value with the best mean PSNR over `cases`, and its (PSNR, SSIM, s/MP)."""
    results = {value: score(cases, make(value)) for value in grid}
    value = max(results, key=lambda v: results[v][0])
    return value, results[value]


def nlm(h: float) -> Callable[[np.ndarray], np.ndarray]:
    import cv2

    def run(x: np.ndarray) -> np.ndarray:
        if x.shape[2] == 1:
            return cv2.fastNlMeansDenoising(x[..., 0], None, h=h, templateWindowSize=7, searchWindowSize=21)[..., None]
        return cv2.fastNlMeansDenoisingColored(x, None, h=h, hColor=h, templateWindowSize=7, searchWindowSize=21)
    return run


def bm3d_at(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    import bm3d

    def run(x: np.ndarray) -> np.ndarray:
        scaled = x.astype(np.float64) / 255.0
        out = (bm3d.bm3d(scaled[..., 0], sigma_psd=sigma / 255.0)[..., None] if x.shape[2] == 1
               else bm3d.bm3d_rgb(scaled, sigma_psd=sigma / 255.0))
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="polyu,cbsd68,bsd68")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N images of each set.")
    parser.add_argument("--bm3d-count", type=int, default=6)
    parser.add_argument("--skip-bm3d", action="store_true")
    parser.add_argument("--skip-nlm", action="store_true")
    parser.add_argument("--model", default=None, help="A denoising model name or .json path (default: shipped).")
    args = parser.parse_args()

    denoiser = Denoiser.load(args.model)
    print(f"cpus {os.cpu_count()}; model {denoiser.info.name} ({denoiser.info.metadata_path})")
    print("| set | method | PSNR dB | SSIM | s/MP |")
    print("|---|---|---|---|---|")
    for name in args.sets.split(","):
        cases = polyu_cases(args.limit) if name == "polyu" else camera_cases(name, args.limit)

        def row(method: str, result: tuple[float, float, float], which: str = name) -> None:
            print(f"| {which} | {method} | {result[0]:.2f} | {result[1]:.4f} | {result[2]:.3f} |", flush=True)

        row("noisy input", score(cases, lambda x: x))
        row("genmedia, blind", score(cases, lambda x: denoiser.denoise(x)))
        direct = score(cases, lambda x: denoiser.denoise(x, sigma=denoiser.estimate(x)))
        row("genmedia, blind without the pixel-shuffle pass", direct)
        patch_only = score(cases, lambda x: denoiser.denoise(x, sigma=estimate_sigma(x)))
        row("genmedia, blind without the second look", patch_only)
        level, result = best_fixed(cases, lambda s: (lambda x: denoiser.denoise(x, sigma=s)), LEVELS)
        row(f"genmedia, best fixed --noise-level ({level:g})", result)
        try:
            if not args.skip_nlm:
                h, result = best_fixed(cases, nlm, NLM_H)
                row(f"OpenCV fastNlMeans, best fixed h ({h:g})", result)
        except ImportError:
            print("opencv-python-headless is not installed: pip install -r bench/requirements.txt")
        if args.skip_bm3d:
            continue
        subset = cases[:args.bm3d_count]
        which = f"{name} (first {len(subset)})"
        try:
            sigma, result = best_fixed(subset, bm3d_at, BM3D_SIGMA)
            row(f"bm3d, best fixed sigma ({sigma:g})", result, which)
            row("genmedia, blind", score(subset, lambda x: denoiser.denoise(x)), which)
        except ImportError:
            print("bm3d is not installed: pip install -r bench/requirements.txt")


if __name__ == "__main__":
    main()
