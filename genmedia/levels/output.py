"""Write levels to disk: VGLC text and a PNG beside each, all or nothing per call."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genmedia.fileio import Inputs, OutputBatch, check_writable, output_set, write_atomic
from genmedia.levels.render import check_strip_size, render_level, render_strip
from genmedia.levels.tiles import level_to_text


def _png(image: Image.Image) -> Callable[[Path], None]:
    # Fixed encoder settings, so equal images give equal bytes.
    return lambda tmp: image.save(tmp, format="PNG", optimize=False)


def save_image(image: Image.Image, path: Path, *, overwrite: bool, inputs: Inputs = ()) -> Path:
    """Save one PNG atomically, never over an existing file unless `overwrite`, never over one of `inputs`."""
    return write_atomic(path, _png(image), overwrite=overwrite, inputs=inputs)


def add_levels(batch: OutputBatch, named: list[tuple[str, np.ndarray]], *, folder: str | Path = "",
               png: bool = True, records: list[dict[str, Any]] | None = None) -> list[Path]:
    """Add `FOLDER/STEM.txt` (and `STEM.png`, and with `records` `STEM.json`, the bins each level
    was asked for) for each (stem, level) to `batch`; return their paths.

    Every name is checked before anything is rendered, so a taken name fails fast.
    """
    suffixes = [".txt", *([".png"] if png else []), *([".json"] if records is not None else [])]
    batch.check([Path(folder, f"{stem}{s}") for stem, _ in named for s in suffixes])
    written = []
    for k, (stem, level) in enumerate(named):
        written.append(batch.write_text(Path(folder, f"{stem}.txt"), level_to_text(level)))
        if records is not None:
            written.append(batch.write_text(Path(folder, f"{stem}.json"), json.dumps(records[k], indent=1) + "\n"))
        if png:
            png_path = Path(folder, f"{stem}.png")
            written.append(batch.write(png_path, _png(render_level(level, source=batch.folder / png_path))))
    return written


def add_level_morph(batch: OutputBatch, morph: list[np.ndarray], *, folder: str | Path = "",
                    stem: str = "step") -> list[Path]:
    """Add each step as `STEM-KK.txt`/`.png` and the whole morph as `morph.png` to `batch`."""
    strip = Path(folder, "morph.png")
    batch.check([strip])
    inputs = getattr(morph, "inputs", None)
    shapes = [lv.shape for lv in ([inputs[0], *morph, inputs[1]] if inputs is not None else morph)]
    check_strip_size(shapes, source=batch.folder / strip)  # before any step is drawn
    written = add_levels(batch, [(f"{stem}-{k:02d}", lv) for k, lv in enumerate(morph)], folder=folder)
    written.append(batch.write(strip, _png(render_strip(morph, source=batch.folder / strip))))
    return written


def check_level_morph(outdir: Path, a: np.ndarray, b: np.ndarray, steps: int, *, stem: str = "step",
                      overwrite: bool = False, inputs: Inputs = ()) -> None:
    """Fail now, before the slow morph, where `write_level_morph` would: a name that is taken (or is
    one of `inputs`), or a strip over the pixel limit (`InputError` naming OUTDIR/morph.png)."""
    from genmedia.levels.model import morph_widths

    names = [Path(outdir, f"{stem}-{k:02d}{suffix}") for k in range(steps) for suffix in (".txt", ".png")]
    check_writable([*names, Path(outdir, "morph.png")], overwrite=overwrite, inputs=inputs)
    shapes = [a.shape, *[(a.shape[0], w) for w in morph_widths(a.shape[1], b.shape[1], steps)], b.shape]
    check_strip_size(shapes, source=Path(outdir) / "morph.png")


def write_levels(outdir: Path, named: list[tuple[str, np.ndarray]], *, png: bool = True,
                 overwrite: bool = False, records: list[dict[str, Any]] | None = None,
                 inputs: Inputs = ()) -> list[Path]:
    """Write `STEM.txt` (and `STEM.png`, and with `records` `STEM.json`) for each (stem, level)
    into `outdir`; return the paths.

    All or nothing (see `genmedia.fileio.output_set`): a taken name, a failed write or an
    interruption leaves `outdir` as it was.
    """
    with output_set(outdir, overwrite=overwrite, inputs=inputs) as batch:
        written = add_levels(batch, named, png=png, records=records)
    return written


def write_level_morph(outdir: Path, morph: list[np.ndarray], *, stem: str = "step",
                      overwrite: bool = False, inputs: Inputs = ()) -> list[Path]:
    """Write each step as `STEM-KK.txt`/`.png` and the whole morph as `morph.png`, all or nothing;
    none of them over one of `inputs` (the maps it morphs)."""
    with output_set(outdir, overwrite=overwrite, inputs=inputs) as batch:
        written = add_level_morph(batch, morph, stem=stem)
    return written
