"""Concept (attribute) vectors for melody VAEs, as in MusicVAE: move a melody along an attribute.

An attribute's vector is the mean latent code (the encoder's posterior mean) of the training
windows in the top quartile of the attribute minus the mean of those in its bottom quartile
(attributes: `genmedia.melody.attributes`). `transform_melody` decodes z + amount x vector
greedily, `sweep` a row of such amounts (`sweep_points`: chosen among a denser row so that the
attribute moves one way), and `sample_shifted` adds amount x vector to sampled
latents. Amounts are in units of the vector: 1.0 moves a latent by the whole top-minus-bottom gap.

The vectors are computed without torch from any trained model (`attach_concepts`, the command
`genmedia train melody-concepts`) and stored beside it in `NAME.concepts.npy` (float32, one row
per attribute, hash-checked like the ONNX files), described by the metadata's "concepts" entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from genmedia.errors import InputError, ModelError
from genmedia.latent import check_finite
from genmedia.melody.attributes import ATTRIBUTES, UNITS, attribute_table
from genmedia.melody.meter import fill, from_grid
from genmedia.melody.midi import BAR_STEPS, Melody
from genmedia.melody.prior import load_prior
from genmedia.npyfile import read_matrix

if TYPE_CHECKING:
    from genmedia.melody.model import MelodyModel
    from genmedia.registry import ModelInfo

MAX_WINDOWS = 20_000  # training windows the vectors are computed from (a seeded choice beyond this)
ENCODE_BATCH = 512

MAX_AMOUNT = 10.0  # the most a latent moves along a concept vector, in units of it (either way)


@dataclass(frozen=True)
class Concepts:
    """A model's attribute vectors: `vectors[i]` belongs to `attributes[i]` (latent units), and
    `corpus_std[name]` is the attribute's spread over the training windows (its own units)."""

    attributes: tuple[str, ...]
    vectors: np.ndarray  # (len(attributes), latent) float32
    corpus_std: dict[str, float]

    def vector(self, name: str) -> np.ndarray:
        if name not in self.attributes:
            raise ModelError(f"the model has no concept vector for {name!r} (it has {', '.join(self.attributes)})")
        vector: np.ndarray = self.vectors[self.attributes.index(name)]
        return vector

    def shift(self, amounts: dict[str, float]) -> np.ndarray:
        """The latent offset sum(amount x vector) for {attribute: amount}."""
        offset = np.zeros(self.vectors.shape[1], dtype=np.float32)
        for name, amount in amounts.items():
            check_finite(amount=amount)
            offset = (offset + np.float32(amount) * self.vector(name)).astype(np.float32)
        return offset


class Windowed(Protocol):
    """What `training_windows` needs of a model: its window length (and `windows_of`, if it has one)."""

    steps: int


class Encoder(Protocol):
    """What `concept_vectors` needs of a model: posterior means (B, latent) of windows (B, steps)."""

    def encode(self, tokens: np.ndarray) -> np.ndarray: ...


def training_windows(model: Windowed, folders: list[Path], *, max_windows: int = MAX_WINDOWS,
                     seed: int = 0, split: str = "train") -> np.ndarray:
    """The model's windows (B, steps) of the training split (or `split`) of each folder
    (`read_folder(folder)[0][split]`), cut as the model cuts them (`windows_of`, else
    `genmedia.melody.data.windows`); beyond `max_windows` a seeded choice of that many, in their order."""
    from genmedia.melody.data import read_folder, windows

    def cut(melody: Melody) -> list[np.ndarray]:
        if hasattr(model, "windows_of"):
            cuts: list[np.ndarray] = model.windows_of(melody)
            return cuts
        return windows(melody, model.steps, grid=getattr(model, "grid", True))

    found = [w for folder in folders for _, melody in read_folder(Path(folder))[0][split] for w in cut(melody)]
    if not found:
        raise InputError(folders[0], "has no training melodies to compute concept vectors from" if split == "train"
                         else f"has no {split} melodies")
    stacked = np.stack(found).astype(np.int64)
    if len(stacked) > max_windows:
        rng = np.random.default_rng(seed)
        stacked = stacked[np.sort(rng.choice(len(stacked), max_windows, replace=False))]
    return stacked


