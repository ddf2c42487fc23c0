"""Train the image denoiser: a U-Net with skip connections and a residual output.

The network sees the noisy image (3 channels; a gray image is given as three equal channels)
and a noise-level map, and predicts the noise, which is subtracted from its input. It is
trained blind over sigma 0..`sigma_max` (on the 0-255 scale) on gray and color patches, half
of them clipped and rounded to 8 bits as real files are. At run time the noise level comes
from the user (`--noise-level`) or from the estimator in `genmedia.image.noise`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from genmedia.errors import InputError
from genmedia.image.io import SUFFIXES
from genmedia.image.noise import estimate_sigma
from genmedia.training import CAMERA_LEVELS, PRECISIONS
from genmedia.training.degrade import GRID, camera, camera_patch, jpeg_patch
from genmedia.training.export import Graph, WeightsMismatch, export_model, onnx_initializers
from genmedia.training.loop import batch_device, fit


@dataclass
class DenoiserConfig:
    """Network and optimisation settings; stored in every checkpoint and in the model metadata."""

    widths: tuple[int, ...] = (32, 64, 128, 256)  # channels per level; level 0 is at 1/fold resolution
    fold: int = 2  # the image is folded into fold x fold pixel blocks before level 0
    convs: int = 2  # 3x3 convolutions per block
    # 3x3 convolutions in the two blocks at level 0 (head and last decoder), which carry the finest
    # detail; None means `convs`. Deepening a trained model here is function-preserving (see widen_from).
    top_convs: int | None = None
    batch: int = 16
    patch: int = 96
    train_steps: int = 8000
    lr: float = 1e-3
    sigma_max: float = 55.0  # training noise levels are uniform in [0, sigma_max] (0-255 scale)
    quantised: float = 0.5  # share of patches clipped and rounded to 8 bits after the noise is added
    gray: float = 0.3  # share of gray patches
    # Shares of patches degraded as real photos are instead of with AWGN (genmedia.training.degrade):
    # the camera pipeline (Poisson-Gaussian sensor noise, demosaicing, tone curve, sharpening, resizing,
    # JPEG), and white noise of sigma 0..jpeg_sigma_max saved as JPEG. Their noise-level input is what
    # the estimator reads on the degraded patch, as at run time, so the network learns to read
    # correlated, brightness-dependent noise itself (the white-noise estimator reads it as 0.3-5).
    camera: float = 0.0
    # The level input of camera patches: "estimate" (the patch estimator's reading, as above) or "rms"
    # (the RMS of what the pipeline added, noisy - target; levels are on the 0-1 scale), which is what the run
    # time's second look reads (`genmedia.image.denoise.LOOK_BELOW`) and what --noise-level means.
    camera_level: str = "estimate"
    jpeg: float = 0.0
    jpeg_sigma_max: float = 35.0
    seed: int = 0
    # "bf16": forward and backward in bfloat16 autocast, weights and optimiser in float32 (about 2x
    # faster on CPUs with AVX512-BF16 or AMX, and on GPUs); the exported model is float32 either way.
    precision: str = "fp32"

    @classmethod
    def preset(cls, name: str) -> DenoiserConfig:
        """'default' or 'tiny' (a seconds-long CPU run for tests)."""
        tiny = {"widths": (4, 8), "convs": 1, "batch": 2, "patch": 16, "train_steps": 3}
        return cls(**({} if name == "default" else tiny))

    @property
    def multiple(self) -> int:
        """Height and width must be multiples of this (the run time pads to it)."""
        return self.fold * 2 ** (len(self.widths) - 1)


def _block(cin: int, cout: int, n: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNetDenoiser(nn.Module):
    """image (B, 3, H, W) in [0, 1] and sigma (B, 1) on the 0-1 scale -> denoised image.

    The image is folded into fold x fold pixel blocks first (2 x 2 as FFDNet does), so the first
    level works at 1/fold resolution; each further level halves it again with a strided 2x2
    convolution, and the decoder adds the encoder's features back at every level (skip connections).
    """

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        top = cfg.convs if cfg.top_convs is None else cfg.top_convs
        self.head = _block(cfg.fold**2 * 3 + 1, w[0], top)
        self.down = nn.ModuleList(nn.Conv2d(w[i], w[i + 1], 2, stride=2) for i in range(len(w) - 1))
        self.enc = nn.ModuleList(_block(w[i + 1], w[i + 1], cfg.convs) for i in range(len(w) - 1))
        self.up = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in range(len(w) - 1))
        self.dec = nn.ModuleList(_block(w[i], w[i], top if i == 0 else cfg.convs) for i in range(len(w) - 1))
        self.tail = nn.Conv2d(w[0], cfg.fold**2 * 3, 3, padding=1)

    def forward(self, image: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        folded = F.pixel_unshuffle(image, self.cfg.fold)
        level_map = sigma.reshape(-1, 1, 1, 1) * torch.ones_like(folded[:, :1])
        h = self.head(torch.cat([folded, level_map], dim=1))
        skips = []
        for down, enc in zip(self.down, self.enc):
            skips.append(h)
            h = enc(down(h))
        for i in reversed(range(len(self.up))):
            h = self.dec[i](self.up[i](h) + skips[i])
        return image - F.pixel_shuffle(self.tail(h), self.cfg.fold)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The weights of a trained denoiser: its exported ONNX file or a training checkpoint (.pt)."""
    try:
        if path.suffix.lower() == ".onnx":
            weights = {name: torch.from_numpy(array) for name, array in onnx_initializers(path)}
        else:
            # weights_only: a checkpoint holds only tensors and plain values, and a crafted one cannot run code
            weights = torch.load(path, weights_only=True, map_location="cpu")["model"]
    except Exception:  # onnx, pickle and zip raise many kinds; all mean the same here
        raise InputError(path, "not a denoiser's .onnx file or a training checkpoint") from None
    if not weights:
        raise InputError(path, "holds no weights")
    return weights


