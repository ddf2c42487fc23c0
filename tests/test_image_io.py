"""Reading and writing photos: formats, modes, bit depth, alpha and metadata survive; bad files are refused."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

from genmedia.errors import InputError
from genmedia.image.io import read_photo, write_photo


def photo_like(shape=(48, 64, 3), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    base = (np.sin(x / 7.0) + np.cos(y / 5.0)) * 60 + 128
    img = base[..., None] + rng.normal(0, 10, shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def exif_bytes() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "genmedia test camera"  # Make
    exif[0x0131] = "test"  # Software
    return exif.tobytes()


@cache
def srgb_icc() -> bytes:
    """An sRGB profile, made once: its header holds the time it was made, so two made a second apart differ."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_png_modes_round_trip(tmp_path: Path, mode: str) -> None:
    rgb = photo_like()
    im = Image.fromarray(rgb).convert(mode)
    src = tmp_path / "in.png"
    im.save(src)
    photo = read_photo(src)
    assert photo.gray == (mode in ("L", "LA"))
    assert photo.pixels.dtype == np.uint8
    inverted = 255 - photo.pixels
    write_photo(tmp_path / "out.png", photo, inverted)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == mode and out.size == im.size
        got = np.asarray(out)
    want = np.asarray(im)
    if mode.endswith("A"):
        assert np.array_equal(got[..., -1], want[..., -1])  # alpha passed through untouched
        got, want = got[..., :-1], want[..., :-1]
    assert np.array_equal(got.reshape(want.shape), 255 - want)


def test_sixteen_bit_gray_keeps_its_precision(tmp_path: Path) -> None:
    values = (np.arange(40 * 50).reshape(40, 50) * 31 % 65536).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    photo = read_photo(tmp_path / "g16.png")
    assert photo.pixels.dtype == np.uint16 and photo.peak == 65535
    assert np.array_equal(photo.pixels[..., 0], values)
    write_photo(tmp_path / "out.png", photo, photo.pixels)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode.startswith("I")
        assert np.array_equal(np.asarray(out), values)


def check_sixteen_bits_round_trip(src: Path, out: Path, pixels: np.ndarray, alpha: np.ndarray | None) -> None:
    """read_photo gives every bit of `src`; the inverted pixels written to `out` read back exactly, with
    the same alpha and metadata."""
    photo = read_photo(src)
    assert photo.pixels.dtype == np.uint16 and photo.peak == 65535 and photo.mode.endswith(";16")
    assert np.array_equal(photo.pixels, pixels)
    assert (photo.alpha is None) == (alpha is None) and (alpha is None or np.array_equal(photo.alpha, alpha))
    write_photo(out, photo, 65535 - photo.pixels)
    again = read_photo(out)
    assert np.array_equal(again.pixels, 65535 - pixels) and again.info == photo.info
    assert alpha is None or np.array_equal(again.alpha, alpha)


@pytest.mark.parametrize("alpha", [False, True])
def test_sixteen_bit_color_png_keeps_every_bit(tmp_path: Path, alpha: bool) -> None:
    from genmedia.image.png16 import write_png16

    pixels = sixteen_bit_pixels()
    a = (np.mgrid[:30, :41][1] * 1600).astype(np.uint16) if alpha else None
    # Our writer (Paeth-filtered rows) gives a file Pillow reads as the high bytes of every sample.
    write_png16(tmp_path / "in.png", pixels, a, {"icc_profile": srgb_icc(), "dpi": (300, 300)})
    with Image.open(tmp_path / "in.png") as im:
        assert im.mode == ("RGBA" if alpha else "RGB")
        assert np.array_equal(np.asarray(im)[..., :3], (pixels >> 8).astype(np.uint8))
        assert im.info["icc_profile"] == srgb_icc() and round(im.info["dpi"][0]) == 300
    check_sixteen_bits_round_trip(tmp_path / "in.png", tmp_path / "out.png", pixels, a)


