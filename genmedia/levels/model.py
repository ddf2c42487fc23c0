"""The level VAE at run time (ONNX Runtime): sample, encode, decode and morph levels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genmedia.errors import GenmediaError, InputError
from genmedia.latent import slerp
from genmedia.levels.check import PlayResult, check_playable
from genmedia.levels.prior import load_prior
from genmedia.levels.repair import repair_level
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
        self.tile_bias = _tile_bias(meta, self.tiles)
        self.encoder = OnnxModel(info.file("encoder"))
        self.decoder = OnnxModel(info.file("decoder"))

    @classmethod
    def load(cls, name: str | Path | None = None) -> LevelModel:
        """Load a level model by name or metadata path (None: the default shipped model)."""
        return cls(get_model(name, task="level"))

    def steps_for(self, width: int) -> int:
        return math.ceil(width / self.step)

    def decode(self, z: np.ndarray, *, width: int, biased: bool = False) -> list[np.ndarray]:
        """Latents (B, latent, steps) -> B levels (rows, width) of ASCII codes, argmax per tile.

        With `biased`, the model's calibrated per-tile logit biases (`tile_bias`) are added
        first, so sampled levels have the training maps' counts of enemies, coins, ...
        """
        levels = []
        batch = max(1, DECODE_COLUMNS // (z.shape[2] * self.step))
        for start in range(0, len(z), batch):
            logits = self.decoder.run(z=np.ascontiguousarray(z[start:start + batch], np.float32))["logits"]
            logits = logits[:, :, self.rows_padded - self.rows:, :width]
            if biased:
                logits = logits + self.tile_bias[None, :, None, None]
            indices = logits.argmax(1)
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


def _tile_bias(meta: dict, tiles: TileSet) -> np.ndarray:
    """(vocabulary,) float32 logit offsets from the metadata's `decoding.tile_bias` ({char: nats}); 0 if absent."""
    given = meta.get("decoding", {}).get("tile_bias", {})
    return np.array([float(given.get(c, 0.0)) for c in tiles.chars], dtype=np.float32)


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
    `count` is. Decoding adds the model's calibrated tile biases, and every level goes
    through `repair_level` (whole pipes and cannons, no pipe on a pipe, a floor at the
    start). With `check`, a level that fails the playability check is repaired where Mario
    gets stuck: the latents around that column are drawn again and the level decoded again
    (the decoder is local, so the rest stays), up to `max_attempts` decodes per level.
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"width must be between {MIN_WIDTH} and {MAX_WIDTH}")
    latent_prior = load_prior(model.info.metadata, model.latent, prior)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]
    steps = model.steps_for(width)
    z = np.stack([latent_prior.sample(rng, steps, temperature) for rng in rngs])
    levels: list[np.ndarray | None] = [None] * count
    attempts = [0] * count
    last: list[tuple[np.ndarray, PlayResult | None] | None] = [None] * count  # each level's previous decode and check
    pending = list(range(count))
    while pending:
        still = []
        for i, level in zip(pending, model.decode(z[pending], width=width, biased=True)):
            attempts[i] += 1
            level = repair_level(level)
            result = _check_again(model, level, last[i]) if check else None
            last[i] = (level, result)
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


def _check_again(model: LevelModel, level: np.ndarray,
                 previous: tuple[np.ndarray, PlayResult | None] | None) -> PlayResult:
    """Check a level, resuming from the previous check's route where the previous decode is unchanged."""
    if previous is None or previous[1] is None or previous[0].shape != level.shape:
        return check_playable(level, solid=model.tiles.solid())
    changed = np.flatnonzero((previous[0] != level).any(axis=0))
    keep = int(changed[0]) if len(changed) else level.shape[1]
    return check_playable(level, solid=model.tiles.solid(), prefix=previous[1].actions, keep_left_of=keep)


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


class Morph(list):
    """The steps of a morph (a list of levels), with the two input maps and which steps were repaired."""

    def __init__(self, steps: list[np.ndarray], inputs: tuple[np.ndarray, np.ndarray], repaired: list[int]) -> None:
        super().__init__(steps)
        self.inputs = inputs
        self.repaired = repaired  # step indices whose first decode failed the check and was redrawn locally


def interpolate_levels(model: LevelModel, a: np.ndarray, b: np.ndarray, *, steps: int,
                       sources: tuple[str | Path, str | Path] = ("A", "B"), check: bool = True,
                       max_attempts: int = 50) -> Morph:
    """Morph level `a` into level `b` in `steps` maps along the latent path.

    Both maps are encoded to their latent means. Maps of different widths morph in
    width too: step k is round(lerp(width_a, width_b, t)) columns wide, and both latent
    sequences are stretched to its length before spherical interpolation. The first map
    is the model's reconstruction of `a`, the last of `b`; each goes through `repair_level`.
    With `check`, a step that fails the playability check is repaired as `sample_levels`
    does, redrawing the latents around where Mario got stuck from the prior, with a random
    stream fixed by the step's index (so morphs stay deterministic); `Morph.repaired` lists
    those steps. Raises `SamplingError` if a step is still unplayable after `max_attempts`.
    """
    if steps < 2:
        raise ValueError("steps must be at least 2")
    za = model.encode(a, source=sources[0])
    zb = model.encode(b, source=sources[1])
    latent_prior = load_prior(model.info.metadata, model.latent)
    out, repaired = [], []
    for k in range(steps):
        t = k / (steps - 1)
        width = round((1 - t) * a.shape[1] + t * b.shape[1])
        n = model.steps_for(width)
        z = slerp(resize_latent(za, n), resize_latent(zb, n), t)
        rng = np.random.default_rng([MORPH_SEED, k])
        previous = None
        for attempt in range(1, max_attempts + 1):
            level = repair_level(model.decode(z[None], width=width)[0])
            result = _check_again(model, level, previous) if check else None
            previous = (level, result)
            if result is None or result.playable:
                break
            if attempt == max_attempts:
                raise SamplingError(f"step {k} of the morph is not playable after {max_attempts} local repairs "
                                    f"({result.reason})")
            _redraw_around(z, max(0, result.furthest) // model.step, latent_prior, rng, 1.0)
        if attempt > 1:
            repaired.append(k)
        out.append(level)
    return Morph(out, (a, b), repaired)


MORPH_SEED = 0x6D6F7270  # the random stream of a morph's local repairs ("morp")
