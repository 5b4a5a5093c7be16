"""A VAE (and a plain autoencoder of the same size) over function embeddings, for review.

Inputs are standardized inside the model (the mean and std of the training embeddings are
buffers), so the exported ONNX graph takes raw embeddings. The score of a function is its
negative ELBO: reconstruction error (a unit-variance Gaussian in standardized space) plus β
times the KL divergence of the encoder's Gaussian from the prior.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class VAEConfig:
    """Size and training of the review VAE."""

    input_dim: int = 256  # embedding width (the LM's d_model)
    hidden: int = 128  # one hidden layer each side
    latent: int = 16  # Gaussian latent size
    beta: float = 1.0  # weight of the KL term in the ELBO
    epochs: int = 80  # passes over the training embeddings
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


class Encoder(nn.Module):
    """Standardized embedding -> hidden features."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cfg.input_dim, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.hidden), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, hidden)


class Decoder(nn.Module):
    """Latent -> standardized embedding."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cfg.latent, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(),
                                 nn.Linear(cfg.hidden, cfg.input_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, input_dim)


class _Standardized(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("x_mean", torch.zeros(cfg.input_dim))
        self.register_buffer("x_std", torch.ones(cfg.input_dim))

    def set_stats(self, x: np.ndarray) -> None:
        """Set the standardization from training embeddings."""
        self.x_mean.copy_(torch.as_tensor(x.mean(0), dtype=torch.float32))
        self.x_std.copy_(torch.as_tensor(x.std(0) + 1e-6, dtype=torch.float32))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.x_mean) / self.x_std


class ReviewVAE(_Standardized):
    """Gaussian encoder (mean, log-variance), decoder, and the negative ELBO as the score."""

    def __init__(self, cfg: VAEConfig):
        super().__init__(cfg)
        self.encoder = Encoder(cfg)
        self.to_mean = nn.Linear(cfg.hidden, cfg.latent)
        self.to_logvar = nn.Linear(cfg.hidden, cfg.latent)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor, sample: bool = False):
        """(neg_elbo (B,), recon_error (B,), mean (B, L), logvar (B, L)); the decoder sees the mean unless `sample`."""
        xs = self.standardize(x)
        h = self.encoder(xs)
        mean, logvar = self.to_mean(h), self.to_logvar(h).clamp(-10, 10)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        recon = self.decoder(z)
        recon_error = 0.5 * ((recon - xs) ** 2).sum(-1)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        return recon_error + self.cfg.beta * kl, recon_error, mean, logvar


class ReviewAE(_Standardized):
    """A plain autoencoder of the same size (the baseline): reconstruction error as the score."""

    def __init__(self, cfg: VAEConfig):
        super().__init__(cfg)
        self.encoder = Encoder(cfg)
        self.to_latent = nn.Linear(cfg.hidden, cfg.latent)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor, sample: bool = False):
        xs = self.standardize(x)
        z = self.to_latent(self.encoder(xs))
        recon_error = 0.5 * ((self.decoder(z) - xs) ** 2).sum(-1)
        return recon_error, recon_error, z, torch.zeros_like(z)


def train_model(x: np.ndarray, cfg: VAEConfig, kind: str = "vae", log=None) -> tuple[nn.Module, dict]:
    """Fit a VAE (`kind="vae"`) or AE (`"ae"`) on embeddings (N, D); returns the model and its history."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    cfg = VAEConfig(**{**asdict(cfg), "input_dim": int(x.shape[1])})
    model = ReviewVAE(cfg) if kind == "vae" else ReviewAE(cfg)
    model.set_stats(x)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    data = torch.as_tensor(x, dtype=torch.float32)
    history = []
    model.train()
    for epoch in range(cfg.epochs):
        perm = rng.permutation(len(data))
        total = 0.0
        for i in range(0, len(perm), cfg.batch_size):
            batch = data[perm[i : i + cfg.batch_size]]
            loss = model(batch, sample=True)[0].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        sched.step()
        history.append(total / len(data))
        if log and (epoch % 20 == 0 or epoch == cfg.epochs - 1):
            log(f"{kind} epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]:.3f}")
    model.eval()
    return model, {"config": asdict(cfg), "kind": kind, "final_loss": history[-1] if history else None, "n_train": len(x)}


@torch.no_grad()
def score(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's anomaly score (negative ELBO, or reconstruction error for the AE) per row."""
    model.eval()
    return model(torch.as_tensor(x, dtype=torch.float32))[0].numpy().astype(np.float64)


class ExportWrapper(nn.Module):
    """The graph the server runs: embedding -> neg_elbo, recon_error, mean, logvar (deterministic)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, embedding: torch.Tensor):
        return self.model(embedding, sample=False)
