"""The melody VAE's networks and settings: a bidirectional LSTM encoder and an autoregressive LSTM decoder.

Flat (the 2-bar model): the decoder sees the previous token and z at every step and starts
from a state made from z. Hierarchical (the 16-bar model, as in MusicVAE): a conductor LSTM
turns z into one embedding per bar, and the same bar decoder writes each bar from its
embedding (state reset from it at the bar line; the first input of a bar is the previous
bar's last token). Either way the decoder is exported as one step with explicit state and
looped in numpy at run time; the conductor is its own small graph.

The 16-bar model is trained in three stages (`MelodyVAEConfig.bar_pretrain`; see
`genmedia.training.melody_trainer`): bar VAEs, then the conductor fitted to their latents, then end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genmedia.melody.midi import BAR_STEPS, VOCAB
from genmedia.training.loop import batch_device


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
    # of the fitted sampling prior (see genmedia.melody.prior); None chooses it on the validation split
    prior_bandwidth: float | None = None
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
    # Attribute regularisation (AR-VAE, Pati and Lerch 2020), for concept vectors that move one quality
    # of a melody: with weight > 0, latent dimension k is pushed to order every batch's windows as their
    # k-th attribute (`genmedia.melody.attributes.ATTRIBUTES`: density, pitch, interval, syncopation,
    # key) orders them: the mean over pairs of |tanh(sharpness x (z_k[i] - z_k[j])) - sign(a_k[i] - a_k[j])|,
    # pairs whose attribute is tied or undefined left out. The decoder then learns to read each
    # attribute off its own dimension (the README's concept table says how cleanly it did).
    attribute_reg: float = 0.0
    attribute_sharpness: float = 10.0
    # Chromatic alterations: this share of the training windows has 1-3 of its notes moved a semitone
    # up or down (`genmedia.training.melody_data.alter_batch`). The corpora are 0.98 in key, so without
    # them the decoder has hardly seen a note outside the key and a latent direction cannot lower the
    # key attribute; with the attribute regularisation, dimension 4 then orders windows by it.
    chromatic: float = 0.0
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

    def forward(self, prev: torch.Tensor, z: torch.Tensor, h: torch.Tensor,
                c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.cat([self.embed(prev), z[:, None, :].expand(-1, prev.shape[1], -1)], dim=-1)
        y, (h, c) = self.rnn(x, (h, c))
        return self.out(y), h, c


class MelodyVAE(nn.Module):
    """Encoder, (conductor,) decoder initialiser and decoder step, and the training-only heads."""

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



@torch.no_grad()
def greedy_decode(model: MelodyVAE, z: torch.Tensor | None, steps: int, *,
                  cond: torch.Tensor | None = None) -> torch.Tensor:
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

