"""Draw levels with the project's own tile art, morph strips and expressive-range plots."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from genmedia import limits
from genmedia.errors import InputError
from genmedia.levels.metrics import Reference, leniency, linearity
from genmedia.resources import resource_dir

TILE = 16  # pixels per tile in the shipped art


@cache
def _atlas() -> tuple[dict[int, np.ndarray], tuple[int, int, int]]:
    folder = resource_dir("assets") / "tiles"
    meta = json.loads((folder / "smb.json").read_text())
    sheet = np.asarray(Image.open(folder / "smb.png").convert("RGB"))
    size = meta["tile_size"]
    tiles = {ord(c): sheet[:, i * size:(i + 1) * size] for c, i in meta["tiles"].items()}
    return tiles, tuple(meta["background"])


def _fallback_tile(code: int) -> np.ndarray:
    """A flat colour per unknown character (stable across runs), with the character drawn on it."""
    hue = zlib.crc32(bytes([code]))
    colour = (64 + hue % 160, 64 + (hue >> 8) % 160, 64 + (hue >> 16) % 160)
    img = Image.new("RGB", (TILE, TILE), colour)
    ImageDraw.Draw(img).text((4, 2), chr(code), fill=(255, 255, 255))
    return np.asarray(img)


def check_level_size(rows: int, cols: int, *, tile_size: int = TILE, source: str | Path = "<level>") -> None:
    """Raise `InputError` naming `source` unless a rows x cols map can be drawn at `tile_size` within
    `genmedia.limits.current().image_pixels`: it is drawn at the art's own `TILE` pixels a tile and
    then scaled, so the larger of the two sizes counts."""
    if tile_size < 1:
        raise ValueError(f"tile size must be at least 1 pixel, not {tile_size}")
    drawn = max(tile_size, TILE)
    bounds = limits.current()
    if rows * cols * drawn * drawn > bounds.image_pixels:
        raise InputError(source, f"has {rows:,} x {cols:,} tiles; drawing them at {drawn} pixels a tile takes "
                                 f"{limits.over(bounds, 'image_pixels', rows * cols * drawn * drawn, 'pixels')}")


def render_level(level: np.ndarray, *, tile_size: int = TILE, source: str | Path = "<level>") -> Image.Image:
    """Draw a (rows, cols) level as an RGB image of (cols * tile_size) x (rows * tile_size) pixels.

    Raises `InputError` naming `source` before drawing if that is over the pixel limit (see
    `check_level_size`)."""
    rows, cols = level.shape
    check_level_size(rows, cols, tile_size=tile_size, source=source)
    tiles, _ = _atlas()
    canvas = np.empty((rows * TILE, cols * TILE, 3), dtype=np.uint8)
    for code in np.unique(level):
        art = tiles.get(int(code))
        art = art if art is not None else _fallback_tile(int(code))
        for r, c in np.argwhere(level == code):
            canvas[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = art
    image = Image.fromarray(canvas)
    if tile_size != TILE:
        image = image.resize((cols * tile_size, rows * tile_size), Image.Resampling.NEAREST)
    return image


LABEL_WIDTH = 96  # pixels of the label column left of a morph strip
_LABEL_INK, _REPAIRED_INK, _INPUT_INK = (235, 235, 235), (255, 170, 60), (120, 200, 255)


def check_strip_size(shapes: Sequence[tuple[int, int]], *, tile_size: int = 8, gap: int = 4,
                     source: str | Path = "<morph>") -> None:
    """Raise `InputError` naming `source` unless a strip of maps of these (rows, cols) shapes, as
    `render_strip` draws it, fits `genmedia.limits.current().image_pixels` (each map drawn alone too)."""
    for rows, cols in shapes:
        check_level_size(rows, cols, tile_size=tile_size, source=source)
    width = LABEL_WIDTH + max((cols for _, cols in shapes), default=0) * tile_size
    height = sum(rows for rows, _ in shapes) * tile_size + gap * max(0, len(shapes) - 1)
    bounds = limits.current()
    if width * height > bounds.image_pixels:
        raise InputError(source, f"a strip of {len(shapes)} maps at {tile_size} pixels a tile is {width:,} x "
                                 f"{height:,} = {limits.over(bounds, 'image_pixels', width * height, 'pixels')}")


def render_strip(levels: list[np.ndarray], *, tile_size: int = 8, gap: int = 4,
                 inputs: tuple[np.ndarray, np.ndarray] | None = None, repaired: list[int] | tuple[int, ...] = (),
                 source: str | Path = "<morph>") -> Image.Image:
    """All levels of a morph stacked top to bottom, left-aligned, each labelled on a dark background.

    Steps are labelled `step K` (`step K (repaired)` in orange for those in `repaired`).
    With `inputs` (the maps A and B), A is drawn above the steps and B below them, labelled
    in blue. A `genmedia.levels.model.Morph` carries both, so `render_strip(morph)` shows them.
    Raises `InputError` naming `source` before drawing if the strip is over the pixel limit.
    """
    inputs = inputs if inputs is not None else getattr(levels, "inputs", None)
    marked = set(repaired or getattr(levels, "repaired", ()))
    rows = [(f"step {k}" + (" (repaired)" if k in marked else ""), lv,
             _REPAIRED_INK if k in marked else _LABEL_INK) for k, lv in enumerate(levels)]
    if inputs is not None:
        rows = [("A (input)", inputs[0], _INPUT_INK), *rows, ("B (input)", inputs[1], _INPUT_INK)]
    check_strip_size([lv.shape for _, lv, _ in rows], tile_size=tile_size, gap=gap, source=source)
    images = [render_level(lv, tile_size=tile_size, source=source) for _, lv, _ in rows]
    width = LABEL_WIDTH + max(im.width for im in images)
    height = sum(im.height for im in images) + gap * (len(images) - 1)
    strip = Image.new("RGB", (width, height), (24, 24, 24))
    draw, font = ImageDraw.Draw(strip), ImageFont.load_default()
    y = 0
    for (label, _, ink), im in zip(rows, images):
        strip.paste(im, (LABEL_WIDTH, y))
        draw.text((4, y + max(0, im.height // 2 - 6)), label, fill=ink, font=font)
        y += im.height + gap
    return strip


def plot_expressive_range(generated: list[np.ndarray], reference: list[np.ndarray] | Reference, *,
                          bins: int = 20, size: int = 400) -> Image.Image:
    """2-D histogram of linearity (x) against leniency (y): generated as blue cells, reference as red dots.

    `reference` is a list of maps or a `Reference` (whose per-level points are drawn).
    """
    gen = np.array([(linearity(lv), leniency(lv)) for lv in generated])
    if isinstance(reference, Reference):
        points = list(reference.points)
    else:
        points = [(linearity(lv), leniency(lv)) for lv in reference]
    ref = np.array(points, dtype=float).reshape(-1, 2)
    both = np.concatenate([gen, ref])
    lo, hi = both.min(0), both.max(0)
    span = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    hist, _, _ = np.histogram2d(gen[:, 0], gen[:, 1], bins=bins, range=[[lo[0], hi[0]], [lo[1], hi[1]]])
    margin = 60
    img = Image.new("RGB", (size + 2 * margin, size + 2 * margin), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    cell = size / bins
    peak = max(hist.max(), 1.0)
    for i, j in np.argwhere(hist > 0):
        shade = int(230 * (1 - hist[i, j] / peak))
        x0, y0 = margin + i * cell, margin + size - (j + 1) * cell
        draw.rectangle([x0, y0, x0 + cell, y0 + cell], fill=(shade, shade, 255))
    for x, y in ref:
        px = margin + (x - lo[0]) / (hi[0] - lo[0]) * size
        py = margin + size - (y - lo[1]) / (hi[1] - lo[1]) * size
        draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=(220, 30, 30), outline=(0, 0, 0))
    draw.rectangle([margin, margin, margin + size, margin + size], outline=(0, 0, 0))
    font = ImageFont.load_default()
    draw.text((margin, 15), f"expressive range: {len(gen)} generated (blue), {len(ref)} reference (red)",
              fill=(0, 0, 0), font=font)
    draw.text((margin + size // 2 - 25, margin + size + 30), "linearity", fill=(0, 0, 0), font=font)
    draw.text((5, margin + size // 2), "leniency", fill=(0, 0, 0), font=font)
    for value, px in ((lo[0], margin), (hi[0], margin + size - 30)):
        draw.text((px, margin + size + 8), f"{value:.2f}", fill=(0, 0, 0), font=font)
    for value, py in ((lo[1], margin + size - 10), (hi[1], margin)):
        draw.text((10, py), f"{value:.2f}", fill=(0, 0, 0), font=font)
    return img
