"""16-bit-per-channel color PNG (RGB and RGBA), which Pillow reduces to 8 bits.

Reading: Pillow's own PNG decoder does the unfiltering, twice: once unpacking the high
byte of every sample ("RGB;16B") and once the low byte (the little-endian unpacker
"RGB;16L" takes the other byte of each pair). Both passes unfilter with the true 6- or
8-byte pixel stride, so the two halves recombine exactly.

Writing: filtered (Paeth on every row, computed with numpy), zlib-compressed, with the
ICC profile (iCCP), EXIF (eXIf) and resolution (pHYs) chunks when the input had them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def header(path: Path) -> tuple[int, int, bool] | None:
    """(bit depth, color type, interlaced) from a PNG's IHDR, or None if it is not a PNG."""
    with open(path, "rb") as handle:
        head = handle.read(33)
    if len(head) < 29 or not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25], head[28] == 1


def is_png16_color(path: Path) -> bool:
    found = header(path)
    return found is not None and found[0] == 16 and found[1] in (2, 6)


def read_png16(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels (H, W, 3) uint16 and alpha (H, W) uint16 or None, exactly as stored."""
    halves = []
    for rawmode_end in ("16B", "16L"):
        with Image.open(path, formats=["PNG"]) as im:
            mode = im.mode  # "RGB" or "RGBA" (8-bit, as Pillow sees it)
            tile = im.tile[0]
            if len(im.tile) != 1 or not isinstance(tile.args, str):
                raise ValueError("interlaced 16-bit color PNG is not supported")
            im.tile = [ImageFile._Tile(tile.codec_name, tile.extents, tile.offset, f"{mode};{rawmode_end}")]
            im.load()
            halves.append(np.asarray(im))
    return join_bytes(*halves)


def join_bytes(high: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The high and low bytes of every sample (H, W, 3 or 4) -> pixels (H, W, 3) uint16 and alpha or None."""
    values = (high.astype(np.uint16) << 8) | low.astype(np.uint16)
    if values.shape[2] == 4:
        return values[..., :3].copy(), values[..., 3].copy()
    return values, None


def _paeth_filter(rows: np.ndarray, bpp: int) -> np.ndarray:
    """Filter type 4 for every row at once: rows (H, stride) uint8 -> (H, 1 + stride) with type bytes."""
    raw = rows.astype(np.int16)
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    up = np.zeros_like(raw)
    up[1:] = raw[:-1]
    upleft = np.zeros_like(raw)
    upleft[1:, bpp:] = raw[:-1, :-bpp]
    p = left + up - upleft
    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
    predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    filtered = ((raw - predictor) % 256).astype(np.uint8)
    return np.concatenate([np.full((len(rows), 1), 4, dtype=np.uint8), filtered], axis=1)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path: Path, pixels: np.ndarray, alpha: np.ndarray | None, info: dict[str, Any]) -> None:
    """Write (H, W, 3) uint16 pixels (and (H, W) uint16 alpha) as a 16-bit PNG with the given metadata."""
    height, width = pixels.shape[:2]
    samples = pixels if alpha is None else np.concatenate([pixels, alpha[..., None]], axis=2)
    channels = samples.shape[2]
    rows = samples.astype(">u2").reshape(height, width * channels).view(np.uint8)
    body = _paeth_filter(rows, 2 * channels)
    parts = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2 if alpha is None else 6,
                                                    0, 0, 0))]
    if info.get("icc_profile"):
        parts.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(info["icc_profile"])))
    if info.get("dpi"):
        x, y = (int(round(d / 0.0254)) for d in info["dpi"])
        parts.append(_chunk(b"pHYs", struct.pack(">IIB", x, y, 1)))
    if info.get("exif"):
        exif = info["exif"]
        parts.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    parts.append(_chunk(b"IDAT", zlib.compress(body.tobytes(), 6)))
    parts.append(_chunk(b"IEND", b""))
    Path(path).write_bytes(b"".join(parts))
