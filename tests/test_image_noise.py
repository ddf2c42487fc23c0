"""The blind noise-level estimator: textured gray images and noise clipped at black and white."""

from __future__ import annotations

import os

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from genmedia.image import noise
from genmedia.image.noise import estimate_sigma

from test_image_cli import scene


def textured_gray(size: int = 256) -> np.ndarray:
    """A clean gray picture whose left half carries fine random texture (like grass or fabric)."""
    base = scene(size, size)[..., 1].astype(np.float32)
    tex = np.random.default_rng(5).normal(0, 1, (size, size)).astype(np.float32)
    tex = (tex + np.roll(tex, 1, 0) + np.roll(tex, 1, 1) + np.roll(tex, (1, 1), (0, 1))) / 4 * 18
    base[:, : size // 2] += tex[:, : size // 2]
    return np.clip(base, 0, 255).astype(np.uint8)[..., None]


def black_to_white(height: int = 192, width: int = 256) -> np.ndarray:
    """Color ramps from black to white (and a flat mid-gray channel): strong noise clips at both ends."""
    y, x = np.mgrid[:height, :width].astype(np.float32)
    return np.stack([255 * x / (width - 1), 255 * (1 - y / (height - 1)), 128 + 0 * x], -1).astype(np.uint8)


def plain_estimate(pixels: np.ndarray) -> float:
    """Chen et al.'s estimate alone, from every patch: what the estimator did before its refinements."""
    c = pixels.shape[2]
    patches = sliding_window_view(pixels.astype(np.float32), (7, 7), axis=(0, 1)).reshape(-1, 49 * c)
    return noise._covariance_sigma(patches, 1.0)


def test_the_estimate_does_not_depend_on_blas_threads() -> None:
    """The same bits with one BLAS thread and with two (a float32 Gram matrix differed in its last bits)."""
    import subprocess
    import sys

    code = ("import numpy as np; from genmedia.image.noise import estimate_sigma; "
            "rng = np.random.default_rng(0); "
            "img = np.clip(rng.normal(30000, 3000, (160, 200, 3)), 0, 65535).astype(np.uint16); "
            "print(repr(estimate_sigma(img, peak=65535.0)), repr(estimate_sigma(img[..., :1], peak=65535.0)))")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}).stdout
            for threads in ("1", "2")}
    assert len(runs) == 1 and abs(float(runs.pop().split()[0]) - 3000 * 255 / 65535) < 0.3


def test_texture_in_gray_images_is_not_taken_for_noise() -> None:
    clean = textured_gray()
    assert plain_estimate(clean) > 2.0  # the texture reaches the smallest eigenvalues of 7x7 gray patches
    assert estimate_sigma(clean) < 0.5
    for sigma in (5, 15, 25):
        noisy = clean + np.random.default_rng(sigma).normal(0, sigma, clean.shape).astype(np.float32)
        assert abs(estimate_sigma(noisy) - sigma) < 0.5, sigma


def test_noise_clipped_at_black_and_white_is_measured_at_its_sigma() -> None:
    clean = black_to_white()
    for sigma in (25, 50):
        noisy = np.clip(np.rint(clean + np.random.default_rng(sigma).normal(0, sigma, clean.shape)), 0, 255)
        noisy = noisy.astype(np.uint8)
        assert ((noisy == 0) | (noisy == 255)).mean() > 0.05  # the fixture really clips
        plain, refined = plain_estimate(noisy), estimate_sigma(noisy)
        assert plain < 0.96 * sigma  # clipped noise is narrower than sigma
        assert abs(refined - sigma) < 0.06 * sigma and abs(refined - sigma) < 0.5 * abs(plain - sigma), sigma
        # The same file in 16 bits reads the same: white is 65535 there.
        assert abs(estimate_sigma(noisy.astype(np.uint16) * 257, peak=65535.0) - refined) < 0.01
        # One channel alone (a gray file) too.
        assert abs(estimate_sigma(noisy[..., :1]) - sigma) < 0.06 * sigma


def test_unclipped_float_noise_is_left_to_the_plain_estimate() -> None:
    # Float noise that goes past black and white was never clipped: no correction applies.
    clean = black_to_white()
    noisy = (clean + np.random.default_rng(0).normal(0, 50, clean.shape)) / 255.0
    assert abs(estimate_sigma(noisy, peak=1.0) - plain_estimate(noisy * 255.0)) < 0.5


def test_a_gray_picture_saved_as_color_is_estimated_as_gray() -> None:
    """Three equal channels hold one noise field: their color patches are rank-deficient, and the
    plain color estimate read 0 at any sigma. They are read as the gray picture they are, also with
    channels a level apart (a color conversion's rounding) and in 16 bits."""
    clean = textured_gray(128)
    for sigma in (5, 25):
        gray = np.clip(np.rint(clean + np.random.default_rng(sigma).normal(0, sigma, clean.shape)), 0, 255)
        as_color = gray.repeat(3, axis=2)
        assert noise._covariance_sigma(sliding_window_view(as_color, (7, 7), axis=(0, 1))[::9, ::9]
                                       .reshape(-1, 147), 1.0) < 0.5  # what the color path alone reads
        expected = estimate_sigma(gray.astype(np.uint8))
        assert abs(expected - sigma) < 1.0
        assert estimate_sigma(as_color.astype(np.uint8)) == expected
        rounded = as_color.copy()
        rounded[..., 0] = np.clip(rounded[..., 0] + np.random.default_rng(1).integers(-1, 2, clean.shape[:2]), 0, 255)
        assert abs(estimate_sigma(rounded.astype(np.uint8)) - expected) < 0.5
        assert abs(estimate_sigma((as_color * 257).astype(np.uint16), peak=65535.0) - expected) < 0.01
    assert noise.gray_content(as_color.astype(np.uint8)) and not noise.gray_content(
        np.concatenate([as_color[..., :2], as_color[..., 2:] + 2], axis=2).astype(np.uint8))
    true_color = as_color + np.random.default_rng(2).normal(0, 5, as_color.shape)
    # Channels apart by more than a level take the color path, which reads the independent part of
    # the noise (5); one channel alone would read the shared 25 as well.
    assert 4 < estimate_sigma(np.clip(true_color, 0, 255).astype(np.uint8)) < 6
