"""The library API: sample and morph levels and melodies, denoise images, with the shipped models.

Everything here is importable from the top of the package (`genmedia.sample_levels`, ...).
Options are keyword-only. Every `model` argument takes a model name (`genmedia models list`),
a path to a model's metadata `.json`, a loaded model (`LevelModel`, `MelodyModel`, `Denoiser`)
or None for the task's default. Models named by name or path are loaded once per process and
reused by later calls (`clear_model_cache` forgets them).

Errors: `ValueError` for an option out of range, `TypeError` for an argument of the wrong kind,
`genmedia.InputError` for a file that cannot be read (it names the file), `genmedia.ModelError`
for a model that cannot be found or loaded. None of these functions print.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
from PIL import Image

from genmedia.fileio import write_text_atomic
from genmedia.image import io as image_io
from genmedia.image.denoise import DEFAULT_TILE, Denoiser
from genmedia.levels import model as level_model
from genmedia.levels.model import LevelModel
from genmedia.levels.tiles import level_to_text, read_level
from genmedia.melody import model as melody_model
from genmedia.melody.midi import Melody, melody_to_midi, read_melody
from genmedia.melody.model import MelodyModel
from genmedia.melody.output import save_midi
from genmedia.melody.synth import synthesize
from genmedia.melody.synth import write_wav as _write_wav

__all__ = ["clear_model_cache", "denoise", "morph_levels", "morph_melodies", "sample_levels", "sample_melodies",
           "write_level", "write_midi", "write_wav"]

PathLike = str | os.PathLike
"""A file path: a `str` or a `pathlib.Path`."""
LevelModelLike = LevelModel | str | os.PathLike | None
"""A `LevelModel`, a level model's name or the path to its metadata `.json`, or None (`smb-level-vae`)."""
MelodyModelLike = MelodyModel | str | os.PathLike | None
"""A `MelodyModel`, a melody model's name or the path to its metadata `.json`, or None (`melody-2bar`)."""
DenoiserLike = Denoiser | str | os.PathLike | None
"""A `Denoiser`, a denoising model's name or the path to its metadata `.json`, or None (`denoise-unet`)."""
LevelLike = np.ndarray | str | os.PathLike
"""A level map: a (rows, columns) uint8 array of ASCII tile codes, or the path to a VGLC text map."""
MelodyLike = Melody | str | os.PathLike
"""A `Melody` (as `read_melody` gives), or the path to a MIDI file."""
ImageT = TypeVar("ImageT", np.ndarray, Image.Image)
Prior = Literal["fitted", "normal"]

MODEL_CACHE_SIZE = 8  # loaded models kept; each holds its ONNX Runtime sessions


# --- models -------------------------------------------------------------------------------------------------

@lru_cache(maxsize=MODEL_CACHE_SIZE)
def _load(kind: type, key: str | None):
    return kind.load(key)


def clear_model_cache() -> None:
    """Forget the models loaded by name or path, so the next call loads them again (from changed files)."""
    _load.cache_clear()


def _model(kind: type, model):
    """`model` as a loaded `kind`: itself, or loaded once by name, path or default (None)."""
    if isinstance(model, kind):
        return model
    if model is None:
        return _load(kind, None)
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a {kind.__name__}, a model name, a path to its .json or None, "
                        f"not {type(model).__name__}")
    text = os.fspath(model)
    if isinstance(model, os.PathLike) or text.endswith(".json") or os.sep in text:
        text = os.path.abspath(text)  # a path: the same file whatever the working folder is later
    return _load(kind, text)


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


def _prior(prior: str) -> str:
    if prior not in ("fitted", "normal"):
        raise ValueError(f"prior must be 'fitted' or 'normal', not {prior!r}")
    return prior


# --- levels -------------------------------------------------------------------------------------------------

def sample_levels(*, count: int = 1, width: int = 150, seed: int | None = None, temperature: float = 1.0,
                  prior: Prior = "fitted", check: bool = True, max_attempts: int = 50,
                  model: LevelModelLike = None) -> list[np.ndarray]:
    """Sample `count` new levels, each `width` columns wide (16 to 10,000; `GENMEDIA_MAX_LEVEL_COLUMNS`).

    Returns a list of `count` arrays of shape (rows, width) (rows = 14 for the shipped model),
    dtype uint8, holding the ASCII codes of VGLC tile characters (`level_to_text` gives the map's
    text, `write_level` writes it, `render_level` draws it). The same `seed` gives the same levels,
    and level i is the same whatever `count` is; None draws a fresh seed. `temperature` (0 to 3)
    scales the latent prior's noise; `prior` is the model's fitted prior or a plain N(0, I).
    With `check`, every level is one small Mario can finish: where he gets stuck, that stretch is
    drawn again, up to `max_attempts` decodes per level (then `genmedia.levels.model.SamplingError`).
    """
    options = dict(count=_integer("count", count, 1), width=_integer("width", width, level_model.MIN_WIDTH),
                   seed=_seed(seed), temperature=_number("temperature", temperature, 0.0, 3.0), prior=_prior(prior),
                   check=bool(check), max_attempts=_integer("max_attempts", max_attempts, 1))
    return level_model.sample_levels(_model(LevelModel, model), **options).levels


