"""Train the melody VAE: a bidirectional LSTM encoder and an autoregressive LSTM decoder.

Flat (the 2-bar model): the decoder sees the previous token and z at every step and starts
from a state made from z. Hierarchical (the 16-bar model, as in MusicVAE): a conductor LSTM
turns z into one embedding per bar, and the same bar decoder writes each bar from its
embedding (state reset from it at the bar line; the first input of a bar is the previous
bar's last token). Either way the decoder is exported as one step with explicit state and
looped in numpy at run time; the conductor is its own small graph.

The 16-bar model is trained in three stages (`MelodyVAEConfig.bar_pretrain`): bar VAEs, then the
conductor fitted to their latents, then end to end.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genmedia.melody.data import read_folder, windows
from genmedia.melody.midi import BAR_STEPS, MAX_PITCH, MIN_PITCH, VOCAB
from genmedia.training.export import Graph, export_model
from genmedia.training.loop import batch_device, fit


@dataclass
class MelodyVAEConfig:
    """Network and optimisation settings; stored in every checkpoint and in the model metadata."""

    steps: int = 32  # tokens per example: 2 bars of 4/4 in 16ths
    vocab: int = VOCAB
    embed: int = 64
    enc_hidden: int = 128
    dec_hidden: int = 256
    dec_layers: int = 1
    latent: int = 64
    batch: int = 64
    train_steps: int = 8000
    lr: float = 2e-3
    beta: float = 0.2  # KL weight after warm-up
    free_bits: float = 128.0  # nats of KL per example left unpenalised (MusicVAE's free bits)
    kl_warmup: int = 2000  # steps over which the KL weight ramps from 0 to beta
    transpose: int = 5  # training examples are shifted by up to +-this many semitones
    enc_bar_hidden: int = 0  # 0: flat encoder; else each bar is read by the BiLSTM and a bar-level
    # BiLSTM of this size reads the bars' summaries (a hierarchical encoder, for long windows)
    conductor_hidden: int = 0  # 0: flat decoder; else the conductor LSTM's size (hierarchical decoder)
    bar_embed: int = 0  # size of the conductor's per-bar embedding (hierarchical only)
    bar_steps: int = BAR_STEPS  # tokens per bar for the hierarchical decoder (4/4 in 16ths)
    prior_bandwidth: float = 0.3  # of the fitted sampling prior (see genmedia.melody.prior)
    # Scheduled sampling (parallel form, Duckworth et al. 2019): this share of the decoder's inputs
    # are its own sampled predictions from a first teacher-forced pass, ramped up from 0 over the
    # first half of training, so that greedy decoding learns to recover from its own mistakes.
    scheduled_sampling: float = 0.0
    # Bag-of-notes loss (Zhao et al. 2017's bag-of-words loss) with this weight: a training-only head
    # predicts every token of a bar, in any order, from that bar's conditioning alone. It gives the
    # encoder and conductor a short gradient path, where otherwise the decoder learns to ignore z.
    bag_of_notes: float = 0.0
    # Training in stages (hierarchical models only). Stage 1, `bar_pretrain` steps: every bar is its own
    # small VAE: the encoder's bar-level BiLSTM gives a bar latent of size `bar_embed` (through a
    # training-only head, `bar_free_bits` nats unpenalised per bar) and the bar decoder writes the bar
    # from it. Stage 2, `conductor_pretrain` steps, with the bar encoder and decoder frozen: the
    # encoder's upper BiLSTM and the conductor learn to put each bar's embedding inside that bar's
    # stage-1 posterior (its Gaussian log-likelihood), which is cheap: no token is decoded. Then
    # `train_steps` of the usual end-to-end loss. The conductor's output is then linear: it emits
    # bar latents. Trained end to end from the start, a bar decoder that must take everything from
    # the latent learns to ignore it (on 2-bar windows it learnt about four times slower than the
    # flat decoder, and the 16-bar model stayed at 0.62 valid greedy accuracy for 3000 steps).
    bar_pretrain: int = 0
    # Hierarchical encoder: > 0 projects the upper BiLSTM's output at every bar to this size and adds a
    # linear map of their concatenation to the latent head, so every bar reaches z directly. The final
    # states alone favour the bars they end on: the 16-bar model reconstructed its first bar at 0.93 and
    # its middle bars at 0.72. The map starts at zero, and its layers draw their initial weights from
    # their own seeded stream, so the other layers start (and a staged run's stage 1 ends) as without it.
    enc_bar_pool: int = 0
    bar_free_bits: float = 64.0
    pretrain_batch: int = 16  # windows per stage-1 step (each gives `bars` bar examples)
    pretrain_lr: float = 2e-3  # stage 1 (`lr` is stage 3's)
    conductor_pretrain: int = 0
    conductor_batch: int = 64
    conductor_lr: float = 1e-3
    # Several sources: 0 draws training windows from the pool as they come (a source's share of the
    # batches is its share of the windows); 1 gives every source the same share; between, a source's
    # share goes as windows ** (1 - source_balance).
    source_balance: float = 0.0
    seed: int = 0

    PRESETS = {
        "default": {},
        # Trained in stages (see `bar_pretrain`): each bar a VAE of its own with 64 free nats, as the
        # 2-bar model has per bar; then the conductor learns to emit those bar latents; then end to end
        # at a lower rate. Trained end to end from the start, this architecture stayed at 0.62 valid
        # greedy accuracy for 3000 steps on 2 CPU cores; in stages it passes that within minutes.
        # Pooling every bar into the latent (`enc_bar_pool`) took stage 2 from 0.64 to 0.74.
        "16bar": {"steps": 256, "enc_hidden": 128, "enc_bar_hidden": 256, "dec_hidden": 256, "latent": 256,
                  "conductor_hidden": 256, "bar_embed": 64, "enc_bar_pool": 128, "free_bits": 1024.0,
                  "bar_pretrain": 5000, "pretrain_batch": 16, "conductor_pretrain": 3000, "conductor_batch": 64,
                  "train_steps": 9000, "batch": 32, "lr": 5e-4},
        # The 2-bar model on the broad data (Nottingham, ryansMammoth, Bach chorales): a wider latent and
        # more free nats, as dense fiddle tunes carry more notes per window than folk melodies.
        # Its dense fiddle windows (28-32 notes) come back at about 0.5 even from the training data. A wider
        # decoder (384), 384 free nats and every source drawn equally often (source_balance 1.0), 8000
        # steps, did no better (ryansMammoth valid 0.814 against 0.822) and lost 0.005 on Nottingham.
        "broad": {"latent": 128, "enc_hidden": 192, "free_bits": 256.0, "train_steps": 10000},
        "tiny": {"embed": 8, "enc_hidden": 16, "dec_hidden": 16, "latent": 4, "batch": 8, "train_steps": 3,
                 "kl_warmup": 1},
        "tiny16": {"steps": 64, "embed": 8, "enc_hidden": 16, "enc_bar_hidden": 12, "dec_hidden": 16, "latent": 4,
                   "batch": 4, "train_steps": 3, "kl_warmup": 1, "conductor_hidden": 8, "bar_embed": 6},
    }

    @classmethod
    def preset(cls, name: str) -> MelodyVAEConfig:
        """'default' (2 bars), '16bar' (hierarchical), 'tiny' / 'tiny16' (seconds-long CPU runs for tests)."""
        return cls(**cls.PRESETS[name])

    @property
    def hierarchical(self) -> bool:
        return self.conductor_hidden > 0

    @property
    def staged(self) -> bool:
        """Trained in stages, with a conductor that emits bar latents (see `bar_pretrain`)."""
        return self.hierarchical and self.bar_pretrain > 0

    @property
    def bars(self) -> int:
        return self.steps // self.bar_steps

    @property
    def cond_size(self) -> int:
        """Size of the vector the bar decoder is conditioned on: z (flat) or a bar embedding."""
        return self.bar_embed if self.hierarchical else self.latent


class Encoder(nn.Module):
    """Tokens (B, T) int64 -> latent mean and log-variance (B, latent).

    Flat: one BiLSTM reads the whole window. Hierarchical (`enc_bar_hidden` > 0): the BiLSTM reads
    each bar on its own and a bar-level BiLSTM reads the bars' summaries, so a long window is never
    squeezed through one 256-step recurrence whose final states forget its middle bars.
    """

    def __init__(self, cfg: MelodyVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.embed)
        self.rnn = nn.LSTM(cfg.embed, cfg.enc_hidden, batch_first=True, bidirectional=True)
        top = 2 * cfg.enc_hidden
        if cfg.enc_bar_hidden:
            self.bar_rnn = nn.LSTM(top, cfg.enc_bar_hidden, batch_first=True, bidirectional=True)
            top = 2 * cfg.enc_bar_hidden
        self.head = nn.Linear(top, 2 * cfg.latent)
        self.pool = None
        if cfg.enc_bar_hidden and cfg.enc_bar_pool:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed + 1)
                self.pool = nn.Sequential(nn.Linear(top, cfg.enc_bar_pool), nn.Tanh(), nn.Flatten(1),
                                          nn.Linear(cfg.bars * cfg.enc_bar_pool, 2 * cfg.latent))
            nn.init.zeros_(self.pool[-1].weight)
            nn.init.zeros_(self.pool[-1].bias)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cfg.enc_bar_hidden:
            return self.from_bars(self.bar_summaries(tokens))
        _, (h, _) = self.rnn(self.embed(tokens))
        return self.head(torch.cat([h[0], h[1]], dim=-1)).chunk(2, dim=-1)

    def bar_summaries(self, tokens: torch.Tensor) -> torch.Tensor:
        """Hierarchical encoder, lower level: each bar read on its own -> (B, bars, 2 * enc_hidden)."""
        x = self.embed(tokens)
        _, (h, _) = self.rnn(x.reshape(-1, self.cfg.bar_steps, x.shape[-1]))  # every bar of every window
        return torch.cat([h[0], h[1]], dim=-1).reshape(-1, self.cfg.bars, h.shape[-1] * 2)

    def from_bars(self, bars: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hierarchical encoder, upper level: the bars' summaries -> latent mean and log-variance."""
        y, (h, _) = self.bar_rnn(bars)
        out = self.head(torch.cat([h[0], h[1]], dim=-1))
        if self.pool is not None:
            out = out + self.pool(y)
        return out.chunk(2, dim=-1)


