"""The library API: sample, morph and transform levels and melodies, denoise images, with the shipped models.

Everything here is importable from the top of the package (`genmedia.sample_levels`, ...).
Options are keyword-only. Every `model` argument takes a model name (`genmedia models list`),
a path to a model's metadata `.json`, a loaded model (`LevelModel`, `MelodyModel`, `Denoiser`)
or None for the task's default. Models named by name or path are loaded once per process and
reused by later calls (`clear_model_cache` forgets them). The `genmedia` command runs its jobs
through these functions.

Errors: `ValueError` for an option out of range, `TypeError` for an argument of the wrong kind,
`genmedia.InputError` for a file that cannot be read (it names the file), `genmedia.ModelError`
for a model that cannot be found or loaded (or lacks what a function needs, such as concept
vectors), `genmedia.fileio.OutputError` for a file that cannot be written (an existing one says
"pass overwrite=True"). None of these functions print.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import numpy as np
from PIL import Image

from genmedia.fileio import API_WORDS, worded, write_text_atomic
from genmedia.image import io as image_io
from genmedia.image.denoise import DEFAULT_TILE, Denoiser
from genmedia.image.io import Photo
from genmedia.latent import PRIORS, PriorKind
from genmedia.levels import attributes as level_attributes, model as level_model
from genmedia.levels.model import CONDITIONAL_MODEL, LevelModel
from genmedia.levels.tiles import level_to_text, read_level
from genmedia.melody import concepts, model as melody_model
from genmedia.melody.attributes import ATTRIBUTES, attributes as melody_attributes
from genmedia.melody.midi import Melody, melody_to_midi, read_melody
from genmedia.melody.model import MelodyModel
from genmedia.melody.output import save_midi
from genmedia.melody.styles import load_style, sample_style, style_names
from genmedia.melody.synth import synthesize, write_wav as _write_wav
from genmedia.runtime import Model

__all__ = ["LevelRequest", "MelodyTransform", "SampledLevels", "TransformedLevel", "clear_model_cache", "denoise",
           "estimate_noise_level", "level_request", "melody_styles", "morph_levels", "morph_melodies", "sample_levels",
           "sample_melodies", "sweep_melody", "transform_level", "transform_melody", "write_level", "write_midi",
           "write_photo", "write_wav"]

PathLike = str | os.PathLike[str]
"""A file path: a `str` or a `pathlib.Path`."""
LevelModelLike = LevelModel | str | os.PathLike[str] | None
"""A `LevelModel`, a level model's name or the path to its metadata `.json`, or None (`smb-level-vae`)."""
MelodyModelLike = MelodyModel | str | os.PathLike[str] | None
"""A `MelodyModel`, a melody model's name or the path to its metadata `.json`, or None (`melody-2bar`)."""
DenoiserLike = Denoiser | str | os.PathLike[str] | None
"""A `Denoiser`, a denoising model's name or the path to its metadata `.json`, or None (`denoise-unet`)."""
LevelLike = np.ndarray | str | os.PathLike[str]
"""A level map: a (rows, columns) uint8 array of ASCII tile codes, or the path to a VGLC text map."""
MelodyLike = Melody | str | os.PathLike[str]
"""A `Melody` (as `read_melody` gives), or the path to a MIDI file."""
LevelAttributes = Mapping[str, str | Sequence[str]]
"""Bins of level attributes to ask for: attribute -> a bin label, or labels for equal parts of the
level in order, e.g. `{"enemies": "many", "pipes": ["none", "many"]}` (see `level_request`)."""
MelodyAttribute = Literal["density", "pitch", "interval", "syncopation", "key"]
"""A melody attribute with a concept vector (`genmedia.melody.attributes` gives their units)."""
ImageT = TypeVar("ImageT", np.ndarray, Image.Image)
ModelT = TypeVar("ModelT", bound=Model)
Prior = PriorKind

MODEL_CACHE_SIZE = 8  # loaded models kept; each holds its ONNX Runtime sessions


# --- models -------------------------------------------------------------------------------------------------

@lru_cache(maxsize=MODEL_CACHE_SIZE)
def _load(kind: type[Model], key: str | None) -> Model:
    return kind.load(key)


