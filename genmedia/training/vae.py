"""The two pieces every VAE here shares: the reparameterised draw and the Gaussian KL to N(0, 1)."""

from __future__ import annotations

import torch


def reparameterise(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """A draw z ~ N(mean, exp(logvar)) that gradients flow through (any shape; torch's global RNG)."""
    return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) in nats, per element (same shape as `mean`); callers sum
    over the latent dimensions and apply their own free bits."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