def test_jpeg_keeps_quality_tables_subsampling_exif_and_icc(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    Image.fromarray(photo_like()).save(src, quality=73, subsampling=1, exif=exif_bytes(), icc_profile=srgb_icc())
    photo = read_photo(src)
    write_photo(tmp_path / "out.jpg", photo, photo.pixels)
    with Image.open(src) as a, Image.open(tmp_path / "out.jpg") as b:
        assert b.format == "JPEG"
        assert a.quantization == b.quantization
        assert b.info["icc_profile"] == a.info["icc_profile"]
        assert b.getexif()[0x010F] == "genmedia test camera"
        from PIL import JpegImagePlugin

        assert JpegImagePlugin.get_sampling(b) == JpegImagePlugin.get_sampling(a) == 1


def tiff16_by_hand(path: Path, pixels: np.ndarray) -> None:
    """An uncompressed big-endian ("MM") 16-bit RGB TIFF in one strip, written field by field."""
    import struct

    height, width, _ = pixels.shape
    data = pixels.astype(">u2").tobytes()
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, 8 + 2 + 12 * 10 + 4), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, 8 + 2 + 12 * 10 + 4 + 6), (277, 3, 1, 3), (278, 4, 1, height),
               (279, 4, 1, len(data)), (284, 3, 1, 1)]
    ifd = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack(">HH", value, 0) if kind == 3 and count == 1 else struct.pack(">I", value)
        ifd += struct.pack(">HHI", tag, kind, count) + packed
    path.write_bytes(b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0)
                     + struct.pack(">HHH", 16, 16, 16) + data)


def sixteen_bit_pixels(shape=(30, 41)) -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[: shape[0], : shape[1]]
    pixels = np.stack([x * 1500, y * 2000, (x + y) * 900], axis=-1) + rng.integers(0, 300, (*shape, 3))
    return pixels.astype(np.uint16)


@pytest.mark.parametrize("compression", [None, "tiff_adobe_deflate"])
@pytest.mark.parametrize("alpha", [False, True])
def test_sixteen_bit_color_tiff_keeps_every_bit_and_its_tags(tmp_path: Path, alpha: bool, compression) -> None:
    from genmedia.image.tiff16 import EXIF_IFD, write_tiff16

    pixels = sixteen_bit_pixels((300, 41))  # several strips
    a = (np.arange(41)[None, :] * 1600 + np.zeros((300, 1))).astype(np.uint16) if alpha else None
    info = {"icc_profile": srgb_icc(), "dpi": (300, 300), "tiffinfo": {271: "genmedia test camera"},
            "tiff_ifds": {EXIF_IFD: {0x829A: IFDRational(1, 250), 0x8827: 400}}}  # exposure, ISO
    if compression:
        info["compression"] = compression
    write_tiff16(tmp_path / "in.tif", pixels, a, info)
    with Image.open(tmp_path / "in.tif") as im:  # Pillow (libtiff when compressed) reads the high bytes
        assert im.mode == ("RGBA" if alpha else "RGB")
        assert np.array_equal(np.asarray(im)[..., :3], (pixels >> 8).astype(np.uint8))
        assert im.info["icc_profile"] == srgb_icc() and round(im.info["dpi"][0]) == 300
    check_sixteen_bits_round_trip(tmp_path / "in.tif", tmp_path / "out.tif", pixels, a)
    with Image.open(tmp_path / "out.tif") as out:
        assert out.tag_v2[271] == "genmedia test camera"
        assert dict(out.getexif().get_ifd(EXIF_IFD)) == {0x829A: 1 / 250, 0x8827: 400}
        assert out.info.get("compression", "raw") == (compression or "raw")


def test_big_endian_sixteen_bit_tiff_reads_exactly(tmp_path: Path) -> None:
    pixels = sixteen_bit_pixels()
    tiff16_by_hand(tmp_path / "mm.tif", pixels)
    with Image.open(tmp_path / "mm.tif") as im:
        assert im.mode == "RGB" and np.array_equal(np.asarray(im), (pixels >> 8).astype(np.uint8))
    assert np.array_equal(read_photo(tmp_path / "mm.tif").pixels, pixels)


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_tiff_keeps_descriptive_tags_and_exif(tmp_path: Path, compression) -> None:
    tags = {270: "a test picture", 271: "genmedia test camera", 272: "model 1", 306: "2026:01:02 03:04:05",
            315: "someone", 33432: "(c) someone"}
    exif = {} if compression else {0x8769: {0x829A: IFDRational(1, 250)}}  # libtiff cannot write EXIF directories
    Image.fromarray(photo_like()).save(tmp_path / "in.tif", tiffinfo={**tags, **exif},
                                       **({"compression": compression} if compression else {}))
    photo = read_photo(tmp_path / "in.tif")
    write_photo(tmp_path / "out.tif", photo, photo.pixels)
    with Image.open(tmp_path / "out.tif") as out:
        assert {tag: out.tag_v2.get(tag) for tag in tags} == tags
        assert dict(out.getexif().get_ifd(0x8769)) == {k: v for d in exif.values() for k, v in d.items()}


