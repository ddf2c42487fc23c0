"""Run the ONNX denoiser on images of any size: tiles with context margins, bounded memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from genmedia.errors import ModelError
from genmedia.image.noise import estimate_sigma, gray_content
from genmedia.registry import ModelInfo
from genmedia.runtime import Model

DEFAULT_TILE = 1024
MARGIN = 32  # context on each side of a tile; its output there is dropped, so tiles meet without seams

# The second look. The patch estimate (`estimate_sigma`) finds white noise, but camera noise is
# coarse (demosaicing, in-camera noise reduction and JPEG take out its finest grain), so on real
# photos it reads 0.1-0.4 where the noise is 2-5 RMS, and the image would pass through nearly as it
# came. So an image whose patch estimate is under LOOK_BELOW gets a second look: the network is run
# at LOOK_LEVEL on a central crop of at most LOOK_SIDE pixels a side (a bounded cost: about 0.3 s),
# and the robust spread (1.4826 x MAD) of what it removed (the channels' mean), in the LOOK_FLAT
# flattest share of the crop's readable pixels (not clipped, not exactly flat), times LOOK_GAIN,
# becomes the level, if that is higher.
# The gain was chosen on two color validation sets, PolyU's real pairs and camera-pipeline copies
# of the held-out cbsd432 images, as the largest summed gain over the patch estimate alone; the gray
# copies lost at every gain, so gray images take no second look (see the README).
LOOK_BELOW = 2.0
LOOK_LEVEL = 10.0
LOOK_SIDE = 512
LOOK_FLAT = 0.3
LOOK_GAIN = {3: 2.0}  # by channels; gray images take no second look (see the README)
LOOK_MIN_PIXELS = 256  # fewer flat pixels than this: no second look

# Coarse grain. Real camera noise is not only hidden from the patch estimate but also coarser than
# the white noise the network learnt: what the second look removes is correlated between
# neighbours (lag-1 correlation 0.37-0.83 on PolyU's real crops; under 0.35 for 30 of the 35
# camera-pipeline copies of the held-out cbsd432 images that take the second look, whose noise is
# finer). Where that correlation (the reading's `grain`) is at least GRAIN_COARSE, the image also
# goes through a pixel-shuffle pass (Zhou et al. 2019): its four stride-2 sub-images are denoised
# apart, at SHUFFLE_LEVEL times the level, and put back together, which breaks the grain up so that
# the network sees noise nearer the fine grain it learnt; the output is SHUFFLE_SHARE of that and
# the rest the direct pass. The three values were chosen on the same two validation sets as
# LOOK_GAIN, as the largest summed gain over the direct pass alone (threshold 0.3-0.55, level
# 0.75-2, share 0.2-1): PolyU +0.27 dB, the pipeline's copies -0.04 dB.
# Under SHUFFLE_MIN_LEVEL the second look found almost no noise, and what correlates is the
# picture's own smooth shading (a clean drawing reads 0.75 with a grain of 0.69, and the pass would
# take it 1.4 dB further from itself), so there is no pass; no validation image reads under it
# (PolyU's lowest level is 1.77, the pipeline copies' 2.75), so it changes none of their figures.
GRAIN_COARSE = 0.35
SHUFFLE_LEVEL = 1.5
SHUFFLE_SHARE = 0.4
SHUFFLE_MIN_LEVEL = 1.5


@dataclass(frozen=True)
class NoiseReading:
    """What the blind path measured on an image (0-255 scale): the patch estimate, the second
    look's reading where one was taken (None otherwise), the level given to the network, and the
    grain of the noise (the lag-1 correlation of what the second look removed; None without one)."""

    patch: float
    second_look: float | None
    level: float
    grain: float | None = None

    @property
    def method(self) -> str:
        return "patch statistics" if self.second_look is None or self.level == self.patch else "second look"

    @property
    def coarse(self) -> bool:
        """Whether the noise is coarse-grained, so that `denoise` adds the pixel-shuffle pass (see
        `GRAIN_COARSE`): only where the second look set the level, to at least `SHUFFLE_MIN_LEVEL`."""
        return (self.method == "second look" and self.level >= SHUFFLE_MIN_LEVEL and self.grain is not None
                and self.grain >= GRAIN_COARSE)


@dataclass(frozen=True)
class Tile:
    """One tile: the output rectangle it fills, in image coordinates."""

    y0: int
    y1: int
    x0: int
    x1: int


def tiles(height: int, width: int, size: int) -> Iterator[Tile]:
    """Cover (height, width) with non-overlapping rectangles of at most size x size."""
    for y0 in range(0, height, size):
        for x0 in range(0, width, size):
            yield Tile(y0, min(y0 + size, height), x0, min(x0 + size, width))


class Denoiser(Model):
    """The denoising model: `denoise(pixels)` for one image of any size."""

    task = "denoise"

    def __init__(self, info: ModelInfo, *, threads: int | None = None) -> None:
        super().__init__(info, threads=threads)
        self.net = self.graph("denoiser")
        meta = info.metadata.get("input", {})
        self.multiple = int(meta.get("multiple", 16))
        self.sigma_max = float(info.metadata.get("noise", {}).get("sigma_range", [0, 55])[1])

    def estimate(self, pixels: np.ndarray) -> float:
        """The estimated noise level (0-255 scale) of an image as `denoise` takes it (`read_noise`)."""
        return self.read_noise(pixels).level

    def read_noise(self, pixels: np.ndarray) -> NoiseReading:
        """The patch estimate of an image's noise and, where it reads under `LOOK_BELOW`, the
        second look (see `LOOK_BELOW`); the level is the higher of the two (`denoise` clips it to the
        model's range)."""
        patch = float(estimate_sigma(pixels, peak=peak_of(pixels.dtype)))
        look = self.second_look(pixels) if patch < LOOK_BELOW else None
        if look is None:
            return NoiseReading(patch, None, patch)
        return NoiseReading(patch, look[0], max(patch, look[0]), look[1])

    def second_look(self, pixels: np.ndarray) -> tuple[float, float] | None:
        """The level the second look reads (0-255 scale; see `LOOK_BELOW`) and the grain of what it
        removed (see `GRAIN_COARSE`), or None for an image too small or too flat to read, or one of
        a kind that takes none: gray, including a gray picture saved as color (`gray_content`,
        judged on the crop it reads)."""
        if pixels.shape[2] not in LOOK_GAIN:
            return None
        height, width = pixels.shape[:2]
        y0, x0 = max(0, (height - LOOK_SIDE) // 2), max(0, (width - LOOK_SIDE) // 2)
        crop = pixels[y0:y0 + LOOK_SIDE, x0:x0 + LOOK_SIDE].astype(np.float32) * np.float32(1.0 / peak_of(pixels.dtype))
        if min(crop.shape[:2]) < 2 or gray_content(crop, peak=1.0):  # a gray picture saved as color
            return None
        smooth = self.denoise(crop, sigma=LOOK_LEVEL)
        whole = (crop - smooth).mean(axis=2) * np.float32(255.0)
        grain = _neighbour_correlation(whole)
        removed = whole[:-1, :-1]
        luma = smooth.mean(axis=2) * np.float32(255.0)
        gradient = np.abs(np.diff(luma, axis=0))[:, :-1] + np.abs(np.diff(luma, axis=1))[:-1, :]
        # Pixels that carry no noise to read are left out: clipped ones (blown-out white, crushed
        # black) and those exactly equal to both neighbours in every channel (borders, flat graphics,
        # transparent areas); otherwise they tie for the flattest and pull the spread to 0.
        same = (np.diff(crop, axis=0)[:, :-1] == 0) & (np.diff(crop, axis=1)[:-1, :] == 0)
        body = crop[:-1, :-1]
        readable = ~(same.all(axis=2) | ((body <= 0) | (body >= 1)).any(axis=2))
        if np.count_nonzero(readable) < LOOK_MIN_PIXELS:
            return None
        gradient, removed = gradient[readable], removed[readable]
        flat = removed[gradient <= np.quantile(gradient, LOOK_FLAT)]
        if flat.size < LOOK_MIN_PIXELS:
            return None
        spread = 1.4826 * float(np.median(np.abs(flat - np.median(flat))))
        return LOOK_GAIN[pixels.shape[2]] * spread, grain

    def denoise(self, pixels: np.ndarray, *, sigma: float | None = None, reading: NoiseReading | None = None,
                tile: int = DEFAULT_TILE, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Denoise an image (H, W, C) of uint8, uint16 (C = 1 or 3) or float32 in [0, 1].

        `sigma` is the noise level on the 0-255 scale, applied as given (one direct pass). Without
        it the image is denoised blind: `reading` (what `read_noise` returned for these pixels, or
        None to read them now) gives the level, and coarse-grained noise (`NoiseReading.coarse`)
        also takes the pixel-shuffle pass (see `GRAIN_COARSE`). The result has the input's shape
        and dtype. Work is done in tiles of `tile` pixels (plus a margin of context), so memory
        beyond the input and output does not grow with the image.
        `progress(pixels)`, if given, is called after each tile with the number of pixels it filled
        (with the pixel-shuffle pass, each pass counts for half, so the image's pixels in all).
        """
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
            raise ValueError(f"expected an (H, W, 1|3) image, got shape {pixels.shape}")
        if tile < self.multiple:
            raise ValueError(f"tile size must be at least {self.multiple}")
        if sigma is not None and reading is not None:
            raise ValueError("give sigma or reading, not both")
        if sigma is not None:
            return self._direct(pixels, sigma, tile, progress)
        if reading is None:
            reading = self.read_noise(pixels)
        if not reading.coarse:
            return self._direct(pixels, reading.level, tile, progress)
        # The pixel-shuffle pass first, kept as float16 (half a float32 copy of the image; its
        # rounding is far under one 8-bit level), then the direct pass, mixed in tile by tile:
        # rounding the two passes apart before mixing would cost up to 0.08 dB.
        half = _halved(progress)
        shuffled = self.pixel_shuffle_pass(pixels, reading.level * SHUFFLE_LEVEL, tile=tile, progress=half)
        return self._direct(pixels, reading.level, tile, half, mix=(shuffled, SHUFFLE_SHARE))

    def pixel_shuffle_pass(self, pixels: np.ndarray, sigma: float, *, tile: int = DEFAULT_TILE,
                           progress: Callable[[int], None] | None = None) -> np.ndarray:
        """The pixel-shuffle pass alone (see `GRAIN_COARSE`): the image's four stride-2 sub-images
        denoised one by one at level `sigma` and put back together, as float16 in [0, 1]."""
        shuffled = np.empty(pixels.shape, dtype=np.float16)
        for dy in (0, 1):
            for dx in (0, 1):
                part = np.ascontiguousarray(pixels[dy::2, dx::2])
                self._direct(part, sigma, tile, progress, into=shuffled[dy::2, dx::2])
        return shuffled

    def _direct(self, pixels: np.ndarray, sigma: float, tile: int, progress: Callable[[int], None] | None, *,
                into: np.ndarray | None = None, mix: tuple[np.ndarray, float] | None = None) -> np.ndarray:
        """One pass of the network over the image at level `sigma`, tile by tile, in the input's
        dtype; or, with `into` (a float array of the image's shape, a strided view included), as
        float in [0, 1] written there. With `mix` = (other, share), each tile's output is
        (1 - share) x itself + share x `other` (float in [0, 1], the image's shape) there."""
        peak = peak_of(pixels.dtype)
        sigma = float(np.clip(sigma, 0.0, self.sigma_max))
        tile -= tile % self.multiple
        height, width, channels = pixels.shape
        # A gray picture (one channel, or three that hold the same one) comes back gray: the
        # network's three output channels are averaged, so it gains no color.
        gray = gray_content(pixels, peak=peak)
        out = np.empty_like(pixels) if into is None else into
        level = np.full((1, 1), sigma / 255.0, dtype=np.float32)
        for t in tiles(height, width, tile):
            # Context from the image itself where there is some, mirrored at the borders.
            y0, y1 = max(0, t.y0 - MARGIN), min(height, t.y1 + MARGIN)
            x0, x1 = max(0, t.x0 - MARGIN), min(width, t.x1 + MARGIN)
            block = pixels[y0:y1, x0:x1].astype(np.float32) / peak
            ph, pw = -block.shape[0] % self.multiple, -block.shape[1] % self.multiple
            if ph or pw:
                block = np.pad(block, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
            x = np.ascontiguousarray(np.repeat(block, 3 // channels, axis=2).transpose(2, 0, 1)[None])
            try:
                y = self.net.run(image=x, sigma=level)["denoised"][0]
            except (ModelError, MemoryError):  # already one line naming the model (`OnnxModel.run`)
                raise
            except Exception as exc:  # onnxruntime raises its own untyped errors
                why = " ".join(str(exc).split())
                raise ModelError(f"{self.net.path}: denoiser failed on a {x.shape} tile ({why})") from None
            if gray:
                y = np.repeat(y.mean(axis=0, keepdims=True), channels, axis=0)
            y = y.transpose(1, 2, 0)[t.y0 - y0:t.y1 - y0, t.x0 - x0:t.x1 - x0]
            if mix is not None:
                other, share = mix
                y = np.clip(y, 0.0, 1.0) * np.float32(1.0 - share)
                y += other[t.y0:t.y1, t.x0:t.x1].astype(np.float32) * np.float32(share)
            out[t.y0:t.y1, t.x0:t.x1] = _store(y, out.dtype, peak)
            if progress is not None:
                progress((t.y1 - t.y0) * (t.x1 - t.x0))
        return out


def peak_of(dtype: np.dtype) -> float:
    """The value of full white: 255 for uint8, 65535 for uint16, 1.0 for floats."""
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)


def _neighbour_correlation(values: np.ndarray) -> float:
    """The mean of the horizontal and vertical lag-1 correlations of a 2-D array (0 where it is flat)."""
    def correlation(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a - a.mean(), b - b.mean()
        scale = float(np.sqrt(np.mean(a * a) * np.mean(b * b)))
        return float(np.mean(a * b)) / scale if scale > 0 else 0.0

    if min(values.shape) < 2:
        return 0.0
    values = values.astype(np.float64)
    return (correlation(values[:, 1:], values[:, :-1]) + correlation(values[1:], values[:-1])) / 2


def _halved(progress: Callable[[int], None] | None) -> Callable[[int], None] | None:
    """`progress` counting each pixel as half (two passes over the image fill it once)."""
    if progress is None:
        return None
    owed = [0]

    def report(pixels: int) -> None:
        owed[0] += pixels
        done, owed[0] = divmod(owed[0], 2)
        if done:
            progress(done)
    return report


def _store(values: np.ndarray, dtype: np.dtype, peak: float) -> np.ndarray:
    clipped: np.ndarray = np.clip(values, 0.0, 1.0)
    if np.dtype(dtype).kind == "f":  # float images, and the pixel-shuffle pass's float16 buffer
        return clipped
    return np.rint(clipped * peak).astype(dtype)