def clear_model_cache() -> None:
    """Forget the models loaded by name or path, so the next call loads them again (from changed files)."""
    _load.cache_clear()


def _model(kind: type[ModelT], model: object) -> ModelT:
    """`model` as a loaded `kind`: itself, or loaded once by name, path or default (None)."""
    if isinstance(model, kind):
        return model
    key = None
    if model is not None:
        text = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
        if not isinstance(text, str):
            raise TypeError(f"model must be a {kind.__name__}, a model name, a path to its .json or None, "
                            f"not {type(model).__name__}")
        if isinstance(model, os.PathLike) or text.endswith(".json") or os.sep in text:
            text = os.path.abspath(text)  # a path: the same file whatever the working folder is later
        key = text
    # (cast: mypy does not see a class as Hashable, which lru_cache's arguments must be)
    return cast(ModelT, _load(cast(Any, kind), key))


# --- checks -------------------------------------------------------------------------------------------------

def _integer(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be at least {minimum}{upper}, not {value}")
    return int(value)


def _number(name: str, value: object, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:g} to {high:g}, not {value}")
    return float(value)


def _seed(seed: int | None) -> int:
    """The seed to use: `seed`, or a fresh random one where it is None."""
    return secrets.randbits(64) if seed is None else _integer("seed", seed, 0)


def _prior(prior: str) -> PriorKind:
    if prior not in PRIORS:
        raise ValueError(f"prior must be 'fitted' or 'normal', not {prior!r}")
    return prior


# --- levels -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LevelRequest:
    """Bins of level attributes asked of a conditional level model (made by `level_request`)."""

    attributes: dict[str, list[str]]
    """attribute -> bin labels for equal parts of the level, in order (one label: the whole level)"""
    not_understood: tuple[str, ...] = ()
    """the clauses of the prompt that were not understood, and so left out"""


def level_request(*, attributes: LevelAttributes | None = None, prompt: str | None = None) -> LevelRequest:
    """The bins asked for by `attributes` and by a MarioGPT-style `prompt`, for the `attributes` of
    `sample_levels` and `transform_level`.

    Attributes are measured per 16-column window of a level: enemies, pipes, gaps (columns
    without a floor), blocks and coins, in bins none|few|some|many fitted on the training levels,
    and elevation (the ground's mean height) in low|high. `attributes` maps an attribute to a
    label, or to labels for equal parts of the level in order ("none,many" or ["none", "many"]:
    none in the first half, many in the second). `prompt` says the same in words, e.g. "many
    pipes, no enemies, low elevation" (clauses split at commas, semicolons and "and");
    `attributes` win over it. The clauses it does not understand are left out and listed in
    `not_understood`. Raises `ValueError` for an unknown attribute or bin.
    """
    asked: dict[str, list[str]] = {}
    for name, value in (attributes or {}).items():
        if name not in level_attributes.NAMES:
            raise ValueError(f"unknown level attribute {name!r}; choose from {', '.join(level_attributes.NAMES)}")
        items = [value] if isinstance(value, str) else list(value)
        if not all(isinstance(item, str) for item in items):
            raise TypeError(f"{name} must be a bin label or a sequence of them")
        labels = [label for item in items for label in level_attributes.parse_labels(name, item)]
        if not labels:
            raise ValueError(f"{name} needs at least one bin label")
        asked[name] = labels
    missed: list[str] = []
    if prompt is not None:
        found, missed = level_attributes.parse_prompt(prompt)
        for name, label in found.items():
            asked.setdefault(name, [label])
    return LevelRequest(asked, tuple(missed))


def _request_of(attributes: LevelAttributes | LevelRequest | None) -> LevelRequest:
    if isinstance(attributes, LevelRequest):
        return attributes
    if attributes is not None and not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be a mapping of attribute to bins or a LevelRequest, "
                        f"not {type(attributes).__name__}")
    return level_request(attributes=attributes)


class SampledLevels(list[np.ndarray]):
    """Sampled levels: a list of (rows, width) uint8 arrays of ASCII tile codes, with how each was made."""

    def __init__(self, levels: list[np.ndarray], *, attempts: list[int], records: list[dict[str, Any]]) -> None:
        super().__init__(levels)
        self.attempts = attempts
        """decodes per level: 1 where the first was playable, one more per local repair"""
        self.records = records
        """for a conditional model, per level the bins each 16-column window was decoded with, the ones
        asked for ("requested") and those drawn as in the corpus ("others"), with the bins' edges: the
        LEVEL.json `genmedia level sample` writes (JSON-ready); empty for an unconditional model"""


