"""How big a denoiser fits the speed target: ONNX Runtime time per megapixel for U-Net sizes.

    python bench/denoiser_size.py [--repeats 3] [--size 1024]   # needs the train extra (torch, onnx)

Each candidate is built untrained (speed does not depend on the weights), exported as
`genmedia train denoiser` exports it, and run on one size x size color tile (the default tile)
with one thread per core. Prints the multiply-accumulates per input pixel, parameters, and the
network's seconds per megapixel; a whole `image denoise` run adds reading, noise estimation and
writing (see bench/image_speed.py). The first row is the shipped configuration.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genmedia.registry import get_model
from genmedia.runtime import OnnxModel
from genmedia.training.denoiser import DenoiserConfig, UNetDenoiser, denoiser_graph
from genmedia.training.export import export_graph

from timing import print_table, timed

CANDIDATES = {
    "shipped widths, 3 convs a level-0 block": {"top_convs": 3},
    "shipped widths, 4 convs a level-0 block": {"top_convs": 4},
    "shipped widths, 6 convs a level-0 block": {"top_convs": 6},
    "widths 48/96/192/384, fold 2": {"widths": (48, 96, 192, 384)},
    "widths 64/128/256/512, fold 2": {"widths": (64, 128, 256, 512)},
    "widths 32/64/128/256, fold 2, 3 convs a block": {"convs": 3},
    "widths 64/128/256/512, fold 4": {"widths": (64, 128, 256, 512), "fold": 4},
    "widths 96/192/384, fold 4": {"widths": (96, 192, 384), "fold": 4},
}


def macs_per_pixel(model: UNetDenoiser, size: int) -> float:
    """Multiply-accumulates of every convolution for one size x size image, per pixel."""
    total = 0

    def count(module: nn.Module, inputs, output) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):
            total += inputs[0].numel() * module.out_channels * kernel
        else:
            total += output.numel() * module.in_channels * kernel // module.groups

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model(torch.rand(1, 3, size, size), torch.full((1, 1), 0.1))
    for hook in hooks:
        hook.remove()
    return total / size**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024, help="Tile side in pixels.")
    args = parser.parse_args()
    shipped = get_model(None, task="denoise").metadata["training"]["config"]
    base = {k: tuple(v) if isinstance(v, list) else v for k, v in shipped.items()}
    rows = []
    image = np.random.default_rng(0).random((1, 3, args.size, args.size), dtype=np.float32)
    sigma = np.full((1, 1), 25 / 255, dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = DenoiserConfig(**base)  # fields added since it was trained take their defaults
        shipped_name = f"shipped: widths {'/'.join(map(str, cfg.widths))}, fold {cfg.fold}"
        candidates = {shipped_name: {}, **CANDIDATES}
        for index, (name, change) in enumerate(candidates.items()):
            cfg = DenoiserConfig(**{**base, **change})
            torch.manual_seed(0)
            model = UNetDenoiser(cfg).eval()
            path = Path(tmp) / f"candidate-{index}.onnx"  # sessions are cached by path
            export_graph(denoiser_graph(model), path, overwrite=False)
            net = OnnxModel(path)
            net.run(image=image, sigma=sigma)  # warm-up
            seconds = timed(partial(net.run, image=image, sigma=sigma), args.repeats)
            params = sum(p.numel() for p in model.parameters()) / 1e6
            label = f"{name}: {macs_per_pixel(model, 64) / 1e3:.0f}k MAC/px, {params:.1f} M params"
            rows.append((label, seconds / (args.size**2 / 1e6)))
    print_table(rows, f"cpus {os.cpu_count()}, OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}, "
                      f"{args.size}x{args.size} color tile, network only, median of {args.repeats}; "
                      "the last column is seconds per megapixel")


if __name__ == "__main__":
    main()
