"""PSNR and SSIM, and the denoising benchmark behind `genmedia image eval`."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genmedia.errors import InputError
from genmedia.image.denoise import Denoiser
from genmedia.image.io import Photo, read_photo


def psnr(clean: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels; infinite for identical images."""
    mse = float(np.mean((clean.astype(np.float64) - test.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    w = np.exp(-(x**2) / (2 * sigma**2))
    window: np.ndarray = w / w.sum()
    return window


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D array with a 1-D window along both axes."""
    n = len(window)
    rows = sum(window[i] * image[i:image.shape[0] - n + 1 + i] for i in range(n))
    both: np.ndarray = sum(window[i] * rows[:, i:rows.shape[1] - n + 1 + i] for i in range(n))
    return both


def ssim(clean: np.ndarray, test: np.ndarray, peak: float = 255.0) -> float:
    """Structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03),
    averaged over the image and over channels. An image smaller than the window (under 11 pixels
    on a side) is scored with the largest odd window that fits, its sigma scaled to match."""
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    side = min(clean.shape[:2])
    size = min(11, side if side % 2 else side - 1)
    window = _gaussian_window(size, 1.5 * size / 11)
    a = clean.astype(np.float64).reshape(*clean.shape[:2], -1)
    b = test.astype(np.float64).reshape(*test.shape[:2], -1)
    scores = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        mx, my = _filter_valid(x, window), _filter_valid(y, window)
        sxx = _filter_valid(x * x, window) - mx * mx
        syy = _filter_valid(y * y, window) - my * my
        sxy = _filter_valid(x * y, window) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        scores.append(s.mean())
    return float(np.mean(scores))


def add_noise(clean: np.ndarray, sigma: float, *, seed: int, quantise: bool) -> np.ndarray:
    """`clean` (uint8 (H, W, C)) plus seeded AWGN of `sigma` (0-255 scale), as float32 in [0, 1] units
    of 1/255 (unclipped), or, with `quantise`, clipped and rounded to uint8 as an 8-bit file would be."""
    rng = np.random.default_rng(seed)
    noisy = clean.astype(np.float32) + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma)
    out: np.ndarray = np.clip(np.rint(noisy), 0, 255).astype(np.uint8) if quantise else noisy / np.float32(255.0)
    return out


@dataclass
class Score:
    image: str
    sigma: float
    estimated_sigma: float
    psnr: float
    ssim: float
    noisy_psnr: float


def noise_seed(name: str, sigma: float, seed: int) -> int:
    return zlib.crc32(f"{name}:{sigma:g}:{seed}".encode())


def evaluate(denoiser: Denoiser, files: Iterable[Path], sigmas: Iterable[float], *, seed: int = 0,
             quantise: bool = False, noise_level: float | None = None,
             progress: Callable[[Score], None] = lambda _: None,
             failed: Callable[[Path, str], None] | None = None) -> list[Score]:
    """Add seeded noise to each clean 8-bit image at each sigma, denoise (blind unless `noise_level`
    is given) and score against the clean image on the 0-255 scale.

    Float noisy inputs give float outputs, which are clipped to [0, 1] and scored unrounded;
    with `quantise` both the noisy input and the output are 8-bit, as with real files.
    An image that cannot be scored (unreadable, not 8-bit) raises `InputError` (or `ValueError`);
    with `failed` given, it is reported as `failed(path, why)` ("PATH: why") and left out instead,
    and the other images are scored.
    """
    scores = []
    for path in files:
        try:
            photo = read_photo(path)
            if photo.peak != 255:
                raise ValueError(f"{path}: evaluation needs 8-bit images")
        except (InputError, ValueError) as exc:
            if failed is None:
                raise
            failed(Path(path), str(exc))
            continue
        clean = photo.pixels
        for sigma in sigmas:
            noisy = add_noise(clean, sigma, seed=noise_seed(Path(path).name, sigma, seed), quantise=quantise)
            estimated, out = _denoise(denoiser, noisy, noise_level)
            scale = 1.0 if quantise else 255.0
            score = Score(Path(path).name, float(sigma), round(estimated, 3),
                          psnr(clean, out * scale), ssim(clean, out * scale),
                          psnr(clean, np.clip(noisy * scale, 0, 255)))
            scores.append(score)
            progress(score)
    return scores


def summarise(scores: list[Score]) -> dict[str, dict[str, float]]:
    """Mean PSNR, SSIM and estimated sigma per noise level."""
    table: dict[str, dict[str, float]] = {}
    for sigma in sorted({s.sigma for s in scores}):
        group = [s for s in scores if s.sigma == sigma]
        table[f"{sigma:g}"] = {
            "images": len(group),
            "psnr": round(float(np.mean([s.psnr for s in group])), 3),
            "ssim": round(float(np.mean([s.ssim for s in group])), 4),
            "noisy_psnr": round(float(np.mean([s.noisy_psnr for s in group])), 3),
            "estimated_sigma": round(float(np.mean([s.estimated_sigma for s in group])), 3),
        }
    return table


def score_dicts(scores: Sequence[Score | PairScore]) -> list[dict[str, Any]]:
    """Each score's fields, floats rounded to 4 places (for JSON)."""
    return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(s).items()} for s in scores]


