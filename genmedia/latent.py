"""Latent-space helpers shared by the level and melody models, and the check of their number options."""

from __future__ import annotations

import math

import numpy as np


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two latents (linear when they are nearly parallel)."""
    fa, fb = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    cos = float(fa @ fb / (np.linalg.norm(fa) * np.linalg.norm(fb) + 1e-12))
    omega = math.acos(max(-1.0, min(1.0, cos)))
    if omega < 1e-4:
        return ((1 - t) * a + t * b).astype(np.float32)
    mix = (math.sin((1 - t) * omega) * fa + math.sin(t * omega) * fb) / math.sin(omega)
    return mix.reshape(a.shape).astype(np.float32)


def check_finite(**numbers: float) -> None:
    """Raise `ValueError` for a number option (temperature, bandwidth, ...) that is nan or infinite:
    nan passes every range comparison, so it would reach the sampler as a valid number."""
    for name, value in numbers.items():
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value}")
