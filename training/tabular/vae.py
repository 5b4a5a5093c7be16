"""Tabular VAE (TVAE-style): an MLP encoder/decoder over the same encoded rows as the GAN.

Reconstruction is a Gaussian likelihood with a learned scale on the alphas and cross-entropy
on the one-hot spans; the learned scales are saved so the sampler can add the same noise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from devassist.training.tabular.gan import SpanOps


@dataclass
class VaeConfig:
    """Hyper-parameters; defaults follow TVAE."""

    embedding_dim: int = 128  # latent size
    hidden: tuple[int, ...] = (128, 128)
    batch_size: int = 500
    lr: float = 1e-3
    weight_decay: float = 1e-5
    loss_factor: float = 2.0  # weight of reconstruction against the KL term, as TVAE


def _mlp(i: int, dims: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    layers = []
    for d in dims:
        layers += [nn.Linear(i, d), nn.ReLU()]
        i = d
    return nn.Sequential(*layers), i


class Encoder(nn.Module):
    """Row → mean and log-variance of the latent."""

    def __init__(self, dim: int, config: VaeConfig):
        """MLP with two heads."""
        super().__init__()
        self.body, width = _mlp(dim, config.hidden)
        self.mu, self.logvar = nn.Linear(width, config.embedding_dim), nn.Linear(width, config.embedding_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, dim) → two (B, embedding) tensors."""
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """Latent → raw encoded row; `sigma` is the learned noise of each alpha."""

    def __init__(self, dim: int, config: VaeConfig):
        """MLP to the row width plus one scale per output."""
        super().__init__()
        body, width = _mlp(config.embedding_dim, tuple(reversed(config.hidden)))
        self.body = nn.Sequential(body, nn.Linear(width, dim))
        self.sigma = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, embedding) → (B, dim)."""
        return self.body(z)


class VaeHead(nn.Module):
    """The exported sampler: decoder plus tanh on the alphas; spans stay logits for the runtime (no condition input)."""

    def __init__(self, decoder: Decoder, tanh_mask: torch.Tensor):
        """Wrap a trained decoder."""
        super().__init__()
        self.decoder = decoder
        self.register_buffer("tanh_mask", tanh_mask)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, embedding) → (B, dim)."""
        raw = self.decoder(z)
        return torch.where(self.tanh_mask, torch.tanh(raw), raw)


def train_vae(data: np.ndarray, ops: SpanOps, config: VaeConfig, steps: int, budget_s: float | None, seed: int,
              progress: Callable[[float, str], None] | None = None, selector=None,
              clock: Callable[[], float] = time.perf_counter) -> tuple[VaeHead, dict]:
    """Train on encoded rows for `steps` steps or `budget_s` seconds; return the head and stats (incl. sigmas).

    With a `Selector`, the decoder that scored best at its check points is the one returned.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dim = data.shape[1]
    encoder, decoder = Encoder(dim, config), Decoder(dim, config)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, config.lr, weight_decay=config.weight_decay)
    table = torch.from_numpy(data)
    batch = min(config.batch_size, len(data))
    head = VaeHead(decoder, ops.tanh_mask)
    sigmas = lambda: decoder.sigma.detach()[ops.tanh_idx].tolist()  # noqa: E731

    @torch.no_grad()
    def draw(n: int) -> np.ndarray:
        """n encoded rows from the current decoder, for checkpoint selection."""
        return head(torch.randn(n, config.embedding_dim)).numpy()

    start, step, loss_value = clock(), 0, 0.0
    while step < steps and (budget_s is None or clock() - start < budget_s) and not (selector and selector.stopped):
        x = table[torch.from_numpy(rng.integers(len(data), size=batch))]
        mu, logvar = encoder(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        raw = decoder(z)
        sigma = decoder.sigma[ops.tanh_idx]
        err = (x[:, ops.tanh_idx] - torch.tanh(raw[:, ops.tanh_idx])) ** 2 / (2 * sigma ** 2)
        gauss = (err + sigma.log()).sum() / batch
        logp = ops.log_softmax(raw[:, ops.soft_idx])
        categorical = -(x[:, ops.soft_idx] * logp).sum() / batch
        kld = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / batch
        loss = config.loss_factor * (gauss + categorical) + kld
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        decoder.sigma.data.clamp_(0.01, 1.0)
        step += 1
        loss_value = loss.item()
        if selector is not None and selector.due(step):
            selector.offer(step, decoder, draw, sigmas())
        if progress and (step % 10 == 0 or step == steps):
            done = step / steps if budget_s is None else max(step / steps, (clock() - start) / budget_s)
            progress(min(done, 1.0), f"step {step} loss {loss_value:.3f}")
    stats = {"steps": step, "train_s": clock() - start, "loss": loss_value}
    if selector is not None:
        selector.offer(step, decoder, draw, sigmas())
        stats["selection"] = selector.restore(decoder)
        stats["heldout_score"] = selector.fresh_score(draw, sigmas())
    stats["sigmas"] = sigmas()
    return head.eval(), stats