def sample_levels(*, count: int = 1, width: int = 150, seed: int | None = None, temperature: float = 1.0,
                  prior: Prior = "fitted", check: bool = True, max_attempts: int = 50,
                  attributes: LevelAttributes | LevelRequest | None = None,
                  model: LevelModelLike = None) -> SampledLevels:
    """Sample `count` new levels, each `width` columns wide (16 to 10,000; `GENMEDIA_MAX_LEVEL_COLUMNS`).

    Returns a `SampledLevels`, a list of `count` arrays of shape (rows, width) (rows = 14 for the
    shipped models), dtype uint8, holding the ASCII codes of VGLC tile characters (`level_to_text`
    gives the map's text, `write_level` writes it, `render_level` draws it). The same `seed` gives
    the same levels, and level i is the same whatever `count` is; None draws a fresh seed.
    `temperature` (0 to 3) scales the latent prior's noise; `prior` is the model's fitted prior or
    a plain N(0, I). With `check`, every level is one small Mario can finish: where he gets stuck,
    that stretch is drawn again, up to `max_attempts` decodes per level (then
    `genmedia.levels.model.SamplingError`).

    `attributes` asks for bins of level attributes per 16-column window (a mapping or a
    `level_request`, e.g. `{"enemies": "many"}`); the attributes not asked for are drawn as in the
    training levels. It needs a conditional model, the default `smb-level-cvae` when `model` is
    None (`ValueError` for an unconditional one). The result's `records` say which bins each level
    was made with.
    """
    count, width = _integer("count", count, 1), _integer("width", width, level_model.MIN_WIDTH)
    seed, temperature = _seed(seed), _number("temperature", temperature, 0.0, 3.0)
    kind, max_attempts = _prior(prior), _integer("max_attempts", max_attempts, 1)
    request = _request_of(attributes)
    vae = _model(LevelModel, CONDITIONAL_MODEL if model is None and request.attributes else model)
    result = level_model.sample_levels(vae, count=count, width=width, seed=seed, temperature=temperature,
                                       prior=kind, check=bool(check), max_attempts=max_attempts,
                                       request=request.attributes)
    bins = vae.bins
    records = [] if bins is None else [level_attributes.record(bins, b, request.attributes, model=vae.info.name,
                                                               width=width) for b in result.conditions]
    return SampledLevels(result.levels, attempts=result.attempts, records=records)


@dataclass(frozen=True)
class TransformedLevel:
    """A level with attributes changed by `transform_level`."""

    level: np.ndarray
    """the new level, (rows, columns) uint8 ASCII tile codes, as wide as the input"""
    record: dict[str, Any]
    """the bins each 16-column window was decoded with, those asked for ("requested") and those
    kept as measured on the input ("others"), with the bins' edges (JSON-ready, as `genmedia level
    transform` writes OUT.json)"""
    in_bin: dict[str, tuple[int, int]]
    """per attribute asked for: (whole windows whose measured bin is the one asked for, whole windows)"""
    repaired: bool
    """whether the first decode was unplayable and was repaired locally"""


