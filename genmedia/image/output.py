"""Pictures about results: a side-by-side before/after crop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from genmedia.fileio import write_atomic


@dataclass
class Figure:
    image: Image.Image

    def save_to(self, path: Path, *, overwrite: bool = False) -> Path:
        return write_atomic(Path(path), lambda tmp: self.image.save(tmp, format="PNG"), overwrite=overwrite)


def before_after(before: np.ndarray, after: np.ndarray, *, box: tuple[int, int, int, int], scale: int = 2,
                 gap: int = 8) -> Figure:
    """The `box` (left, top, right, bottom) of two same-size uint8 images side by side, enlarged by
    `scale` without smoothing (so the noise and the detail stay visible), labelled."""
    left, top, right, bottom = box
    crops = []
    for pixels in (before, after):
        crop = Image.fromarray(pixels[top:bottom, left:right].squeeze(-1) if pixels.shape[2] == 1
                               else pixels[top:bottom, left:right])
        crops.append(crop.convert("RGB").resize(((right - left) * scale, (bottom - top) * scale),
                                                Image.Resampling.NEAREST))
    width, height = crops[0].size
    sheet = Image.new("RGB", (2 * width + gap, height + 20), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (crop, label) in enumerate(zip(crops, ("before", "after"))):
        sheet.paste(crop, (i * (width + gap), 20))
        draw.text((i * (width + gap) + 4, 4), label, fill=(0, 0, 0))
    return Figure(sheet)
