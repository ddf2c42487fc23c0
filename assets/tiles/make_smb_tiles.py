"""Draw genmedia's own 16x16 Super Mario Bros-style tile art (no game sprites are copied).

Run from the repository root to regenerate `assets/tiles/smb.png` and `smb.json`:
    python assets/tiles/make_smb_tiles.py
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

T = 16
SKY = (107, 140, 255)
ORDER = "-XS?QE<>[]oBb"


def tile(draw_fn) -> Image.Image:
    img = Image.new("RGB", (T, T), SKY)
    draw_fn(ImageDraw.Draw(img))
    return img


def ground(d):
    d.rectangle([0, 0, 15, 15], fill=(200, 76, 12))
    d.line([0, 0, 15, 0], fill=(252, 188, 176))
    d.line([0, 0, 0, 15], fill=(252, 188, 176))
    d.line([15, 1, 15, 15], fill=(0, 0, 0))
    d.line([1, 15, 15, 15], fill=(0, 0, 0))
    d.line([7, 1, 7, 8], fill=(0, 0, 0))
    d.line([1, 9, 14, 9], fill=(0, 0, 0))


def brick(d):
    d.rectangle([0, 0, 15, 15], fill=(180, 70, 20))
    d.line([0, 0, 15, 0], fill=(0, 0, 0))
    for y in (4, 8, 12):
        d.line([0, y, 15, y], fill=(0, 0, 0))
    for row, y in enumerate((0, 4, 8, 12)):
        for x in ((7, 15) if row % 2 == 0 else (3, 11)):
            d.line([x, y, x, y + 3], fill=(0, 0, 0))


def question(d):
    d.rectangle([0, 0, 15, 15], fill=(0, 0, 0))
    d.rectangle([0, 0, 14, 14], fill=(248, 184, 0))
    for x, y in ((2, 2), (12, 2), (2, 12), (12, 12)):
        d.point([x, y], fill=(0, 0, 0))
    d.line([5, 4, 10, 4], fill=(120, 40, 0), width=2)
    d.line([10, 4, 10, 7], fill=(120, 40, 0), width=2)
    d.line([8, 7, 10, 7], fill=(120, 40, 0), width=2)
    d.line([8, 7, 8, 9], fill=(120, 40, 0), width=2)
    d.rectangle([8, 11, 9, 12], fill=(120, 40, 0))


def used(d):
    d.rectangle([0, 0, 15, 15], fill=(0, 0, 0))
    d.rectangle([0, 0, 14, 14], fill=(150, 80, 40))
    for x, y in ((2, 2), (12, 2), (2, 12), (12, 12)):
        d.rectangle([x, y, x + 1, y + 1], fill=(0, 0, 0))


def enemy(d):
    d.pieslice([1, 1, 14, 16], 180, 360, fill=(160, 60, 20))
    d.rectangle([4, 9, 11, 12], fill=(240, 200, 160))
    d.rectangle([4, 5, 6, 8], fill=(255, 255, 255))
    d.rectangle([9, 5, 11, 8], fill=(255, 255, 255))
    d.point([5, 7], fill=(0, 0, 0))
    d.point([10, 7], fill=(0, 0, 0))
    d.rectangle([1, 13, 6, 15], fill=(0, 0, 0))
    d.rectangle([9, 13, 14, 15], fill=(0, 0, 0))


def pipe_part(left: bool, head: bool):
    def draw(d):
        x0, x1 = (0, 15) if head else ((2, 15) if left else (0, 13))
        d.rectangle([x0, 0, x1, 15], fill=(0, 168, 0))
        d.rectangle([x0, 0, x1, 15], outline=(0, 0, 0)) if head else None
        edge = x0 if left else x1
        d.line([edge, 0, edge, 15], fill=(0, 0, 0))
        if left:
            d.rectangle([x0 + 3, 1, x0 + 5, 14], fill=(128, 216, 16))
        else:
            d.rectangle([x1 - 5, 1, x1 - 3, 14], fill=(0, 100, 0))
        if head:
            d.line([0, 15, 15, 15], fill=(0, 0, 0))
    return draw


def coin(d):
    d.ellipse([4, 1, 11, 14], fill=(248, 184, 0), outline=(120, 60, 0))
    d.line([8, 4, 8, 11], fill=(255, 240, 160), width=2)


def cannon_top(d):
    d.rectangle([1, 0, 14, 15], fill=(30, 30, 30))
    d.rectangle([0, 2, 15, 6], fill=(60, 60, 60))
    d.ellipse([5, 8, 10, 13], fill=(230, 230, 230))


def cannon_base(d):
    d.rectangle([2, 0, 13, 15], fill=(70, 40, 30))
    d.line([2, 0, 2, 15], fill=(0, 0, 0))
    d.line([13, 0, 13, 15], fill=(0, 0, 0))
    d.line([2, 7, 13, 7], fill=(0, 0, 0))


ART = {"-": lambda d: None, "X": ground, "S": brick, "?": question, "Q": used, "E": enemy,
       "<": pipe_part(True, True), ">": pipe_part(False, True), "[": pipe_part(True, False),
       "]": pipe_part(False, False), "o": coin, "B": cannon_top, "b": cannon_base}


def main() -> None:
    here = Path(__file__).resolve().parent
    sheet = Image.new("RGB", (T * len(ORDER), T), SKY)
    for i, char in enumerate(ORDER):
        sheet.paste(tile(ART[char]), (i * T, 0))
    sheet.save(here / "smb.png", optimize=True)
    meta = {"tile_size": T, "tiles": {c: i for i, c in enumerate(ORDER)}, "background": list(SKY),
            "source": "drawn by assets/tiles/make_smb_tiles.py"}
    (here / "smb.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
