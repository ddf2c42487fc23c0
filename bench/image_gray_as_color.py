"""Gray pictures saved as color files (three equal channels, as many cameras, scanners and editors
save black-and-white photos): blind denoising of set12 (validation) with gray white noise.

    python bench/image_gray_as_color.py [--folder ../shared/data/images/set12] [--sigmas 0,15,25,50]

Each image gets one seeded 8-bit noise field, repeated in the three channels, and is denoised blind
as an RGB PNG and as an RGB JPEG at quality 90. It prints the mean PSNR of the result's gray picture
(the channels' mean) against the clean one, the noisy input's, and the mean level the blind path gave.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from genmedia.image.denoise import Denoiser
from genmedia.image.evaluate import psnr

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT.parent / "shared" / "data" / "images" / "set12")
    parser.add_argument("--sigmas", default="0,15,25,50")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    denoiser = Denoiser.load(args.model)
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".bmp"))
    print(f"{len(files)} images of {args.folder}, gray noise in three equal channels, blind")
    print("| sigma | file | noisy input PSNR | genmedia blind PSNR | mean level |")
    print("|---|---|---|---|---|")
    for sigma in (float(s) for s in args.sigmas.split(",")):
        rng = np.random.default_rng(int(sigma))
        cases = []
        for path in files:
            with Image.open(path) as im:
                clean = np.asarray(im.convert("L")).astype(np.float64)[..., None]
            cases.append((clean, np.clip(np.rint(clean + rng.normal(0, sigma, clean.shape)), 0, 255).astype(np.uint8)))
        for kind in ("png", "jpeg q90"):
            noisy_scores, out_scores, levels = [], [], []
            for clean, noisy in cases:
                rgb = noisy.repeat(3, axis=2)
                if kind != "png":
                    buffer = io.BytesIO()
                    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
                    rgb = np.asarray(Image.open(buffer).convert("RGB"))
                reading = denoiser.read_noise(rgb)
                out = denoiser.denoise(rgb, sigma=reading.level)
                noisy_scores.append(psnr(clean, rgb.mean(axis=2, keepdims=True)))
                out_scores.append(psnr(clean, out.mean(axis=2, keepdims=True)))
                levels.append(reading.level)
            row = (np.mean(noisy_scores), np.mean(out_scores), np.mean(levels))
            print(f"| {sigma:g} | {kind} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:.2f} |")


if __name__ == "__main__":
    main()
