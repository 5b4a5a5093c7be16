"""Conditional tabular GAN (CTGAN family): residual generator, packed WGAN-GP critic, training-by-sampling.

Differences from the reference CTGAN are about speed on a CPU, not the method: the output
activations and the conditional loss work on all spans at once (segment softmax) instead of a
Python loop per column, and training stops at a step count or a wall-clock budget.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn


@dataclass
class GanConfig:
    """Hyper-parameters; defaults follow CTGAN except where noted."""

    embedding_dim: int = 64  # noise size; CTGAN uses 128, half is enough for fixtures and samples faster
    generator_dims: tuple[int, ...] = (128, 128)  # CTGAN: (256, 256); smaller keeps 100k rows under a second
    critic_dims: tuple[int, ...] = (256, 256)
    pac: int = 10  # rows per critic input: packing makes mode collapse visible to the critic
    batch_size: int = 500  # a multiple of pac
    lr: float = 2e-4
    weight_decay: float = 1e-6
    gp_weight: float = 10.0
    tau: float = 0.2  # Gumbel-softmax temperature of the category outputs
    ema_decay: float = 0.99  # not in CTGAN: an average of recent generators is steadier than the last one


class SpanOps:
    """Index tensors for applying tanh / per-span softmax to a whole batch at once."""

    def __init__(self, dim: int, tanh_cols: list[int], groups: list[tuple[int, int]],
                 cond_spans: list[tuple[int, int]]):
        """Precompute the positions of tanh scalars, softmax spans and conditioned spans."""
        self.tanh_idx = torch.tensor(tanh_cols, dtype=torch.long)
        soft = [p for s, n in groups for p in range(s, s + n)]
        self.soft_idx = torch.tensor(soft, dtype=torch.long)
        self.seg = torch.tensor([g for g, (_, n) in enumerate(groups) for _ in range(n)], dtype=torch.long)
        self.n_groups = len(groups)
        where = {p: i for i, p in enumerate(soft)}
        self.cond_soft = torch.tensor([where[p] for s, n in cond_spans for p in range(s, s + n)], dtype=torch.long)
        self.tanh_mask = torch.zeros(dim, dtype=torch.bool)
        self.tanh_mask[self.tanh_idx] = True

    def log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-softmax within each span of the (B, n_soft) logits."""
        b = logits.shape[0]
        seg = self.seg.expand(b, -1)
        peak = torch.full((b, self.n_groups), -torch.inf).scatter_reduce(1, seg, logits.detach(), "amax")
        shifted = logits - peak[:, self.seg]
        total = torch.zeros(b, self.n_groups).index_add(1, self.seg, shifted.exp())
        return shifted - total.log()[:, self.seg]

    def activate(self, raw: torch.Tensor, tau: float) -> torch.Tensor:
        """tanh on alphas, Gumbel-softmax on spans: what the critic sees of a generated row."""
        logits = raw[:, self.soft_idx]
        gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-10, 1 - 1e-7)))
        probs = self.log_softmax((logits + gumbel) / tau).exp()
        out = torch.zeros_like(raw).index_copy(1, self.tanh_idx, torch.tanh(raw[:, self.tanh_idx]))
        return out.index_copy(1, self.soft_idx, probs)

    def cond_loss(self, raw: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the conditioned span against the requested category."""
        if cond.shape[1] == 0:
            return raw.new_zeros(())
        logp = self.log_softmax(raw[:, self.soft_idx])[:, self.cond_soft]
        return -(cond * logp).sum(1).mean()


class Residual(nn.Module):
    """Linear → BatchNorm → ReLU, concatenated with its input (CTGAN's generator block)."""

    def __init__(self, i: int, o: int):
        """A block from i to i + o features."""
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, i) → (B, i + o)."""
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    """Noise and conditional vector to a raw encoded row."""

    def __init__(self, in_dim: int, dims: tuple[int, ...], data_dim: int):
        """Residual blocks then a linear layer to the row width."""
        super().__init__()
        layers, width = [], in_dim
        for d in dims:
            layers.append(Residual(width, d))
            width += d
        self.body = nn.Sequential(*layers, nn.Linear(width, data_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_dim) → (B, data_dim) raw outputs."""
        return self.body(x)


class Critic(nn.Module):
    """WGAN critic over packs of `pac` rows."""

    def __init__(self, in_dim: int, dims: tuple[int, ...], pac: int):
        """LeakyReLU/dropout layers over pac concatenated rows."""
        super().__init__()
        layers, width = [], in_dim * pac
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            width = d
        self.pac, self.body = pac, nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_dim) → (B / pac, 1) scores."""
        return self.body(x.reshape(-1, x.shape[1] * self.pac))  # (B/pac, pac*in_dim)


class ConditionSampler:
    """Training-by-sampling: pick a category column, a category by log-frequency, then a real row with it."""

    def __init__(self, data: np.ndarray, cond_spans: list[tuple[int, int]], rng: np.random.Generator):
        """Index the rows of every category of every conditioned column."""
        self.rng, self.cond_dim = rng, sum(n for _, n in cond_spans)
        rows, probs = [], []
        for start, size in cond_spans:
            counts = data[:, start:start + size].sum(0)
            p = np.log(counts + 1) * (counts > 0)  # log-frequency: rare categories are seen far more often
            probs.append(p / p.sum() / len(cond_spans))
            rows += [np.nonzero(data[:, start + k])[0] for k in range(size)]
        # rows of every category back to back: category k owns flat[offset[k]:offset[k] + count[k]]
        self.count = np.array([len(r) for r in rows], dtype=np.int64)
        self.offset = np.cumsum(self.count) - self.count
        self.flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        self.probs = np.concatenate(probs) if probs else np.zeros(0)
        counts = [data[:, s:s + n].sum(0) for s, n in cond_spans]
        # at sampling time categories are asked for at their real frequency, as CTGAN does
        self.original = np.concatenate([c / c.sum() / len(counts) for c in counts]) if counts else np.zeros(0)

    def original_conditions(self, n: int) -> np.ndarray:
        """(n, cond_dim) one-hot conditions drawn at the categories' real frequencies."""
        cond = np.zeros((n, self.cond_dim), np.float32)
        if self.cond_dim:
            cond[np.arange(n), self.rng.choice(self.cond_dim, size=n, p=self.original)] = 1
        return cond

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(n, cond_dim) one-hot conditions and the index of a real row matching each."""
        if self.cond_dim == 0:
            return np.zeros((n, 0), np.float32), None
        pick = self.rng.choice(self.cond_dim, size=n, p=self.probs)
        cond = np.zeros((n, self.cond_dim), np.float32)
        cond[np.arange(n), pick] = 1
        within = (self.rng.random(n) * self.count[pick]).astype(np.int64)
        return cond, self.flat[self.offset[pick] + within]


class GanHead(nn.Module):
    """The exported sampler: generator plus tanh on the alphas; spans stay logits for the runtime."""

    def __init__(self, generator: Generator, tanh_mask: torch.Tensor):
        """Wrap a trained generator."""
        super().__init__()
        self.generator = generator
        self.register_buffer("tanh_mask", tanh_mask)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """(B, embedding) noise and (B, cond_dim) condition (None: no category columns) → (B, data_dim)."""
        raw = self.generator(z if cond is None else torch.cat([z, cond], dim=1))
        return torch.where(self.tanh_mask, torch.tanh(raw), raw)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, pac: int) -> torch.Tensor:
    """WGAN-GP penalty on interpolates, one mixing weight per pack.

    (Fusing fake, real and interpolates into one critic call was measured slower: 12 vs 11 ms a
    step, since the double backward then runs over all three.)
    """
    alpha = torch.rand(real.shape[0] // pac, 1, 1).repeat(1, pac, real.shape[1]).reshape(real.shape)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grads = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)[0]
    norms = grads.reshape(-1, pac * real.shape[1]).norm(2, dim=1)  # (B/pac,)
    return ((norms - 1) ** 2).mean()


@torch.no_grad()
def update_ema(ema: nn.Module, live: nn.Module, step: int, decay: float) -> None:
    """Move the averaged generator towards the live one; copy BatchNorm statistics as they are."""
    decay = min(decay, (1 + step) / (10 + step))  # short runs: average over fewer steps
    torch._foreach_lerp_(list(ema.parameters()), list(live.parameters()), 1 - decay)
    for averaged, current in zip(ema.buffers(), live.buffers()):
        averaged.copy_(current)


def train_gan(data: np.ndarray, ops: SpanOps, cond_spans: list[tuple[int, int]], config: GanConfig,
              steps: int, budget_s: float | None, seed: int,
              progress: Callable[[float, str], None] | None = None, selector=None,
              clock: Callable[[], float] = time.perf_counter) -> tuple[GanHead, dict]:
    """Train on encoded rows (N, dim) for `steps` steps or until `budget_s` seconds; return the head and stats.

    The head wraps an exponential moving average of the generator; with a `Selector`, the
    best-scoring average seen at its check points is the one returned.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sampler = ConditionSampler(data, cond_spans, rng)
    dim, cond_dim, batch = data.shape[1], sampler.cond_dim, config.batch_size
    generator = Generator(config.embedding_dim + cond_dim, config.generator_dims, dim)
    critic = Critic(dim + cond_dim, config.critic_dims, config.pac)
    adam = dict(lr=config.lr, betas=(0.5, 0.9), weight_decay=config.weight_decay, foreach=True)
    opt_g = torch.optim.Adam(generator.parameters(), **adam)
    opt_c = torch.optim.Adam(critic.parameters(), **adam)
    table = torch.from_numpy(data)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    head = GanHead(ema, ops.tanh_mask).eval()

    @torch.no_grad()
    def draw(n: int) -> np.ndarray:
        """n encoded rows from the averaged generator, conditions at real frequencies."""
        z = torch.randn(n, config.embedding_dim)
        cond = torch.from_numpy(sampler.original_conditions(n))
        return head(z, cond if cond_dim else None).numpy()

    start, step, loss_g, loss_c = clock(), 0, 0.0, 0.0
    while step < steps and (budget_s is None or clock() - start < budget_s) and not (selector and selector.stopped):
        cond_np, rows = sampler.sample(batch)
        cond = torch.from_numpy(cond_np)
        perm = torch.from_numpy(rng.permutation(batch))
        if rows is None:  # no category columns: real rows uniformly
            rows = rng.integers(len(data), size=batch)
        real_rows = torch.from_numpy(rows)[perm]
        real = torch.cat([table[real_rows], cond[perm]], dim=1)
        fake = ops.activate(generator(torch.cat([torch.randn(batch, config.embedding_dim), cond], 1)), config.tau)
        fake = torch.cat([fake, cond], dim=1)
        penalty = gradient_penalty(critic, real, fake.detach(), config.pac)
        loss = critic(fake.detach()).mean() - critic(real).mean() + config.gp_weight * penalty
        opt_c.zero_grad(set_to_none=True)
        loss.backward()
        opt_c.step()
        cond = torch.from_numpy(sampler.sample(batch)[0])
        raw = generator(torch.cat([torch.randn(batch, config.embedding_dim), cond], 1))
        fake = torch.cat([ops.activate(raw, config.tau), cond], dim=1)
        g_loss = -critic(fake).mean() + ops.cond_loss(raw, cond)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        step += 1
        update_ema(ema, generator, step, config.ema_decay)
        if selector is not None and selector.due(step):
            selector.offer(step, ema, draw)
        loss_g, loss_c = g_loss.item(), loss.item()
        if progress and (step % 10 == 0 or step == steps):
            done = step / steps if budget_s is None else max(step / steps, (clock() - start) / budget_s)
            progress(min(done, 1.0), f"step {step} G {loss_g:.3f} C {loss_c:.3f}")
    stats = {"steps": step, "train_s": clock() - start, "loss_g": loss_g, "loss_c": loss_c}
    if selector is not None:
        selector.offer(step, ema, draw)  # the final average competes too
        stats["selection"] = selector.restore(ema)
        stats["heldout_score"] = selector.fresh_score(draw)
    return head, stats
