"""16-bit-per-channel color TIFF (RGB and RGBA), which Pillow reduces to 8 bits.

Reading: Pillow's TIFF decoder (libtiff for compressed files, so every compression and predictor
it knows) runs twice, once with the unpacker that keeps the high byte of every sample and once with
the one for the opposite byte order, which keeps the low byte; the halves recombine exactly.

Writing: a baseline little-endian TIFF whose directory is laid out by Pillow's IFD writer, with the
samples in strips of about 256 KB: uncompressed when the input was, else Deflate with horizontal
differencing (lossless; an LZW or PackBits input comes back as Deflate). It carries the ICC profile,
the resolution, the descriptive tags (`TEXT_TAGS`) and the EXIF and GPS directories.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, TiffImagePlugin, TiffTags

from genmedia.image.png16 import join_bytes

# Descriptive tags kept from input to output: ImageDescription, Make, Model, Software, DateTime,
# Artist, Copyright.
TEXT_TAGS = (270, 271, 272, 305, 306, 315, 33432)
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
STRIP_BYTES = 1 << 18


def bits_per_sample(im: TiffImagePlugin.TiffImageFile) -> tuple[int, ...]:
    bits = im.tag_v2.get(258, (1,))
    return bits if isinstance(bits, tuple) else (bits,)


def is_tiff16_color(im: Image.Image) -> bool:
    """Whether Pillow opened a TIFF with 16-bit color samples (and reduced them to its 8-bit RGB/RGBA)."""
    return (isinstance(im, TiffImagePlugin.TiffImageFile) and im.mode in ("RGB", "RGBA")
            and set(bits_per_sample(im)) == {16})


def _other_byte(rawmode: str) -> str:
    """The unpacker for the opposite byte order: it takes the other byte of each 16-bit sample."""
    base, _, order = rawmode.rpartition(";16")
    if not base or order not in ("B", "L", "N"):
        raise ValueError(f"16-bit color TIFF with an unexpected sample layout ({rawmode})")
    if order == "N":
        order = "L" if sys.byteorder == "little" else "B"
    return f"{base};16{'L' if order == 'B' else 'B'}"


def read_tiff16(path: Path, open_image: Callable[[Path], Image.Image]) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels (H, W, 3) uint16 and alpha (H, W) uint16 or None, exactly as stored. `open_image` opens
    the file as `genmedia.image.io` does (its format list and pixel-limit guard)."""
    halves = []
    for swap in (False, True):
        with open_image(path) as im:
            if swap:
                tiles = []
                for tile in im.tile:
                    args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
                    tiles.append(tile._replace(args=(_other_byte(args[0]), *args[1:])))
                im.tile = tiles
            im.load()
            halves.append(np.asarray(im))
    return join_bytes(*halves)


def metadata(im: Image.Image) -> dict[str, Any]:
    """What a TIFF carries besides pixels that is worth keeping: {"tiffinfo": {tag: text},
    "tiff_ifds": {EXIF_IFD or GPS_IFD: {tag: value}}} (each only when present)."""
    out: dict[str, Any] = {}
    if not isinstance(im, TiffImagePlugin.TiffImageFile):
        return out
    text = {tag: im.tag_v2[tag] for tag in TEXT_TAGS if isinstance(im.tag_v2.get(tag), str)}
    if text:
        out["tiffinfo"] = text
    exif = im.getexif()
    ifds = {pointer: dict(exif.get_ifd(pointer)) for pointer in (EXIF_IFD, GPS_IFD) if exif.get_ifd(pointer)}
    if ifds:
        out["tiff_ifds"] = ifds
    return out


def _differenced(block: np.ndarray) -> np.ndarray:
    """TIFF predictor 2 (horizontal differencing) on (rows, W, C) uint16 samples, modulo 2**16."""
    out: np.ndarray = block.copy()
    out[:, 1:] -= block[:, :-1]  # uint16 arithmetic wraps, as the predictor does
    return out


def write_tiff16(path: Path, pixels: np.ndarray, alpha: np.ndarray | None, info: dict[str, Any]) -> None:
    """Write (H, W, 3) uint16 pixels (and (H, W) uint16 alpha) as a 16-bit TIFF with the given metadata."""
    height, width = pixels.shape[:2]
    samples = pixels if alpha is None else np.concatenate([pixels, alpha[..., None]], axis=2)
    channels = samples.shape[2]
    compress = info.get("compression") not in (None, "raw")
    rows = max(1, min(height, STRIP_BYTES // (width * channels * 2)))
    strips = []
    for top in range(0, height, rows):
        block = samples[top:top + rows].astype(np.uint16)
        data = (_differenced(block) if compress else block).astype("<u2").tobytes()
        strips.append(zlib.compress(data, 6) if compress else data)

    ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=b"II\x2a\x00\x08\x00\x00\x00")

    def put(tag: int, value: Any, kind: int) -> None:
        ifd[tag] = value
        ifd.tagtype[tag] = kind

    put(256, width, TiffTags.LONG)
    put(257, height, TiffTags.LONG)
    put(258, (16,) * channels, TiffTags.SHORT)
    put(259, 8 if compress else 1, TiffTags.SHORT)  # Adobe Deflate or none
    put(262, 2, TiffTags.SHORT)  # RGB
    # StripOffsets count from the end of the directory: Pillow's writer adds where that is.
    put(273, tuple(int(o) for o in np.cumsum([0] + [len(s) for s in strips[:-1]])), TiffTags.LONG)
    put(277, channels, TiffTags.SHORT)
    put(278, rows, TiffTags.LONG)
    put(279, tuple(len(s) for s in strips), TiffTags.LONG)
    put(284, 1, TiffTags.SHORT)  # samples interleaved
    if compress:
        put(317, 2, TiffTags.SHORT)
    if alpha is not None:
        put(338, 2, TiffTags.SHORT)  # unassociated alpha
    if info.get("dpi"):
        put(282, TiffImagePlugin.IFDRational(float(info["dpi"][0])), TiffTags.RATIONAL)
        put(283, TiffImagePlugin.IFDRational(float(info["dpi"][1])), TiffTags.RATIONAL)
        put(296, 2, TiffTags.SHORT)  # inches
    for tag, text in info.get("tiffinfo", {}).items():
        put(tag, text, TiffTags.ASCII)
    if info.get("icc_profile"):
        put(34675, info["icc_profile"], TiffTags.UNDEFINED)
    for pointer, tags in info.get("tiff_ifds", {}).items():
        put(pointer, tags, TiffTags.LONG)
    with open(path, "wb") as handle:
        handle.write(b"II" + struct.pack("<HI", 42, 8))
        handle.write(ifd.tobytes(8))
        for strip in strips:
            handle.write(strip)
