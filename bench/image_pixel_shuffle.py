"""How the pixel-shuffle pass's settings were chosen: a grid over its grain threshold, level and
share on the two color validation sets, scored as gain over the direct pass alone. Prints tables.

    python bench/image_pixel_shuffle.py [--limit N] [--top 12]

The sets (validation only; nothing here touches a test set):
- PolyU's 62 real noisy camera crops with their clean references (`../shared/data/images/polyu-val`);
- the held-out cbsd432 images (crc32(file name) % 10 == 0, as training holds them out) through the
  seeded camera pipeline (`genmedia.training.degrade.camera_image`, seed crc32(file name)).

Every image is read blind (`Denoiser.read_noise`); images whose level the second look did not set
(or set under `SHUFFLE_MIN_LEVEL`) never take the pass and count as 0 gain. For the others the
direct pass at the reading's level and the stride-2 pass (`Denoiser.pixel_shuffle_pass`) at LEVEL x
that level are mixed, (1 - SHARE) x direct + SHARE x shuffled, in float before one rounding, as
`Denoiser.denoise` does; an image takes the pass where its grain is at least THRESHOLD. The gain is
the PSNR over the direct pass alone, averaged over all images of a set; the choice is the largest
sum of the two sets' gains (`genmedia.image.denoise.GRAIN_COARSE`, `SHUFFLE_LEVEL`,
`SHUFFLE_SHARE`). About 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from image_real import IMAGES, Case, polyu_cases

from genmedia.image.denoise import SHUFFLE_MIN_LEVEL, Denoiser
from genmedia.image.evaluate import psnr
from genmedia.training.degrade import camera_image

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55)
LEVELS = (0.75, 1.0, 1.5, 2.0)
SHARES = (0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


def held_out_camera_cases(limit: int | None) -> list[Case]:
    files = [p for p in sorted((IMAGES / "cbsd432").iterdir()) if zlib.crc32(p.name.encode()) % 10 == 0][:limit]
    cases = []
    for path in files:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        noisy, clean = camera_image(rgb, seed=zlib.crc32(path.name.encode()))
        cases.append((path.name, noisy, clean))
    return cases


def gains(denoiser: Denoiser, cases: list[Case]) -> list[tuple[float, dict[tuple[float, float], float]]]:
    """Per image: its grain (-inf where the second look did not set the level) and the gain of each
    (level, share) over the direct pass."""
    rows = []
    for _, noisy, clean in cases:
        reading = denoiser.read_noise(noisy)
        if reading.method != "second look" or reading.grain is None or reading.level < SHUFFLE_MIN_LEVEL:
            rows.append((-np.inf, {}))
            continue
        image = noisy.astype(np.float32) / 255
        level = min(reading.level, denoiser.sigma_max)
        direct = denoiser.denoise(image, sigma=level)
        base = psnr(clean, np.rint(direct * 255))
        table = {}
        for scale in LEVELS:
            other = denoiser.pixel_shuffle_pass(image, scale * level).astype(np.float32)
            for share in SHARES:
                mixed = (1 - share) * direct + share * other
                table[(scale, share)] = psnr(clean, np.rint(np.clip(mixed, 0, 1) * 255)) - base
        rows.append((reading.grain, table))
    return rows


def mean_gain(rows: list[tuple[float, dict[tuple[float, float], float]]], threshold: float,
              key: tuple[float, float]) -> float:
    return float(np.mean([table[key] if grain >= threshold else 0.0 for grain, table in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N images of each set.")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    denoiser = Denoiser.load(None)
    polyu = gains(denoiser, polyu_cases(args.limit))
    camera = gains(denoiser, held_out_camera_cases(args.limit))
    for name, rows in (("PolyU", polyu), ("cbsd432 held out, camera pipeline", camera)):
        grains = np.array([g for g, _ in rows if np.isfinite(g)])
        print(f"{name}: {len(rows)} images, {len(grains)} set by the second look, grain "
              f"{grains.min():.2f}-{grains.max():.2f} (median {np.median(grains):.2f})")
    results = []
    for threshold in THRESHOLDS:
        for key in ((scale, share) for scale in LEVELS for share in SHARES):
            p, c = mean_gain(polyu, threshold, key), mean_gain(camera, threshold, key)
            results.append((p + c, threshold, key, p, c))
    results.sort(key=lambda r: r[0], reverse=True)
    print("\n| threshold | level x | share | PolyU gain dB | camera copies gain dB | sum |")
    print("|---|---|---|---|---|---|")
    for total, threshold, (scale, share), p, c in results[:args.top]:
        print(f"| {threshold:g} | {scale:g} | {share:g} | {p:+.3f} | {c:+.3f} | {total:+.3f} |")


if __name__ == "__main__":
    main()
