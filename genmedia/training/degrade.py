"""Camera-like degradations of clean photos, for training and measuring the denoiser on real noise.

numpy and Pillow only (no torch), so `bench/` can apply the same pipeline to test sets.

The camera pipeline is the "unprocessing" idea of Brooks et al. (2019) written for this
project: a clean sRGB patch is taken back to linear sensor values (inverse gamma, inverse tone
curve, inverse colour correction, inverse white balance), sampled on an RGGB Bayer mosaic, given
shot and read noise (Poisson-Gaussian: variance a*x + b per sensor sample; in most draws made
coarser, as in-camera noise reduction leaves it), then processed again
as a camera does: bilinear demosaicing (which correlates neighbouring pixels), white balance
(which amplifies red and blue noise), colour correction (which mixes the channels' noise), the
tone curve and gamma (which make the noise depend on brightness), mild sharpening, sometimes a
downscale (which changes the grain), 8 bits, and JPEG at quality 60-95 with 4:2:0 or 4:4:4
chroma. The clean target goes through the same sharpening and resizing, so the network learns
to remove noise and compression artefacts, not the camera's look.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's 'L'


@dataclass(frozen=True)
class CameraSettings:
    """Ranges the camera pipeline draws from (every draw is uniform unless said otherwise)."""

    shot: tuple[float, float] = (5e-6, 1e-2)  # shot-noise gain a, log-uniform (linear light, 0-1)
    # Read variance b from a, as Brooks et al. fit it across cameras: log b = 2.18 log a + 1.2 + N(0, 0.26).
    read_slope: float = 2.18
    read_offset: float = 1.2
    read_spread: float = 0.26
    ccm_mix: tuple[float, float] = (0.0, 0.5)  # off-diagonal strength of the colour correction
    red_gain: tuple[float, float] = (1.6, 2.4)
    blue_gain: tuple[float, float] = (1.3, 2.0)
    # In-camera noise reduction and the camera's own demosaicing make real noise coarser than one
    # bilinear step does (PolyU's noise correlates 0.65 / 0.39 / 0.25 at 1 / 2 / 4 pixels): in this
    # share of draws the sensor noise is blurred by a Gaussian of 0.5-2.5 pixels (its variance kept).
    coarse: float = 0.8
    coarse_sigma: tuple[float, float] = (0.5, 2.5)
    tone_curve: float = 0.5  # share of patches given the smoothstep tone curve
    sharpen: float = 0.5  # share of patches sharpened (unsharp mask, amount 0-0.8)
    downscale: float = 0.25  # share of patches downscaled by 1.25-2.5 after processing
    jpeg: float = 0.75  # share compressed as JPEG
    quality: tuple[int, int] = (60, 95)
    subsampled: float = 0.6  # share of color JPEGs with 4:2:0 chroma (the rest 4:4:4)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def _tone(x: np.ndarray) -> np.ndarray:
    """The smoothstep tone curve 3x^2 - 2x^3 (a camera's S-curve, as Brooks et al. model it)."""
    x = np.clip(x, 0.0, 1.0)
    return (3 * x * x - 2 * x * x * x).astype(np.float32)


def _untone(y: np.ndarray) -> np.ndarray:
    y = np.clip(y, 0.0, 1.0)
    return (0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)).astype(np.float32)


def _blur3(x: np.ndarray) -> np.ndarray:
    """A separable [1, 2, 1] / 4 blur over the first two axes, edges replicated."""
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    p = 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]
    return 0.25 * p[:, :-2] + 0.5 * p[:, 1:-1] + 0.25 * p[:, 2:]


def sharpen(x: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask of a (H, W, C) image in [0, 1]."""
    return np.clip(x + amount * (x - _blur3(x)), 0.0, 1.0).astype(np.float32)


def _bayer_masks(h: int, w: int) -> np.ndarray:
    """(H, W, 3) masks of an RGGB mosaic."""
    masks = np.zeros((h, w, 3), dtype=np.float32)
    masks[0::2, 0::2, 0] = 1
    masks[0::2, 1::2, 1] = 1
    masks[1::2, 0::2, 1] = 1
    masks[1::2, 1::2, 2] = 1
    return masks


def demosaic(mosaic: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing: each channel's missing samples are the weighted mean of its neighbours."""
    sampled = mosaic[..., None] * masks
    kernel = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], dtype=np.float32)
    num = _conv3(sampled, kernel)
    den = _conv3(masks, kernel)
    return (num / np.maximum(den, 1e-6)).astype(np.float32)


