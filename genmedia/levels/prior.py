"""Latent priors for the level VAE: a fitted exemplar Markov prior, or the standard normal
(`genmedia.latent.NormalPrior`, drawn as a sequence (channels, steps)).

The VAE's latent is a sequence of vectors along the level. Drawn independently from
N(0, I), they mix level styles column by column and decode to plain levels (diversity
0.08 against the corpus's 0.18). The fitted prior is a kernel density estimate of the
aggregate posterior over latent *sequences* (ex-post density estimation; cf. Exemplar
VAE, Norouzi et al. 2020): it walks along the encoder's posterior means of the training
maps, one vector per step, and with probability `jump_probability` per step (or at the
end of a map) jumps to a uniformly chosen position: with probability `same_map` one of the map
it is in, otherwise one of any training map. Staying in a map keeps a level's own character
(its enemy density, how flat it is) across the whole sample, so the samples vary from one
another as the game's levels do instead of all averaging several levels. Each emitted
vector gets isotropic Gaussian noise of standard deviation `bandwidth * temperature`,
so decoded levels are new rather than copies, and any width can be drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genmedia.latent import PRIORS, NormalPrior, choose_prior

__all__ = ["PRIORS", "ExemplarPrior", "NormalPrior", "load_prior"]


@dataclass(frozen=True)
class ExemplarPrior:
    """Markov walk over training latents with kernel noise (see the module docstring)."""

    sequences: tuple[np.ndarray, ...]  # each (C, steps): posterior means of one training map
    bandwidth: float
    jump_probability: float
    same_map: float = 0.0  # chance that a jump lands in the map the walk is in

    @classmethod
    def fit(cls, sequences: list[np.ndarray], *, bandwidth: float, jump_probability: float,
            same_map: float = 0.0) -> ExemplarPrior:
        return cls(tuple(np.asarray(s, dtype=np.float32) for s in sequences), bandwidth, jump_probability, same_map)

    def to_json(self) -> dict[str, Any]:
        return {"type": "exemplar-markov", "bandwidth": self.bandwidth, "jump_probability": self.jump_probability,
                "same_map": self.same_map, "sequences": [np.round(s, 4).tolist() for s in self.sequences]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExemplarPrior:
        return cls.fit([np.asarray(s) for s in data["sequences"]], bandwidth=float(data["bandwidth"]),
                       jump_probability=float(data["jump_probability"]), same_map=float(data.get("same_map", 0.0)))

    def sample(self, rng: np.random.Generator, steps: int, temperature: float = 1.0) -> np.ndarray:
        """One latent sequence (C, steps), float32."""
        return self.sample_walk(rng, steps, temperature)[0]

    def locate(self, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in the concatenated sequences -> (sequence index, step within it) of each."""
        lengths = np.array([s.shape[1] for s in self.sequences])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        seq = np.searchsorted(starts, picks, side="right") - 1
        return seq, picks - starts[seq]

    def sample_walk(self, rng: np.random.Generator, steps: int,
                    temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """One latent sequence (C, steps), float32, and the walk's position (in the concatenated
        training sequences, see `locate`) at each step."""
        lengths = np.array([s.shape[1] for s in self.sequences])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        flat = np.concatenate(self.sequences, axis=1)

        def anywhere() -> int:
            return int(rng.integers(flat.shape[1]))

        def jump(seq: int) -> int:
            # (no draw when same_map is 0, so priors without it replay as they were first made)
            if self.same_map and rng.random() < self.same_map:
                return int(starts[seq] + rng.integers(lengths[seq]))
            return anywhere()

        at = anywhere()
        picks = np.empty(steps, dtype=np.int64)
        for t in range(steps):
            picks[t] = at
            seq = int(np.searchsorted(starts, at, side="right")) - 1
            at_end = at + 1 >= starts[seq] + lengths[seq]
            at = jump(seq) if at_end or rng.random() < self.jump_probability else at + 1
        noise = rng.standard_normal((flat.shape[0], steps)) * (self.bandwidth * temperature)
        return (flat[:, picks] + noise).astype(np.float32), picks


def load_prior(metadata: dict[str, Any], channels: int, kind: str = "fitted") -> NormalPrior | ExemplarPrior:
    """The model's fitted prior (if its metadata has one and `kind` is 'fitted'), else N(0, I) as
    a sequence (channels, steps); see `genmedia.latent.choose_prior`."""
    return choose_prior(kind, metadata.get("prior"), {"exemplar-markov": ExemplarPrior.from_json},
                        NormalPrior(channels, "sequence"))
