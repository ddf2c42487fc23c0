"""Write levels to disk: VGLC text and a PNG beside each, all or nothing per call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from genmedia.fileio import OutputBatch, output_set, write_atomic
from genmedia.levels.render import render_level, render_strip
from genmedia.levels.tiles import level_to_text


def _png(image: Image.Image) -> Callable[[Path], None]:
    # Fixed encoder settings, so equal images give equal bytes.
    return lambda tmp: image.save(tmp, format="PNG", optimize=False)


def save_image(image: Image.Image, path: Path, *, overwrite: bool) -> Path:
    """Save one PNG atomically, never over an existing file unless `overwrite`."""
    return write_atomic(path, _png(image), overwrite=overwrite)


def add_levels(batch: OutputBatch, named: list[tuple[str, np.ndarray]], *, folder: str | Path = "",
               png: bool = True) -> list[Path]:
    """Add `FOLDER/STEM.txt` (and `STEM.png`) for each (stem, level) to `batch`; return their paths.

    Every name is checked before anything is rendered, so a taken name fails fast.
    """
    suffixes = (".txt", ".png") if png else (".txt",)
    batch.check([Path(folder, f"{stem}{s}") for stem, _ in named for s in suffixes])
    written = []
    for stem, level in named:
        written.append(batch.write_text(Path(folder, f"{stem}.txt"), level_to_text(level)))
        if png:
            written.append(batch.write(Path(folder, f"{stem}.png"), _png(render_level(level))))
    return written


def add_level_morph(batch: OutputBatch, morph: list[np.ndarray], *, folder: str | Path = "",
                    stem: str = "step") -> list[Path]:
    """Add each step as `STEM-KK.txt`/`.png` and the whole morph as `morph.png` to `batch`."""
    batch.check([Path(folder, "morph.png")])
    written = add_levels(batch, [(f"{stem}-{k:02d}", lv) for k, lv in enumerate(morph)], folder=folder)
    written.append(batch.write(Path(folder, "morph.png"), _png(render_strip(morph))))
    return written


def write_levels(outdir: Path, named: list[tuple[str, np.ndarray]], *, png: bool = True,
                 overwrite: bool = False) -> list[Path]:
    """Write `STEM.txt` (and `STEM.png`) for each (stem, level) into `outdir`; return the paths.

    All or nothing (see `genmedia.fileio.output_set`): a taken name, a failed write or an
    interruption leaves `outdir` as it was.
    """
    with output_set(outdir, overwrite=overwrite) as batch:
        written = add_levels(batch, named, png=png)
    return written


def write_level_morph(outdir: Path, morph: list[np.ndarray], *, stem: str = "step",
                      overwrite: bool = False) -> list[Path]:
    """Write each step as `STEM-KK.txt`/`.png` and the whole morph as `morph.png`, all or nothing."""
    with output_set(outdir, overwrite=overwrite) as batch:
        written = add_level_morph(batch, morph, stem=stem)
    return written