@pytest.mark.parametrize("fmt,suffix,options", [
    ("TIFF", ".tif", {"compression": "tiff_lzw"}),
    ("WEBP", ".webp", {"lossless": True}),
    ("BMP", ".bmp", {}),
    ("PNG", ".png", {"exif": None, "icc_profile": None}),
])
def test_other_formats_keep_format_and_settings(tmp_path: Path, fmt: str, suffix: str, options: dict) -> None:
    if "exif" in options:
        options = {"exif": exif_bytes(), "icc_profile": srgb_icc()}
    src = tmp_path / f"in{suffix}"
    pixels = photo_like()
    Image.fromarray(pixels).save(src, format=fmt, **options)
    photo = read_photo(src)
    out = tmp_path / f"out{suffix}"
    write_photo(out, photo, photo.pixels)
    with Image.open(out) as b:
        assert b.format == fmt and b.mode == "RGB"
        if fmt in ("TIFF", "WEBP", "BMP", "PNG"):
            assert np.array_equal(np.asarray(b), pixels)  # lossless settings kept
        if fmt == "TIFF":
            assert b.info["compression"] == "tiff_lzw"
        if fmt == "PNG":
            assert b.info["icc_profile"] == options["icc_profile"]
            assert b.getexif()[0x010F] == "genmedia test camera"


def test_palette_image_comes_back_as_palette(tmp_path: Path) -> None:
    im = Image.fromarray(photo_like()).quantize(16)
    im.save(tmp_path / "p.png")
    photo = read_photo(tmp_path / "p.png")
    write_photo(tmp_path / "out.png", photo, photo.pixels)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "P"
        assert np.array_equal(np.asarray(out.convert("RGB")), np.asarray(im.convert("RGB")))


def test_output_exists_is_not_replaced_unless_asked(tmp_path: Path) -> None:
    Image.fromarray(photo_like()).save(tmp_path / "in.png")
    photo = read_photo(tmp_path / "in.png")
    (tmp_path / "out.png").write_bytes(b"keep")
    with pytest.raises(Exception, match="already exists"):
        write_photo(tmp_path / "out.png", photo, photo.pixels)
    assert (tmp_path / "out.png").read_bytes() == b"keep"
    write_photo(tmp_path / "out.png", photo, photo.pixels, overwrite=True)
    assert read_photo(tmp_path / "out.png").pixels.shape == photo.pixels.shape


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = io.BytesIO()
    Image.fromarray(photo_like((64, 64, 3))).save(good, format="JPEG", quality=90)
    files = {
        "truncated": ("trunc.jpg", good.getvalue()[: len(good.getvalue()) // 2], "truncated or corrupt"),
        "text named .jpg": ("notes.jpg", b"this is not a picture\n", "not an image file"),
        "unsupported": ("anim.gif", None, "unsupported image format (GIF)"),
        "zero bytes": ("empty.png", b"", "empty file"),
    }
    out = {}
    for key, (name, data, why) in files.items():
        path = tmp_path / name
        if data is None:
            Image.fromarray(photo_like()).save(path, format="GIF")
        else:
            path.write_bytes(data)
        out[key] = (path, why)
    return out


def test_bad_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    for key, (path, why) in bad_files(tmp_path).items():
        with pytest.raises(InputError) as info:
            read_photo(path)
        assert why in str(info.value), key
        assert str(path) in str(info.value)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height gray pixels: what a decompression bomb looks like to a reader."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))


def test_pixel_limit_refuses_decompression_bombs(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(png_header_only(30000, 30000))  # 900 MP, beyond Pillow's own guard
    with pytest.raises(InputError, match="30000x30000 = 900,000,000 pixels is over the limit of 120,000,000"):
        read_photo(tmp_path / "bomb.png")
    Image.new("L", (100, 100)).save(tmp_path / "small.png")
    with pytest.raises(InputError, match="10,000 pixels is over the limit of 9,999"):
        read_photo(tmp_path / "small.png", max_pixels=9_999)
    assert read_photo(tmp_path / "small.png", max_pixels=10_000).pixels.shape == (100, 100, 1)


def test_cmyk_jpeg_comes_back_cmyk_with_its_tables_and_profile(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    Image.fromarray(photo_like()).convert("CMYK").save(src, quality=81, icc_profile=srgb_icc())
    photo = read_photo(src)
    assert photo.pixels.shape == (48, 64, 3)  # the network sees RGB
    write_photo(tmp_path / "out.jpg", photo, photo.pixels)
    with Image.open(src) as a, Image.open(tmp_path / "out.jpg") as b:
        assert a.mode == b.mode == "CMYK" and b.format == "JPEG"
        assert a.quantization == b.quantization and b.info["icc_profile"] == a.info["icc_profile"]
        # The unchanged pixels come back as they were, up to one more round of JPEG.
        diff = np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32))
        assert diff.mean() < 3.0
