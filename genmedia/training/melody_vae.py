"""The melody VAE's training API in one place, as it was before it was split into modules.

`melody_net` (settings, networks, greedy decoding), `melody_data` (training windows),
`melody_losses`, `melody_trainer` (the three-stage trainer) and `melody_export` (ONNX) each do one
job; this module names their public parts, so `from genmedia.training.melody_vae import train` works.
"""

from __future__ import annotations

from genmedia.training.melody_data import load_melody_data, source_name, transpose_batch
from genmedia.training.melody_export import export
from genmedia.training.melody_losses import bag_of_notes_loss, bar_vae_loss, conductor_loss, vae_loss
from genmedia.training.melody_net import (
    Conductor,
    DecoderInit,
    DecoderStep,
    Encoder,
    MelodyVAE,
    MelodyVAEConfig,
    greedy_accuracy,
    greedy_decode,
)
from genmedia.training.melody_trainer import parameters, train

__all__ = ["Conductor", "DecoderInit", "DecoderStep", "Encoder", "MelodyVAE", "MelodyVAEConfig", "bag_of_notes_loss",
           "bar_vae_loss", "conductor_loss", "export", "greedy_accuracy", "greedy_decode", "load_melody_data",
           "parameters", "source_name", "train", "transpose_batch", "vae_loss"]