class Conductor(nn.Module):
    """z (B, latent) -> one embedding per bar (B, bars, bar_embed): tanh-bounded, or for a model
    trained in stages linear, as it emits bar latents."""

    def __init__(self, cfg: MelodyVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.init = nn.Linear(cfg.latent, 2 * cfg.conductor_hidden)
        self.rnn = nn.LSTM(cfg.latent, cfg.conductor_hidden, batch_first=True)
        self.out = nn.Linear(cfg.conductor_hidden, cfg.bar_embed)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h, c = torch.tanh(self.init(z)).chunk(2, dim=-1)
        y, _ = self.rnn(z[:, None, :].expand(-1, self.cfg.bars, -1), (h[None].contiguous(), c[None].contiguous()))
        return self.out(y) if self.cfg.staged else torch.tanh(self.out(y))


class DecoderInit(nn.Module):
    """Conditioning (B, cond_size) -> initial LSTM state h, c (layers, B, hidden)."""

    def __init__(self, cfg: MelodyVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.proj = nn.Linear(cfg.cond_size, 2 * cfg.dec_layers * cfg.dec_hidden)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = torch.tanh(self.proj(z)).unflatten(1, (2 * self.cfg.dec_layers, self.cfg.dec_hidden))
        h, c = state.transpose(0, 1).chunk(2, dim=0)
        return h.contiguous(), c.contiguous()


class DecoderStep(nn.Module):
    """One step: previous tokens (B, T) and z -> logits (B, T, vocab), with explicit LSTM state."""

    def __init__(self, cfg: MelodyVAEConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab + 1, cfg.embed)  # index `vocab` is the start token
        self.rnn = nn.LSTM(cfg.embed + cfg.cond_size, cfg.dec_hidden, num_layers=cfg.dec_layers, batch_first=True)
        self.out = nn.Linear(cfg.dec_hidden, cfg.vocab)

    def forward(self, prev: torch.Tensor, z: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        x = torch.cat([self.embed(prev), z[:, None, :].expand(-1, prev.shape[1], -1)], dim=-1)
        y, (h, c) = self.rnn(x, (h, c))
        return self.out(y), h, c


class MelodyVAE(nn.Module):
    def __init__(self, cfg: MelodyVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.conductor = Conductor(cfg) if cfg.hierarchical else None
        self.init = DecoderInit(cfg)
        self.step = DecoderStep(cfg)
        self.bag = nn.Linear(cfg.cond_size, cfg.vocab) if cfg.bag_of_notes > 0 else None  # training only
        # Stage 1 of staged training: a bar summary -> that bar's latent mean and log-variance (training only).
        self.bar_head = nn.Linear(2 * cfg.enc_hidden, 2 * cfg.bar_embed) if cfg.staged else None

    def conditioning(self, z: torch.Tensor) -> torch.Tensor:
        """What the bar decoder sees: (B, 1, latent) flat, or (B, bars, bar_embed) from the conductor."""
        return z[:, None, :] if self.conductor is None else self.conductor(z)

    def bar_posterior(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Staged training: the bars' summaries and each bar's own latent mean and log-variance."""
        bars = self.encoder.bar_summaries(tokens)
        mean, logvar = self.bar_head(bars).chunk(2, dim=-1)
        return bars, mean, logvar

    def decode_teacher_forced(self, z: torch.Tensor, tokens: torch.Tensor, inputs: torch.Tensor | None = None,
                              *, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, vocab) when step t is fed `inputs[t - 1]` (default: the true `tokens`);
        each segment (the whole window, or each bar) starts from its conditioning."""
        inputs = tokens if inputs is None else inputs
        cond = self.conditioning(z) if cond is None else cond  # `cond`: conditioning(z), if already made
        segments = cond.shape[1]
        start = torch.full_like(inputs[:, :1], self.cfg.vocab)
        prev = torch.cat([start, inputs[:, :-1]], dim=1).reshape(len(tokens) * segments, -1)
        flat = cond.reshape(len(tokens) * segments, -1)
        h, c = self.init(flat)
        logits, _, _ = self.step(prev, flat, h, c)
        return logits.reshape(len(tokens), tokens.shape[1], -1)


def transpose_batch(batch: np.ndarray, rng: np.random.Generator, limit: int) -> np.ndarray:
    """Shift each example's note-ons by a random number of semitones that keeps them in range."""
    out = batch.copy()
    for row in out:
        notes = row[row >= 2]
        if not len(notes) or not limit:
            continue
        lo = max(-limit, 2 - int(notes.min()))
        hi = min(limit, 2 + MAX_PITCH - MIN_PITCH - int(notes.max()))
        row[row >= 2] += rng.integers(lo, hi + 1)
    return out


def source_name(folder: Path) -> str:
    """The name a training source goes by in metadata and reports: its folder's name."""
    return Path(folder).name


def load_melody_data(folders: Path | list[Path], steps: int) -> tuple[dict[str, np.ndarray], dict]:
    """Windows per split (train, valid, test) pooled over the source folders, and a summary with
    each source's tunes, windows, split rule and per-split windows (`summary["by_source"]`, arrays
    kept out of the JSON under the key `"_windows"`)."""
    folders = [Path(folders)] if isinstance(folders, (str, Path)) else [Path(f) for f in folders]
    pooled: dict[str, list[np.ndarray]] = {}
    sources: dict[str, dict] = {}
    per_source: dict[str, dict[str, np.ndarray]] = {}
    for folder in folders:
        by_split, skipped = read_folder(folder)
        data = {s: np.stack(ws) for s, tunes in by_split.items()
                if (ws := [w for _, m in tunes for w in windows(m, steps, pad_short=True)])}
        rule_file = folder / "split.json"
        rule = (json.loads(rule_file.read_text())["split"] if rule_file.is_file()
                else "by tune: crc32(file name, up to any '--') % 10 == 0 test, == 1 valid, else train")
        name = source_name(folder)
        sources[name] = {"folder": str(folder), "split": rule, "tunes": {s: len(t) for s, t in by_split.items()},
                         "windows": {s: len(w) for s, w in data.items()}, "skipped": skipped[:20],
                         "skipped_count": len(skipped)}
        per_source[name] = data
        for split, w in data.items():
            pooled.setdefault(split, []).append(w)
    merged = {s: np.concatenate(ws) for s, ws in pooled.items()}
    train_source = np.concatenate([np.full(len(d["train"]), i) for i, d in enumerate(per_source.values())
                                   if "train" in d] or [np.zeros(0, dtype=np.int64)])
    summary = {"_train_source": train_source, "tunes": {s: sum(src["tunes"].get(s, 0) for src in sources.values()) for s in ("train", "valid", "test")},
               "windows": {s: len(w) for s, w in merged.items()}, "sources": sources, "_windows": per_source}
    return merged, summary


def vae_loss(model: MelodyVAE, tokens: torch.Tensor, kl_weight: float, sampling: float = 0.0):
    """Loss on a batch; `sampling` is the share of decoder inputs replaced by the decoder's own samples."""
    mean, logvar = model.encoder(tokens)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
    cond = model.conditioning(z)  # once a step: the sampling pass, the decoder and the bag loss share it
    inputs = tokens
    if sampling > 0:
        with torch.no_grad():
            first = model.decode_teacher_forced(z, tokens, cond=cond)
            own = torch.distributions.Categorical(logits=first).sample()
        inputs = torch.where(torch.rand(tokens.shape, device=tokens.device) < sampling, own, tokens)
    logits = model.decode_teacher_forced(z, tokens, inputs, cond=cond)
    recon = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="sum") / len(tokens)
    kl = (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).sum(-1).mean()
    loss = recon + kl_weight * torch.clamp(kl, min=model.cfg.free_bits)
    stats = {"recon": recon.item(), "kl": kl.item(), "acc": (logits.argmax(-1) == tokens).float().mean().item()}
    if model.bag is not None:
        bag = bag_of_notes_loss(model, z, tokens, cond=cond)
        loss = loss + model.cfg.bag_of_notes * bag
        stats["bag"] = bag.item()
    return loss, {"loss": loss.item(), **stats}


def bar_vae_loss(model: MelodyVAE, tokens: torch.Tensor, kl_weight: float):
    """Stage 1: each bar decoded from its own latent (per bar: token NLL + weighted free-bits KL)."""
    _, mean, logvar = model.bar_posterior(tokens)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
    logits = model.decode_teacher_forced(z, tokens, cond=z)
    bars = tokens.numel() // model.cfg.bar_steps
    recon = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="sum") / bars
    kl = (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).sum(-1).mean()
    loss = recon + kl_weight * torch.clamp(kl, min=model.cfg.bar_free_bits)
    return loss, {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(),
                  "acc": (logits.argmax(-1) == tokens).float().mean().item()}


def conductor_loss(model: MelodyVAE, tokens: torch.Tensor, kl_weight: float):
    """Stage 2: negative Gaussian log-likelihood (per window, constants dropped) of each conductor
    embedding under its bar's stage-1 posterior, plus the weighted free-bits KL of z. The bar
    encoder and decoder are frozen: no gradient reaches them."""
    with torch.no_grad():
        bars, target, logvar = model.bar_posterior(tokens)
    mean, zlogvar = model.encoder.from_bars(bars)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * zlogvar)
    nll = (0.5 * (model.conductor(z) - target).pow(2) * torch.exp(-logvar)).sum() / len(tokens)
    kl = (0.5 * (mean.pow(2) + zlogvar.exp() - 1.0 - zlogvar)).sum(-1).mean()
    loss = nll + kl_weight * torch.clamp(kl, min=model.cfg.free_bits)
    return loss, {"loss": loss.item(), "nll": nll.item(), "kl": kl.item()}


def bag_of_notes_loss(model: MelodyVAE, z: torch.Tensor, tokens: torch.Tensor, *,
                      cond: torch.Tensor | None = None) -> torch.Tensor:
    """Negative log-likelihood of each segment's tokens, order ignored, under one distribution
    predicted from that segment's conditioning (per example, summed over the window)."""
    cond = model.conditioning(z) if cond is None else cond  # (B, segments, size)
    log_p = F.log_softmax(model.bag(cond), dim=-1)  # (B, segments, vocab)
    per_segment = tokens.reshape(len(tokens), cond.shape[1], -1)  # (B, segments, steps per segment)
    return -log_p.gather(2, per_segment).sum() / len(tokens)


def parameters(*modules: nn.Module) -> list[nn.Parameter]:
    """The parameters of the part of a model that a training stage trains."""
    return [p for module in modules for p in module.parameters()]


def train(data: dict[str, np.ndarray], cfg: MelodyVAEConfig, *, checkpoint: Path | None = None,
          log: Callable[[str], None] = lambda _: None, log_every: int = 200, device: str = "cpu",
          time_limit: float | None = None, sources: np.ndarray | None = None) -> MelodyVAE:
    """Train on `device` (resuming from `checkpoint` if it exists; saving to it every `log_every`
    steps; past `time_limit` seconds it pauses, as `fit` does); the trained model comes back on the CPU."""
    if cfg.bar_pretrain and not (cfg.hierarchical and cfg.enc_bar_hidden):
        raise ValueError("training in stages needs the hierarchical encoder and decoder")
    torch.manual_seed(cfg.seed)
    model = MelodyVAE(cfg)
    train_windows = data["train"]
    started = time.monotonic()
    chance = None  # each training window's chance of being drawn, when sources are balanced
    if sources is not None and cfg.source_balance > 0:
        counts = np.bincount(sources).astype(float)
        share = np.where(counts > 0, counts ** (1.0 - cfg.source_balance), 0.0)
        chance = (share / share.sum() / np.maximum(counts, 1.0))[sources]
        chance /= chance.sum()

    def batch(rng: np.random.Generator, size: int) -> torch.Tensor:
        picked = (rng.integers(0, len(train_windows), size) if chance is None
                  else rng.choice(len(train_windows), size, p=chance))
        tokens = transpose_batch(train_windows[picked], rng, cfg.transpose)
        return torch.from_numpy(tokens).to(batch_device(model))

    # The monitor: a fixed draw of 512 validation windows from every source (they are pooled in order).
    monitor = data["valid"][np.random.default_rng(0).permutation(len(data["valid"]))[:512]] if "valid" in data else None

    def report(accuracy: Callable[[MelodyVAE, np.ndarray], float], label: str = "valid_greedy"):
        return lambda: f" {label} {accuracy(model, monitor):.4f}" if monitor is not None else ""

    def stage(params, batch_loss, steps: int, lr: float, path: Path | None, accuracy, label: str = "valid_greedy"):
        left = None if time_limit is None else max(0.0, time_limit - (time.monotonic() - started))
        fit(model, torch.optim.Adam(params, lr=lr), batch_loss, steps=steps, lr=lr, seed=cfg.seed, checkpoint=path,
            log=log, log_every=log_every, report=report(accuracy, label), device=device, time_limit=left)

    def staged_path(suffix: str) -> Path | None:
        return None if checkpoint is None else checkpoint.with_name(f"{checkpoint.stem}.{suffix}{checkpoint.suffix}")

    if cfg.staged and not (checkpoint is not None and checkpoint.exists()):  # else stage 3 is under way
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

    def batch_loss(step: int, rng: np.random.Generator):
        ramp = min(1.0, 2 * step / max(1, cfg.train_steps))
        warm = 1.0 if cfg.staged else min(1.0, step / max(1, cfg.kl_warmup))  # a staged model's z is already in use
        return vae_loss(model, batch(rng, cfg.batch), cfg.beta * warm, cfg.scheduled_sampling * ramp)

    stage([p for n, p in model.named_parameters() if not n.startswith("bar_head.")], batch_loss, cfg.train_steps,
          cfg.lr, checkpoint, greedy_accuracy)
    return model.cpu().eval()


@torch.no_grad()
def greedy_decode(model: MelodyVAE, z: torch.Tensor, steps: int, *, cond: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy tokens from z (or from the bar decoder's conditioning `cond`, if given)."""
    cond = model.conditioning(z) if cond is None else cond
    per_segment = steps // cond.shape[1]
    prev = torch.full((len(cond), 1), model.cfg.vocab, dtype=torch.long, device=cond.device)
    out = []
    for segment in range(cond.shape[1]):
        bar = cond[:, segment]
        h, c = model.init(bar)
        for _ in range(per_segment):
            logits, h, c = model.step(prev, bar, h, c)
            prev = logits.argmax(-1)
            out.append(prev)
    return torch.cat(out, dim=1)


@torch.no_grad()
def greedy_accuracy(model: MelodyVAE, tokens: np.ndarray, *, bars_alone: bool = False) -> float:
    """Per-step token accuracy of greedy decoding from the posterior mean. With `bars_alone` (staged
    training, stage 1) each bar is decoded from its own bar latent's mean instead: the bar decoder's
    own ceiling, before the conductor must supply those latents."""
    was = model.training
    model.eval()
    x = torch.from_numpy(tokens).to(batch_device(model))
    if bars_alone:
        decoded = greedy_decode(model, None, x.shape[1], cond=model.bar_posterior(x)[1])
    else:
        decoded = greedy_decode(model, model.encoder(x)[0], x.shape[1])
    model.train(was)
    return (decoded == x).float().mean().item()


def export(model: MelodyVAE, summary: dict, *, name: str, out_dir: Path, command: str, data_dir: Path | list[Path],
           metrics: dict, overwrite: bool = False) -> Path:
    """Export encoder, (conductor,) decoder initialiser and decoder step to ONNX, with the metadata.

    The decoder graphs' input `z` is what the bar decoder is conditioned on: the latent for a
    flat model, a bar embedding from the conductor for a hierarchical one.
    """
    cfg = model.cfg
    data_dirs = [data_dir] if isinstance(data_dir, (str, Path)) else list(data_dir)
    tokens = torch.zeros(1, cfg.steps, dtype=torch.long)
    z = torch.zeros(1, cfg.cond_size)
    h, c = model.init(z)
    prev = torch.zeros(1, 1, dtype=torch.long)
    state_axes = {1: "batch"}
    graphs = [
        Graph("encoder", model.encoder, (tokens,), ["tokens"], ["mean", "logvar"],
              {"tokens": {0: "batch"} if cfg.enc_bar_hidden else {0: "batch", 1: "steps"}, "mean": {0: "batch"},
               "logvar": {0: "batch"}}),
        Graph("decoder_init", model.init, (z,), ["z"], ["h", "c"], {"z": {0: "batch"}, "h": state_axes, "c": state_axes}),
        Graph("decoder_step", model.step, (prev, z, h, c), ["prev", "z", "h", "c"], ["logits", "h_out", "c_out"],
              {"prev": {0: "batch", 1: "steps"}, "z": {0: "batch"}, "h": state_axes, "c": state_axes,
               "logits": {0: "batch", 1: "steps"}, "h_out": state_axes, "c_out": state_axes}),
    ]
    if cfg.hierarchical:
        graphs.insert(1, Graph("conductor", model.conductor, (torch.zeros(1, cfg.latent),), ["z"], ["bars"],
                               {"z": {0: "batch"}, "bars": {0: "batch"}}))
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
        "latent": {"size": cfg.latent},
        "regularisation": {"beta": cfg.beta, "free_bits_nats": cfg.free_bits, "kl_warmup_steps": cfg.kl_warmup,
                           "scheduled_sampling": cfg.scheduled_sampling, "bag_of_notes_weight": cfg.bag_of_notes},
        "meter": {"grid": "bars of 16 sixteenths; 3/4 and 6/8 bars (and halves of 12/8, 6/4) fill 12 steps of a "
                           "bar and 4 steps of rests pad it; 2/4 bars go two to a bar; other meters unaligned",
                  "bar_steps": BAR_STEPS},
        "training": {"data": [str(d) for d in data_dirs],
                     "split": "by tune, per source (see sources): voices of one chorale share a split",
                     **{k: v for k, v in summary.items() if not k.startswith("_")}, "command": command,
                     "config": asdict(cfg),
                     **({"stages": {
                         "bar_vae": {"steps": cfg.bar_pretrain, "free_bits_nats_per_bar": cfg.bar_free_bits,
                                     "windows_per_step": cfg.pretrain_batch, "lr": cfg.pretrain_lr},
                         "conductor_to_bar_latents": {"steps": cfg.conductor_pretrain, "lr": cfg.conductor_lr,
                                                      "windows_per_step": cfg.conductor_batch},
                         "end_to_end": {"steps": cfg.train_steps, "lr": cfg.lr, "windows_per_step": cfg.batch}}} if cfg.staged else {})},
        "metrics": metrics,
    }
    return export_model(name=name, task="melody", out_dir=out_dir, graphs=graphs, metadata=metadata,
                        overwrite=overwrite)