@torch.no_grad()
def widen_from(model: UNetDenoiser, weights: dict[str, torch.Tensor]) -> None:
    """Start `model` from a trained denoiser with the same levels, at most as many channels and
    at most as many convolutions per block.

    Each tensor is copied into the leading slice of the model's; the model's extra channels keep
    their (seeded) initial weights, except that the weights carrying them into the old channels
    start at zero. A convolution the trained model lacks at the end of a block starts as the
    identity (a Dirac kernel, zero bias): it follows a ReLU, so its input is non-negative and
    passes through it and its ReLU unchanged. So the model starts out computing exactly what the
    trained one computes, and training grows the extra channels and layers into it (Net2Net-style
    widening and deepening).
    """
    state = model.state_dict()
    if set(weights) - set(state):
        raise WeightsMismatch("the initial weights are not a denoiser with the same levels and convolutions")
    added = set(state) - set(weights)
    _check_identity_convs(model, added)
    transposed = {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, nn.ConvTranspose2d)}
    for name, new in state.items():
        if name in added:
            if name.endswith(".weight"):
                nn.init.dirac_(new)
            else:
                new.zero_()
            continue
        old = weights[name]
        if old.dim() != new.dim() or old.shape[2:] != new.shape[2:] or any(
                a > b for a, b in zip(old.shape, new.shape)):
            raise WeightsMismatch(f"{name}: initial weights {tuple(old.shape)} do not fit {tuple(new.shape)}")
        new[tuple(slice(0, n) for n in old.shape)] = old
        if new.dim() == 4:
            out_dim, in_dim = (1, 0) if name in transposed else (0, 1)
            index = [slice(None)] * 4
            index[out_dim], index[in_dim] = slice(0, old.shape[out_dim]), slice(old.shape[in_dim], None)
            new[tuple(index)] = 0.0
    model.load_state_dict(state)


def _check_identity_convs(model: UNetDenoiser, missing: set[str]) -> None:
    """WeightsMismatch unless `missing` holds only whole square convolutions (weight and bias) between two
    ReLUs in a block, each of which is the identity on its non-negative input when it starts as a Dirac kernel."""
    modules = dict(model.named_modules())
    for name in {name.rsplit(".", 1)[0] for name in missing}:
        parent, _, index = name.rpartition(".")
        block, conv = modules.get(parent), modules[name]
        i = int(index) if index.isdigit() else -1
        if not (isinstance(block, nn.Sequential) and isinstance(conv, nn.Conv2d)
                and {f"{name}.weight", f"{name}.bias"} <= missing
                and conv.in_channels == conv.out_channels and 0 < i < len(block) - 1
                and isinstance(block[i - 1], nn.ReLU) and isinstance(block[i + 1], nn.ReLU)):
            raise WeightsMismatch(f"the initial weights are not a denoiser with the same levels: they lack {name}, "
                                  "which cannot start as the identity")


