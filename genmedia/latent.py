"""Latent-space helpers shared by the level and melody models: interpolation, the priors' shared
design (the standard normal, and how a model's fitted prior is chosen), and the check of their
number options.

A prior draws latents with `sample(rng, n, temperature)`. The standard normal (`NormalPrior`) is
one class for both kinds; each kind keeps its fitted prior beside its model (`genmedia.levels.prior`'s
exemplar walk, `genmedia.melody.prior`'s kernel density) and loads it through `choose_prior`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

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


PriorKind = Literal["fitted", "normal"]
"""Which prior to sample from: the model's fitted one (N(0, I) if it has none), or N(0, I) itself."""
PRIORS: tuple[PriorKind, ...] = ("fitted", "normal")
Layout = Literal["sequence", "batch"]


class LatentPrior(Protocol):
    """What every prior does: draw `n` latents, float32; `temperature` scales its noise."""

    def sample(self, rng: np.random.Generator, n: int, temperature: float = 1.0) -> np.ndarray: ...


@dataclass(frozen=True)
class NormalPrior:
    """z ~ N(0, temperature^2 I): `n` independent latent vectors of `size` entries, float32.

    `layout` is how they are stacked: 'sequence' gives (size, n), a level's latent sequence whose
    column t is the vector at step t along the level; 'batch' gives (n, size), one melody's latent
    per row. (The draws fill the array in that shape's order, so a seed gives the same latents as
    the two kinds' own normal priors always did.)
    """

    size: int
    layout: Layout = "sequence"

    def sample(self, rng: np.random.Generator, n: int, temperature: float = 1.0) -> np.ndarray:
        shape = (self.size, n) if self.layout == "sequence" else (n, self.size)
        return (rng.standard_normal(shape) * temperature).astype(np.float32)


FittedT = TypeVar("FittedT", bound=LatentPrior)
Reader = Callable[[dict[str, Any]], FittedT]


def choose_prior(kind: str, entry: object, readers: Mapping[str, Reader[FittedT]],
                 normal: NormalPrior) -> FittedT | NormalPrior:
    """The prior to sample from. With `kind` 'fitted', the model's fitted prior: its metadata's
    "prior" `entry`, read by the reader for the entry's "type" (each kind knows its own types);
    with 'normal', or for a model without a fitted prior of such a type, `normal`.
    Raises `ValueError` for any other `kind`."""
    if kind not in PRIORS:
        raise ValueError(f"unknown prior {kind!r}; choose from {PRIORS}")
    if kind == "fitted" and isinstance(entry, dict) and entry.get("type") in readers:
        return readers[entry["type"]](entry)
    return normal
