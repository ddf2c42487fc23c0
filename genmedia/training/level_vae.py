"""Train the level VAE: a fully convolutional VAE whose latent is a sequence along the width.

Each latent vector covers `COLUMNS_PER_LATENT` columns, so a level of any width is one
latent sequence and decodes in a single pass with no seams. The decoder is categorical:
it outputs per-tile logits over the game's vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genmedia.levels.prior import ExemplarPrior
from genmedia.levels.tiles import TileSet, read_corpus
from genmedia.training.export import Graph, export_model
from genmedia.training.loop import batch_device, fit

COLUMNS_PER_LATENT = 8  # three stride-2 stages along the width


@dataclass
class LevelVAEConfig:
    """Network and optimisation settings; stored in every checkpoint and in the model metadata."""

    vocab: int = 13
    rows_padded: int = 16  # map height rounded up to a multiple of 8
    latent: int = 16  # latent channels per COLUMNS_PER_LATENT columns
    channels: int = 32
    crop: int = 64  # training window width (columns), a multiple of 8
    batch: int = 32
    steps: int = 5000
    lr: float = 2e-3
    beta: float = 0.25  # at 1.0 only 4 of 16 latent channels stay in use
    kl_warmup: int = 2000  # steps over which the KL weight ramps from 0 to beta
    free_bits: float = 0.0  # nats per latent channel-position left unpenalised
    seed: int = 0
    # With 15 maps, wide receptive fields and whole windows let the VAE memorise its data (it then
    # reproduces 41% of the structure of held-out maps); local networks, mosaic windows and input
    # corruption make it learn reusable parts instead. Long-range coherence comes from the prior.
    enc_dilations: tuple[int, ...] = (1,)  # residual blocks along the width after the encoder
    dec_dilations: tuple[int, ...] = (1,)  # and before the decoder: they set the receptive field
    corrupt: float = 0.05  # share of encoder-input tiles replaced at random (denoising objective)
    mosaic: tuple[int, int] = (8, 32)  # training windows are spliced from segments this many columns long
    prior_bandwidth: float = 0.6  # kernel noise of the fitted exemplar prior (see genmedia.levels.prior)
    prior_jump: float = 0.125  # its chance per latent step of jumping to another training position

    @classmethod
    def preset(cls, name: str) -> LevelVAEConfig:
        """'default' or 'tiny' (a seconds-long CPU run for tests)."""
        presets = {"default": {}, "tiny": {"latent": 4, "channels": 8, "crop": 32, "batch": 4, "steps": 3,
                                          "kl_warmup": 1, "mosaic": (8, 16)}}
        return cls(**presets[name])


class ResBlock1d(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Encoder(nn.Module):
    """One-hot tiles (B, V, rows_padded, W) -> latent mean and log-variance (B, latent, W/8)."""

    def __init__(self, cfg: LevelVAEConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.stem = nn.Conv2d(cfg.vocab, c, 3, padding=1)
        self.down = nn.ModuleList([nn.Conv2d(c, 2 * c, 4, 2, 1), nn.Conv2d(2 * c, 2 * c, 4, 2, 1),
                                   nn.Conv2d(2 * c, 4 * c, 4, 2, 1)])
        self.collapse = nn.Conv2d(4 * c, 4 * c, (cfg.rows_padded // 8, 3), padding=(0, 1))
        self.blocks = nn.Sequential(*(ResBlock1d(4 * c, d) for d in cfg.enc_dilations))
        self.head = nn.Conv1d(4 * c, 2 * cfg.latent, 1)

    def forward(self, tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.silu(self.stem(tiles))
        for layer in self.down:
            x = F.silu(layer(x))
        x = self.blocks(self.collapse(x).squeeze(2))
        mean, logvar = self.head(F.silu(x)).chunk(2, dim=1)
        return mean, logvar


class Decoder(nn.Module):
    """Latent sequence (B, latent, L) -> tile logits (B, V, rows_padded, 8L)."""

    def __init__(self, cfg: LevelVAEConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.base_rows = cfg.rows_padded // 8
        self.stem = nn.Conv1d(cfg.latent, 4 * c, 3, padding=1)
        self.blocks = nn.Sequential(*(ResBlock1d(4 * c, d) for d in cfg.dec_dilations))
        self.expand = nn.Conv1d(4 * c, 2 * c * self.base_rows, 1)
        self.up = nn.ModuleList([nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.Conv2d(2 * c, c, 3, padding=1),
                                 nn.Conv2d(c, c, 3, padding=1)])
        self.head = nn.Conv2d(c, cfg.vocab, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.expand(F.silu(self.blocks(self.stem(z))))
        x = x.unflatten(1, (-1, self.base_rows))  # (B, 2c, base_rows, L)
        for layer in self.up:
            x = F.silu(layer(F.interpolate(x, scale_factor=2.0, mode="nearest")))
        return self.head(x)


class LevelVAE(nn.Module):
    def __init__(self, cfg: LevelVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)


def pad_rows(indices: np.ndarray, rows_padded: int, empty_index: int) -> np.ndarray:
    """Pad a (rows, W) index map at the top with the empty tile up to `rows_padded` rows."""
    missing = rows_padded - indices.shape[0]
    return np.concatenate([np.full((missing, indices.shape[1]), empty_index, indices.dtype), indices])


@dataclass
class LevelData:
    tiles: TileSet
    rows: int
    maps: list[np.ndarray] = field(default_factory=list)  # padded index maps (rows_padded, W)
    names: list[str] = field(default_factory=list)


def load_level_data(folder: Path, *, legend: Path | None = None) -> LevelData:
    """Read a VGLC folder into padded index maps; the vocabulary is the legend's tiles in order."""
    from genmedia.levels.tiles import load_legend

    tiles, levels = read_corpus(folder, tiles=load_legend(legend) if legend else None)
    rows = max(level.shape[0] for _, level in levels)
    rows_padded = 8 * math.ceil(rows / 8)
    empty = tiles.chars.index(tiles.empty)
    maps = [pad_rows(tiles.to_indices(level), rows_padded, empty) for _, level in levels]
    return LevelData(tiles, rows, maps, [p.name for p, _ in levels])