def _conv3(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="reflect")
    h, w = x.shape[:2]
    out = np.zeros_like(x)
    for dy in range(3):
        for dx in range(3):
            out += kernel[dy, dx] * p[dy:dy + h, dx:dx + w]
    return out


def coarse_noise(noise: np.ndarray, sigma: float) -> np.ndarray:
    """White noise (H, W) blurred by a Gaussian of `sigma` pixels and scaled back to unit variance."""
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    taps /= np.sqrt(np.sum(taps**2))  # separable, so the 2-D kernel has unit energy and keeps the variance
    p = np.pad(noise, radius, mode="reflect")
    h, w = noise.shape
    rows = sum(t * p[i:i + h, :] for i, t in enumerate(taps))
    return sum(t * rows[:, i:i + w] for i, t in enumerate(taps)).astype(np.float32)


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float (H, W, C) image to size = (height, width), antialiased bicubic per channel."""
    channels = [np.asarray(Image.fromarray(x[..., c], mode="F").resize((size[1], size[0]), Image.BICUBIC))
                for c in range(x.shape[2])]
    return np.stack(channels, axis=2).astype(np.float32)


def jpeg(pixels: np.ndarray, quality: int, *, subsampled: bool) -> np.ndarray:
    """A uint8 (H, W, 1|3) image through Pillow's JPEG encoder and decoder."""
    gray = pixels.shape[2] == 1
    image = Image.fromarray(pixels[..., 0] if gray else pixels, mode="L" if gray else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality), subsampling=2 if subsampled else 0)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded)
    return out[..., None] if gray else out


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def camera(clean: np.ndarray, rng: np.random.Generator, *, gray: bool = False,
           settings: CameraSettings = CameraSettings(), size: int | None = None,
           factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, target): a clean RGB uint8 image (H, W, 3) through the camera pipeline.

    Both come back as uint8 (size, size, 1 if gray else 3), cropped at a random offset after
    JPEG (so the block grid falls anywhere); `size` defaults to the input's smaller side. With
    `factor` > 1 the processed image is downscaled by it first (the input must be at least
    size * factor on each side). The target is the clean image with the same sharpening and
    resizing. `size=0` keeps the whole image (no crop), as `camera_image` does.
    """
    s = settings
    x = clean.astype(np.float32) / 255.0
    h, w = x.shape[:2]
    size = None if size == 0 else size or min(h, w)
    tone = rng.random() < s.tone_curve
    mix = rng.uniform(*s.ccm_mix)
    ccm = ((1 + mix) * np.eye(3) - mix / 3 * np.ones((3, 3))).astype(np.float32)  # rows sum to 1
    gains = np.array([rng.uniform(*s.red_gain), 1.0, rng.uniform(*s.blue_gain)], dtype=np.float32)
    # Unprocess: sRGB -> tone -> CCM -> white balance, back to linear sensor values.
    lin = srgb_to_linear(_untone(x) if tone else x)
    lin = np.clip(lin @ np.linalg.inv(ccm).T, 0.0, 1.0) / gains
    shot = float(np.exp(rng.uniform(np.log(s.shot[0]), np.log(s.shot[1]))))
    read = float(np.exp(s.read_slope * np.log(shot) + s.read_offset + rng.normal(0.0, s.read_spread)))
    # Bayer phase varies with the crop, as it does across a real image.
    oy, ox = rng.integers(0, 2), rng.integers(0, 2)
    masks = _bayer_masks(h + 1, w + 1)[oy:oy + h, ox:ox + w]
    mosaic = (lin * masks).sum(axis=2)
    noise = rng.standard_normal(mosaic.shape).astype(np.float32)
    if rng.random() < s.coarse:
        noise = coarse_noise(noise, float(rng.uniform(*s.coarse_sigma)))
    # Only the noise goes through the bilinear demosaicing: it correlates neighbouring pixels' noise as
    # a camera's does, while the picture keeps its detail (a camera's own demosaicing does not leave
    # bilinear colour fringes for the network to learn to remove).
    sensor_noise = noise * np.sqrt(shot * mosaic + read)
    # Process again as a camera does.
    rgb = (lin + demosaic(sensor_noise.astype(np.float32), masks)) * gains
    rgb = np.clip(rgb, 0.0, 1.0) @ ccm.T
    noisy = linear_to_srgb(rgb)
    noisy = _tone(noisy) if tone else noisy
    target = x
    if rng.random() < s.sharpen:
        amount = rng.uniform(0.0, 0.8)
        noisy, target = sharpen(noisy, amount), sharpen(target, amount)
    if gray:
        noisy, target = noisy @ LUMA[:, None], target @ LUMA[:, None]
    return _finish(noisy, target, rng, size, s, factor=factor)


def _finish(noisy: np.ndarray, target: np.ndarray, rng: np.random.Generator, size: int | None, s: CameraSettings,
            *, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Downscale by `factor`, 8 bits, maybe JPEG, crop to `size` (None: keep the whole image)."""
    h, w = noisy.shape[:2]
    if factor > 1.0:
        new = (max(size, int(h / factor)), max(size, int(w / factor)))
        noisy, target = _resize(noisy, new), _resize(target, new)
    noisy8, target8 = to_uint8(noisy), to_uint8(target)
    if rng.random() < s.jpeg:
        noisy8 = jpeg(noisy8, int(rng.integers(s.quality[0], s.quality[1] + 1)),
                      subsampled=rng.random() < s.subsampled)
    if size is None:
        return noisy8, target8
    # A crop at a random offset, so the JPEG block grid falls anywhere in the patch.
    h, w = noisy8.shape[:2]
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    return noisy8[y:y + size, x:x + size], target8[y:y + size, x:x + size]


