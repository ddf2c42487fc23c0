"""Read photos as float arrays and write results back in the same format, mode, bit depth and metadata.

What is kept: format (PNG, JPEG, TIFF, WebP, BMP), size, mode (gray stays gray), bit depth
(8-bit, 16-bit gray PNG and TIFF, and 16-bit color PNG and TIFF through `genmedia.image.png16` and
`genmedia.image.tiff16`), alpha (passed through untouched), EXIF, the ICC profile, DPI, JPEG
quantisation tables and chroma subsampling (so the quality stays the input's), TIFF compression,
descriptive tags (make, model, date, artist, copyright, ...) and EXIF/GPS directories, and WebP
losslessness. Two limits, both in TIFF: a compressed 8-bit or 16-bit gray TIFF is written by
libtiff, which cannot take EXIF/GPS directories, so those are dropped there; a compressed 16-bit
color TIFF comes back Deflate-compressed whatever its compression was.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from genmedia import limits
from genmedia.errors import InputError
from genmedia.fileio import write_atomic
from genmedia.image import png16, tiff16
from genmedia.inputs import open_input

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}
SUFFIXES = {".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp"}
# What Pillow raises on damaged files: a corrupt header or stream can surface as any of these
# from deep inside a plugin.
_CORRUPT = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
            ZeroDivisionError)
_PIL_GUARD = threading.RLock()
_MODES = {"L": 8, "LA": 8, "RGB": 8, "RGBA": 8, "P": 8, "PA": 8, "1": 1, "CMYK": 8, "I;16": 16, "I;16B": 16,
          "I;16L": 16, "I": 16}


@dataclass
class Photo:
    """Pixels as stored (uint8 or uint16, (H, W, C) with C = 1 for gray or 3), and what is needed to write
    them back. They stay integers so that a 40-megapixel photo costs its own size, not four times it."""

    pixels: np.ndarray
    format: str | None  # Pillow's name for the file's format; None for an image made in memory
    mode: str
    alpha: np.ndarray | None = None  # untouched, in the file's own dtype
    info: dict[str, Any] = field(default_factory=dict)  # save options: exif, icc_profile, dpi, qtables, ...
    palette: Image.Image | None = None

    @property
    def gray(self) -> bool:
        return bool(self.pixels.shape[2] == 1)

    @property
    def peak(self) -> int:
        """The largest pixel value: 255 or 65535."""
        return 65535 if self.pixels.dtype == np.uint16 else 255

    @property
    def megapixels(self) -> float:
        return float(self.pixels.shape[0] * self.pixels.shape[1] / 1e6)


@contextmanager
def _pillow_unguarded() -> Iterator[None]:
    """Pillow with its fixed pixel guard lifted and its warnings off, one thread at a time.

    genmedia applies its own pixel limit (read_photo's max_pixels) right after opening, and TIFF
    checks Pillow's guard again when it loads. Damaged metadata ("Corrupt EXIF data") is only a
    warning in Pillow, which would print past the CLI; the pixels decide whether a file is usable.
    Both settings are process-wide, hence the (re-entrant) lock around whole reads.
    """
    with _PIL_GUARD, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open(path: Path) -> Image.Image:
    try:
        with _pillow_unguarded():
            return Image.open(path, formats=list(FORMATS))
    except UnidentifiedImageError:
        kind = _sniff(path)
        raise InputError(path, f"unsupported image format ({kind})" if kind else "not an image file") from None


def _sniff(path: Path) -> str | None:
    """Name a known but unsupported format from its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    for magic, name in ((b"GIF8", "GIF"), (b"\x00\x00\x00\x0cjP", "JPEG 2000"), (b"\x00\x00\x01\x00", "ICO"),
                        (b"8BPS", "PSD")):
        if head.startswith(magic):
            return name
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypavif", b"ftypmif1"):
        return "HEIF/AVIF"
    return None


def read_photo(path: str | Path, *, max_pixels: int | None = None) -> Photo:
    """Read one image file; raise `InputError` naming the file for anything it cannot use.

    Refused: anything but a regular file (a FIFO would block), empty files, unsupported formats,
    more than `max_pixels` pixels (default `genmedia.limits` image_pixels, from GENMEDIA_MAX_PIXELS),
    more than one frame (APNG, animated WebP, multi-page TIFF), and truncated or corrupt data.
    """
    path = Path(path)
    with open_input(path, what="photo") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise InputError(path, "empty file (0 bytes)")
    max_pixels = limits.current().image_pixels if max_pixels is None else max_pixels
    with _pillow_unguarded():
        try:
            im = _open(path)
        except _CORRUPT as exc:  # the file opened (open_input): an error now is in its contents
            raise _corrupt(path, None, exc) from None
        with im:
            _check_opened(im, path, max_pixels)
            photo = _decode(im, path)
    if photo.format == "WEBP":
        photo.info["lossless"] = _webp_lossless(path)
    return photo


def _corrupt(path: Path, fmt: str | None, exc: Exception) -> InputError:
    detail = str(exc) or ("it ends early" if isinstance(exc, EOFError) else type(exc).__name__)
    return InputError(path, f"truncated or corrupt {fmt or 'image'} file ({detail})")


def _check_opened(im: Image.Image, path: Path, max_pixels: int) -> None:
    """Refuse, from the header alone, what `_decode` should not spend memory or time on."""
    width, height = im.size
    if width * height > max_pixels:
        raise InputError(path, f"{width}x{height} = {width * height:,} pixels is over the limit of "
                               f"{max_pixels:,} (raise it with --max-pixels or {limits.ENV['image_pixels']})")
    if im.mode not in _MODES:
        raise InputError(path, f"unsupported pixel mode {im.mode}")
    frames = _frames(im, path)
    if frames > 1 and im.format != "MPO":  # an MPO's extra frames are previews of the one photo
        raise InputError(path, f"has {frames} frames; genmedia denoises single images")


def _frames(im: Image.Image, path: Path) -> int:
    try:
        return int(getattr(im, "n_frames", 1)) if getattr(im, "is_animated", False) else 1
    except _CORRUPT as exc:  # counting TIFF pages walks the whole IFD chain
        raise _corrupt(path, im.format, exc) from None


def _decode(im: Image.Image, path: Path) -> Photo:
    fmt = im.format
    try:
        im.load()
    except _CORRUPT as exc:
        raise _corrupt(path, fmt, exc) from None
    try:
        photo = _to_photo(im, fmt)
        if fmt == "PNG" and im.mode in ("RGB", "RGBA") and png16.is_png16_color(path):
            photo.pixels, photo.alpha = png16.read_png16(path)
            photo.mode = f"{im.mode};16"
        elif tiff16.is_tiff16_color(im):
            photo.pixels, photo.alpha = tiff16.read_tiff16(path, _open)
            photo.mode = f"{im.mode};16"
    except ValueError as exc:  # a layout genmedia cannot keep, in words from _to_photo, png16 or tiff16
        raise InputError(path, str(exc) or f"unsupported {fmt} layout") from None
    except _CORRUPT as exc:
        raise _corrupt(path, fmt, exc) from None
    return photo


def _webp_lossless(path: Path) -> bool:
    """Whether a WebP file holds a lossless (VP8L) bitstream; Pillow does not say."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return b"VP8L" in head and b"VP8 " not in head


def _save_info(im: Image.Image, fmt: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for key in ("exif", "icc_profile", "dpi"):
        if im.info.get(key):
            info[key] = im.info[key]
    if fmt == "JPEG":
        qtables = getattr(im, "quantization", None)
        if qtables:
            info["qtables"] = qtables
        sampling = JpegImagePlugin.get_sampling(im)
        if sampling != -1:
            info["subsampling"] = sampling
        if im.info.get("progressive"):
            info["progressive"] = True
    elif fmt == "TIFF":
        compression = im.info.get("compression")
        if compression and compression != "raw":
            info["compression"] = compression
        info.update(tiff16.metadata(im))
    elif fmt == "WEBP":
        info["quality"] = 95  # lossy WebP does not record its quality; lossless is detected in read_photo
    elif fmt == "PNG":
        info["optimize"] = False
    return info


def _to_photo(im: Image.Image, fmt: str | None) -> Photo:
    mode = im.mode
    info = _save_info(im, fmt)
    alpha, palette = None, None
    if mode in ("P", "PA"):
        palette = im if mode == "P" else None
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        if has_alpha:
            palette = None
            mode = "RGBA"  # a transparent palette image comes back as RGBA
    if mode == "1":
        im = im.convert("L")
    if mode == "CMYK":
        im = im.convert("RGB")
    if im.mode in ("LA", "RGBA"):
        alpha = np.asarray(im.getchannel("A")).copy()
        im = im.convert(im.mode[:-1])
    array = np.asarray(im)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        if array.min(initial=0) < 0 or array.max(initial=0) > 65535:
            raise ValueError("32-bit integer pixel values are not supported")
        array = array.astype(np.uint16)
    if array.ndim == 2:
        array = array[..., None]
    return Photo(array, fmt, mode, alpha, info, palette)


def image_to_photo(im: Image.Image) -> Photo:
    """A Pillow image already in memory as a `Photo`, converted as `read_photo` converts a file's
    (`photo_to_image` turns pixels back into the image's mode); `ValueError` for a mode it cannot keep."""
    if im.mode not in _MODES:
        raise ValueError(f"unsupported PIL image mode {im.mode!r}; genmedia takes {', '.join(_MODES)}")
    return _to_photo(im, im.format)


def photo_to_image(photo: Photo, pixels: np.ndarray) -> Image.Image:
    """A Pillow image of `pixels` (shape and dtype of `photo.pixels`) in the photo's own mode."""
    mode = photo.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        im = Image.fromarray(pixels[..., 0].astype(np.uint16))
        return im if mode != "I" else im.convert("I")
    im = Image.fromarray(pixels[..., 0] if photo.gray else pixels, "L" if photo.gray else "RGB")
    if photo.alpha is not None:
        im.putalpha(Image.fromarray(photo.alpha))
    if mode == "1":
        return im.convert("1", dither=Image.Dither.NONE)
    if mode == "P" and photo.palette is not None:
        return im.quantize(palette=photo.palette, dither=Image.Dither.NONE)
    if mode == "CMYK":
        return im.convert("CMYK")
    return im


def write_photo(path: str | Path, photo: Photo, pixels: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write `pixels` as `photo` was stored (format, mode, depth, metadata), atomically."""
    if photo.mode in ("RGB;16", "RGBA;16"):
        writer = png16.write_png16 if photo.format == "PNG" else tiff16.write_tiff16
        return write_atomic(Path(path), lambda tmp: writer(tmp, pixels, photo.alpha, photo.info), overwrite=overwrite)
    image = photo_to_image(photo, pixels)
    options = dict(photo.info)
    ifds = options.pop("tiff_ifds", {})
    if ifds and "compression" not in options:  # libtiff, which writes compressed TIFF, refuses them
        options["tiffinfo"] = {**options.get("tiffinfo", {}), **ifds}
    if photo.format == "JPEG" and image.mode not in ("L", "RGB", "CMYK"):
        image = image.convert("RGB")
    return write_atomic(Path(path), lambda tmp: image.save(tmp, format=photo.format, **options), overwrite=overwrite)
