"""The melody VAE's training losses: end to end, and the first two stages of staged training."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from genmedia.training.melody_net import MelodyVAE
from genmedia.training.vae import gaussian_kl, reparameterise


def vae_loss(model: MelodyVAE, tokens: torch.Tensor, kl_weight: float, sampling: float = 0.0,
             attributes: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss on a batch; `sampling` is the share of decoder inputs replaced by the decoder's own samples;
    `attributes` (B, attributes), NaN where undefined: each window's attributes, for the attribute
    regularisation (`MelodyVAEConfig.attribute_reg`)."""
    mean, logvar = model.encoder(tokens)
    z = reparameterise(mean, logvar)
    cond = model.conditioning(z)  # once a step: the sampling pass, the decoder and the bag loss share it
    inputs = tokens
    if sampling > 0:
        with torch.no_grad():
            first = model.decode_teacher_forced(z, tokens, cond=cond)
            own = torch.distributions.Categorical(logits=first).sample()
        inputs = torch.where(torch.rand(tokens.shape, device=tokens.device) < sampling, own, tokens)
    logits = model.decode_teacher_forced(z, tokens, inputs, cond=cond)
    recon = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="sum") / len(tokens)
    kl = gaussian_kl(mean, logvar).sum(-1).mean()  # per example
    loss = recon + kl_weight * torch.clamp(kl, min=model.cfg.free_bits)
    stats = {"recon": recon.item(), "kl": kl.item(), "acc": (logits.argmax(-1) == tokens).float().mean().item()}
    if model.bag is not None:
        bag = bag_of_notes_loss(model, z, tokens, cond=cond)
        loss = loss + model.cfg.bag_of_notes * bag
        stats["bag"] = bag.item()
    if attributes is not None and model.cfg.attribute_reg > 0:
        reg = attribute_loss(z, attributes, model.cfg.attribute_sharpness)
        loss = loss + model.cfg.attribute_reg * reg
        stats["attr"] = reg.item()
    return loss, {"loss": loss.item(), **stats}


def attribute_loss(z: torch.Tensor, attributes: torch.Tensor, sharpness: float) -> torch.Tensor:
    """AR-VAE's attribute regularisation (Pati and Lerch 2020), summed over attributes: for attribute
    k, the mean over the batch's pairs (i, j) of |tanh(sharpness (z[i, k] - z[j, k])) - sign(a[i, k] - a[j, k])|,
    pairs whose attribute is tied or NaN left out (an attribute without such pairs adds 0)."""
    count = attributes.shape[1]
    dz = torch.tanh(sharpness * (z[:, None, :count] - z[None, :, :count]))  # (B, B, attributes)
    da = attributes[:, None, :] - attributes[None, :, :]
    valid = torch.isfinite(da) & (da != 0)
    error = torch.where(valid, (dz - torch.sign(torch.nan_to_num(da))).abs(), torch.zeros_like(dz))
    return (error.sum((0, 1)) / valid.sum((0, 1)).clamp(min=1)).sum()


def bar_vae_loss(model: MelodyVAE, tokens: torch.Tensor, kl_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage 1: each bar decoded from its own latent (per bar: token NLL + weighted free-bits KL)."""
    _, mean, logvar = model.bar_posterior(tokens)
    z = reparameterise(mean, logvar)
    logits = model.decode_teacher_forced(z, tokens, cond=z)
    bars = tokens.numel() // model.cfg.bar_steps
    recon = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="sum") / bars
    kl = gaussian_kl(mean, logvar).sum(-1).mean()  # per bar
    loss = recon + kl_weight * torch.clamp(kl, min=model.cfg.bar_free_bits)
    return loss, {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(),
                  "acc": (logits.argmax(-1) == tokens).float().mean().item()}


def conductor_loss(model: MelodyVAE, tokens: torch.Tensor, kl_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage 2: negative Gaussian log-likelihood (per window, constants dropped) of each conductor
    embedding under its bar's stage-1 posterior, plus the weighted free-bits KL of z. The bar
    encoder and decoder are frozen: no gradient reaches them."""
    with torch.no_grad():
        bars, target, logvar = model.bar_posterior(tokens)
    mean, zlogvar = model.encoder.from_bars(bars)
    z = reparameterise(mean, zlogvar)
    nll = (0.5 * (model.conductor(z) - target).pow(2) * torch.exp(-logvar)).sum() / len(tokens)
    kl = gaussian_kl(mean, zlogvar).sum(-1).mean()
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

