"""Fit a Gaussian copula on the learned columns (empirical margins, latent normal correlation).

Margins are empirical: numbers through their quantiles, categories through intervals ordered by
frequency (as SDV's GaussianCopula encodes them), a missing value as a latent of its own. The
sampler is `devassist.server.synth_copula.sample_copula` (numpy only).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

QUANTILES = 256  # quantiles kept per numeric column: enough for KS ~0.004, and no fixture row in full


def _normal_scores(u: np.ndarray) -> np.ndarray:
    """Φ⁻¹ of probabilities kept away from 0 and 1."""
    return ndtri(np.clip(u, 1e-6, 1 - 1e-6))


def fit_copula(columns: list[dict], arrays: dict[str, np.ndarray], seed: int) -> dict:
    """The copula spec (margins + Cholesky factor) of the learned columns of the training rows."""
    rng = np.random.default_rng(seed)
    latents, margins = [], []
    for col in columns:
        x = arrays.get(col["name"])
        if x is None:
            continue
        n = len(x)
        if col["kind"] == "discrete":
            counts = np.bincount(x, minlength=len(col["categories"])).astype(float)
            order = np.argsort(-counts, kind="stable")
            order = order[counts[order] > 0]
            upper = np.cumsum(counts[order]) / n
            lower = upper - counts[order] / n
            rank = np.empty(len(col["categories"]), dtype=np.int64)
            rank[order] = np.arange(len(order))
            u = lower[rank[x]] + rng.random(n) * (upper - lower)[rank[x]]
            latents.append(_normal_scores(u))
            margins.append({"type": "category", "column": col["name"],
                            "cuts": _normal_scores(upper[:-1]).tolist(), "codes": order.tolist()})
            continue
        empty = np.isnan(x)
        present = np.sort(x[~empty])
        levels = (np.arange(QUANTILES) + 0.5) / QUANTILES if len(present) > QUANTILES else \
            (np.arange(len(present)) + 0.5) / len(present)
        values = np.quantile(present, levels) if len(present) > QUANTILES else present
        ranks = np.searchsorted(present, x[~empty], side="left") + rng.random((~empty).sum()) * \
            (np.searchsorted(present, x[~empty], side="right") - np.searchsorted(present, x[~empty], side="left"))
        z = np.zeros(n)
        z[~empty] = _normal_scores(ranks / max(1, len(present)))
        latents.append(z)
        margins.append({"type": "number", "column": col["name"], "z": _normal_scores(levels).tolist(),
                        "values": values.tolist()})
        if empty.any():
            rate = empty.mean()
            u = np.where(empty, rng.random(n) * rate, rate + rng.random(n) * (1 - rate))
            latents.append(_normal_scores(u))
            margins.append({"type": "null", "column": col["name"], "cut": float(_normal_scores(np.array([rate]))[0])})
    latent = np.column_stack(latents)
    corr = np.corrcoef(latent, rowvar=False) if latent.shape[1] > 1 else np.ones((1, 1))
    corr = np.nan_to_num(corr)
    np.fill_diagonal(corr, 1.0)
    values, vectors = np.linalg.eigh(corr)  # clip to positive definite: a small fixture's matrix may not be
    corr = vectors @ np.diag(np.maximum(values, 1e-6)) @ vectors.T
    scale = np.sqrt(np.diag(corr))
    corr = corr / np.outer(scale, scale)
    return {"chol": np.linalg.cholesky(corr + 1e-9 * np.eye(len(corr))).tolist(), "margins": margins}
