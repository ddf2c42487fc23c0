"""Denoising speed in seconds per megapixel, gray and color, side by side in one run:
genmedia's ONNX denoiser, OpenCV's fastNlMeans and the `bm3d` package, on the same noisy images.

    pip install -r bench/requirements.txt   # opencv-python-headless and bm3d: the bench only
    python bench/image_speed.py [--images DIR] [--count 3] [--sigma 25] [--skip-bm3d]

By default the images are the first `--count` of ../shared/data/images/cbsd68 (about 0.15 MP
each; only timed here, nothing is chosen with them), noised at `--sigma`, clipped to 8 bits.
The gray case uses their luma. Also prints the PSNR each method reached on those images.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

# As the `genmedia` command runs (genmedia/cli/__init__.py): numpy's OpenBLAS with one thread, so that its
# spinning workers do not slow ONNX Runtime down. Set before numpy is imported; a value already set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image

from genmedia.image.denoise import Denoiser
from genmedia.image.evaluate import add_noise, psnr

ROOT = Path(__file__).resolve().parent.parent


def load(folder: Path, count: int) -> list[np.ndarray]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp", ".tif"))[:count]
    return [np.asarray(Image.open(p).convert("RGB")) for p in files]


def run_method(name: str, fn, cases: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """Seconds per megapixel (total time / total megapixels) and mean PSNR of `fn(noisy) -> uint8`."""
    fn(cases[0][1])  # warm-up: sessions, caches
    seconds, mp, scores = 0.0, 0.0, []
    for clean, noisy in cases:
        start = time.perf_counter()
        out = fn(noisy)
        seconds += time.perf_counter() - start
        mp += clean.shape[0] * clean.shape[1] / 1e6
        scores.append(psnr(clean, out))
    return seconds / mp, float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "data" / "images" / "cbsd68")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--sigma", type=float, default=25.0)
    parser.add_argument("--skip-bm3d", action="store_true", help="BM3D takes about a minute per color megapixel.")
    args = parser.parse_args()

    color = load(args.images, args.count)
    gray = [np.asarray(Image.fromarray(c).convert("L"))[..., None] for c in color]
    cases = {kind: [(c, add_noise(c, args.sigma, seed=i, quantise=True)) for i, c in enumerate(images)]
             for kind, images in (("gray", gray), ("color", color))}

    denoiser = Denoiser.load()
    methods = {"genmedia (ONNX Runtime, blind)": lambda x: denoiser.denoise(x)}
    try:
        import cv2

        # h is OpenCV's filter strength; the usual advice is about sigma (gray) and sigma for both
        # luma and chroma (color); both are given the true sigma, which helps them.
        def nlm(x: np.ndarray) -> np.ndarray:
            if x.shape[2] == 1:
                return cv2.fastNlMeansDenoising(x[..., 0], None, h=args.sigma, templateWindowSize=7,
                                                searchWindowSize=21)[..., None]
            return cv2.fastNlMeansDenoisingColored(x, None, h=args.sigma, hColor=args.sigma,
                                                   templateWindowSize=7, searchWindowSize=21)

        methods["OpenCV fastNlMeans (sigma given)"] = nlm
    except ImportError:
        print("opencv-python-headless is not installed: pip install -r bench/requirements.txt")
    if not args.skip_bm3d:
        try:
            import bm3d

            def run_bm3d(x: np.ndarray) -> np.ndarray:
                scaled = x.astype(np.float64) / 255.0
                if x.shape[2] == 1:
                    out = bm3d.bm3d(scaled[..., 0], sigma_psd=args.sigma / 255.0)[..., None]
                else:
                    out = bm3d.bm3d_rgb(scaled, sigma_psd=args.sigma / 255.0)
                return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)

            methods["bm3d package (sigma given)"] = run_bm3d
        except ImportError:
            print("bm3d is not installed: pip install -r bench/requirements.txt")

    print(f"cpus {os.cpu_count()}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"{args.count} images from {args.images}, sigma {args.sigma:g}, 8-bit noisy input")
    print("| method | gray s/MP | color s/MP | gray PSNR dB | color PSNR dB |")
    print("|---|---|---|---|---|")
    for name, fn in methods.items():
        g_speed, g_psnr = run_method(name, fn, cases["gray"])
        c_speed, c_psnr = run_method(name, fn, cases["color"])
        print(f"| {name} | {g_speed:.3f} | {c_speed:.3f} | {g_psnr:.2f} | {c_psnr:.2f} |", flush=True)


if __name__ == "__main__":
    main()
