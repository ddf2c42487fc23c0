"""Whole training runs, as `genmedia train ...` makes them: read the data, train, measure, export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from genmedia.errors import GenmediaError, InputError
from genmedia.melody.model import attach_prior
from genmedia.training import denoiser, level_vae, melody_init
from genmedia.training.export import WeightsMismatch
from genmedia.training.level_vae import LevelVAEConfig, fit_bins, load_level_data, read_init
from genmedia.training.melody_data import load_melody_data
from genmedia.training.melody_export import export as export_melody
from genmedia.training.melody_net import MelodyVAE, MelodyVAEConfig, greedy_accuracy
from genmedia.training.melody_trainer import train as fit_melody

Log = Callable[[str], None]


def _quiet(line: str) -> None:
    pass


class NoTrainingData(GenmediaError):
    """The data folders hold nothing to train on."""


def train_level_model(data_dir: Path, config: LevelVAEConfig, *, name: str, out_dir: Path, command: str,
                      legend: Path | None = None, init: Path | None = None, checkpoint: Path | None = None,
                      device: str = "cpu", time_limit: float | None = None, overwrite: bool = False,
                      log: Log = _quiet) -> Path:
    """Train a level VAE (`config`) on a folder of VGLC maps and export it as OUT_DIR/NAME.*; return the
    metadata path. `init`: a trained level model's .json to start from; `command` is recorded in the
    metadata; `checkpoint`, `device` and `time_limit` (seconds) as `level_vae.train` takes them.

    Raises `InputError` naming `data_dir` (a conditional model on tiles it cannot measure) or `init`
    (weights that do not fit), and `TrainingPaused` past the time limit."""
    data = load_level_data(data_dir, legend=legend)
    if config.conditional:
        try:
            bins = fit_bins(data)
        except ValueError as exc:
            raise InputError(data_dir, str(exc)) from None
        for attribute in bins.names:
            log(f"{attribute}: {bins.describe(attribute)} (per {bins.window} columns)")
    log(f"training on {len(data.maps)} maps from {data_dir} ({len(data.tiles.chars)} tiles)")
    # Read first: a bad file fails fast, and the export may replace it.
    weights, lineage = (None, None) if init is None else read_init(init)
    try:
        model = level_vae.train(data, config, checkpoint=checkpoint, log=log, device=device, time_limit=time_limit,
                                init=weights)
    except WeightsMismatch as exc:
        raise InputError(init, str(exc)) from None
    return level_vae.export(model, data, name=name, out_dir=out_dir, command=command, data_dir=data_dir,
                            overwrite=overwrite, init=lineage)


def train_melody_model(data_dirs: list[Path], config: MelodyVAEConfig, *, name: str, out_dir: Path, command: str,
                       init: str | Path | None = None, checkpoint: Path | None = None, device: str = "cpu",
                       time_limit: float | None = None, overwrite: bool = False, log: Log = _quiet) -> Path:
    """Train a melody VAE (`config`) on folders of MIDI files, measure it, export it as OUT_DIR/NAME.*
    and fit its sampling prior; return the metadata path. `init`: a trained melody model (its .json
    or name) to start from; `command` is recorded in the metadata; `checkpoint`, `device` and
    `time_limit` (seconds) as `melody_trainer.train` takes them.

    Raises `NoTrainingData` when no folder has a training melody, `InputError` naming `init` (weights
    that do not fit) and `TrainingPaused` past the time limit."""
    # Read and checked first, before any data is read or training time spent: a bad file fails fast,
    # and the export may replace it.
    weights, lineage = None, None
    if init is not None:
        try:
            weights, lineage = melody_init.load(config, init)
        except WeightsMismatch as exc:
            raise InputError(Path(init), str(exc)) from None
    windows, summary = load_melody_data(data_dirs, config.steps)
    if "train" not in windows:
        raise NoTrainingData(f"{', '.join(map(str, data_dirs))}: no training melodies found")
    log(f"training on {summary['windows']['train']} windows from {summary['tunes']['train']} tunes")
    model = fit_melody(windows, config, checkpoint=checkpoint, log=log, device=device, time_limit=time_limit,
                       sources=summary["_train_source"], init=weights)
    metrics = melody_metrics(model, windows, summary["_windows"])
    meta = export_melody(model, summary, name=name, out_dir=out_dir, command=command, data_dir=data_dirs,
                         metrics=metrics, overwrite=overwrite, init=lineage)
    attach_prior(meta, data_dirs, bandwidth=config.prior_bandwidth, command=command, train=windows["train"])
    return meta


def melody_metrics(model: MelodyVAE, windows: dict[str, np.ndarray],
                   by_source: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """Greedy reconstruction accuracy per split (at most 4096 windows each) and, for the held-out
    splits, per source (at most 2048 each)."""
    metrics = {f"greedy_accuracy_{s}": round(greedy_accuracy(model, w[:4096]), 4) for s, w in windows.items()}
    for source, splits in by_source.items():
        for s in ("valid", "test"):
            if s in splits:
                metrics[f"greedy_accuracy_{s}_{source}"] = round(greedy_accuracy(model, splits[s][:2048]), 4)
    return metrics


def train_denoiser_model(gray_dir: Path, color_dir: Path, valid_gray: Path | None, config: denoiser.DenoiserConfig, *,
                         name: str, out_dir: Path, command: str, init: Path | None = None,
                         checkpoint: Path | None = None, device: str = "cpu", time_limit: float | None = None,
                         overwrite: bool = False, log: Log = _quiet) -> Path:
    """Train the U-Net denoiser (`config`) on folders of gray and color photos, measure it on the
    validation images and export it as OUT_DIR/NAME.*; return the metadata path. `init`: a trained
    denoiser (.onnx or checkpoint) to start from; `command` is recorded in the metadata; `checkpoint`,
    `device` and `time_limit` (seconds) as `denoiser.train` takes them.

    Raises `InputError` naming `init` (weights that do not fit), and `TrainingPaused` past the time limit."""
    # Read first: a bad file fails fast, and the export may overwrite the file it starts from.
    weights, lineage = (None, None) if init is None else (denoiser.read_weights(init), denoiser.init_lineage(init))
    data = denoiser.load_denoiser_data(gray_dir, color_dir, valid_gray)
    log(f"training on {len(data.gray)} gray and {len(data.color)} color images")
    try:
        model = denoiser.train(data, config, checkpoint=checkpoint, log=log, device=device, time_limit=time_limit,
                               init=weights)
    except WeightsMismatch as exc:
        raise InputError(init or gray_dir, str(exc)) from None
    summary: dict[str, object] = {
        "gray": str(gray_dir), "color": str(color_dir), "valid_gray": str(valid_gray) if valid_gray else None,
        "split": "color: crc32(file name) % 10 == 0 held out for validation",
        "images": {"gray": len(data.gray), "color_train": len(data.color),
                   **{f"valid_{k}": len(v) for k, v in data.valid.items()}}}
    if lineage is not None:
        summary["init"] = lineage
    return denoiser.export(model, name=name, out_dir=out_dir, command=command, data=summary,
                           metrics=denoiser_metrics(model, data, camera=bool(config.camera)), overwrite=overwrite)


def denoiser_metrics(model: denoiser.UNetDenoiser, data: denoiser.DenoiserData, *, camera: bool) -> dict[str, float]:
    """Validation PSNR (dB) per image kind at sigma 15, 25 and 50 and, for a model trained on camera
    noise, on the seeded camera pipeline."""
    metrics = {f"valid_{kind}_psnr_sigma{s}": round(denoiser.validation_psnr(model, images, float(s),
                                                                              limit=len(images)), 3)
               for kind, images in data.valid.items() for s in (15, 25, 50)}
    if camera and "color" in data.valid:
        color = data.valid["color"]
        metrics["valid_color_camera_psnr"] = round(denoiser.validation_camera_psnr(model, color, limit=len(color)), 3)
    return metrics
