"""Train the melody VAE: end to end, or for a hierarchical model in three stages (bar VAEs, the
conductor to their latents, end to end), each resumable from its own checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genmedia.melody.attributes import ATTRIBUTES, attribute_table
from genmedia.training.loop import BatchLoss, batch_device, fit
from genmedia.training.melody_data import alter_batch, transpose_batch
from genmedia.training.melody_losses import bar_vae_loss, conductor_loss, vae_loss
from genmedia.training.melody_net import MelodyVAE, MelodyVAEConfig, greedy_accuracy


def parameters(*modules: nn.Module) -> list[nn.Parameter]:
    """The parameters of the part of a model that a training stage trains."""
    return [p for module in modules for p in module.parameters()]


def draw_chances(sources: np.ndarray | None, balance: float) -> np.ndarray | None:
    """Each training window's chance of being drawn when several sources are balanced (`sources`: the
    index of each window's source; `balance` as `MelodyVAEConfig.source_balance`); None: draw uniformly."""
    if sources is None or balance <= 0:
        return None
    counts = np.bincount(sources).astype(float)
    share = np.where(counts > 0, counts ** (1.0 - balance), 0.0)
    chance = (share / share.sum() / np.maximum(counts, 1.0))[sources]
    return chance / chance.sum()


def monitor_windows(data: dict[str, np.ndarray]) -> np.ndarray | None:
    """A fixed draw of 512 validation windows from every source (they are pooled in order), if any."""
    if "valid" not in data:
        return None
    return data["valid"][np.random.default_rng(0).permutation(len(data["valid"]))[:512]]


def train(data: dict[str, np.ndarray], cfg: MelodyVAEConfig, *, checkpoint: Path | None = None,
          log: Callable[[str], None] = lambda _: None, log_every: int = 200, device: str = "cpu",
          time_limit: float | None = None, sources: np.ndarray | None = None,
          init: dict[str, torch.Tensor] | None = None) -> MelodyVAE:
    """Train on `device` (resuming from `checkpoint` if it exists; saving to it every `log_every`
    steps; past `time_limit` seconds it pauses, as `fit` does); the trained model comes back on the CPU.
    With `init` (`melody_init.load`) training starts from a trained model's weights: only the
    end-to-end stage runs, without KL warm-up, since that model's latent is already in use."""
    if cfg.bar_pretrain and not (cfg.hierarchical and cfg.enc_bar_hidden):
        raise ValueError("training in stages needs the hierarchical encoder and decoder")
    if cfg.attribute_reg and cfg.latent < len(ATTRIBUTES):
        raise ValueError(f"the attribute regularisation needs a latent of at least {len(ATTRIBUTES)} dimensions")
    torch.manual_seed(cfg.seed)
    model = MelodyVAE(cfg)
    if init is not None:  # the exported parameters; training-only heads keep their seeded values
        model.load_state_dict(init, strict=False)
    train_windows = data["train"]
    started = time.monotonic()
    chance = draw_chances(sources, cfg.source_balance)

    def batch(rng: np.random.Generator, size: int) -> torch.Tensor:
        picked = (rng.integers(0, len(train_windows), size) if chance is None
                  else rng.choice(len(train_windows), size, p=chance))
        tokens = transpose_batch(train_windows[picked], rng, cfg.transpose)
        if cfg.chromatic > 0:  # before the attributes are measured, so the key attribute sees the alterations
            tokens = alter_batch(tokens, rng, cfg.chromatic)
        return torch.from_numpy(tokens).to(batch_device(model))

    monitor = monitor_windows(data)

    def report(accuracy: Callable[[MelodyVAE, np.ndarray], float], label: str) -> Callable[[], str]:
        return lambda: f" {label} {accuracy(model, monitor):.4f}" if monitor is not None else ""

    def stage(params: list[nn.Parameter], batch_loss: BatchLoss, steps: int, lr: float, path: Path | None,
              accuracy: Callable[[MelodyVAE, np.ndarray], float], label: str = "valid_greedy") -> None:
        left = None if time_limit is None else max(0.0, time_limit - (time.monotonic() - started))
        fit(model, torch.optim.Adam(params, lr=lr), batch_loss, steps=steps, lr=lr, seed=cfg.seed, checkpoint=path,
            log=log, log_every=log_every, report=report(accuracy, label), device=device, time_limit=left)

    def staged_path(suffix: str) -> Path | None:
        return None if checkpoint is None else checkpoint.with_name(f"{checkpoint.stem}.{suffix}{checkpoint.suffix}")

    if cfg.staged and init is None and not (checkpoint is not None and checkpoint.exists()):  # else stage 3 runs
        warmup = max(1, cfg.bar_pretrain // 4)
        log(f"stage 1 of 3: each bar its own VAE, {cfg.bar_pretrain} steps")
        stage(parameters(model.encoder.embed, model.encoder.rnn, model.init, model.step, model.bar_head),
              lambda step, rng: bar_vae_loss(model, batch(rng, cfg.pretrain_batch), cfg.beta * min(1.0, step / warmup)),
              cfg.bar_pretrain, cfg.pretrain_lr, staged_path("bars"), partial(greedy_accuracy, bars_alone=True),
              "valid_bar_greedy")
        log(f"stage 2 of 3: encoder and conductor to the bar latents, {cfg.conductor_pretrain} steps")
        upper = [m for m in (model.encoder.bar_rnn, model.encoder.head, model.encoder.pool) if m is not None]
        stage(parameters(*upper, model.conductor),
              lambda step, rng: conductor_loss(model, batch(rng, cfg.conductor_batch), cfg.beta),
              cfg.conductor_pretrain, cfg.conductor_lr, staged_path("conductor"), greedy_accuracy)
        log(f"stage 3 of 3: end to end, {cfg.train_steps} steps")

    def batch_loss(step: int, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        ramp = min(1.0, 2 * step / max(1, cfg.train_steps))
        # a staged or initialised model's z is already in use
        warm = 1.0 if cfg.staged or init is not None else min(1.0, step / max(1, cfg.kl_warmup))
        tokens = batch(rng, cfg.batch)
        values = None
        if cfg.attribute_reg > 0:  # measured after transposition, which moves the pitch
            values = torch.from_numpy(attribute_table(tokens.cpu().numpy())).float().to(tokens.device)
        return vae_loss(model, tokens, cfg.beta * warm, cfg.scheduled_sampling * ramp, values)

    stage([p for n, p in model.named_parameters() if not n.startswith("bar_head.")], batch_loss, cfg.train_steps,
          cfg.lr, checkpoint, greedy_accuracy)
    return model.cpu().eval()

