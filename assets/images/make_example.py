"""Draw the demo's example picture (a made-up landscape) and its noisy copy.

    python assets/images/make_example.py

writes `landscape-clean.png` (the drawing), `landscape-noisy.png` (plus Gaussian noise of
sigma 25 on the 0-255 scale, seed 0, clipped and rounded to 8 bits, as a noisy photo file
would be) and `landscape-camera.jpg` (the drawing as a camera would take it at a high ISO:
genmedia's camera pipeline with fixed settings, CAMERA below, then a quality-85 JPEG with 4:2:0
chroma, as most cameras and Pillow save) beside this script. Everything is drawn here: gradients,
fractal texture, shapes and text, so the project owns the picture outright.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from genmedia.training.degrade import CameraSettings, camera_image

WIDTH, HEIGHT = 480, 320
SIGMA = 25.0
# Sensor noise of a small camera at a high ISO (shot gain 4e-3 in linear light), its tone curve and
# sharpening; the JPEG is written separately at quality 85.
CAMERA = {"shot": (4e-3, 4e-3), "read_spread": 0.0, "tone_curve": 1.0, "sharpen": 1.0, "jpeg": 0.0,
          "ccm_mix": (0.3, 0.3), "red_gain": (2.0, 2.0), "blue_gain": (1.6, 1.6)}


def fractal(rng: np.random.Generator, height: int, width: int, octaves: int = 6) -> np.ndarray:
    """Smooth random texture in [0, 1]: random grids of growing resolution, upsampled and summed."""
    total = np.zeros((height, width), np.float32)
    for octave in range(octaves):
        size = 2 ** (octave + 2)
        grid = rng.random((size, size)).astype(np.float32)
        layer = np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC))
        total += layer / 2**octave
    total -= total.min()
    return total / total.max()


def landscape(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:HEIGHT, :WIDTH].astype(np.float32)
    sky = np.stack([110 + 0.35 * y, 160 + 0.25 * y, 235 - 0.05 * y], axis=-1)
    img = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.ellipse((360, 40, 420, 100), fill=(255, 236, 150))
    texture = fractal(rng, HEIGHT, WIDTH)
    ridge = 150 + 45 * np.sin(np.arange(WIDTH) / 53.0) + 30 * (fractal(rng, 1, WIDTH, 5)[0] - 0.5)
    pixels = np.asarray(img).astype(np.float32)
    mountain = y > ridge[None, :]
    rock = np.stack([95 + 70 * texture, 90 + 60 * texture, 100 + 50 * texture], axis=-1)
    pixels[mountain] = rock[mountain]
    field = y > 240 + 6 * np.sin(x / 31.0)
    grass = np.stack([60 + 50 * texture, 120 + 70 * texture, 40 + 20 * texture], axis=-1)
    grass += 18 * np.sign(np.sin(x / 3.0 + y / 5.0))[..., None]  # mown stripes: fine detail
    pixels[field] = grass[field]
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for i in range(7):  # a row of fence posts and a rail
        left = 30 + 40 * i
        draw.rectangle((left, 250, left + 6, 300), fill=(110, 70, 40))
    draw.line((30, 262, 276, 262), fill=(130, 85, 50), width=3)
    draw.rectangle((330, 215, 420, 275), fill=(190, 60, 50))  # a barn
    draw.polygon([(322, 215), (375, 180), (428, 215)], fill=(90, 40, 35))
    draw.rectangle((362, 240, 388, 275), fill=(70, 45, 30))
    draw.text((20, 20), "genmedia", fill=(255, 255, 255))
    return np.asarray(img.filter(ImageFilter.SMOOTH_MORE))


def main() -> None:
    here = Path(__file__).parent
    clean = landscape()
    noise = np.random.default_rng(0).standard_normal(clean.shape) * SIGMA
    noisy = np.clip(np.rint(clean + noise), 0, 255).astype(np.uint8)
    Image.fromarray(clean).save(here / "landscape-clean.png", optimize=True)
    Image.fromarray(noisy).save(here / "landscape-noisy.png", optimize=True)
    camera_shot, _ = camera_image(clean, seed=0, settings=CameraSettings(**CAMERA))
    Image.fromarray(camera_shot).save(here / "landscape-camera.jpg", quality=85, subsampling=2)


if __name__ == "__main__":
    main()