def encode_all(model: Encoder, windows: np.ndarray) -> np.ndarray:
    """Posterior means (B, latent) of windows (B, steps), in batches."""
    return np.concatenate([model.encode(windows[i:i + ENCODE_BATCH]) for i in range(0, len(windows), ENCODE_BATCH)])


def quartile_vectors(means: np.ndarray, values: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Mean of `means` over the top quartile of `values` minus the mean over the bottom quartile.

    Windows whose value is NaN are left out. The windows are ranked by value, ties in a seeded random
    order, and each quartile is the len // 4 windows at either end (so ties at a bound, common for
    the in-key share, split at random rather than swell a quartile). Returns the vector and what it
    was computed from (windows used, the values at the two quartile bounds, each quartile's mean value).
    """
    valid = np.nonzero(np.isfinite(values))[0]
    quarter = len(valid) // 4
    if quarter < 1:
        raise ValueError(f"{len(valid)} windows have this attribute; a concept vector needs at least 4")
    rng = np.random.default_rng(seed)
    order = valid[np.lexsort((rng.random(len(valid)), values[valid]))]
    bottom, top = order[:quarter], order[-quarter:]
    vector = means[top].mean(axis=0) - means[bottom].mean(axis=0)
    return vector.astype(np.float32), {
        "windows": len(valid),
        "bottom_quartile_mean": round(float(values[bottom].mean()), 4),
        "top_quartile_mean": round(float(values[top].mean()), 4),
        "norm": round(float(np.linalg.norm(vector)), 4),
    }


def concept_vectors(model: Encoder, windows: np.ndarray, *,
                    seed: int = 0) -> tuple[np.ndarray, dict[str, dict[str, Any]], np.ndarray]:
    """Every attribute's vector (len(ATTRIBUTES), latent) from windows (B, steps) and the model's
    encoder; with per-attribute details (`quartile_vectors`) and the attribute table (B, attributes)."""
    means = encode_all(model, windows)
    table = attribute_table(windows)
    vectors, details = [], {}
    for i, name in enumerate(ATTRIBUTES):
        vector, details[name] = quartile_vectors(means, table[:, i], seed=seed + i)
        vectors.append(vector)
    return np.stack(vectors), details, table


def attach_concepts(metadata_path: Path, data_dirs: Path | list[Path], *, command: str,
                    max_windows: int = MAX_WINDOWS, seed: int = 0) -> dict[str, Any]:
    """Compute a model's concept vectors on the training split of `data_dirs` with its own (ONNX)
    encoder, write them to `NAME.concepts.npy` beside the model and record them (file, sha256,
    attributes, corpus spread, command) in its metadata, rewritten atomically. Return the entry."""
    from genmedia.melody.model import MelodyModel
    from genmedia.npyfile import attach_matrix
    from genmedia.registry import load_info

    info = load_info(Path(metadata_path))
    model = MelodyModel(info)
    folders = [Path(data_dirs)] if isinstance(data_dirs, (str, Path)) else [Path(d) for d in data_dirs]
    windows = training_windows(model, folders, max_windows=max_windows, seed=seed)
    vectors, details, table = concept_vectors(model, windows, seed=seed)
    meta = attach_matrix(info, "concepts", vectors, {
        "type": "attribute-vectors",
        "attributes": list(ATTRIBUTES),
        "unit": "one vector: mean posterior mean of the training windows in the attribute's top quartile "
                "minus that of its bottom quartile",
        "attribute_units": dict(UNITS),
        "corpus_mean": {n: round(float(np.nanmean(table[:, i])), 4) for i, n in enumerate(ATTRIBUTES)},
        "corpus_std": {n: round(float(np.nanstd(table[:, i])), 4) for i, n in enumerate(ATTRIBUTES)},
        "quartiles": details,
        "fitted_on": f"posterior means of {len(windows)} training windows of {', '.join(map(str, folders))} "
                     f"(at most {max_windows}, a seeded choice with seed {seed} beyond that)",
        "command": command,
    })
    entry: dict[str, Any] = meta["concepts"]
    return entry


def no_concepts(info: ModelInfo) -> ModelError:
    return ModelError(f"{info.metadata_path}: model {info.name!r} has no concept vectors; compute them with "
                      f"`genmedia train melody-concepts --model {info.name} --data DIR` (its training folders)")


def load_concepts(model: MelodyModel) -> Concepts:
    """The model's concept vectors; `ModelError` in one line if it has none or they are malformed."""
    info = model.info
    entry = info.metadata.get("concepts")
    if entry is None or "concepts" not in info.files:
        raise no_concepts(info)
    where = f"{info.metadata_path}: field concepts"
    names = entry.get("attributes") if isinstance(entry, dict) else None
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names)):
        raise ModelError(f"{where}.attributes must be a non-empty list of distinct attribute names")
    spread = entry.get("corpus_std", {})
    if not (isinstance(spread, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                             and math.isfinite(v) for v in spread.values())):
        raise ModelError(f"{where}.corpus_std must be an object of finite numbers")
    path = info.file("concepts")
    # The header is checked before anything is allocated (a tiny file can claim a huge shape).
    vectors = read_matrix(path, columns=model.latent, rows=len(names), kind="concept vectors",
                          needs=f"this model's {len(names)} concept vectors need ({len(names)}, {model.latent})")
    return Concepts(tuple(names), vectors, {k: float(v) for k, v in spread.items()})