def transform_level(level: LevelLike, *, attributes: LevelAttributes | LevelRequest, check: bool = True,
                    max_attempts: int = 50, model: LevelModelLike = None) -> TransformedLevel:
    """Change attributes of a level you have: keep its latents, decode them with other bins.

    `level` is a (rows, columns) uint8 array of ASCII tile codes or the path to a VGLC text map.
    It is encoded given the bins measured on it; the attributes asked for (as in `sample_levels`,
    at least one) get their new bins in every window (or in equal parts), the others keep the
    input's. The result is repaired and, with `check`, made playable as `sample_levels` does, up
    to `max_attempts` decodes. Deterministic: no seed is involved. It needs a conditional model,
    the default `smb-level-cvae` when `model` is None (`ValueError` for an unconditional one).
    """
    request = _request_of(attributes)
    max_attempts = _integer("max_attempts", max_attempts, 1)
    if not request.attributes:
        raise ValueError("a transform needs at least one attribute to change")
    vae = _model(LevelModel, CONDITIONAL_MODEL if model is None else model)
    bins = vae.bins
    if bins is None:
        raise ValueError(f"model {vae.info.name!r} is not conditional; transform needs one such as "
                         f"{CONDITIONAL_MODEL!r}")
    grid, source = _level_of(level, vae, "level")
    done = level_model.transform_level(vae, grid, request=request.attributes, source=source, check=bool(check),
                                       max_attempts=max_attempts)
    record = level_attributes.record(bins, done.bins, request.attributes, model=vae.info.name,
                                     width=grid.shape[1], others="measured on the input")
    landed = level_attributes.accuracy(bins, done.level, {n: record["requested"][n] for n in request.attributes})
    in_bin = {name: (sum(hit for _, hit in pairs), len(pairs)) for name, pairs in landed.items()}
    return TransformedLevel(done.level, record, in_bin, done.repaired)


def morph_levels(a: LevelLike, b: LevelLike, *, steps: int = 7, check: bool = True, max_attempts: int = 50,
                 model: LevelModelLike = None) -> level_model.Morph:
    """Morph level `a` into level `b`: `steps` (at least 2) maps along the path between their latents.

    `a` and `b` are (rows, columns) uint8 arrays of ASCII tile codes or paths to VGLC text maps.
    Returns a list of `steps` uint8 arrays (rows, columns_k): the first is the model's
    reconstruction of `a`, the last of `b`; maps of different widths morph in width too (step k
    is the linear blend of the two widths). Deterministic: no seed is involved. With `check`, a
    step Mario cannot finish is repaired locally; the list's `repaired` attribute names those steps.
    """
    steps = _integer("steps", steps, 2)
    max_attempts = _integer("max_attempts", max_attempts, 1)
    vae = _model(LevelModel, model)
    (map_a, source_a), (map_b, source_b) = _level_of(a, vae, "a"), _level_of(b, vae, "b")
    return level_model.interpolate_levels(vae, map_a, map_b, steps=steps, sources=(source_a, source_b),
                                          check=bool(check), max_attempts=max_attempts)


def _level_of(level: LevelLike, vae: LevelModel, name: str) -> tuple[np.ndarray, str]:
    """A level and the name its errors go by: the file's path, or `name` for an array."""
    if isinstance(level, np.ndarray):
        if level.ndim != 2 or level.dtype != np.uint8:
            raise ValueError(f"{name} must be a (rows, columns) uint8 array of tile codes, not {level.dtype} "
                             f"of shape {level.shape} (genmedia.parse_level makes one from map text)")
        return level, name
    if isinstance(level, (str, os.PathLike)):
        return read_level(Path(level), tiles=vae.tiles), os.fspath(level)
    raise TypeError(f"{name} must be a level array or a path to a map, not {type(level).__name__}")


