"""Latent priors for the melody VAE: a fitted kernel density estimate, or the standard normal
(`genmedia.latent.NormalPrior`, drawn as a batch (count, latent)).

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
from typing import Any

import numpy as np

from genmedia.latent import PRIORS, NormalPrior, choose_prior
from genmedia.npyfile import read_matrix
from genmedia.registry import ModelInfo

__all__ = ["PRIORS", "KernelPrior", "NormalPrior", "load_prior"]


@dataclass(frozen=True)
class KernelPrior:
    """Gaussian KDE over posterior means (N, latent), per-dimension bandwidth `bandwidth * std`."""

    means: np.ndarray
    bandwidth: float

    def sample(self, rng: np.random.Generator, count: int, temperature: float = 1.0) -> np.ndarray:
        """`count` latents (count, latent), float32: a random training window's posterior mean each,
        plus kernel noise scaled by `temperature` (1 samples the fitted density itself)."""
        picks = rng.integers(0, len(self.means), count)
        scale = self.bandwidth * temperature * self.means.std(axis=0)
        noise = rng.standard_normal((count, self.means.shape[1])) * scale
        return np.asarray(self.means[picks] + noise, dtype=np.float32)


def load_prior(info: ModelInfo, latent: int, kind: str = "fitted") -> NormalPrior | KernelPrior:
    """The model's fitted prior (if it has one and `kind` is 'fitted'), else N(0, I) as a batch
    (count, latent); see `genmedia.latent.choose_prior`.

    The posterior means live in the model's 'prior' file (a float32 .npy, hash-checked like
    the ONNX files); the metadata's 'prior' entry holds the bandwidth and how it was fitted.
    """
    def kernel(entry: dict[str, Any]) -> KernelPrior:
        return KernelPrior(_read_means(info.file("prior"), latent), float(entry["bandwidth"]))

    return choose_prior(kind, info.metadata.get("prior"), {"kernel-density": kernel},
                        NormalPrior(latent, "batch"))


def _read_means(path: Path, latent: int) -> np.ndarray:
    """The posterior means (N, latent) in a prior's .npy file; `ModelError` naming it unless it holds
    a non-empty, finite matrix of real numbers, one row per window and `latent` columns (the header
    is checked against that, and the file's size, before anything is allocated)."""
    return read_matrix(path, columns=latent, kind="prior's",
                       needs=f"this model's prior needs (windows, {latent}) for its latent size {latent}")
