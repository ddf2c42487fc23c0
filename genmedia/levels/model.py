"""The level VAE at run time (ONNX Runtime): sample, encode, decode and morph levels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genmedia import limits
from genmedia.errors import GenmediaError, InputError
from genmedia.latent import LatentPrior, check_finite, slerp
from genmedia.levels import attributes
from genmedia.levels.check import PlayResult, check_playable
from genmedia.levels.prior import ExemplarPrior, load_prior
from genmedia.levels.repair import PIPE_HEIGHT, repair_level
from genmedia.levels.tiles import TileSet
from genmedia.registry import ModelInfo
from genmedia.runtime import Model

MIN_WIDTH = 16  # the widest map is `genmedia.limits.current().level_columns`, read at each call
CONDITIONAL_MODEL = "smb-level-cvae"  # the shipped conditional model: the default where bins are asked for
DECODE_COLUMNS = 65_536  # level columns per ONNX call: bounds the logits to about 55 MB at any width


class SamplingError(GenmediaError):
    """No playable level was found within the resampling cap."""


class LevelModel(Model):
    """A level VAE: its tile vocabulary, map height and latent layout come from its metadata."""

    task = "level"

    def __init__(self, info: ModelInfo, *, threads: int | None = None) -> None:
        super().__init__(info, threads=threads)
        meta = info.metadata
        self.tiles = TileSet.from_json(meta["vocabulary"])
        self.rows: int = meta["rows"]
        self.rows_padded: int = meta["rows_padded"]
        self.latent: int = meta["latent"]["channels"]
        self.step: int = meta["latent"]["columns_per_step"]
        self.tile_bias = _tile_bias(meta, self.tiles)
        spec = meta.get("attributes")
        # A conditional model: its attribute bins, and each training map's bins per window.
        bins = attributes.Bins.from_json(spec) if spec else None
        self.bins = bins
        self.steps_per_window: int = int(spec["steps_per_window"]) if spec else 0
        self.corpus_bins = [np.asarray(c, dtype=np.int64).reshape(-1, len(bins.names))
                            for c in spec["corpus"]] if spec and bins is not None else []
        self.encoder = self.graph("encoder")
        self.decoder = self.graph("decoder")
        # The metadata must describe these graphs: a mismatch fails here, not inside a run.
        grid = {1: (len(self.tiles.chars), "vocabulary.chars"), 2: (self.rows_padded, "rows_padded")}
        latent = {1: (self.latent, "latent.channels")}
        checks = [(self.encoder, "tiles", grid), (self.encoder, "mean", latent), (self.decoder, "z", latent),
                  (self.decoder, "logits", grid)]
        if spec:
            cond = {1: (int(spec["channels"]), "attributes.channels")}
            checks += [(self.encoder, "cond", cond), (self.decoder, "cond", cond)]
        for net, tensor, dims in checks:
            net.expect(tensor, dims, metadata=info.metadata_path)
        self.bin_bias = _bin_bias(meta, self.tiles, bins, self.steps_per_window) if bins is not None else None

    def steps_for(self, width: int) -> int:
        return math.ceil(width / self.step)

    @property
    def conditional(self) -> bool:
        """Whether the model makes the attributes asked for (`genmedia.levels.attributes`)."""
        return self.bins is not None

    @property
    def attribute_bins(self) -> attributes.Bins:
        """A conditional model's attribute bins; `ValueError` for a model that is not conditional."""
        if self.bins is None:
            raise ValueError(f"model {self.info.name!r} is not conditional: it has no attribute bins")
        return self.bins

    def condition(self, window_bins: np.ndarray, steps: int) -> np.ndarray:
        """(windows, attributes) bins (or (windows, attributes, labels) blends) -> (channels, steps) float32."""
        return attributes.condition(self.attribute_bins, window_bins, steps, self.steps_per_window)

    def decode(self, z: np.ndarray, *, width: int, biased: bool = False,
               cond: np.ndarray | None = None) -> list[np.ndarray]:
        """Latents (B, latent, steps) [and, for a conditional model, conditioning (B, channels,
        steps)] -> B levels (rows, width) of ASCII codes, argmax per tile.

        With `biased`, the model's calibrated per-tile logit biases (`tile_bias`) are added
        first, so sampled levels have the training maps' counts of enemies, coins, ...; a
        conditional model adds its per-bin biases (`bin_bias`) and decodes each window's tile
        counts into the bins it was given (`_counts_into_bins`).
        """
        if self.conditional and cond is None:
            raise ValueError(f"model {self.info.name!r} is conditional: decode needs its conditioning")
        conditioning = cond if self.conditional else None
        levels: list[np.ndarray] = []
        batch = max(1, DECODE_COLUMNS // (z.shape[2] * self.step))
        for start in range(0, len(z), batch):
            inputs = {"z": np.ascontiguousarray(z[start:start + batch], np.float32)}
            if conditioning is not None:
                inputs["cond"] = np.ascontiguousarray(conditioning[start:start + batch], np.float32)
            logits = self.decoder.run(**inputs)["logits"]
            logits = logits[:, :, self.rows_padded - self.rows:, :width]
            if biased:
                logits = logits + self.tile_bias[None, :, None, None]
                if self.bin_bias is not None:  # (V, channels) x (B, channels, steps): each window's bins' biases
                    per_step = np.einsum("vc,bcs->bvs", self.bin_bias, inputs["cond"])
                    logits = logits + np.repeat(per_step, self.step, axis=2)[:, :, None, :width]
            indices = logits.argmax(1)
            if biased and self.conditional:
                for b in range(len(indices)):
                    _counts_into_bins(self, logits[b], indices[b], inputs["cond"][b])
            levels.extend(self.tiles.from_indices(indices))
        return levels

    def encode(self, level: np.ndarray, *, source: str | Path = "<level>",
               window_bins: np.ndarray | None = None) -> np.ndarray:
        """A level (rows, W) -> latent mean (latent, ceil(W / 8)); the last column pads the width.

        A conditional model encodes the level given its bins per window (default: those measured
        on it, `Bins.bin_level`)."""
        self.validate(level, source=source)
        idx = self.tiles.to_indices(level)
        steps = self.steps_for(level.shape[1])
        pad_w = steps * self.step - level.shape[1]
        idx = np.pad(idx, ((self.rows_padded - self.rows, 0), (0, pad_w)), mode="edge")
        idx[: self.rows_padded - self.rows] = self.tiles.chars.index(self.tiles.empty)
        onehot = np.eye(len(self.tiles.chars), dtype=np.float32)[idx].transpose(2, 0, 1)[None]
        if not self.conditional:
            mean: np.ndarray = self.encoder.run(tiles=onehot)["mean"][0]
            return mean
        if window_bins is None:
            window_bins = self.attribute_bins.bin_level(level)
        mean = self.encoder.run(tiles=onehot, cond=self.condition(window_bins, steps)[None])["mean"][0]
        return mean

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


COUNTED_TILES = {"blocks": "S?Q", "coins": "o", "enemies": "E"}  # in the order they are decoded into their bins


def _counts_into_bins(model: LevelModel, logits: np.ndarray, indices: np.ndarray, cond: np.ndarray) -> None:
    """Decode each window's enemies, coins and blocks into the bins it was given, in place.

    Where the argmax map has more of an attribute's tiles in a window than its bin allows, the
    ones the logits are least sure of (smallest margin over the best other tile) take that tile
    instead; where it has fewer, the sky tiles where the attribute's tile comes closest to the
    argmax become it, never in the first `START_COLUMNS` (the repairs may clear those), and
    enemies only standing on something solid. Bins are read from `cond` (the largest of each
    attribute's channels at the window's first step), so a blend decodes into its strongest bin.
    """
    from genmedia.levels.repair import START_COLUMNS

    bins, chars = model.attribute_bins, model.tiles.chars
    if not all(c in chars for c in "".join(COUNTED_TILES.values()) + "-"):
        return
    width = indices.shape[1]
    sky = chars.index("-")
    solid = np.zeros(len(chars), dtype=bool)
    solid[[chars.index(c) for c in model.tiles.solid()]] = True
    offsets, channel = {}, 0
    for name in bins.names:
        offsets[name] = channel
        channel += len(attributes.LABELS[name])
    window, spw = bins.window, model.steps_per_window
    for start in range(0, width, window):
        stop = min(width, start + window)
        step = start // window * spw
        for name, tiles in COUNTED_TILES.items():
            if name not in offsets:
                continue
            n = len(attributes.LABELS[name])
            k = int(np.argmax(cond[offsets[name]:offsets[name] + n, min(step, cond.shape[1] - 1)]))
            low, high = bins.bounds(name, k)
            wanted = [chars.index(c) for c in tiles]
            part, scores = indices[:, start:stop], logits[:, :, start:stop]
            mine = np.isin(part, wanted)
            count = int(mine.sum())
            best_mine = scores[wanted].max(0)
            if count > high:
                others = scores.copy()
                others[wanted] = -np.inf
                margin = np.where(mine, best_mine - others.max(0), np.inf)
                for flat in np.argsort(margin, axis=None)[: count - int(high)]:
                    r, c = np.unravel_index(flat, margin.shape)
                    part[r, c] = int(others[:, r, c].argmax())
            elif count < low + 1:
                open_ = part == sky
                open_[:, : max(0, START_COLUMNS - start)] = False
                if name == "enemies":
                    below = np.zeros_like(open_)
                    below[:-1] = solid[part[1:]]
                    open_ &= below
                current = np.take_along_axis(scores, part[None], 0)[0]
                gain = np.where(open_, best_mine - current, -np.inf)
                need = int(low + 1) - count
                for flat in np.argsort(-gain, axis=None)[:need]:
                    r, c = np.unravel_index(flat, gain.shape)
                    if np.isfinite(gain[r, c]):
                        part[r, c] = wanted[int(scores[wanted, r, c].argmax())]


def _bin_bias(meta: dict[str, Any], tiles: TileSet, bins: attributes.Bins, steps_per_window: int) -> np.ndarray:
    """(vocabulary, conditioning channels) float32 logit offsets from `decoding.bin_bias`
    ({attribute: {bin label: {char: nats}}}): a window decoded with that bin gets them (0 if absent)."""
    given = meta.get("decoding", {}).get("bin_bias", {})
    out = np.zeros((len(tiles.chars), attributes.channels(bins, steps_per_window)), dtype=np.float32)
    channel = 0
    for name in bins.names:
        for label in attributes.LABELS[name]:
            for char, nats in given.get(name, {}).get(label, {}).items():
                out[tiles.chars.index(char), channel] = float(nats)
            channel += 1
    return out


def _tile_bias(meta: dict[str, Any], tiles: TileSet) -> np.ndarray:
    """(vocabulary,) float32 logit offsets from the metadata's `decoding.tile_bias` ({char: nats}); 0 if absent
    (`genmedia.schema` has checked that each is a finite number for a tile of the vocabulary)."""
    given = meta.get("decoding", {}).get("tile_bias", {})
    return np.array([float(given.get(c, 0.0)) for c in tiles.chars], dtype=np.float32)


@dataclass
class SampleResult:
    """Sampled levels, and how many latents each one took (1 = accepted at the first try); for a
    conditional model, the bins each level was decoded with, (windows, attributes) each."""

    levels: list[np.ndarray]
    attempts: list[int] = field(default_factory=list)
    conditions: list[np.ndarray] = field(default_factory=list)


Request = dict[str, list[str]]  # attribute -> one bin label per window of the level


def request_bins(model: LevelModel, request: Request | None, windows: int) -> dict[int, np.ndarray]:
    """A request -> {attribute column: bin index per window}; `ValueError` for what the model cannot make."""
    if not request:
        return {}
    if not model.conditional:
        raise ValueError(f"model {model.info.name!r} is not conditional, so it cannot be asked for "
                         f"{', '.join(request)}; use a conditional model such as {CONDITIONAL_MODEL!r}")
    bins = model.attribute_bins
    out = {}
    for name, labels in request.items():
        if name not in bins.names:
            raise ValueError(f"model {model.info.name!r} has no attribute {name!r}")
        labels = attributes.spread(list(labels), windows)
        known = attributes.LABELS[name]
        for label in labels:
            if label not in known:
                raise ValueError(f"{label!r} is not a bin of {name}; choose from {'|'.join(known)}")
        out[bins.names.index(name)] = np.array([known.index(label) for label in labels], dtype=np.int64)
    return out


class WindowWalk:
    """A conditional model's fitted prior: the exemplar walk of `genmedia.levels.prior`, window by
    window (16 columns, `steps_per_window` latent steps) and only through training windows whose
    bins match those asked for (a fitted p(z | bins)). At each window it goes on to the next
    window of the same training map with probability (1 - jump_probability) ** steps_per_window,
    if that window matches as well as any; else it jumps to a uniformly drawn training window among
    those matching the most asked-for bins. Each latent vector gets the prior's Gaussian kernel
    noise. The bins not asked for are those of the windows walked through, so they go together as
    in the game's levels."""

    def __init__(self, model: LevelModel, prior: ExemplarPrior) -> None:
        spw = model.steps_per_window
        self.spw, self.prior = spw, prior
        # every whole window of every training map: (sequence, first step), and its bins
        self.where = [(i, w * spw) for i, seq in enumerate(prior.sequences) for w in range(seq.shape[1] // spw)]
        self.table = np.stack([model.corpus_bins[i][t // spw] for i, t in self.where])
        self.index = {pos: k for k, pos in enumerate(self.where)}
        self.stay = (1 - prior.jump_probability) ** spw

    def draw(self, rng: np.random.Generator, wanted: np.ndarray, temperature: float,
             first: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Latents (C, windows * spw) and bins (windows, attributes) for `wanted`: per window the
        bin asked for of each attribute, -1 where none is asked. With `first` (attribute columns),
        windows that match those come before any that match more of the others."""
        picks, chosen, at = [], [], None
        for want in wanted:
            asked = want >= 0
            score = (self.table[:, asked] == want[asked]).sum(1)
            if first:
                score = score + (self.table[:, first] == want[first]).all(1) * len(want)
            best = score.max() if asked.any() else 0
            nxt: int | None = None if at is None else self.index.get((self.where[at][0], self.where[at][1] + self.spw))
            if rng.random() < self.stay and nxt is not None and score[nxt] == best:
                at = nxt
            else:
                candidates = np.flatnonzero(score == best)
                at = int(candidates[rng.integers(len(candidates))])
            seq, start = self.where[at]
            picks.append((seq, start))
            chosen.append(self.table[at])
        z = np.concatenate([self.prior.sequences[seq][:, start:start + self.spw] for seq, start in picks], axis=1)
        noise = rng.standard_normal(z.shape) * (self.prior.bandwidth * temperature)
        return (z + noise).astype(np.float32), np.stack(chosen).astype(np.int64)


def _wanted(model: LevelModel, asked: dict[int, np.ndarray], windows: int) -> np.ndarray:
    wanted = np.full((windows, len(model.attribute_bins.names)), -1, dtype=np.int64)
    for column, labels in asked.items():
        wanted[:, column] = labels
    return wanted


def _draw(model: LevelModel, latent_prior: LatentPrior, rng: np.random.Generator, steps: int, temperature: float,
          asked: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """One level's latents and, for a conditional model, its bins per window: those asked for, and
    the others drawn as in the corpus (the `WindowWalk`'s; under the normal prior, random training
    windows')."""
    if not model.conditional:
        return latent_prior.sample(rng, steps, temperature), None
    windows = math.ceil(steps / model.steps_per_window)
    wanted = _wanted(model, asked, windows)
    if isinstance(latent_prior, ExemplarPrior):
        z, wbins = WindowWalk(model, latent_prior).draw(rng, wanted, temperature)
        z = z[:, :steps]
    else:
        z = latent_prior.sample(rng, steps, temperature)
        pool = np.concatenate(model.corpus_bins)
        wbins = pool[rng.integers(len(pool), size=windows)]
    return z, np.where(wanted >= 0, wanted, wbins)


def _redraw(model: LevelModel, z: np.ndarray, wbins: np.ndarray | None, wanted: np.ndarray | None, step: int,
            prior: LatentPrior, rng: np.random.Generator, temperature: float, first: list[int] | None = None) -> None:
    """Redraw the latents around latent `step` (where Mario got stuck) in place. A conditional model
    under its fitted prior redraws whole windows with the `WindowWalk` (bins asked for, `wanted`,
    stay, those in `first` before the others; the drawn ones come with the new windows into
    `wbins`); otherwise `_redraw_around`."""
    if wbins is None or wanted is None or not isinstance(prior, ExemplarPrior):
        _redraw_around(z, step, prior, rng, temperature)
        return
    spw = model.steps_per_window
    start = max(0, step - REPAIR_STEPS[0]) // spw
    last = min(len(wbins), math.ceil((step + REPAIR_STEPS[1]) / spw))
    fresh, bins = WindowWalk(model, prior).draw(rng, wanted[start:last], temperature, first)
    stop = min(z.shape[1], last * spw)
    z[:, start * spw:stop] = fresh[:, : stop - start * spw]
    wbins[start:last] = np.where(wanted[start:last] >= 0, wanted[start:last], bins)


def sample_levels(model: LevelModel, *, count: int, width: int, seed: int, temperature: float = 1.0,
                  prior: str = "fitted", check: bool = True, max_attempts: int = 50,
                  request: Request | None = None) -> SampleResult:
    """Sample `count` levels `width` columns wide from the model's latent prior.

    `prior` is 'fitted' (the exemplar Markov prior in the model's metadata, see
    `genmedia.levels.prior`) or 'normal' (N(0, I)); `temperature` scales its noise.
    Level i draws its latents from its own stream of `seed`, so it is the same whatever
    `count` is. Decoding adds the model's calibrated tile biases, and every level goes
    through `repair_level` (whole pipes and cannons, no pipe on a pipe, a floor at the
    start). With `check`, a level that fails the playability check is repaired where Mario
    gets stuck: the latents around that column are drawn again and the level decoded again
    (the decoder is local, so the rest stays), up to `max_attempts` decodes per level.

    A conditional model decodes each 16-column window with bins: those in `request`
    (attribute -> labels for equal parts of the level, or one per window), and for the other
    attributes bins drawn as in the corpus; its latents come from the `WindowWalk` through
    training windows with the bins asked for (`_draw`). A repair redraws whole windows, and
    with them the bins not asked for; the bins asked for stay.
    """
    check_width(width)
    check_finite(temperature=temperature)
    if temperature < 0:
        raise ValueError(f"temperature must be at least 0, not {temperature}")
    steps = model.steps_for(width)
    asked = request_bins(model, request, math.ceil(steps / model.steps_per_window) if model.conditional else 0)
    latent_prior = load_prior(model.info.metadata, model.latent, prior)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]
    draws = [_draw(model, latent_prior, rng, steps, temperature, asked) for rng in rngs]
    z = np.stack([d[0] for d in draws])
    # each level's bins per window, for a conditional model (repairs redraw some of them in place)
    conditions = [d[1] for d in draws if d[1] is not None]
    cond, wanted = None, None
    if model.conditional:
        wanted = _wanted(model, asked, len(conditions[0]))
        cond = np.stack([model.condition(b, steps) for b in conditions])
    levels: list[np.ndarray | None] = [None] * count
    attempts = [0] * count
    last: list[tuple[np.ndarray, PlayResult | None] | None] = [None] * count  # each level's previous decode and check
    pending = list(range(count))
    while pending:
        still = []
        decoded = model.decode(z[pending], width=width, biased=True, cond=None if cond is None else cond[pending])
        for i, level in zip(pending, decoded):
            attempts[i] += 1
            level = _repaired(model, level)
            result = _check_again(model, level, last[i]) if check else None
            last[i] = (level, result)
            if result is None or result.playable:
                levels[i] = level
            elif attempts[i] >= max_attempts:
                raise SamplingError(f"no playable level {i} found in {max_attempts} samples; "
                                    "try a lower --temperature, or --no-check")
            else:
                _redraw(model, z[i], conditions[i] if cond is not None else None, wanted,
                        max(0, result.furthest) // model.step, latent_prior, rngs[i], temperature)
                if cond is not None:
                    cond[i] = model.condition(conditions[i], steps)
                still.append(i)
        pending = still
    return SampleResult([lv for lv in levels if lv is not None], attempts, conditions)


def _repaired(model: LevelModel, level: np.ndarray) -> np.ndarray:
    """`repair_level`; a conditional model's levels also get their pipes capped at `PIPE_HEIGHT`
    (asked for many pipes and low ground, its decoder stretches pipes down to the ground)."""
    return repair_level(level, pipe_height=PIPE_HEIGHT if model.conditional else None)


def check_width(width: int) -> None:
    """Raise `ValueError` unless `width` is from `MIN_WIDTH` to the columns `genmedia.limits` allows now."""
    bounds = limits.current()
    check_finite(width=width)
    if width < MIN_WIDTH:
        raise ValueError(f"width must be at least {MIN_WIDTH} columns, not {width}")
    if width > bounds.level_columns:
        raise ValueError(f"width of {limits.over(bounds, 'level_columns', width, 'columns')}")


def _check_again(model: LevelModel, level: np.ndarray,
                 previous: tuple[np.ndarray, PlayResult | None] | None) -> PlayResult:
    """Check a level, resuming from the previous check's route where the previous decode is unchanged."""
    if previous is None or previous[1] is None or previous[0].shape != level.shape:
        return check_playable(level, solid=model.tiles.solid())
    changed = np.flatnonzero((previous[0] != level).any(axis=0))
    keep = int(changed[0]) if len(changed) else level.shape[1]
    return check_playable(level, solid=model.tiles.solid(), prefix=previous[1].actions, keep_left_of=keep)


REPAIR_STEPS = (2, 4)  # latent steps redrawn before and after the one where Mario got stuck


def _redraw_around(z: np.ndarray, step: int, prior: LatentPrior, rng: np.random.Generator, temperature: float) -> None:
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
    stretched: np.ndarray = (z[:, lo] * (1 - frac) + z[:, hi] * frac).astype(np.float32)
    return stretched


class Morph(list[np.ndarray]):
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
    for k, width in enumerate(morph_widths(a.shape[1], b.shape[1], steps)):
        t = k / (steps - 1)
        n = model.steps_for(width)
        z = slerp(resize_latent(za, n), resize_latent(zb, n), t)
        cond = _blend_condition(model, a, b, n, t)
        rng = np.random.default_rng([MORPH_SEED, k])
        previous = None
        for attempt in range(1, max_attempts + 1):
            level = _repaired(model, model.decode(z[None], width=width, cond=cond)[0])
            result = _check_again(model, level, previous) if check else None
            previous = (level, result)
            if result is None or result.playable:
                break
            if attempt == max_attempts:
                raise SamplingError(f"step {k} of the morph is not playable after {_decodes(max_attempts)} "
                                    f"({result.reason})")
            _redraw_around(z, max(0, result.furthest) // model.step, latent_prior, rng, 1.0)
        if attempt > 1:
            repaired.append(k)
        out.append(level)
    return Morph(out, (a, b), repaired)


def morph_widths(a: int, b: int, steps: int) -> list[int]:
    """The width of each step of a morph from an `a`-column map to a `b`-column one: the linear blend."""
    return [round((1 - k / (steps - 1)) * a + k / (steps - 1) * b) for k in range(steps)]


def _decodes(attempts: int) -> str:
    """'1 decode', or 'N decodes (N - 1 local repairs)'."""
    return "1 decode" if attempts == 1 else f"{attempts} decodes ({attempts - 1} local repair{'s' * (attempts != 2)})"


MORPH_SEED = 0x6D6F7270  # the random stream of a morph's local repairs ("morp")


def _blend_condition(model: LevelModel, a: np.ndarray, b: np.ndarray, steps: int, t: float) -> np.ndarray | None:
    """A conditional model's conditioning for a morph step: the bins measured on A and on B, each
    stretched to `steps` positions as the latents are, blended linearly (None if unconditional)."""
    if not model.conditional:
        return None
    spw = model.steps_per_window
    parts = []
    for level in (a, b):
        own = model.condition(model.attribute_bins.bin_level(level), model.steps_for(level.shape[1]))[:-spw]
        parts.append(resize_latent(own, steps))
    blend = (1 - t) * parts[0] + t * parts[1]
    phase = np.eye(spw, dtype=np.float32)[np.arange(steps) % spw].T
    return np.concatenate([blend, phase])[None].astype(np.float32)


@dataclass
class Transformed:
    """A transformed level, the bins it was decoded with (windows, attributes), those measured on
    the input, and whether it needed local repairs to be playable."""

    level: np.ndarray
    bins: np.ndarray
    before: np.ndarray
    repaired: bool


TRANSFORM_SEED = 0x7472616E  # the random stream of a transform's local repairs ("tran")


# How a window that misses its asked-for bins is searched for (`_into_bins`): its latents are moved
# toward each of the INTO_BIN_NEAREST nearest training windows that have its bins, by each of
# INTO_BIN_AMOUNTS, all these candidates are decoded in one batch, and the window takes the one that
# lands in the bins and keeps most of the input's tiles; INTO_BIN_ROUNDS rounds, as a window's
# neighbours change too.
INTO_BIN_NEAREST = 8
INTO_BIN_AMOUNTS = (0.25, 0.5, 0.75, 1.0)
INTO_BIN_ROUNDS = 3


def _into_bins(model: LevelModel, z: np.ndarray, cond: np.ndarray, wbins: np.ndarray, columns: list[int],
               level: np.ndarray, prior: LatentPrior) -> None:
    """Where decoding `z` leaves a whole window's asked-for attributes (`columns`) outside their
    bins, search that window's latents in place (see `INTO_BIN_NEAREST`): each candidate moves them
    toward one of the nearest training windows (Euclidean, over the window's steps) with all of the
    window's bins, and the window takes the candidate that lands in the asked-for bins (or comes
    nearest to them) and, among those, keeps most of `level`'s tiles there: its non-sky tiles other
    than the asked-for attributes' own (`attributes.TILES`; for gaps, the bottom row). The decoder is
    local, so the other windows stay as they were."""
    if not isinstance(prior, ExemplarPrior):
        return
    walk, spw, bins = WindowWalk(model, prior), model.steps_per_window, model.attribute_bins
    width, window = level.shape[1], bins.window
    whole = width // window
    original = z.copy()
    names = [bins.names[c] for c in columns]
    counted = level != ord(model.tiles.empty)
    for name in names:
        counted &= ~np.isin(level, [ord(c) for c in attributes.TILES[name]])
        if name == "gaps":
            counted[-1] = False
    amounts = np.array(INTO_BIN_AMOUNTS, dtype=np.float32)[:, None, None]
    for round_ in range(INTO_BIN_ROUNDS):
        current = _repaired(model, model.decode(z[None], width=width, cond=cond, biased=True)[0])
        got = bins.bin_level(current)
        missed = [w for w in range(whole) if (got[w, columns] != wbins[w, columns]).any()]
        if not missed:
            return
        batch = np.repeat(z[None], 1 + INTO_BIN_NEAREST * len(INTO_BIN_AMOUNTS), axis=0)  # [0]: as now
        for w in missed:
            span = slice(w * spw, min(z.shape[1], (w + 1) * spw))
            # training windows with the asked-for bins first, then those with most of the others
            match = walk.table == wbins[w]
            score = match[:, columns].all(1) * len(bins.names) + match.sum(1)
            found = np.flatnonzero(score >= np.sort(score)[-INTO_BIN_NEAREST])
            exemplars = np.stack([prior.sequences[walk.where[k][0]][:, walk.where[k][1]:walk.where[k][1] + spw]
                                  for k in found])[:, :, : span.stop - span.start]
            distance = ((exemplars - original[None, :, span]) ** 2).sum((1, 2))
            order = np.lexsort((distance, -score[found]))
            # later rounds go further down the list: the nearest did not land there
            picks = order[np.arange(round_ * INTO_BIN_NEAREST // 2, round_ * INTO_BIN_NEAREST // 2 + INTO_BIN_NEAREST)
                          % len(order)]
            moves = original[None, None, :, span] + amounts[None] * (exemplars[picks][:, None]
                                                                     - original[None, None, :, span])
            batch[1:, :, span] = moves.reshape(-1, *moves.shape[2:])
        outs = [_repaired(model, out) for out in
                model.decode(batch, width=width, cond=np.repeat(cond, len(batch), axis=0), biased=True)]
        outs[0] = current
        found_bins = [bins.bin_level(out) for out in outs]
        for w in missed:
            cols = slice(w * window, (w + 1) * window)
            mask = counted[:, cols]
            wanted, kept = level[:, cols][mask], max(1, int(mask.sum()))
            ranks = [(-int(np.abs(found_bins[k][w, columns] - wbins[w, columns]).sum()),
                      int((outs[k][:, cols][mask] == wanted).sum()) / kept) for k in range(len(outs))]
            best = max(range(len(outs)), key=ranks.__getitem__)
            if best:
                span = slice(w * spw, min(z.shape[1], (w + 1) * spw))
                z[:, span] = batch[best][:, span]


def transform_level(model: LevelModel, level: np.ndarray, *, request: Request, source: str | Path = "<level>",
                    check: bool = True, max_attempts: int = 50) -> Transformed:
    """Keep `level`'s latents, change the bins asked for: the level is encoded given the bins
    measured on it, then decoded as `sample_levels` decodes (biases, counts into bins) with the
    requested attributes' bins in their place (the others stay as measured). A whole window that
    still misses a bin asked for has its latents searched (`_into_bins`); the other windows keep the
    input's. The result goes through `repair_level`; with `check`, an unplayable one is repaired
    locally as `sample_levels` does (its redrawn windows match the asked-for bins first). Both use a
    fixed random stream, so transforms are deterministic. Raises `SamplingError` if it is still
    unplayable after `max_attempts`."""
    if not request:
        raise ValueError("a transform needs at least one attribute to change")
    model.validate(level, source=source)
    if not model.conditional:
        request_bins(model, request, 0)  # raises: a model that is not conditional cannot be asked for bins
    before = model.attribute_bins.bin_level(level)
    asked = request_bins(model, request, len(before))
    wbins = before.copy()
    for column, labels in asked.items():
        wbins[:, column] = labels
    z = model.encode(level, source=source, window_bins=before)
    cond = model.condition(wbins, z.shape[1])[None]
    latent_prior = load_prior(model.info.metadata, model.latent)
    rng = np.random.default_rng(TRANSFORM_SEED)
    _into_bins(model, z, cond, wbins, list(asked), level, latent_prior)
    previous: tuple[np.ndarray, PlayResult | None] | None = None
    attempt = 0
    while True:
        attempt += 1
        out = _repaired(model, model.decode(z[None], width=level.shape[1], cond=cond, biased=True)[0])
        result = _check_again(model, out, previous) if check else None
        previous = (out, result)
        if result is None or result.playable:
            return Transformed(out, wbins, before, attempt > 1)
        if attempt >= max_attempts:
            raise SamplingError(f"{source}: the transformed level is not playable after {_decodes(max_attempts)} "
                                f"({result.reason})")
        # windows that all bins (asked for and kept) match, so that the repair keeps the request
        _redraw(model, z, wbins.copy(), wbins, max(0, result.furthest) // model.step, latent_prior, rng, 1.0,
                list(asked))