def _cut_points(data: LevelData) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per map, the columns a segment may start at and end before without splitting a pipe."""
    chars = data.tiles.chars
    left = [chars.index(c) for c in "<[" if c in chars]
    right = [chars.index(c) for c in ">]" if c in chars]
    out = []
    for m in data.maps:
        starts = ~np.isin(m, right).any(0)  # no right half here, so its left half is not cut off
        ends = ~np.isin(m, left).any(0)  # a segment may end after this column
        out.append((starts, ends))
    return out


def _mosaic_window(data: LevelData, cfg: LevelVAEConfig, rng: np.random.Generator, cuts, weights) -> np.ndarray:
    parts, filled = [], 0
    while filled < cfg.crop:
        i = rng.choice(len(data.maps), p=weights)
        starts, ends = cuts[i]
        length = int(rng.integers(cfg.mosaic[0], cfg.mosaic[1] + 1))
        s = int(rng.choice(np.flatnonzero(starts[: len(starts) - length])))
        e = s + length
        while e > s + 1 and not ends[e - 1]:
            e -= 1
        parts.append(data.maps[i][:, s:e])
        filled += e - s
    return np.concatenate(parts, axis=1)[:, : cfg.crop]


def sample_batch(data: LevelData, cfg: LevelVAEConfig, rng: np.random.Generator) -> torch.Tensor:
    """A batch of `crop`-wide windows, levels drawn in proportion to their width: whole windows,
    or with `cfg.mosaic` windows spliced from random segments of random maps."""
    widths = np.array([m.shape[1] - cfg.crop + 1 for m in data.maps], dtype=float)
    weights = widths / widths.sum()
    if cfg.mosaic:
        cuts = _cut_points(data)
        windows = [_mosaic_window(data, cfg, rng, cuts, weights) for _ in range(cfg.batch)]
    else:
        windows = []
        for i in rng.choice(len(data.maps), size=cfg.batch, p=weights):
            start = rng.integers(0, data.maps[i].shape[1] - cfg.crop + 1)
            windows.append(data.maps[i][:, start:start + cfg.crop])
    idx = torch.from_numpy(np.stack(windows))
    return F.one_hot(idx, cfg.vocab).permute(0, 3, 1, 2).float()


def corrupt_tiles(batch: torch.Tensor, share: float) -> torch.Tensor:
    """Replace `share` of the one-hot tiles with uniformly random tiles (encoder input only)."""
    if share <= 0:
        return batch
    b, v, h, w = batch.shape
    flip = torch.rand(b, 1, h, w, device=batch.device) < share
    noise = F.one_hot(torch.randint(0, v, (b, h, w), device=batch.device), v).permute(0, 3, 1, 2).float()
    return torch.where(flip, noise, batch)


def vae_loss(model: LevelVAE, batch: torch.Tensor, kl_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative ELBO per window: categorical reconstruction of the clean tiles + weighted KL."""
    mean, logvar = model.encoder(corrupt_tiles(batch, model.cfg.corrupt))
    logvar = logvar.clamp(-30.0, 20.0)  # while the KL weight warms up, nothing else stops exp() overflowing
    logits = model.decoder(mean + torch.randn_like(mean) * torch.exp(0.5 * logvar))
    target = batch.argmax(1)
    recon = F.cross_entropy(logits, target, reduction="sum") / batch.shape[0]
    kl_map = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
    kl_map = kl_map.mean(0)
    kl = torch.clamp(kl_map, min=model.cfg.free_bits).sum()
    accuracy = (logits.argmax(1) == target).float().mean().item()
    loss = recon + kl_weight * kl
    return loss, {"loss": loss.item(), "recon": recon.item(), "kl": kl_map.sum().item(), "acc": accuracy}