def init_lineage(path: Path) -> dict:
    """What a run that starts from `path` records about it: the file's name and sha256 and, for an
    exported model, how that model was trained (so the chain of commands can be replayed)."""
    import hashlib
    import json

    lineage = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if path.suffix.lower() == ".onnx":
        meta = next((m for m in path.parent.glob("*.json")
                     if any(f.get("path") == path.name for f in json.loads(m.read_text()).get("files", {}).values())),
                    None)
        if meta is not None:
            recorded = json.loads(meta.read_text())
            lineage["training"] = recorded.get("training")
            lineage["metrics"] = recorded.get("metrics")
    return lineage


def split_of(name: str) -> str:
    """'valid' for about one in ten files (by a hash of the name), else 'train'."""
    return "valid" if zlib.crc32(name.encode()) % 10 == 0 else "train"


def read_training_images(folder: Path, *, split: str | None = None) -> list[np.ndarray]:
    """Every image in `folder` as an RGB uint8 array (gray ones repeated to 3 channels)."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in SUFFIXES)
    images = []
    for path in files:
        if split is not None and split_of(path.name) != split:
            continue
        with Image.open(path) as im:
            images.append(np.asarray(im.convert("RGB")))
    return images


@dataclass
class DenoiserData:
    gray: list[np.ndarray]  # RGB arrays of gray images (three equal channels)
    color: list[np.ndarray]
    valid: dict[str, list[np.ndarray]]


def load_denoiser_data(gray_dir: Path, color_dir: Path, valid_gray_dir: Path | None) -> DenoiserData:
    """Gray training images, color training images (the color folder's 'train' split) and validation sets."""
    gray, color = read_training_images(gray_dir), read_training_images(color_dir, split="train")
    for folder, images in ((gray_dir, gray), (color_dir, color)):
        if not images:
            raise ValueError(f"{folder}: no training images found")
    valid = {"color": read_training_images(color_dir, split="valid")}
    if valid_gray_dir is not None:
        valid["gray"] = read_training_images(valid_gray_dir)
    return DenoiserData(gray=gray, color=color, valid={k: v for k, v in valid.items() if v})


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (as PIL's 'L'), repeated to three channels, uint8."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    patch = image[y:y + size, x:x + size]
    patch = np.rot90(patch, rng.integers(0, 4))
    return patch[:, ::-1] if rng.random() < 0.5 else patch


def make_batch(data: DenoiserData, cfg: DenoiserConfig, rng: np.random.Generator):
    """Clean and noisy patches (B, 3, P, P) in [0, 1] and their noise levels (B, 1) on the 0-1 scale.

    A `cfg.camera` share of the patches goes through the camera pipeline and a `cfg.jpeg` share
    through noise-then-JPEG; their levels are the estimator's reading (camera patches: the RMS of
    the degradation with `cfg.camera_level` "rms"). The rest get white Gaussian
    noise (clipped and rounded to 8 bits in `cfg.quantised` of them), with its true sigma as level.
    """
    kinds = np.zeros(cfg.batch, dtype=int)
    if cfg.camera or cfg.jpeg:  # (no draw otherwise, so AWGN-only runs replay as they were first made)
        kinds = rng.choice(3, size=cfg.batch, p=[1.0 - cfg.camera - cfg.jpeg, cfg.camera, cfg.jpeg])
    clean = np.empty((cfg.batch, cfg.patch, cfg.patch, 3), dtype=np.uint8)
    real: dict[int, np.ndarray] = {}
    for i, kind in enumerate(kinds):
        gray = rng.random() < cfg.gray
        # Half the gray patches come from the gray set, half are color training images made gray.
        source = data.gray if gray and rng.random() < 0.5 else data.color
        image = source[rng.integers(len(source))]
        if kind == 0:
            patch = _crop(image, cfg.patch, rng)
            clean[i] = to_gray(patch) if gray and source is data.color else patch
            continue
        if kind == 1:
            noisy, target = camera_patch(image, cfg.patch, rng, gray=gray)
        else:
            noisy, target = jpeg_patch(image, cfg.patch, rng, gray=gray,
                                       sigma=float(rng.uniform(0.0, cfg.jpeg_sigma_max)))
        clean[i], real[i] = np.broadcast_to(target, clean[i].shape), np.broadcast_to(noisy, clean[i].shape)
    x = clean.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    sigma = rng.uniform(0.0, cfg.sigma_max, size=(cfg.batch, 1, 1, 1)).astype(np.float32) / 255.0
    noise = rng.standard_normal(x.shape).astype(np.float32)
    gray = (x[:, 0] == x[:, 1]).all(axis=(1, 2)) & (x[:, 1] == x[:, 2]).all(axis=(1, 2))
    noise[gray] = noise[gray][:, :1]  # a gray image has one noise field, repeated
    noisy = x + sigma * noise
    quantise = rng.random(cfg.batch) < cfg.quantised
    noisy[quantise] = np.clip(np.rint(noisy[quantise] * 255.0), 0, 255) / 255.0
    for i, patch in real.items():
        noisy[i] = patch.transpose(2, 0, 1).astype(np.float32) / 255.0
        if kinds[i] == 1 and cfg.camera_level == "rms":
            sigma[i] = np.sqrt(np.mean((noisy[i] - x[i]) ** 2))
        else:
            sigma[i] = estimate_sigma(patch[..., :1] if gray[i] else patch) / 255.0
    return torch.from_numpy(x), torch.from_numpy(noisy), torch.from_numpy(sigma.reshape(-1, 1))


@torch.no_grad()
def validation_psnr(model: UNetDenoiser, images: list[np.ndarray], sigma: float, *, seed: int = 0,
                    limit: int = 8) -> float:
    """Mean PSNR (dB) denoising the first `limit` images with seeded AWGN at `sigma` (non-blind)."""
    was = model.training
    model.eval()
    device = batch_device(model)
    rng = np.random.default_rng(seed)
    scores = []
    m = model.cfg.multiple
    for image in images[:limit]:
        h, w = (image.shape[0] // m) * m, (image.shape[1] // m) * m
        x = torch.from_numpy(image[:h, :w].transpose(2, 0, 1).astype(np.float32)[None] / 255.0).to(device)
        noise = torch.from_numpy(rng.standard_normal((1, 1 if _is_gray(image) else 3, h, w)).astype(np.float32))
        y = model(x + noise.to(device) * sigma / 255.0, torch.full((1, 1), sigma / 255.0, device=device)).clamp(0, 1)
        scores.append(10 * np.log10(1.0 / F.mse_loss(y[:, :1] if _is_gray(image) else y,
                                                     x[:, :1] if _is_gray(image) else x).item()))
    model.train(was)
    return float(np.mean(scores))


@torch.no_grad()
def validation_camera_psnr(model: UNetDenoiser, images: list[np.ndarray], *, seed: int = 0, limit: int = 8,
                           side: int = 256) -> float:
    """Mean PSNR (dB) denoising centre crops of the first `limit` images put through the seeded camera
    pipeline (no downscaling), at the level the model was trained to take for them (`camera_level`:
    the estimator's reading, blind, or the degradation's RMS, which the run time's second look estimates)."""
    was = model.training
    model.eval()
    device = batch_device(model)
    rng = np.random.default_rng(seed)
    scores = []
    for image in images[:limit]:
        h, w = image.shape[:2]
        n = min(side, h, w) - GRID
        n -= n % model.cfg.multiple
        y, x = (h - n - GRID) // 2, (w - n - GRID) // 2
        noisy, target = camera(image[y:y + n + GRID, x:x + n + GRID], rng, size=n)
        reading = (np.sqrt(np.mean((noisy.astype(np.float32) - target) ** 2)) if model.cfg.camera_level == "rms"
                   else estimate_sigma(noisy))
        level = torch.full((1, 1), reading / 255.0, device=device)
        inp = torch.from_numpy(noisy.transpose(2, 0, 1).astype(np.float32)[None] / 255.0).to(device)
        out = model(inp, level).clamp(0, 1).cpu().numpy()[0].transpose(1, 2, 0)
        scores.append(10 * np.log10(1.0 / np.mean((out - target / 255.0) ** 2)))
    model.train(was)
    return float(np.mean(scores))


def _is_gray(image: np.ndarray) -> bool:
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


def train(data: DenoiserData, cfg: DenoiserConfig, *, checkpoint: Path | None = None,
          log: Callable[[str], None] = lambda _: None, log_every: int = 500, device: str = "cpu",
          time_limit: float | None = None, init: dict[str, torch.Tensor] | None = None) -> UNetDenoiser:
    """Train on `device` (resuming from `checkpoint` if it exists; saving to it every `log_every`
    steps; past `time_limit` seconds it pauses, as `fit` does), starting from the weights `init`
    (see `widen_from`) when given; the trained model comes back on the CPU."""
    if cfg.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {cfg.precision!r}")
    if cfg.camera_level not in CAMERA_LEVELS:
        raise ValueError(f"camera_level must be one of {', '.join(CAMERA_LEVELS)}, not {cfg.camera_level!r}")
    torch.manual_seed(cfg.seed)
    model = UNetDenoiser(cfg)
    if init is not None:
        widen_from(model, init)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def batch_loss(step: int, rng: np.random.Generator):
        device = batch_device(model)
        clean, noisy, sigma = (t.to(device) for t in make_batch(data, cfg, rng))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            out = model(noisy, sigma)
        loss = F.l1_loss(out.float(), clean)
        mse = F.mse_loss(out.detach().clamp(0, 1), clean).item()
        return loss, {"l1": loss.item(), "psnr": 10 * np.log10(1.0 / max(mse, 1e-10))}

    def report() -> str:
        line = "".join(f" valid_{name}_s25 {validation_psnr(model, images, 25.0):.2f}"
                       for name, images in data.valid.items())
        if cfg.camera and "color" in data.valid:
            line += f" valid_color_camera {validation_camera_psnr(model, data.valid['color']):.2f}"
        return line

    fit(model, optimiser, batch_loss, steps=cfg.train_steps, lr=cfg.lr, seed=cfg.seed, checkpoint=checkpoint,
        log=log, log_every=log_every, report=report, device=device, time_limit=time_limit)
    return model.cpu().eval()


def denoiser_graph(model: UNetDenoiser) -> Graph:
    """The denoiser as one ONNX graph: image (B, 3, H, W) and sigma (B, 1) -> denoised, any B, H, W."""
    m = model.cfg.multiple
    return Graph("denoiser", model, (torch.rand(1, 3, 2 * m, 3 * m), torch.full((1, 1), 0.1)),
                 ["image", "sigma"], ["denoised"],
                 {"image": {0: "batch", 2: "height", 3: "width"}, "sigma": {0: "batch"},
                  "denoised": {0: "batch", 2: "height", 3: "width"}})


def export(model: UNetDenoiser, *, name: str, out_dir: Path, command: str, data: dict, metrics: dict,
           overwrite: bool = False) -> Path:
    """Export the denoiser (dynamic batch, height and width) with its metadata."""
    cfg = model.cfg
    m = cfg.multiple
    graphs = [denoiser_graph(model)]
    metadata = {
        "description": "Blind denoiser for gray and color photos (white noise"
                       + (", camera noise and JPEG artefacts" if cfg.camera or cfg.jpeg else "")
                       + "): U-Net with skip connections and a residual output, noise-level map input",
        "input": {"channels": 3, "gray": "three equal channels", "range": [0.0, 1.0], "multiple": m,
                  "sigma_scale": "sigma / 255"},
        "noise": {"model": "additive white Gaussian" if not (cfg.camera or cfg.jpeg) else
                  "additive white Gaussian; camera pipeline (genmedia.training.degrade); white noise then JPEG",
                  "sigma_range": [0.0, cfg.sigma_max], "quantised_share": cfg.quantised,
                  "camera_share": cfg.camera, "jpeg_share": cfg.jpeg,
                  "level_input": ("true sigma for white noise; the estimator's reading for camera and JPEG "
                                  "patches, as at run time" if cfg.camera_level == "estimate" else
                                  "true sigma for white noise; the RMS of the degradation for camera patches "
                                  "(the second look's reading at run time); the estimator's reading for JPEG "
                                  "patches")},
        "training": {**data, "command": command, "config": asdict(cfg)},
        "metrics": metrics,
    }
    return export_model(name=name, task="denoise", out_dir=out_dir, graphs=graphs, metadata=metadata,
                        overwrite=overwrite)