def write_level(path: PathLike, level: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write a level (rows, columns) uint8 array as a VGLC text map, atomically; return the path.

    An existing file is replaced only with `overwrite` (else `genmedia.fileio.OutputError`).
    """
    level = np.asarray(level)
    if level.ndim != 2 or level.dtype != np.uint8:
        raise ValueError(f"level must be a (rows, columns) uint8 array, not {level.dtype} of shape {level.shape}")
    with worded(API_WORDS):
        return write_text_atomic(Path(path), level_to_text(level), overwrite=overwrite)


# --- melodies -----------------------------------------------------------------------------------------------

def sample_melodies(*, count: int = 1, seed: int | None = None, temperature: float = 1.0, prior: Prior = "fitted",
                    shift: Mapping[str, float] | None = None, style: str | None = None,
                    model: MelodyModelLike = None) -> list[Melody]:
    """Sample `count` new melodies from the model's latent prior.

    Returns a list of `Melody`: `tokens` an int64 array (steps,) with one token per 16th note
    (steps = 32, two bars of 4/4, for the shipped `melody-2bar`; 256 for `melody-16bar`; token 0 is
    a rest, 1 holds the previous note, 2 + p - 48 starts MIDI pitch p in 48-95), at 120 BPM in 4/4.
    The same `seed` gives the same melodies; None draws a fresh seed. `temperature` (0 to 3) is
    the decoder's softmax temperature, 0 decoding greedily. `write_midi` writes one or several.

    `shift` moves every sampled latent along concept vectors: {attribute: amount}, each amount
    in units of the attribute's vector (see `transform_melody`), e.g. `{"density": 1.5}`.
    The same seed draws the same latents as without it. The model needs concept vectors
    (`genmedia train melody-concepts`; `melody-2bar` has them), else `genmedia.ModelError`.

    `style` ("jig", "reel", "hornpipe", "waltz"; `melody_styles` lists a model's) draws the latents
    from that style's prior instead: the fitted density over the latents of its training tunes
    (`genmedia.melody.styles`; the model needs `genmedia train melody-styles`).
    Styled samples come back in the style's meter (a jig in 6/8): samples that do not fit its bars
    are drawn again (`genmedia.melody.styles.sample_style`).
    """
    count, seed = _integer("count", count, 1), _seed(seed)
    if style is not None and not isinstance(style, str):
        raise TypeError(f"style must be a style name, not {type(style).__name__}")
    temperature, kind = _number("temperature", temperature, 0.0, 3.0), _prior(prior)
    if shift is not None and not isinstance(shift, Mapping):
        raise TypeError(f"shift must be a mapping of attribute to amount, not {type(shift).__name__}")
    amounts = {_melody_attribute(name): _number(f"shift[{name!r}]", amount, -concepts.MAX_AMOUNT,
                                                concepts.MAX_AMOUNT)
               for name, amount in (shift or {}).items()}
    vae = _model(MelodyModel, model)
    if style is not None:
        if kind != "fitted":
            raise ValueError(f"style {style!r} is a fitted prior of its own; it cannot be combined with prior {kind!r}")
        offset = concepts.load_concepts(vae).shift(amounts) if amounts else None
        found = sample_style(vae, load_style(vae, style), count=count, seed=seed, temperature=temperature,
                             offset=offset)
        return [Melody(tokens, 120.0, signature) for tokens, signature in found]
    if amounts:
        tokens = concepts.sample_shifted(vae, count=count, seed=seed, temperature=temperature, prior=kind,
                                         attribute_shift=amounts)
    else:
        tokens = melody_model.sample_melodies(vae, count=count, seed=seed, temperature=temperature, prior=kind)
    return [Melody(t, 120.0, (4, 4)) for t in tokens]


def melody_styles(model: MelodyModelLike = None) -> tuple[str, ...]:
    """The styles `sample_melodies(style=...)` can draw for the model (none if it has no styles)."""
    return style_names(_model(MelodyModel, model))


def morph_melodies(a: MelodyLike, b: MelodyLike, *, steps: int = 7, oversample: int = 8,
                   model: MelodyModelLike = None) -> list[Melody]:
    """Morph melody `a` into melody `b` (each a `Melody` or a path to a MIDI file) in `steps` melodies.

    The first bars of each (as many as the model covers) are encoded, each latent refined until
    the model writes its melody back (`MelodyModel.encode(..., refine=True)`), and the spherical
    path between them is decoded greedily, so no seed is involved. Returns a list of
    `steps` `Melody`, each as long as the longer input (up to the model's length), at `a`'s tempo
    and in their meter where both share it (else 4/4). The path is decoded at `oversample` times
    as many points and the steps chosen so each is further from A and nearer to B than the last.
    """
    steps = _integer("steps", steps, 2)
    oversample = _integer("oversample", oversample, 1)
    vae = _model(MelodyModel, model)
    (mel_a, source_a), (mel_b, source_b) = _melody_of(a, "a"), _melody_of(b, "b")
    morph = melody_model.morph_melodies(vae, mel_a, mel_b, steps=steps, oversample=oversample,
                                        sources=(source_a, source_b))
    signature = melody_model.morph_meter(vae, mel_a, mel_b)
    return [Melody(t, mel_a.tempo, signature) for t in morph]


@dataclass(frozen=True)
class MelodyTransform:
    """A melody moved along an attribute's concept vector (`transform_melody`, `sweep_melody`)."""

    melody: Melody
    """the greedy decode, as long as the input (up to the model's length), in its tempo and meter"""
    attribute: str
    amount: float
    """how far the latent was moved, in units of the attribute's vector"""
    before: float
    """the attribute of the input's window, in the attribute's units (`genmedia.melody.attributes`)"""
    after: float
    """the attribute of the decode, measured as `before` (both on the model's 16-step grid, so a 3/4
    bar counts with its padding); NaN where the window lacks the notes it needs"""


def transform_melody(melody: MelodyLike, *, attribute: MelodyAttribute, amount: float = 1.0,
                     model: MelodyModelLike = None) -> MelodyTransform:
    """Move a melody along a concept vector: decode z + `amount` x the attribute's vector.

    `melody` is a `Melody` or a path to a MIDI file; its first bars (as many as the model covers)
    are encoded to their posterior mean, refined until the model writes them back: z. `attribute` is
    density (note-ons per bar), pitch (mean MIDI note), interval (mean semitones between notes),
    syncopation (share of note-ons off the 8th-note grid) or key (share of note-ons in the
    best-fitting key); its vector is the mean latent of the training windows richest in it minus
    that of the poorest quarter. `amount` is in units
    of that vector (`genmedia music transform` takes -10 to 10); negative gives less of the
    attribute. Decoded greedily, so no seed is involved. The model needs concept vectors
    (`genmedia train melody-concepts`), else `genmedia.ModelError`.
    """
    return _shifted(melody, attribute, amount, None, model)[0]


def sweep_melody(melody: MelodyLike, *, attribute: MelodyAttribute, amount: float = 1.0, steps: int = 5,
                 oversample: int = 8, model: MelodyModelLike = None) -> list[MelodyTransform]:
    """`transform_melody` at `steps` (at least 2) amounts from -`amount` to +`amount`, in that order:
    a list of `steps` `MelodyTransform`, decoded together, each with the amount it was decoded at.

    As a morph's steps are, the amounts are chosen among `oversample` times as many evenly spaced
    ones so that the attribute moves one way, step by step, wherever that line allows
    (`genmedia.melody.concepts.sweep_points`); `oversample=1` gives the evenly spaced amounts."""
    return _shifted(melody, attribute, amount, _integer("steps", steps, 2), model,
                    oversample=_integer("oversample", oversample, 1, 32))


def _shifted(melody: MelodyLike, attribute: str, amount: float, steps: int | None,
             model: MelodyModelLike, oversample: int = 1) -> list[MelodyTransform]:
    """One transform (`steps` None) or a sweep of them, through `genmedia.melody.concepts`."""
    attribute = _melody_attribute(attribute)
    amount = _number("amount", amount, -concepts.MAX_AMOUNT, concepts.MAX_AMOUNT)
    vae = _model(MelodyModel, model)
    vectors = concepts.load_concepts(vae)  # before reading the input: a model without vectors says so first
    mel, source = _melody_of(melody, "melody")
    amounts, tokens = concepts.sweep_points(vae, mel, attribute=attribute, amount=amount,
                                            steps=1 if steps is None else steps, concepts=vectors, source=source,
                                            oversample=oversample)
    before = melody_attributes(vae.window(mel, source=source)[: tokens.shape[1]])[attribute]
    written, signature = concepts.in_meter(vae, mel, tokens)
    return [MelodyTransform(Melody(w, mel.tempo, signature), attribute, float(a), before,
                            melody_attributes(t)[attribute]) for w, t, a in zip(written, tokens, amounts)]


def _melody_attribute(name: str) -> str:
    if name not in ATTRIBUTES:
        raise ValueError(f"unknown melody attribute {name!r}; choose from {', '.join(ATTRIBUTES)}")
    return name


def _melody_of(melody: MelodyLike, name: str) -> tuple[Melody, str]:
    if isinstance(melody, Melody):
        return melody, name
    if isinstance(melody, (str, os.PathLike)):
        return read_melody(os.fspath(melody)), os.fspath(melody)
    raise TypeError(f"{name} must be a Melody or a path to a MIDI file, not {type(melody).__name__}")


def _midi(melody: Melody | np.ndarray | Sequence[Melody], tempo: float | None, program: int, name: str) -> Any:
    """A `PrettyMIDI` of one melody, a 1-D token array, or several (a sequence or 2-D array) in a row."""
    if isinstance(melody, Melody):
        parts = [melody]
    elif isinstance(melody, np.ndarray):
        rows = melody[None] if melody.ndim == 1 else melody
        if rows.ndim != 2 or rows.dtype.kind not in "iu":
            raise ValueError(f"tokens must be an integer array (steps,) or (melodies, steps), not {melody.dtype} "
                             f"of shape {melody.shape}")
        parts = [Melody(np.asarray(r, np.int64), 120.0, (4, 4)) for r in rows]
    elif isinstance(melody, Sequence) and melody and all(isinstance(m, Melody) for m in melody):
        parts = list(melody)
    else:
        raise TypeError("melody must be a Melody, a list of them or a token array")
    tokens = np.concatenate([p.tokens for p in parts])
    tempo = parts[0].tempo if tempo is None else _number("tempo", tempo, 20.0, 400.0)
    return melody_to_midi(tokens, tempo=tempo, program=_integer("program", program, 0, 127), name=name,
                          time_signature=parts[0].time_signature)


def write_midi(path: PathLike, melody: Melody | np.ndarray | Sequence[Melody], *, tempo: float | None = None,
               program: int = 0, overwrite: bool = False) -> Path:
    """Write a melody as a type-1 MIDI file (one named track, a tempo and a time signature); return the path.

    `melody` is a `Melody`, a list of them (written one after another, as a morph's `morph.mid`
    is, in the first one's meter) or an integer token array (steps,) or (melodies, steps).
    `tempo` in BPM (20-400) defaults to the (first) melody's; `program` is the General MIDI
    instrument, 0-127 (0 = piano). Atomic; an existing file is replaced only with `overwrite`.
    """
    midi = _midi(melody, tempo, program, name="genmedia melody")
    with worded(API_WORDS):
        return save_midi(midi, Path(path), overwrite=overwrite)


def write_wav(path: PathLike, melody: Melody | np.ndarray | Sequence[Melody], *, tempo: float | None = None,
              program: int = 0, overwrite: bool = False) -> Path:
    """Render a melody (as `write_midi` takes it) with the built-in synthesiser to a WAV file: 44.1 kHz,
    16-bit mono, normalised to -1 dBFS. Atomic; an existing file is replaced only with `overwrite`."""
    midi = _midi(melody, tempo, program, name="genmedia melody")
    with worded(API_WORDS):
        return _write_wav(Path(path), synthesize(midi, source=Path(path)), overwrite=overwrite)


# --- images -------------------------------------------------------------------------------------------------

FLOAT_KINDS = (np.float16, np.float32, np.float64)


def denoise(image: ImageT, *, noise_level: float | None = None, tile: int = DEFAULT_TILE,
            model: DenoiserLike = None) -> ImageT:
    """Denoise one image; the result has the input's type, shape, dtype, range (and PIL mode).

    `image` is a numpy array or a PIL image:

    - arrays of shape (H, W) (gray, returned 2-D), (H, W, 1), (H, W, 3) RGB, (H, W, 2) gray with
      alpha or (H, W, 4) RGBA, the alpha channel passed through unchanged;
    - dtype uint8 (0-255), uint16 (0-65535) or float16/32/64 in [0, 1]. Float values outside
      [0, 1] (such as 0-255 floats) or not finite raise `ValueError` instead of being clipped:
      pass uint8 data as uint8, or divide by 255. Other dtypes raise `TypeError`;
    - PIL images in the modes genmedia reads from files (L, LA, RGB, RGBA, P, PA, 1, CMYK, I;16,
      I), returned as a new PIL image of the same mode (a palette image with transparency comes
      back as RGBA, I;16B and I;16L as I;16), with the input's `info` (ICC profile, EXIF, ...).

    `noise_level` is the noise's standard deviation on the 0-255 scale whatever the dtype (for
    a float image, sigma x 255), from 0 to 255; higher removes more, and the model's strength
    tops out at the highest it was trained on (55); a given level is one pass at that level. None
    denoises blind: the level is estimated from the image (`estimate_noise_level`), and a color
    image whose noise is coarse-grained, as real camera noise is, also takes a pixel-shuffle pass
    (`genmedia.image.denoise.GRAIN_COARSE`). The image is worked on in tiles of `tile` pixels (at
    least 16) with context margins, so memory beyond the input and output does not grow with its
    size.
    """
    if noise_level is not None:
        noise_level = _number("noise_level", noise_level, 0.0, 255.0)
    tile = _integer("tile", tile, 16)
    if isinstance(image, Image.Image):
        return _denoise_pil(image, noise_level, tile, model)
    if isinstance(image, np.ndarray):
        return _denoise_array(image, noise_level, tile, model)
    raise TypeError(f"image must be a numpy array or a PIL image, not {type(image).__name__}")


def _checked_pixels(pixels: np.ndarray) -> np.ndarray:
    """`pixels` as (H, W, C), after refusing what `denoise` does not take."""
    if pixels.dtype not in (np.uint8, np.uint16, *FLOAT_KINDS):
        raise TypeError(f"unsupported dtype {pixels.dtype}: pass uint8 (0-255), uint16 (0-65535) or float in [0, 1]")
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 2, 3, 4)) or not pixels.size:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C) with C = 1, 2, 3 or 4, "
                         f"not {pixels.shape}")
    if pixels.dtype.kind == "f":
        low, high = float(np.min(pixels)), float(np.max(pixels))  # nan if any is nan
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(f"float pixels must be finite and within [0, 1], not from {low:g} to {high:g}; "
                             "pass 0-255 data as uint8, or divide it by 255")
    return pixels[..., None] if pixels.ndim == 2 else pixels