def _fit_width(cfg: LevelVAEConfig, data: LevelData) -> None:
    narrowest = min(m.shape[1] for m in data.maps)
    cfg.crop = min(cfg.crop, narrowest // COLUMNS_PER_LATENT * COLUMNS_PER_LATENT)
    if cfg.crop < COLUMNS_PER_LATENT * 2:
        raise ValueError(f"the narrowest map has {narrowest} columns; at least 16 are needed")


def train(data: LevelData, cfg: LevelVAEConfig, *, checkpoint: Path | None = None,
          log: Callable[[str], None] = lambda _: None, log_every: int = 100, device: str = "cpu",
          time_limit: float | None = None) -> LevelVAE:
    """Train on `device` (resuming from `checkpoint` if it exists; saving to it every `log_every`
    steps; past `time_limit` seconds it pauses, as `fit` does); the trained model comes back on the CPU."""
    torch.manual_seed(cfg.seed)
    cfg.vocab, cfg.rows_padded = len(data.tiles.chars), data.maps[0].shape[0]
    _fit_width(cfg, data)
    model = LevelVAE(cfg)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)

    def batch_loss(step: int, rng: np.random.Generator):
        batch = sample_batch(data, cfg, rng).to(batch_device(model))
        return vae_loss(model, batch, cfg.beta * min(1.0, step / max(1, cfg.kl_warmup)))

    fit(model, optimiser, batch_loss, steps=cfg.steps, lr=cfg.lr, seed=cfg.seed, checkpoint=checkpoint, log=log,
        log_every=log_every, device=device, time_limit=time_limit)
    return model.cpu().eval()


def _whole_steps(m: np.ndarray) -> np.ndarray:
    return m[:, : m.shape[1] // COLUMNS_PER_LATENT * COLUMNS_PER_LATENT]


@torch.no_grad()
def posterior_means(model: LevelVAE, data: LevelData) -> list[np.ndarray]:
    """The encoder's mean latent sequence (latent, steps) for each training map."""
    out = []
    for m in data.maps:
        x = F.one_hot(torch.from_numpy(_whole_steps(m)[None]), model.cfg.vocab).permute(0, 3, 1, 2).float()
        out.append(model.encoder(x)[0][0].numpy())
    return out


@torch.no_grad()
def reconstruction_accuracy(model: LevelVAE, data: LevelData) -> float:
    """Share of tiles (original rows only) that the posterior mean decodes back exactly."""
    hits = total = 0
    for m, z in zip(data.maps, posterior_means(model, data)):
        pred = model.decoder(torch.from_numpy(z[None])).argmax(1)[0].numpy()
        rows = slice(m.shape[0] - data.rows, None)
        hits += int((pred[rows] == _whole_steps(m)[rows]).sum())
        total += pred[rows].size
    return hits / total


def export(model: LevelVAE, data: LevelData, *, name: str, out_dir: Path, command: str, data_dir: Path,
           overwrite: bool = False) -> Path:
    """Export encoder and decoder to ONNX (dynamic batch and width) with their metadata."""
    cfg = model.cfg
    width = 4 * COLUMNS_PER_LATENT
    tiles_example = torch.zeros(1, cfg.vocab, cfg.rows_padded, width)
    z_example = torch.zeros(1, cfg.latent, width // COLUMNS_PER_LATENT)
    graphs = [
        Graph("encoder", model.encoder, (tiles_example,), ["tiles"], ["mean", "logvar"],
              {"tiles": {0: "batch", 3: "width"}, "mean": {0: "batch", 2: "steps"}, "logvar": {0: "batch", 2: "steps"}}),
        Graph("decoder", model.decoder, (z_example,), ["z"], ["logits"],
              {"z": {0: "batch", 2: "steps"}, "logits": {0: "batch", 3: "width"}}),
    ]
    metadata = {
        "description": f"Convolutional VAE over one-hot tile maps ({', '.join(data.names[:3])}, ...)",
        "vocabulary": data.tiles.to_json(),
        "rows": data.rows, "rows_padded": cfg.rows_padded,
        "latent": {"channels": cfg.latent, "columns_per_step": COLUMNS_PER_LATENT},
        "prior": {**ExemplarPrior.fit(posterior_means(model, data), bandwidth=cfg.prior_bandwidth,
                                      jump_probability=cfg.prior_jump).to_json(),
                  "fitted_on": "posterior means of the training maps"},
        "training": {"data": str(data_dir), "levels": data.names, "command": command, "config": asdict(cfg),
                     "reconstruction_accuracy": round(reconstruction_accuracy(model, data), 4)},
        "metrics": {},
    }
    return export_model(name=name, task="level", out_dir=out_dir, graphs=graphs, metadata=metadata,
                        overwrite=overwrite)
