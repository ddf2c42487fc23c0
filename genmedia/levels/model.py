"""The level VAE at run time (ONNX Runtime): sample, encode, decode and morph levels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genmedia.errors import GenmediaError, InputError
from genmedia.latent import slerp
from genmedia.levels.check import check_playable
from genmedia.levels.prior import load_prior
from genmedia.levels.repair import repair_structures
from genmedia.levels.tiles import TileSet
from genmedia.registry import ModelInfo, get_model
from genmedia.runtime import OnnxModel

MIN_WIDTH, MAX_WIDTH = 16, 10_000
DECODE_COLUMNS = 65_536  # level columns per ONNX call: bounds the logits to about 55 MB at any width


class SamplingError(GenmediaError):
    """No playable level was found within the resampling cap."""


class LevelModel:
    """A level VAE: its tile vocabulary, map height and latent layout come from its metadata."""

    def __init__(self, info: ModelInfo) -> None:
        meta = info.metadata
        self.info = info
        self.tiles = TileSet.from_json(meta["vocabulary"])
        self.rows: int = meta["rows"]
        self.rows_padded: int = meta["rows_padded"]
        self.latent: int = meta["latent"]["channels"]
        self.step: int = meta["latent"]["columns_per_step"]
        self.encoder = OnnxModel(info.file("encoder"))
        self.decoder = OnnxModel(info.file("decoder"))

    @classmethod
    def load(cls, name: str | Path | None = None) -> LevelModel:
        """Load a level model by name or metadata path (None: the default shipped model)."""
        return cls(get_model(name, task="level"))

    def steps_for(self, width: int) -> int:
        return math.ceil(width / self.step)

    def decode(self, z: np.ndarray, *, width: int) -> list[np.ndarray]:
        """Latents (B, latent, steps) -> B levels (rows, width) of ASCII codes, argmax per tile."""
        levels = []
        batch = max(1, DECODE_COLUMNS // (z.shape[2] * self.step))
        for start in range(0, len(z), batch):
            logits = self.decoder.run(z=np.ascontiguousarray(z[start:start + batch], np.float32))["logits"]
            indices = logits[:, :, self.rows_padded - self.rows:, :width].argmax(1)
            levels.extend(self.tiles.from_indices(indices))
        return levels

    def encode(self, level: np.ndarray, *, source: str | Path = "<level>") -> np.ndarray:
        """A level (rows, W) -> latent mean (latent, ceil(W / 8)); the last column pads the width."""
        self.validate(level, source=source)
        idx = self.tiles.to_indices(level)
        pad_w = self.steps_for(level.shape[1]) * self.step - level.shape[1]
        idx = np.pad(idx, ((self.rows_padded - self.rows, 0), (0, pad_w)), mode="edge")
        idx[: self.rows_padded - self.rows] = self.tiles.chars.index(self.tiles.empty)
        onehot = np.eye(len(self.tiles.chars), dtype=np.float32)[idx].transpose(2, 0, 1)[None]
        return self.encoder.run(tiles=onehot)["mean"][0]

    def validate(self, level: np.ndarray, *, source: str | Path) -> None:
        """Raise `InputError` unless the map fits this model (row count, width, tiles)."""
        rows, width = level.shape
        if rows != self.rows:
            raise InputError(source, f"has {rows} rows; model {self.info.name!r} makes {self.rows}-row maps")
        if width < MIN_WIDTH:
            raise InputError(source, f"is {width} columns wide; at least {MIN_WIDTH} are needed")
        known = np.zeros(256, dtype=bool)
        known[self.tiles.codes()] = True
        if not known[level].all():
            bad = chr(int(level[~known[level]][0]))
            raise InputError(source, f"tile {bad!r} is not one of this model's tiles {''.join(self.tiles.chars)!r}")


@dataclass
class SampleResult:
    """Sampled levels, and how many latents each one took (1 = accepted at the first try)."""

    levels: list[np.ndarray]
    attempts: list[int] = field(default_factory=list)


def sample_levels(model: LevelModel, *, count: int, width: int, seed: int, temperature: float = 1.0,
                  prior: str = "fitted", check: bool = True, max_attempts: int = 50) -> SampleResult:
    """Sample `count` levels `width` columns wide from the model's latent prior.

    `prior` is 'fitted' (the exemplar Markov prior in the model's metadata, see
    `genmedia.levels.prior`) or 'normal' (N(0, I)); `temperature` scales its noise.
    Level i draws its latents from its own stream of `seed`, so it is the same whatever
    `count` is. Pipes and cannons are always repaired. With `check`, a level that fails the
    playability check is repaired where Mario gets stuck: the latents around that column are
    drawn again and the level decoded again (the decoder is local, so the rest stays), up to
    `max_attempts` decodes per level.
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"width must be between {MIN_WIDTH} and {MAX_WIDTH}")
    latent_prior = load_prior(model.info.metadata, model.latent, prior)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]
    steps = model.steps_for(width)
    z = np.stack([latent_prior.sample(rng, steps, temperature) for rng in rngs])
    levels: list[np.ndarray | None] = [None] * count
    attempts = [0] * count
    pending = list(range(count))
    while pending:
        still = []
        for i, level in zip(pending, model.decode(z[pending], width=width)):
            attempts[i] += 1
            level = repair_structures(level)
            result = check_playable(level, solid=model.tiles.solid()) if check else None
            if result is None or result.playable:
                levels[i] = level
            elif attempts[i] >= max_attempts:
                raise SamplingError(f"no playable level {i} found in {max_attempts} samples; "
                                    "try a lower --temperature, or --no-check")
            else:
                _redraw_around(z[i], max(0, result.furthest) // model.step, latent_prior, rngs[i], temperature)
                still.append(i)
        pending = still
    return SampleResult([lv for lv in levels if lv is not None], attempts)


REPAIR_STEPS = (2, 4)  # latent steps redrawn before and after the one where Mario got stuck


def _redraw_around(z: np.ndarray, step: int, prior, rng: np.random.Generator, temperature: float) -> None:
    """Replace z[:, step - 2 : step + 4] (clipped to the level) with a fresh draw from the prior."""
    start, stop = max(0, step - REPAIR_STEPS[0]), min(z.shape[1], step + REPAIR_STEPS[1])
    z[:, start:stop] = prior.sample(rng, stop - start, temperature)


def resize_latent(z: np.ndarray, steps: int) -> np.ndarray:
    """Stretch a latent sequence (latent, n) to `steps` positions by linear interpolation."""
    n = z.shape[1]
    if n == steps:
        return z
    pos = np.linspace(0, n - 1, steps)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo)[None, :]
    return (z[:, lo] * (1 - frac) + z[:, hi] * frac).astype(np.float32)


def interpolate_levels(model: LevelModel, a: np.ndarray, b: np.ndarray, *, steps: int,
                       sources: tuple[str | Path, str | Path] = ("A", "B")) -> list[np.ndarray]:
    """Morph level `a` into level `b` in `steps` maps along the latent path.

    Both maps are encoded to their latent means. Maps of different widths morph in
    width too: step k is round(lerp(width_a, width_b, t)) columns wide, and both latent
    sequences are stretched to its length before spherical interpolation. The first map
    is the model's reconstruction of `a`, the last of `b`; pipes and cannons are repaired.
    """
    if steps < 2:
        raise ValueError("steps must be at least 2")
    za = model.encode(a, source=sources[0])
    zb = model.encode(b, source=sources[1])
    out = []
    for k in range(steps):
        t = k / (steps - 1)
        width = round((1 - t) * a.shape[1] + t * b.shape[1])
        n = model.steps_for(width)
        z = slerp(resize_latent(za, n), resize_latent(zb, n), t)
        out.append(repair_structures(model.decode(z[None], width=width)[0]))
    return out