def _window(model: MelodyModel, melody_or_window: Melody | np.ndarray,
            source: str | Path) -> tuple[np.ndarray, int]:
    """The window to encode and how many of its steps to keep (`MelodyModel.covered` for a melody)."""
    if isinstance(melody_or_window, Melody):
        return model.window(melody_or_window, source=source), model.covered(melody_or_window)
    window = np.asarray(melody_or_window, dtype=np.int64)
    if window.shape != (model.steps,):
        raise ValueError(f"a window for this model is {model.steps} tokens, not shape {window.shape}")
    return window, model.steps


def sweep(model: MelodyModel, melody_or_window: Melody | np.ndarray, *, attribute: str, amount: float,
          steps: int, concepts: Concepts | None = None, source: str | Path = "input",
          oversample: int = 1) -> np.ndarray:
    """Greedy decodes (steps, length) of z + a x vector for `steps` amounts a from -amount to
    +amount, z the refined latent of the melody's window (a melody's decodes are cut to
    `MelodyModel.covered`; a window's are whole). Tokens on the model's grid (see `in_meter`).
    The amounts are evenly spaced, or with `oversample` > 1 chosen as `sweep_points` chooses them."""
    return sweep_points(model, melody_or_window, attribute=attribute, amount=amount, steps=steps,
                        concepts=concepts, source=source, oversample=oversample)[1]


