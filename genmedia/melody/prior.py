"""Latent priors for the melody VAE: a fitted kernel density estimate, or the standard normal.

With free bits the encoder's posteriors do not fill N(0, I): melodies decoded from N(0, I)
land in its holes and drift out of key (0.88 of notes in key against the corpus's 0.99).
The fitted prior is a Gaussian kernel density estimate of the aggregate posterior
(ex-post density estimation): pick the posterior mean of a random training window and add
noise of `bandwidth` times the spread of the means along each latent dimension. On the
training split, bandwidth 0.3 keeps 0.97 of sampled notes in key while only about 2% of
samples repeat a training window note for note (held-out windows do so 2.8% of the time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genmedia.npyfile import read_matrix
from genmedia.registry import ModelInfo

PRIORS = ("fitted", "normal")


@dataclass(frozen=True)
class NormalPrior:
    latent: int

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.standard_normal((count, self.latent)).astype(np.float32)


@dataclass(frozen=True)
class KernelPrior:
    """Gaussian KDE over posterior means (N, latent), per-dimension bandwidth `bandwidth * std`."""

    means: np.ndarray
    bandwidth: float

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        picks = rng.integers(0, len(self.means), count)
        scale = self.bandwidth * self.means.std(axis=0)
        return (self.means[picks] + rng.standard_normal((count, self.means.shape[1])) * scale).astype(np.float32)


def load_prior(info: ModelInfo, latent: int, kind: str = "fitted") -> NormalPrior | KernelPrior:
    """The model's fitted prior (if it has one and `kind` is 'fitted'), else N(0, I).

    The posterior means live in the model's 'prior' file (a float32 .npy, hash-checked like
    the ONNX files); the metadata's 'prior' entry holds the bandwidth and how it was fitted.
    """
    if kind not in PRIORS:
        raise ValueError(f"unknown prior {kind!r}; choose from {PRIORS}")
    data = info.metadata.get("prior")
    if kind == "fitted" and data and data.get("type") == "kernel-density":
        return KernelPrior(_read_means(info.file("prior"), latent), float(data["bandwidth"]))
    return NormalPrior(latent)


def _read_means(path: Path, latent: int) -> np.ndarray:
    """The posterior means (N, latent) in a prior's .npy file; `ModelError` naming it unless it holds
    a non-empty, finite matrix of real numbers, one row per window and `latent` columns (the header
    is checked against that, and the file's size, before anything is allocated)."""
    return read_matrix(path, columns=latent, kind="prior's",
                       needs=f"this model's prior needs (windows, {latent}) for its latent size {latent}")
