"""The melody VAE at run time (ONNX Runtime): encode, decode, sample and morph melodies."""

from __future__ import annotations

from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from genmedia.errors import InputError, ModelError
from genmedia.latent import check_finite, slerp
from genmedia.melody.data import windows
from genmedia.melody.meter import fill, from_grid, grid_signature, to_grid
from genmedia.melody.metrics import token_distance
from genmedia.melody.midi import BAR_STEPS, REST, Melody
from genmedia.melody.prior import KernelPrior, choose_bandwidth, kernel_samples, load_prior, window_keys
from genmedia.melody.refine import Differentiable, FlatDecoder, HierarchicalDecoder, refine as refine_latents
from genmedia.registry import ModelInfo
from genmedia.runtime import Model


class MelodyModel(Model):
    """A melody VAE; vocabulary, length and latent size come from its metadata."""

    task = "melody"

    def __init__(self, info: ModelInfo, *, threads: int | None = None) -> None:
        # One thread per session unless asked: the decoder runs one step at a time on a few windows,
        # where a second thread costs more than it gives (a 16-bar model's greedy decode of 2 windows
        # on 2 cores: 0.09 s with one thread, 0.22 s with two; of 256 windows 3.6 s and 3.9 s).
        super().__init__(info, threads=1 if threads is None else threads)
        meta = info.metadata
        self.steps: int = meta["steps"]
        self.latent: int = meta["latent"]["size"]
        self.start_token: int = meta["vocabulary"]["start_token"]
        decoder = meta.get("decoder", {"kind": "flat"})
        # A hierarchical decoder writes `segments` bars, each from its own conductor embedding.
        self.segments: int = decoder["bars"] if decoder["kind"] == "hierarchical" else 1
        self.bar_steps: int = decoder.get("steps_per_bar", BAR_STEPS)
        # Models trained on the meter grid (genmedia.melody.meter) read 3/4 and 6/8 bars as padded grid
        # bars; older models read every tune straight onto 16-step bars.
        self.grid: bool = "meter" in meta
        self.encoder = self.graph("encoder")
        self.conductor = self.graph("conductor") if self.segments > 1 else None
        self.init = self.graph("decoder_init")
        self.step = self.graph("decoder_step")
        # The metadata must describe these graphs: a mismatch fails here, not inside a run.
        latent, where = {1: (self.latent, "latent.size")}, info.metadata_path
        self.encoder.expect("tokens", {1: (self.steps, "steps")}, metadata=where)
        self.encoder.expect("mean", latent, metadata=where)
        if self.conductor is not None:
            self.conductor.expect("z", latent, metadata=where)
            self.conductor.expect("bars", {1: (self.segments, "decoder.bars")}, metadata=where)
        else:
            self.init.expect("z", latent, metadata=where)
        vocabulary = meta["vocabulary"].get("size")
        for net, tensors in ((self.init, ("h", "c")), (self.step, ("prev", "z", "h", "c", "h_out", "c_out"))):
            for tensor in tensors:
                net.expect(tensor, metadata=where)
        self.step.expect("logits", {2: (vocabulary, "vocabulary.size")} if vocabulary else None, metadata=where)

    def encode(self, tokens: np.ndarray, *, refine: bool = False) -> np.ndarray:
        """Token windows (B, steps) -> latent means (B, latent). With `refine`, each mean is then
        refined by gradient steps until the decoder writes its window back (`genmedia.melody.refine`):
        what a morph or transform starts from."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int64)
        mean: np.ndarray = self.encoder.run(tokens=tokens)["mean"]
        return self.refine(tokens, mean) if refine else mean

    def refine(self, tokens: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Latents `z` of token windows (B, steps), refined by gradient steps until this model's greedy
        decoder writes the windows back (`genmedia.melody.refine`)."""
        return refine_latents(self.differentiable, np.asarray(tokens, dtype=np.int64), z,
                              start_token=self.start_token, decode=self.decode)

    @cached_property
    def differentiable(self) -> Differentiable:
        """The decoder's weights as `refine` differentiates them, read from its ONNX files when first
        needed (`ModelError` if they are not shaped as genmedia exports them)."""
        files = self.info.file("decoder_init"), self.info.file("decoder_step")
        try:
            return (FlatDecoder.read(*files) if self.segments == 1 else
                    HierarchicalDecoder.read(self.info.file("conductor"), *files, bars=self.segments))
        except ValueError as error:
            raise ModelError(str(error)) from None

    def conditioning(self, z: np.ndarray) -> np.ndarray:
        """What the bar decoder is conditioned on: (B, 1, latent) for a flat model, else (B, bars, embed)."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        return z[:, None, :] if self.conductor is None else self.conductor.run(z=z)["bars"]

    def teacher_forced_logits(self, z: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Logits (B, steps, vocab) when the decoder is fed the true previous tokens."""
        cond = self.conditioning(z)
        n, segments = len(tokens), cond.shape[1]
        prev = np.concatenate([np.full((n, 1), self.start_token), tokens[:, :-1]], axis=1)
        flat = np.ascontiguousarray(cond.reshape(n * segments, -1))
        state = self.init.run(z=flat)
        logits = self.step.run(prev=np.ascontiguousarray(prev.reshape(n * segments, -1), dtype=np.int64), z=flat,
                               h=state["h"], c=state["c"])["logits"]
        return logits.reshape(n, self.steps, -1)

    def decode(self, z: np.ndarray, *, temperature: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
        """Latents (B, latent) -> tokens (B, steps): greedy when temperature is 0, else sampled."""
        check_finite(temperature=temperature)
        if temperature > 0 and rng is None:
            raise ValueError("decoding at a temperature above 0 samples tokens: pass rng, a numpy Generator")
        cond = self.conditioning(z)
        per_segment = self.steps // cond.shape[1]
        prev = np.full((len(z), 1), self.start_token, dtype=np.int64)
        out = np.empty((len(z), self.steps), dtype=np.int64)
        for t in range(self.steps):
            if t % per_segment == 0:  # a new bar (hierarchical) or the start: state from its conditioning
                bar = np.ascontiguousarray(cond[:, t // per_segment])
                state = self.init.run(z=bar)
                h, c = state["h"], state["c"]
            result = self.step.run(prev=prev, z=bar, h=h, c=c)
            logits, h, c = result["logits"][:, 0], result["h_out"], result["c_out"]
            if temperature <= 0:
                prev = logits.argmax(-1)[:, None]
            else:
                assert rng is not None  # checked above
                scaled = logits / temperature
                p = np.exp(scaled - scaled.max(-1, keepdims=True))
                p /= p.sum(-1, keepdims=True)
                u = rng.random((len(z), 1))
                prev = np.minimum((p.cumsum(-1) < u).sum(-1, keepdims=True), p.shape[-1] - 1)
            out[:, t] = prev[:, 0]
        return out

    def tokens_of(self, melody: Melody) -> np.ndarray:
        """A melody's tokens as this model reads them: on the meter grid (see `genmedia.melody.meter`)."""
        return to_grid(melody.tokens, melody.steps_per_bar)[0] if self.grid else melody.tokens

    def windows_of(self, melody: Melody) -> list[np.ndarray]:
        """Every bar-aligned window of `steps` tokens of a melody that has a note (training and evaluation)."""
        return windows(melody, self.steps, grid=self.grid, pad_short=self.grid)

    def window(self, melody: Melody, *, source: str | Path) -> np.ndarray:
        """The first `steps` tokens of a melody (from its first bar with a note), rest-padded."""
        tokens = self.tokens_of(melody)[: self.steps]
        if not (tokens >= 2).any():
            raise InputError(source, f"has no notes in its first {self.steps} sixteenths")
        window = np.full(self.steps, REST, dtype=np.int64)
        window[: len(tokens)] = tokens
        return window

    def covered(self, melody: Melody) -> int:
        """How many steps of the window hold the melody: its length rounded up to whole bars of the
        model's grid, at most the model's length. A morph or reconstruction of a melody shorter than
        the model is cut to this, so that the rests the window was padded with are not decoded into
        bars the input never had."""
        bars = -(-len(self.tokens_of(melody)) // self.bar_steps)
        return int(min(self.steps, max(1, bars) * self.bar_steps))


def sample_melodies(model: MelodyModel, *, count: int, seed: int, temperature: float = 1.0,
                    prior: str = "fitted") -> np.ndarray:
    """`count` melodies (count, steps): z from the model's prior (see `genmedia.melody.prior`),
    decoded with softmax `temperature`."""
    check_finite(temperature=temperature)
    rng = np.random.default_rng(seed)
    z = load_prior(model.info, model.latent, prior).sample(rng, count)
    return model.decode(z, temperature=temperature, rng=rng)


def fit_prior(model: MelodyModel, windows: np.ndarray, *, bandwidth: float, exemplars: int = 2048,
              seed: int = 0) -> KernelPrior:
    """A kernel density prior over the posterior means of up to `exemplars` windows (a seeded choice)."""
    check_finite(bandwidth=bandwidth)
    rng = np.random.default_rng(seed)
    chosen = windows[np.sort(rng.choice(len(windows), min(exemplars, len(windows)), replace=False))]
    means = np.concatenate([model.encode(chosen[i:i + 512]) for i in range(0, len(chosen), 512)])
    return KernelPrior(means, bandwidth)


def interpolate_melodies(model: MelodyModel, a: np.ndarray, b: np.ndarray, *, steps: int,
                         oversample: int = 8, length: int | None = None, refine: bool = True) -> np.ndarray:
    """Greedy decodes (steps, length) along the spherical path between the latents of windows a and b
    (their means, refined unless `refine` is False: see `MelodyModel.encode`), cut to their first
    `length` steps (all of them by default; see `MelodyModel.covered`).

    The path is decoded at `(steps - 1) * oversample + 1` evenly spaced points, and the steps are
    chosen among them by `monotone_steps`: the first and last points always, and between them a
    sequence whose token distance to A never falls and to B never rises wherever the path allows,
    as evenly spread from A to B as it can be. Greedy decodes of an evenly spaced path wobble where
    they are far from both ends; `oversample=1` gives that plain even spacing. Where no such
    sequence is among those points (two unrelated tunes, whose decodes halfway differ from both),
    the path is decoded again at `DENSER` times as many points (at most `DENSE_POINTS`) and the
    steps chosen among those.
    """
    za, zb = model.encode(np.stack([a, b]), refine=refine)
    length = model.steps if length is None else length
    dense = min(oversample * DENSER, max(oversample, DENSE_POINTS // (steps - 1)))
    for density in (oversample,) if oversample == 1 or dense == oversample else (oversample, dense):
        ts = np.linspace(0.0, 1.0, (steps - 1) * density + 1)
        decoded = model.decode(np.stack([slerp(za, zb, float(t)) for t in ts]))[:, :length]
        to_a = np.array([token_distance(x, a[:length]) for x in decoded])
        to_b = np.array([token_distance(x, b[:length]) for x in decoded])
        chosen = monotone_steps(to_a, to_b, steps, ts)
        if is_monotone(to_a[chosen], to_b[chosen]):
            break
    picked: np.ndarray = decoded[chosen]
    return picked


def morph_meter(model: MelodyModel, a: Melody, b: Melody) -> tuple[int, int]:
    """The time signature a morph of `a` into `b` is written in: theirs where both have bars of the
    same size on the model's grid (two 3/4 tunes morph in 3/4, 6/8 ones in 6/8; see
    `genmedia.melody.meter`), else 4/4, the grid itself."""
    if model.grid and fill(a.steps_per_bar) == fill(b.steps_per_bar) != BAR_STEPS:
        return grid_signature(a.time_signature)
    same = model.grid and grid_signature(a.time_signature) == grid_signature(b.time_signature)
    return grid_signature(a.time_signature) if same else (4, 4)


def morph_melodies(model: MelodyModel, a: Melody, b: Melody, *, steps: int, oversample: int = 8,
                   sources: tuple[str | Path, str | Path] = ("A", "B")) -> np.ndarray:
    """`interpolate_melodies` from two melodies as read: each encoded from its model-length window,
    the morph as long as the longer of them (see `MelodyModel.covered`). `sources` name them in errors.

    The steps come back in the meter of `morph_meter(model, a, b)`: for two 3/4 tunes, bars of 12
    sixteenths (the grid's padding dropped), so they are written in 3/4 with bar lines in place."""
    windows = [model.window(m, source=s) for m, s in zip((a, b), sources)]
    morph = interpolate_melodies(model, *windows, steps=steps, oversample=oversample,
                                 length=max(model.covered(a), model.covered(b)))
    num, den = morph_meter(model, a, b)
    bar = num * 16 // den
    return morph if fill(bar) == BAR_STEPS else np.stack([from_grid(step, bar) for step in morph])


DENSER = 4  # how many times as many points a morph's path is decoded at when the first ones held no monotone steps
DENSE_POINTS = 4096  # but no more points than this (monotone_steps holds a few points x points matrices)


def is_monotone(to_a: np.ndarray, to_b: np.ndarray) -> bool:
    """Whether steps at these distances move away from A and towards B throughout (ties allowed)."""
    return bool(np.all(np.diff(to_a) >= 0) and np.all(np.diff(to_b) <= 0))


def monotone_steps(to_a: np.ndarray, to_b: np.ndarray, steps: int, ts: np.ndarray) -> np.ndarray:
    """Indices of `steps` of the points of a path, the first and the last among them, chosen (by
    dynamic programming) for the least sum of squared gaps between each step's progress,
    to_a / (to_a + to_b) (its position `ts` where both are 0), and an even spread from 0 to 1, plus
    a heavy penalty on the total fall of the distance to A and rise of the distance to B from each
    step to the next. The penalty on the smallest step back there can be outweighs any evenness,
    so steps that never step back are always chosen where the points hold some."""
    n = len(to_a)
    total = to_a + to_b
    progress = np.where(total > 0, to_a / np.where(total > 0, total, 1.0), ts)
    # The smallest step back there can be is the smallest gap between two distances; weighed so
    # that it costs more than the evenness of any choice (at most one per step) can.
    values = np.unique(np.concatenate([to_a, to_b]))
    weight = 2.0 * steps / (float(np.diff(values).min()) if len(values) > 1 else 1.0)
    # jump[j, i]: penalty for going from point j to a later point i (infinite backwards or in place)
    falls_from_a = np.maximum(0.0, to_a[:, None] - to_a[None, :])
    rises_to_b = np.maximum(0.0, to_b[None, :] - to_b[:, None])
    jump = weight * (falls_from_a + rises_to_b)
    jump[np.tril_indices(n)] = np.inf
    cost = np.full(n, np.inf)
    cost[0] = 0.0
    back = np.zeros((steps, n), dtype=np.int64)
    for k in range(1, steps):
        options = cost[:, None] + jump
        back[k] = options.argmin(axis=0)
        cost = options.min(axis=0) + (progress - k / (steps - 1)) ** 2
    chosen = [n - 1]
    for k in range(steps - 1, 0, -1):
        chosen.append(int(back[k, chosen[-1]]))
    return np.array(chosen[::-1])


def attach_prior(metadata_path: Path, data_dir: Path | list[Path], *, bandwidth: float | None, command: str,
                 train: np.ndarray | list[np.ndarray] | None = None) -> dict[str, Any]:
    """Fit the kernel density prior on the training split of `data_dir` with the model's own (ONNX)
    encoder; write its means to `NAME.prior.npy` beside the model and record it (file, sha256,
    bandwidth, command) in the model's metadata, rewritten atomically. Return the prior's entry.
    `bandwidth` None chooses the kernel width on the folders' validation split
    (`genmedia.melody.prior.choose_bandwidth`; 0.3 if they have none) and records how.
    `train`: those training windows, if the caller has them already (training just read them)."""
    from genmedia.melody.data import read_folder
    from genmedia.npyfile import attach_matrix
    from genmedia.registry import load_info

    info = load_info(Path(metadata_path))
    model = MelodyModel(info)
    folders = [Path(data_dir)] if isinstance(data_dir, (str, Path)) else [Path(d) for d in data_dir]
    if train is None:
        train = [w for folder in folders for _, melody in read_folder(folder)[0]["train"]
                 for w in model.windows_of(melody)]
    if not len(train):
        raise InputError(folders[0], "has no training melodies to fit a prior on")
    prior = fit_prior(model, np.stack(list(train)), bandwidth=0.3 if bandwidth is None else bandwidth)
    choice: dict[str, Any] = {}
    if bandwidth is None:
        held = [w for folder in folders for _, melody in read_folder(folder)[0]["valid"]
                for w in model.windows_of(melody)]
        width, choice = choose_bandwidth(partial(kernel_samples, model, prior.means), seen=window_keys(train),
                                         held_out=held, fallback=prior.bandwidth)
        prior = KernelPrior(prior.means, width)
    meta = attach_matrix(info, "prior", prior.means, {
        "type": "kernel-density", "bandwidth": prior.bandwidth, **({"bandwidth_choice": choice} if choice else {}),
        "fitted_on": f"posterior means of {len(prior.means)} of the {len(train)} training windows "
                     f"of {', '.join(map(str, folders))}", "command": command})
    entry: dict[str, Any] = meta["prior"]
    return entry