def morph_levels(a: LevelLike, b: LevelLike, *, steps: int = 7, check: bool = True, max_attempts: int = 50,
                 model: LevelModelLike = None) -> list[np.ndarray]:
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
    return write_text_atomic(Path(path), level_to_text(level), overwrite=overwrite)


# --- melodies -----------------------------------------------------------------------------------------------

def sample_melodies(*, count: int = 1, seed: int | None = None, temperature: float = 1.0, prior: Prior = "fitted",
                    model: MelodyModelLike = None) -> list[Melody]:
    """Sample `count` new melodies from the model's latent prior.

    Returns a list of `Melody`: `tokens` an int64 array (steps,) with one token per 16th note
    (steps = 32, two bars of 4/4, for the shipped `melody-2bar`; 256 for `melody-16bar`; token 0 is
    a rest, 1 holds the previous note, 2 + p - 48 starts MIDI pitch p in 48-95), at 120 BPM in 4/4.
    The same `seed` gives the same melodies; None draws a fresh seed. `temperature` (0 to 3) is
    the decoder's softmax temperature, 0 decoding greedily. `write_midi` writes one or several.
    """
    options = dict(count=_integer("count", count, 1), seed=_seed(seed),
                   temperature=_number("temperature", temperature, 0.0, 3.0), prior=_prior(prior))
    tokens = melody_model.sample_melodies(_model(MelodyModel, model), **options)
    return [Melody(t, 120.0, (4, 4)) for t in tokens]


def morph_melodies(a: MelodyLike, b: MelodyLike, *, steps: int = 7, oversample: int = 8,
                   model: MelodyModelLike = None) -> list[Melody]:
    """Morph melody `a` into melody `b` (each a `Melody` or a path to a MIDI file) in `steps` melodies.

    The first bars of each (as many as the model covers) are encoded and the spherical path
    between their latent means is decoded greedily, so no seed is involved. Returns a list of
    `steps` `Melody`, each as long as the longer input (up to the model's length), at `a`'s tempo
    and in their meter where both share it (else 4/4). The path is decoded at `oversample` times
    as many points and the steps chosen so each is further from A and nearer to B than the last.
    """
    steps = _integer("steps", steps, 2)
    oversample = _integer("oversample", oversample, 1)
    vae = _model(MelodyModel, model)
    melodies, sources = zip(*(_melody_of(x, name) for x, name in ((a, "a"), (b, "b"))))
    morph = melody_model.morph_melodies(vae, *melodies, steps=steps, oversample=oversample, sources=sources)
    signature = melody_model.morph_meter(vae, *melodies)
    return [Melody(t, melodies[0].tempo, signature) for t in morph]


def _melody_of(melody: MelodyLike, name: str) -> tuple[Melody, str]:
    if isinstance(melody, Melody):
        return melody, name
    if isinstance(melody, (str, os.PathLike)):
        return read_melody(melody), os.fspath(melody)
    raise TypeError(f"{name} must be a Melody or a path to a MIDI file, not {type(melody).__name__}")


def _midi(melody: Melody | np.ndarray | Sequence[Melody], tempo: float | None, program: int, name: str):
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
    return save_midi(midi, Path(path), overwrite=overwrite)


def write_wav(path: PathLike, melody: Melody | np.ndarray | Sequence[Melody], *, tempo: float | None = None,
              program: int = 0, overwrite: bool = False) -> Path:
    """Render a melody (as `write_midi` takes it) with the built-in synthesiser to a WAV file: 44.1 kHz,
    16-bit mono, normalised to -1 dBFS. Atomic; an existing file is replaced only with `overwrite`."""
    midi = _midi(melody, tempo, program, name="genmedia melody")
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
    tops out at the highest it was trained on (55). None estimates it from the image. The image
    is worked on in tiles of `tile` pixels (at least 16) with context margins, so memory beyond
    the input and output does not grow with its size.
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


def _denoise_array(pixels: np.ndarray, sigma: float | None, tile: int, model: DenoiserLike) -> np.ndarray:
    work = _checked_pixels(pixels)
    channels = work.shape[2]
    color, alpha = (work[..., :-1], work[..., -1:]) if channels in (2, 4) else (work, None)
    net = _model(Denoiser, model)
    if pixels.dtype.kind == "f":  # the network and `Denoiser` work in float32
        color = color.astype(np.float32)
    clean = net.denoise(np.ascontiguousarray(color), sigma=sigma, tile=tile).astype(pixels.dtype, copy=False)
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
