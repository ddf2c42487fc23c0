"""How much a better noise level could still give the blind denoiser on the two color validation
sets, and what two blind refinements of the level give. Prints tables.

    python bench/image_level_oracle.py [--limit N]

The sets are those `bench/image_pixel_shuffle.py` uses (validation only): PolyU's 62 real crops and
the held-out cbsd432 images through the seeded camera pipeline. Each image is read blind
(`Denoiser.read_noise`) and denoised as `Denoiser.denoise` does (pixel-shuffle pass included) with
its level scaled by each of SCALES. From those outputs:
- "blind": the level as read (scale 1), what `image denoise` does;
- "each scale": every image at that scale;
- "best scale per image": an oracle that knows the clean image;
- "best scale per brightness bin": an oracle choosing a scale for each of 8 brightness bins of each image
  (and so also per region: an upper bound on a brightness-dependent level);
- "brightness profile": a blind brightness-dependent level. The residual of the blind output is
  spread in the flattest 30% of each of 8 brightness bins, made relative to its geometric mean,
  raised to ALPHA, and turned into a scale per pixel between the outputs;
- "second reading": a blind re-read of the level on the output at scale S with gain G, as the second
  look reads (1.4826 x MAD of the flattest 30% of what was removed).
Only images the second look read count (the others are not changed by these scales' meaning). The
two sets want opposite moves (PolyU more, the camera copies less), which is why none of this
ships. About 6 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from image_pixel_shuffle import held_out_camera_cases
from image_real import Case, polyu_cases

from genmedia.image.denoise import Denoiser
from genmedia.image.evaluate import psnr

SCALES = (0.6, 0.8, 1.0, 1.25, 1.6, 2.0)
BINS = 8


def _spread(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _flat_spread(removed: np.ndarray, luma: np.ndarray, where: np.ndarray | None = None) -> float:
    gradient = np.abs(np.diff(luma, axis=0))[:, :-1] + np.abs(np.diff(luma, axis=1))[:-1, :]
    removed = removed[:-1, :-1]
    if where is not None:
        where = where[:-1, :-1]
        gradient, removed = gradient[where], removed[where]
    return _spread(removed[gradient <= np.quantile(gradient, 0.3)])


def image_rows(denoiser: Denoiser, cases: list[Case]) -> list[dict]:
    rows = []
    for _, noisy, clean in cases:
        reading = denoiser.read_noise(noisy)
        if reading.second_look is None:
            continue
        outs = np.stack([denoiser.denoise(noisy, reading=replace(reading, level=reading.level * s))
                         for s in SCALES])  # uint8, as written
        rows.append({"noisy": noisy, "clean": clean, "outs": outs,
                     "level": reading.level, "psnr": np.array([psnr(clean, o) for o in outs])})
    return rows


def _bins(luma: np.ndarray) -> np.ndarray:
    edges = np.quantile(luma, np.linspace(0, 1, BINS + 1))
    return np.clip(np.searchsorted(edges, luma, side="right") - 1, 0, BINS - 1)


def brightness_oracle(row: dict) -> float:
    err = ((row["outs"].astype(np.float64) - row["clean"]) ** 2).sum(axis=3)  # scales, H, W
    bins = _bins(row["outs"][SCALES.index(1.0)].astype(np.float64).mean(axis=2))
    best = sum(err[:, bins == b].sum(axis=1).min() for b in range(BINS) if (bins == b).any())
    return float(10 * np.log10(255.0**2 / (best / row["clean"].size)))


def _between(row: dict, log_scale: np.ndarray) -> np.ndarray:
    """The outputs interpolated per pixel at log scale `log_scale` (H, W)."""
    grid = np.log(SCALES)
    t = np.clip(log_scale, grid[0], grid[-1])
    k = np.clip(np.searchsorted(grid, t) - 1, 0, len(grid) - 2)
    w = ((t - grid[k]) / (grid[k + 1] - grid[k]))[..., None]
    outs = row["outs"].astype(np.float64)
    low = np.take_along_axis(outs, k[None, ..., None], axis=0)[0]
    high = np.take_along_axis(outs, (k + 1)[None, ..., None], axis=0)[0]
    return np.rint(low * (1 - w) + high * w)


def brightness_profile(row: dict, alpha: float) -> float:
    blind = row["outs"][SCALES.index(1.0)].astype(np.float64)
    luma = blind.mean(axis=2)
    removed = (row["noisy"].astype(np.float64) - blind).mean(axis=2)
    bins = _bins(luma)
    spread = np.array([max(_flat_spread(removed, luma, bins == b), 1e-3) for b in range(BINS)])
    centres = np.array([np.median(luma[bins == b]) for b in range(BINS)])
    relative = np.interp(luma, centres, spread / np.exp(np.mean(np.log(spread))))
    return psnr(row["clean"], _between(row, alpha * np.log(relative)))


def second_reading(row: dict, scale: float, gain: float) -> float:
    out = row["outs"][SCALES.index(scale)].astype(np.float64)
    level = gain * _flat_spread((row["noisy"].astype(np.float64) - out).mean(axis=2), out.mean(axis=2))
    return psnr(row["clean"], _between(row, np.full(out.shape[:2], np.log(max(level, 1e-3) / row["level"]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    args = parser.parse_args()
    denoiser = Denoiser.load(None)
    sets = {"polyu": image_rows(denoiser, polyu_cases(args.limit)),
            "camera copies": image_rows(denoiser, held_out_camera_cases(args.limit))}
    print("| set | images | blind | " + " | ".join(f"x{s:g}" for s in SCALES)
          + " | best scale per image | best scale per brightness bin |")
    print("|---" * (5 + len(SCALES)) + "|")
    for name, rows in sets.items():
        table = np.array([r["psnr"] for r in rows])
        print(f"| {name} | {len(rows)} | {table[:, SCALES.index(1.0)].mean():.3f} | "
              + " | ".join(f"{v:.3f}" for v in table.mean(axis=0))
              + f" | {table.max(axis=1).mean():.3f} | {np.mean([brightness_oracle(r) for r in rows]):.3f} |")
    print("\n| blind refinement | polyu | camera copies | summed gain over blind |\n|---|---|---|---|")
    base = {name: np.mean([r["psnr"][SCALES.index(1.0)] for r in rows]) for name, rows in sets.items()}
    trials = [(f"brightness profile, alpha {a:g}", lambda r, a=a: brightness_profile(r, a)) for a in (0.5, 1.0)]
    trials += [(f"second reading at x{s:g}, gain {g:g}", lambda r, s=s, g=g: second_reading(r, s, g))
               for s, g in ((1.0, 2.0), (1.25, 2.0), (2.0, 1.5))]
    for label, trial in trials:
        means = {name: float(np.mean([trial(r) for r in rows])) for name, rows in sets.items()}
        print(f"| {label} | {means['polyu']:.3f} | {means['camera copies']:.3f} | "
              f"{sum(means[n] - base[n] for n in sets):+.3f} |")


if __name__ == "__main__":
    main()
