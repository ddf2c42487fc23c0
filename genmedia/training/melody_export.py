"""Export a trained melody VAE to ONNX: encoder, (conductor,) decoder initialiser and decoder step."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from genmedia.melody.attributes import ATTRIBUTES
from genmedia.melody.midi import BAR_STEPS, MAX_PITCH, MIN_PITCH
from genmedia.training.export import Graph, export_model
from genmedia.training.melody_net import MelodyVAE, MelodyVAEConfig


def graphs(model: MelodyVAE) -> list[Graph]:
    """The graphs to export, in order. The decoder graphs' input `z` is what the bar decoder is
    conditioned on: the latent for a flat model, a bar embedding from the conductor for a hierarchical one."""
    cfg = model.cfg
    tokens = torch.zeros(1, cfg.steps, dtype=torch.long)
    z = torch.zeros(1, cfg.cond_size)
    h, c = model.init(z)
    prev = torch.zeros(1, 1, dtype=torch.long)
    state_axes = {1: "batch"}
    out = [
        Graph("encoder", model.encoder, (tokens,), ["tokens"], ["mean", "logvar"],
              {"tokens": {0: "batch"} if cfg.enc_bar_hidden else {0: "batch", 1: "steps"}, "mean": {0: "batch"},
               "logvar": {0: "batch"}}),
        Graph("decoder_init", model.init, (z,), ["z"], ["h", "c"],
              {"z": {0: "batch"}, "h": state_axes, "c": state_axes}),
        Graph("decoder_step", model.step, (prev, z, h, c), ["prev", "z", "h", "c"], ["logits", "h_out", "c_out"],
              {"prev": {0: "batch", 1: "steps"}, "z": {0: "batch"}, "h": state_axes, "c": state_axes,
               "logits": {0: "batch", 1: "steps"}, "h_out": state_axes, "c_out": state_axes}),
    ]
    if cfg.hierarchical:
        out.insert(1, Graph("conductor", model.conductor, (torch.zeros(1, cfg.latent),), ["z"], ["bars"],
                            {"z": {0: "batch"}, "bars": {0: "batch"}}))
    return out


def stages(cfg: MelodyVAEConfig) -> dict[str, dict[str, Any]]:
    """The metadata of a model trained in stages: each stage's steps, batch and learning rate."""
    return {"bar_vae": {"steps": cfg.bar_pretrain, "free_bits_nats_per_bar": cfg.bar_free_bits,
                        "windows_per_step": cfg.pretrain_batch, "lr": cfg.pretrain_lr},
            "conductor_to_bar_latents": {"steps": cfg.conductor_pretrain, "lr": cfg.conductor_lr,
                                         "windows_per_step": cfg.conductor_batch},
            "end_to_end": {"steps": cfg.train_steps, "lr": cfg.lr, "windows_per_step": cfg.batch}}


def export(model: MelodyVAE, summary: dict, *, name: str, out_dir: Path, command: str,
           data_dir: Path | list[Path], metrics: dict, overwrite: bool = False, init: dict | None = None) -> Path:
    """Export encoder, (conductor,) decoder initialiser and decoder step to ONNX, with the metadata
    (`summary` from `load_melody_data`; its keys starting with "_" stay out; `init`: the lineage of
    the model training started from, whose stages then stand in for stages 1 and 2)."""
    cfg = model.cfg
    data_dirs = [data_dir] if isinstance(data_dir, (str, Path)) else list(data_dir)
    encoder = ({"kind": "hierarchical", "bar_hidden": cfg.enc_hidden, "hidden": cfg.enc_bar_hidden,
                "steps_per_bar": cfg.bar_steps, "bar_pool": cfg.enc_bar_pool} if cfg.enc_bar_hidden
               else {"kind": "flat", "hidden": cfg.enc_hidden})
    decoder = ({"kind": "hierarchical", "bars": cfg.bars, "steps_per_bar": cfg.bar_steps,
                "conductor_hidden": cfg.conductor_hidden, "bar_embedding": cfg.bar_embed}
               if cfg.hierarchical else {"kind": "flat"})
    metadata = {
        "description": f"Melody VAE, {cfg.steps} sixteenth-note steps ({cfg.steps // 16} bars of the 16-step grid): "
                       f"{'hierarchical (bar, then bars) ' if cfg.enc_bar_hidden else ''}BiLSTM encoder, "
                       f"{'conductor and bar' if cfg.hierarchical else 'autoregressive LSTM'} decoder",
        "encoder": encoder,
        "decoder": decoder,
        "vocabulary": {"rest": 0, "hold": 1, "note_on_offset": 2, "min_pitch": MIN_PITCH, "max_pitch": MAX_PITCH,
                       "size": cfg.vocab, "start_token": cfg.vocab, "steps_per_quarter": 4},
        "steps": cfg.steps, "bars": cfg.steps // 16,
        "latent": {"size": cfg.latent,
                   **({"attribute_dims": {name: k for k, name in enumerate(ATTRIBUTES)}} if cfg.attribute_reg else {})},
        "regularisation": {"beta": cfg.beta, "free_bits_nats": cfg.free_bits, "kl_warmup_steps": cfg.kl_warmup,
                           "scheduled_sampling": cfg.scheduled_sampling, "bag_of_notes_weight": cfg.bag_of_notes,
                           "attribute_reg": cfg.attribute_reg, "attribute_sharpness": cfg.attribute_sharpness},
        "meter": {"grid": "bars of 16 sixteenths; 3/4 and 6/8 bars (and halves of 12/8, 6/4) fill 12 steps of a "
                           "bar and 4 steps of rests pad it; 2/4 bars go two to a bar; other meters unaligned",
                  "bar_steps": BAR_STEPS},
        "training": {"data": [str(d) for d in data_dirs],
                     "split": "by tune, per source (see sources): voices of one chorale share a split",
                     **{k: v for k, v in summary.items() if not k.startswith("_")}, "command": command,
                     "config": asdict(cfg)},
        "metrics": metrics,
    }
    if init is not None:  # stages 1 and 2 are the starting model's, recorded in its lineage
        metadata["training"].update(init=init, stages={"end_to_end": stages(cfg)["end_to_end"]})
    elif cfg.staged:
        metadata["training"]["stages"] = stages(cfg)
    return export_model(name=name, task="melody", out_dir=out_dir, graphs=graphs(model), metadata=metadata,
                        overwrite=overwrite)
