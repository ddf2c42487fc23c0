"""Estimate the level of additive white Gaussian noise in an image, with no clean reference.

The method is the patch-covariance one of Chen, Zhu and Heng (ICCV 2015): in the covariance of
small patches, natural image content lives in a few large eigenvalues, while white noise adds
sigma^2 to every eigenvalue. Starting from all eigenvalues and dropping the largest one at a
time, the first set whose mean equals its median (as many eigenvalues above the mean as below)
is taken as noise only, and sigma^2 is its mean.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PATCH = 7
MAX_PATCHES = 20_000


def estimate_sigma(pixels: np.ndarray, *, peak: float = 255.0, seed: int = 0) -> float:
    """Noise sigma of `pixels` (H, W, C) on the 0-255 scale (values are divided by `peak` first).

    At most `MAX_PATCHES` patches are used (a fixed, seeded sample), so the cost is bounded
    for any image size; the result is deterministic.
    """
    h, w, c = pixels.shape
    if h < PATCH or w < PATCH:
        return 0.0
    rng = np.random.default_rng(seed)
    count = min(MAX_PATCHES, (h - PATCH + 1) * (w - PATCH + 1))
    ys = rng.integers(0, h - PATCH + 1, count)
    xs = rng.integers(0, w - PATCH + 1, count)
    windows = sliding_window_view(pixels, (PATCH, PATCH), axis=(0, 1))  # (h', w', C, PATCH, PATCH), no copy
    patches = windows[ys, xs].reshape(count, -1).astype(np.float32) * np.float32(255.0 / peak)
    patches -= patches.mean(axis=0, keepdims=True)
    # float32 products are enough for a covariance of values on the 0-255 scale (estimates move
    # by under 0.01) and take half the time of float64, which matters on small images.
    eigen = np.sort(np.linalg.eigvalsh((patches.T @ patches).astype(np.float64) / count))
    for end in range(len(eigen), 0, -1):
        tail = eigen[:end]
        tau = tail.mean()
        if np.sum(tail > tau) >= np.sum(tail < tau):
            return float(np.sqrt(max(tau, 0.0)))
    return float(np.sqrt(max(eigen[0], 0.0)))