def jpeg_only(clean: np.ndarray, rng: np.random.Generator, *, sigma: float, gray: bool = False,
              settings: CameraSettings = CameraSettings(), size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, target): white Gaussian noise of `sigma` (0-255 scale, may be 0), 8 bits, then JPEG
    (always): what a noisy photo saved by an ordinary program looks like. `size` as for `camera`."""
    x = clean.astype(np.float32) / 255.0
    if gray:
        x = x @ LUMA[:, None]
    noise = rng.standard_normal(x.shape).astype(np.float32) * (sigma / 255.0)
    size = None if size == 0 else size or min(x.shape[:2])
    always = CameraSettings(**{**settings.__dict__, "jpeg": 1.0})
    return _finish(x + noise, x, rng, size, always)


GRID = 16  # extra pixels cropped so that the JPEG grid can fall anywhere (a 4:2:0 block is 16 x 16)


def crop(image: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """A random side x side crop (at most the image), turned by a random multiple of 90 degrees and maybe mirrored."""
    h, w = image.shape[:2]
    side = min(side, h, w)
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    patch = np.rot90(image[y:y + side, x:x + side], rng.integers(0, 4))
    return np.ascontiguousarray(patch[:, ::-1] if rng.random() < 0.5 else patch)


def camera_patch(image: np.ndarray, size: int, rng: np.random.Generator, *, gray: bool = False,
                 settings: CameraSettings = CameraSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, target) of side `size` from a clean RGB uint8 image, through `camera` (downscaled
    by 1.25-2.5 in `settings.downscale` of the draws, where the image is large enough)."""
    factor = 1.0
    room = (min(image.shape[:2]) - GRID) / size
    if rng.random() < settings.downscale and room > 1.25:
        factor = float(rng.uniform(1.25, min(2.5, room)))
    patch = crop(image, int(np.ceil(size * factor)) + GRID, rng)
    return camera(patch, rng, gray=gray, settings=settings, size=size, factor=factor)


def jpeg_patch(image: np.ndarray, size: int, rng: np.random.Generator, *, sigma: float, gray: bool = False,
               settings: CameraSettings = CameraSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, target) of side `size` from a clean RGB uint8 image, through `jpeg_only`."""
    return jpeg_only(crop(image, size + GRID, rng), rng, sigma=sigma, gray=gray, settings=settings, size=size)


def camera_image(clean: np.ndarray, seed: int, *, gray: bool = False,
                 settings: CameraSettings = CameraSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, target) for a whole clean RGB uint8 image through the camera pipeline with a seeded
    draw of its settings (no downscaling, no crop): the test-set version of `camera_patch`."""
    rng = np.random.default_rng(seed)
    no_resize = CameraSettings(**{**settings.__dict__, "downscale": 0.0})
    return camera(clean, rng, gray=gray, settings=no_resize, size=0)