def estimate_noise_level(image: np.ndarray | Image.Image, *, model: DenoiserLike = None) -> float:
    """The noise level `denoise` estimates for `image` when it is given none, on the 0-255 scale
    whatever the dtype, from the image alone: the white noise's standard deviation, or, for a color
    image that estimate reads under 2 (camera noise reads so), the level the denoiser's second look
    finds (`genmedia.image.denoise.Denoiser.read_noise`). `image` is an array or a PIL image as
    `denoise` takes it (an alpha channel is left out)."""
    if isinstance(image, Image.Image):
        pixels = image_io.image_to_photo(image).pixels  # ValueError for a mode `denoise` cannot give back
    elif isinstance(image, np.ndarray):
        pixels = _color(image)[0]
    else:
        raise TypeError(f"image must be a numpy array or a PIL image, not {type(image).__name__}")
    return float(_model(Denoiser, model).estimate(pixels))


def _color(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The colour channels (H, W, 1 | 3) of an array `denoise` takes, contiguous (float32 for a float
    image: the network and `Denoiser` work in it), and its alpha channel (H, W, 1) if it has one."""
    work = _checked_pixels(pixels)
    color, alpha = (work[..., :-1], work[..., -1:]) if work.shape[2] in (2, 4) else (work, None)
    if pixels.dtype.kind == "f":
        color = color.astype(np.float32)
    return np.ascontiguousarray(color), alpha


def _denoise_array(pixels: np.ndarray, sigma: float | None, tile: int, model: DenoiserLike) -> np.ndarray:
    color, alpha = _color(pixels)
    clean = _model(Denoiser, model).denoise(color, sigma=sigma, tile=tile).astype(pixels.dtype, copy=False)
    if alpha is not None:
        clean = np.concatenate([clean, alpha], axis=2)
    return clean[..., 0] if pixels.ndim == 2 else clean


def _denoise_pil(image: Image.Image, sigma: float | None, tile: int, model: DenoiserLike) -> Image.Image:
    """Through `genmedia.image.io`'s conversions, as files are: pixels, mode, alpha and palette."""
    photo = image_io.image_to_photo(image)  # ValueError for a mode it cannot give back
    net = _model(Denoiser, model)
    out = image_io.photo_to_image(photo, net.denoise(photo.pixels, sigma=sigma, tile=tile))
    out.info = dict(image.info)
    return out


def write_photo(path: PathLike, photo: Photo, pixels: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write `pixels` (shape and dtype of `photo.pixels`, as `denoise` returns them) as `photo` was
    stored (`read_photo`): its format, mode, bit depth, alpha channel and metadata (ICC profile,
    EXIF, ...). Atomic; an existing file is replaced only with `overwrite`; returns the path."""
    with worded(API_WORDS):
        return image_io.write_photo(Path(path), photo, pixels, overwrite=overwrite)