def sweep_points(model: MelodyModel, melody_or_window: Melody | np.ndarray, *, attribute: str, amount: float,
                 steps: int, concepts: Concepts | None = None, source: str | Path = "input",
                 oversample: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The amounts (steps,) and greedy decodes (steps, length) of a sweep along the attribute's vector.

    With `oversample` 1 the amounts are evenly spaced from -amount to +amount. Greedy decodes of
    evenly spaced points wobble (a small move can flip one note the other way), so with
    `oversample` k the line is decoded at (steps - 1) x k + 1 evenly spaced amounts and the steps
    are chosen among them as a morph's are (`attribute_steps`): both ends always, and between them
    the decodes whose attribute rises step by step (falls, for a negative `amount`) wherever the
    line holds such decodes, as evenly spread over the attribute's range as they can be."""
    if isinstance(oversample, bool) or not isinstance(oversample, int) or oversample < 1:
        raise ValueError(f"oversample must be a positive integer, not {oversample!r}")
    amounts = sweep_amounts(amount, steps)
    if oversample == 1 or steps < 3:
        return amounts, decode_shifted(model, melody_or_window, attribute=attribute, amounts=amounts,
                                       concepts=concepts, source=source)
    dense = sweep_amounts(amount, (steps - 1) * oversample + 1)
    decoded = decode_shifted(model, melody_or_window, attribute=attribute, amounts=dense, concepts=concepts,
                             source=source)
    values = attribute_table(decoded)[:, ATTRIBUTES.index(attribute)]
    chosen = attribute_steps(values if amount >= 0 else -values, steps)
    return dense[chosen], decoded[chosen]


def attribute_steps(values: np.ndarray, steps: int) -> np.ndarray:
    """Indices of `steps` of the points of a line, the first and the last among them, whose `values`
    never fall from one step to the next where the points allow (`genmedia.melody.model.monotone_steps`
    on the values as distances from their lowest and to their highest), as evenly spread over the
    values' range as they can be. Undefined values (NaN: the pitch of a decode without notes) take
    their neighbours' (interpolated); a line whose values are all alike (or undefined) gives
    evenly spaced points."""
    from genmedia.melody.model import monotone_steps

    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if steps < 2 or (n - 1) % (steps - 1):
        raise ValueError(f"{n} points cannot hold {steps} evenly spaced steps with both ends")
    even = np.arange(0, n, (n - 1) // (steps - 1))
    finite = np.nonzero(np.isfinite(values))[0]
    if len(finite) == 0:
        return even
    values = np.interp(np.arange(n), finite, values[finite])
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12:
        return even
    return monotone_steps(values - low, high - values, steps, np.linspace(0.0, 1.0, n))


def sweep_amounts(amount: float, steps: int) -> np.ndarray:
    """The amounts of a sweep: `steps` evenly from -amount to +amount (one step: amount itself)."""
    check_finite(amount=amount)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    return np.linspace(-amount, amount, steps) if steps > 1 else np.array([amount])


def transform_melody(model: MelodyModel, melody_or_window: Melody | np.ndarray, *, attribute: str,
                     amount: float, concepts: Concepts | None = None, source: str | Path = "input") -> np.ndarray:
    """The greedy decode of z + amount x the attribute's vector, z the refined latent of the melody's
    window (`MelodyModel.encode(..., refine=True)`): tokens on the model's grid, cut to
    `MelodyModel.covered` for a melody."""
    check_finite(amount=amount)
    decoded = decode_shifted(model, melody_or_window, attribute=attribute, amounts=np.array([amount]),
                             concepts=concepts, source=source)
    first: np.ndarray = decoded[0]
    return first


def decode_shifted(model: MelodyModel, melody_or_window: Melody | np.ndarray, *, attribute: str,
                   amounts: np.ndarray, concepts: Concepts | None = None, source: str | Path = "input") -> np.ndarray:
    """Greedy decodes (len(amounts), length) of z + a x vector for each amount a."""
    concepts = load_concepts(model) if concepts is None else concepts
    vector = concepts.vector(attribute)
    window, length = _window(model, melody_or_window, source)
    z = model.encode(window[None], refine=True)[0]
    latents = z[None, :] + np.asarray(amounts, dtype=np.float32)[:, None] * vector[None, :]
    decoded: np.ndarray = model.decode(latents.astype(np.float32))[:, :length]
    return decoded


def sample_shifted(model: MelodyModel, *, count: int, seed: int, attribute_shift: dict[str, float],
                   temperature: float = 1.0, prior: str = "fitted", concepts: Concepts | None = None) -> np.ndarray:
    """`genmedia.melody.model.sample_melodies` with every latent moved by sum(amount x vector) for
    {attribute: amount}: the same seed draws the same latents and decoder noise, so with no shift
    the samples are those of `sample_melodies`."""
    check_finite(temperature=temperature)
    rng = np.random.default_rng(seed)
    z = load_prior(model.info, model.latent, prior).sample(rng, count)
    if attribute_shift:
        concepts = load_concepts(model) if concepts is None else concepts
        z = (z + concepts.shift(attribute_shift)[None, :]).astype(np.float32)
    return model.decode(z, temperature=temperature, rng=rng)


def in_meter(model: MelodyModel, melody: Melody, tokens: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Grid tokens of a transform of `melody` in the meter it is written in, as `music interpolate`
    writes a morph of a melody with itself (`morph_meter`): a 3/4 or 6/8 tune on a grid model comes
    back in its own meter, the grid's padding dropped; else the tokens as they are."""
    from genmedia.melody.model import morph_meter

    num, den = morph_meter(model, melody, melody)
    bar = num * 16 // den
    tokens = np.asarray(tokens, dtype=np.int64)
    if fill(bar) == BAR_STEPS:
        return tokens, (num, den)
    return (np.stack([from_grid(t, bar) for t in tokens]) if tokens.ndim == 2 else from_grid(tokens, bar)), (num, den)