@dataclass
class PairScore:
    """One real noisy/clean pair: the denoiser's level, and PSNR/SSIM of its output and of the noisy input."""

    image: str
    estimated_sigma: float
    psnr: float
    ssim: float
    noisy_psnr: float
    noisy_ssim: float


def match_pairs(noisy_files: Iterable[Path], clean_files: Iterable[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Noisy and clean files matched by file name (or, failing that, by a unique stem, so that a
    noisy JPEG can meet its clean PNG); and the noisy files that found no clean partner."""
    clean = list(clean_files)
    by_name = {p.name: p for p in clean}
    by_stem: dict[str, list[Path]] = {}
    for p in clean:
        by_stem.setdefault(p.stem, []).append(p)
    pairs, unmatched = [], []
    for noisy in noisy_files:
        partner = by_name.get(noisy.name)
        if partner is None and len(by_stem.get(noisy.stem, [])) == 1:
            partner = by_stem[noisy.stem][0]
        if partner is None:
            unmatched.append(noisy)
        else:
            pairs.append((noisy, partner))
    return pairs, unmatched


def evaluate_pairs(denoiser: Denoiser, pairs: Iterable[tuple[Path, Path]], *, noise_level: float | None = None,
                   progress: Callable[[PairScore], None] = lambda _: None,
                   failed: Callable[[Path, Path, str], None] | None = None) -> list[PairScore]:
    """Denoise each real noisy image (blind unless `noise_level` is given) and score it against its
    clean reference on the 0-255 scale; no noise is added. Both must be 8-bit and of one size.

    A pair that cannot be scored (a file unreadable, not 8-bit, or the two of different sizes)
    raises `ValueError` (or `InputError` from reading); with `failed` given, it is reported as
    `failed(noisy, clean, why)` instead and left out, and the other pairs are scored.
    """
    scores = []
    for noisy_path, clean_path in pairs:
        try:
            noisy, clean = _read_pair(Path(noisy_path), Path(clean_path))
        except (InputError, ValueError) as exc:
            if failed is None:
                raise
            failed(Path(noisy_path), Path(clean_path), str(exc))
            continue
        estimated, out = _denoise(denoiser, noisy.pixels, noise_level)
        score = PairScore(Path(noisy_path).name, round(estimated, 3), psnr(clean.pixels, out), ssim(clean.pixels, out),
                          psnr(clean.pixels, noisy.pixels), ssim(clean.pixels, noisy.pixels))
        scores.append(score)
        progress(score)
    return scores


def _denoise(denoiser: Denoiser, noisy: np.ndarray, noise_level: float | None) -> tuple[float, np.ndarray]:
    """The level the blind path reads on `noisy` (reported even when a level is given), and the
    output: blind, as the batch denoises, or one pass at `noise_level` where it is given."""
    reading = denoiser.read_noise(noisy)
    if noise_level is not None:
        return reading.level, denoiser.denoise(noisy, sigma=noise_level)
    return reading.level, denoiser.denoise(noisy, reading=reading)


def _read_pair(noisy_path: Path, clean_path: Path) -> tuple[Photo, Photo]:
    """Both images of a pair, checked to be comparable; `ValueError` saying why not."""
    noisy, clean = read_photo(noisy_path), read_photo(clean_path)
    for path, photo in ((noisy_path, noisy), (clean_path, clean)):
        if photo.peak != 255:
            raise ValueError(f"{path}: evaluation needs 8-bit images")
    if noisy.pixels.shape != clean.pixels.shape:
        raise ValueError(f"sizes differ: {noisy_path} is {_size(noisy)}, {clean_path} is {_size(clean)}")
    return noisy, clean


def _size(photo: Photo) -> str:
    height, width, channels = photo.pixels.shape
    return f"{width}x{height} {'gray' if channels == 1 else 'color'}"


def summarise_pairs(scores: list[PairScore]) -> dict[str, float]:
    """Means of every PairScore field over the pairs."""
    fields = ("psnr", "ssim", "noisy_psnr", "noisy_ssim", "estimated_sigma")
    return {"images": len(scores), **{f: round(float(np.mean([getattr(s, f) for s in scores])), 4) for f in fields}}
