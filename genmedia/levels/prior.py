"""Latent priors for the level VAE: the standard normal, or a Gaussian AR(1) fitted ex post.

The VAE's latent is a sequence of vectors along the level. Drawing them independently
from N(0, I) mixes level styles column by column. The fitted prior ("ex-post density
estimation", Ghosh et al. 2020) models the encoder's posterior means of the training
maps as z_t = mean + A (z_{t-1} - mean) + e_t with e_t ~ N(0, noise), so one level keeps
one coherent style. Temperature scales the random terms (the initial draw and e_t).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIDGE = 1e-3  # added to covariances; also the ridge of the transition fit


@dataclass(frozen=True)
class LatentPrior:
    """Gaussian AR(1) over latent vectors; `transition` = 0 and unit covariances is N(0, I)."""

    mean: np.ndarray  # (C,)
    transition: np.ndarray  # (C, C): z_t - mean = (z_{t-1} - mean) @ transition + e_t
    initial_chol: np.ndarray  # (C, C) lower Cholesky factor of the stationary covariance
    noise_chol: np.ndarray  # (C, C) lower Cholesky factor of cov(e_t)

    @classmethod
    def standard(cls, channels: int) -> LatentPrior:
        eye = np.eye(channels, dtype=np.float64)
        return cls(np.zeros(channels), np.zeros((channels, channels)), eye, eye)

    @classmethod
    def from_json(cls, data: dict | None, channels: int) -> LatentPrior:
        if not data:
            return cls.standard(channels)
        return cls(*(np.asarray(data[k], dtype=np.float64) for k in ("mean", "transition", "initial_cholesky",
                                                                       "noise_cholesky")))

    def to_json(self) -> dict:
        return {"type": "gaussian-ar1", "mean": self.mean.tolist(), "transition": self.transition.tolist(),
                "initial_cholesky": self.initial_chol.tolist(), "noise_cholesky": self.noise_chol.tolist()}

    def sample(self, rng: np.random.Generator, steps: int, temperature: float = 1.0) -> np.ndarray:
        """One latent sequence (C, steps), float32."""
        channels = len(self.mean)
        noise = rng.standard_normal((steps, channels)) * temperature
        z = np.empty((steps, channels))
        z[0] = self.mean + self.initial_chol @ noise[0]
        for t in range(1, steps):
            z[t] = self.mean + (z[t - 1] - self.mean) @ self.transition + self.noise_chol @ noise[t]
        return z.T.astype(np.float32)


def fit_ar1(sequences: list[np.ndarray]) -> LatentPrior:
    """Fit the AR(1) prior to latent sequences, each (C, steps), by ridge least squares."""
    stacked = np.concatenate([s.T for s in sequences]).astype(np.float64)
    mean = stacked.mean(0)
    prev = np.concatenate([s[:, :-1].T for s in sequences]) - mean
    nxt = np.concatenate([s[:, 1:].T for s in sequences]) - mean
    channels = len(mean)
    transition = np.linalg.solve(prev.T @ prev + RIDGE * len(prev) * np.eye(channels), prev.T @ nxt)
    residual = nxt - prev @ transition
    eye = RIDGE * np.eye(channels)
    noise_chol = np.linalg.cholesky(np.cov(residual.T) + eye)
    initial_chol = np.linalg.cholesky(np.cov((stacked - mean).T) + eye)
    return LatentPrior(mean, transition, initial_chol, noise_chol)
