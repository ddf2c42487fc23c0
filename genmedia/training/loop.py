"""The shared training loop: cosine learning rate, gradient clipping, resumable checkpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from genmedia.errors import InputError, TrainingPaused

CHECKPOINT_KEYS = frozenset({"model", "optimiser", "step", "rng"})
BatchLoss = Callable[[int, np.random.Generator], tuple[torch.Tensor, dict[str, float]]]


def fit(model: nn.Module, optimiser: torch.optim.Optimizer, batch_loss: BatchLoss, *, steps: int, lr: float,
        seed: int, checkpoint: Path | None = None, log: Callable[[str], None] = lambda _: None,
        log_every: int = 100, report: Callable[[], str] = lambda: "", device: str = "cpu",
        time_limit: float | None = None) -> None:
    """Run `steps` optimiser steps of `batch_loss(step, rng)`, resuming from `checkpoint` if it exists.

    The learning rate decays from `lr` to 0 on a cosine; the gradients of the optimiser's parameters
    (which may be part of the model: a training stage) are clipped to norm 1. Every
    `log_every` steps the stats (and `report()`) are logged and the checkpoint, which holds the
    model, optimiser, step, the data RNG's and torch's RNG states and `model.cfg`, is saved
    atomically, so a resumed run ends with the same weights as one never stopped (on one device).

    The model is moved to `device` ("cpu", "cuda", ...); `batch_loss` builds its tensors there
    (`batch_device(model)` tells where). A checkpoint resumes on any device.

    With `time_limit` (seconds, needs `checkpoint`), a run that goes past it saves its checkpoint
    and raises `TrainingPaused`; calling `fit` again goes on from there, to the same final weights
    as a run never paused.
    """
    if time_limit is not None and checkpoint is None:
        raise ValueError("a time limit needs a checkpoint to resume from")
    model.to(device)  # in place: the optimiser's parameters move with it
    step, rng = 0, np.random.default_rng(seed)
    if checkpoint is not None and checkpoint.exists():
        step = _resume(checkpoint, model, optimiser, rng, device)
        log(f"resumed from {checkpoint} at step {step}")
    params = [p for group in optimiser.param_groups for p in group["params"]]  # a stage may train a part
    started = time.monotonic()
    while step < steps:
        rate = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in optimiser.param_groups:
            group["lr"] = rate
        model.train()
        loss, stats = batch_loss(step, rng)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        step += 1
        if step % log_every == 0 or step == steps:
            log(f"step {step}/{steps} " + " ".join(f"{k} {v:.4f}" for k, v in stats.items()) + report()
                + f" lr {rate:.2e} {time.monotonic() - started:.0f}s")
            if checkpoint is not None:
                _save(checkpoint, model, optimiser, step, rng)
        elif time_limit is not None and time.monotonic() - started > time_limit:
            _save(checkpoint, model, optimiser, step, rng)
            log(f"step {step}/{steps}: time limit reached, checkpoint saved")
            raise TrainingPaused(step, steps, checkpoint)


def _load(path: Path, device: str) -> dict[str, Any]:
    """A checkpoint `_save` wrote. It holds only tensors and plain values (dicts, lists, tuples,
    numbers, strings), so it is unpickled with `weights_only=True`: a crafted file cannot run code."""
    try:
        state = torch.load(path, weights_only=True, map_location=device)
    except Exception:  # pickle, zip and torch raise many kinds; all mean the file is not one of ours
        raise InputError(path, "not a training checkpoint genmedia can read (only tensors and plain "
                               "values are loaded from one)") from None
    if not isinstance(state, dict) or not CHECKPOINT_KEYS <= state.keys():
        raise InputError(path, f"not a training checkpoint (it needs {', '.join(sorted(CHECKPOINT_KEYS))})")
    return state


def _resume(path: Path, model: nn.Module, optimiser: torch.optim.Optimizer, rng: np.random.Generator,
            device: str) -> int:
    """Restore the model, optimiser and RNG states from the checkpoint at `path`; return its step."""
    state = _load(path, device)
    try:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, rng.bit_generator.state = int(state["step"]), state["rng"]
        # The models draw noise from torch too (reparameterisation, corruption, scheduled sampling).
        # Checkpoints written before torch's state was saved resume with a fresh torch stream.
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"].cpu())
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise InputError(path, f"does not fit this model and run ({first})") from None
    return step


def batch_device(model: nn.Module) -> torch.device:
    """Where the model's parameters are, and so where its batches must be made."""
    return next(model.parameters()).device


def _save(path: Path, model: nn.Module, optimiser: torch.optim.Optimizer, step: int,
          rng: np.random.Generator) -> None:
    # Only tensors and plain values go in, so that `_load` can read it with weights_only=True.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "config": asdict(model.cfg)}, tmp)
    tmp.replace(path)
