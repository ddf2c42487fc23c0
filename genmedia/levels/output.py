"""Write levels to disk: VGLC text and a PNG beside each, all-or-nothing per call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from genmedia.fileio import check_writable, write_atomic, write_text_atomic
from genmedia.levels.render import render_level, render_strip
from genmedia.levels.tiles import level_to_text


def save_image(image: Image.Image, path: Path, *, overwrite: bool) -> Path:
    """Save a PNG atomically (fixed encoder settings, so equal images give equal bytes)."""
    return write_atomic(path, lambda tmp: image.save(tmp, format="PNG", optimize=False), overwrite=overwrite)


def write_levels(outdir: Path, named: list[tuple[str, np.ndarray]], *, png: bool = True,
                 overwrite: bool = False) -> list[Path]:
    """Write `STEM.txt` (and `STEM.png`) for each (stem, level); return the paths written.

    Every target is checked before anything is written, so an existing file (without
    `overwrite`) stops the call with nothing changed on disk.
    """
    outdir = Path(outdir)
    targets = [(outdir / f"{stem}.txt", outdir / f"{stem}.png", level) for stem, level in named]
    check_writable([p for t in targets for p in (t[:2] if png else t[:1])], overwrite=overwrite)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for txt, image_path, level in targets:
        written.append(write_text_atomic(txt, level_to_text(level), overwrite=overwrite))
        if png:
            written.append(save_image(render_level(level), image_path, overwrite=overwrite))
    return written


def write_level_morph(outdir: Path, morph: list[np.ndarray], *, stem: str = "step",
                      overwrite: bool = False) -> list[Path]:
    """Write each step as `STEM-KK.txt`/`.png` and the whole morph as `morph.png`, all checked first."""
    outdir = Path(outdir)
    check_writable([outdir / "morph.png"], overwrite=overwrite)
    written = write_levels(outdir, [(f"{stem}-{k:02d}", lv) for k, lv in enumerate(morph)], overwrite=overwrite)
    written.append(save_image(render_strip(morph), outdir / "morph.png", overwrite=overwrite))
    return written
