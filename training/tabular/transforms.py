"""Per-column transforms: mode-specific normalization for numbers and dates, one-hot for categories.

The encoded row is a concatenation of spans, each either `tanh` (one scalar) or `softmax`
(a one-hot block). A numeric column becomes [alpha | mode one-hot | (valid, empty) one-hot]
as in CTGAN: a variational Gaussian mixture finds the modes, and alpha is the value's offset
from its mode in units of 4 standard deviations. Everything the inverse needs goes into the
column spec as plain numbers, so `devassist.server.synth_runtime` decodes with numpy alone.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

MAX_MODES = 10  # CTGAN's default; the Dirichlet-process prior switches unused ones off
MODE_WEIGHT_MIN = 0.005  # modes lighter than this are dropped, as in CTGAN
MIXTURE_FIT_ROWS = 2000  # the mixture is fitted on a subsample: enough to find modes, fast on big tables


def fit_modes(x: np.ndarray, seed: int) -> tuple[list[float], list[float], list[float]]:
    """Means, standard deviations and weights of the significant modes of a 1-D sample."""
    rng = np.random.default_rng(seed)
    fit_x = x if len(x) <= MIXTURE_FIT_ROWS else rng.choice(x, MIXTURE_FIT_ROWS, replace=False)
    spread = float(np.std(fit_x))
    if len(np.unique(fit_x)) < 2 or spread == 0:
        return [float(np.mean(x))], [max(spread, 1e-3)], [1.0]
    scaled = (fit_x - fit_x.mean()) / spread  # the prior assumes roughly unit scale
    mixture = BayesianGaussianMixture(
        n_components=min(MAX_MODES, len(np.unique(fit_x))), weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001, max_iter=100, n_init=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(scaled.reshape(-1, 1))
    keep = mixture.weights_ > MODE_WEIGHT_MIN
    means = mixture.means_.ravel()[keep] * spread + fit_x.mean()
    stds = np.sqrt(mixture.covariances_.ravel()[keep]) * spread
    weights = mixture.weights_[keep] / mixture.weights_[keep].sum()
    return means.tolist(), np.maximum(stds, 1e-6 * max(spread, 1e-9)).tolist(), weights.tolist()


def _mode_probabilities(x: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Posterior probability of each mode for each value, as the mixture's predict_proba."""
    z = (x[:, None] - means[None, :]) / stds[None, :]  # (N, K)
    logp = -0.5 * z * z - np.log(stds)[None, :] + np.log(weights)[None, :]
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


class DataTransformer:
    """Encodes parsed columns to the model's row vectors and records the layout in the specs."""

    def __init__(self, specs: list[dict], seed: int = 0):
        """Keep the column specs; `fit` adds each learned column's layout to them."""
        self.specs = specs
        self.seed = seed
        self.dim = 0
        self.cond_spans: list[tuple[int, int]] = []  # (start in row vector, size) of each category column

    def fit(self, arrays: dict[str, np.ndarray]) -> "DataTransformer":
        """Find modes, lay out the spans and the conditional vector."""
        for i, spec in enumerate(self.specs):
            if spec["kind"] in ("numeric", "datetime"):
                x = arrays[spec["name"]]
                valid = x[~np.isnan(x)]
                spec["means"], spec["stds"], spec["mode_weights"] = fit_modes(valid, self.seed + i)
                spec["nullable"] = bool(np.isnan(x).any())
                spans = [("tanh", 1), ("softmax", len(spec["means"]))]
                if spec["nullable"]:
                    spans.append(("softmax", 2))
            elif spec["kind"] == "discrete":
                spans = [("softmax", len(spec["categories"]))]
            else:
                continue
            spec["spans"] = []
            for activation, size in spans:
                spec["spans"].append([activation, self.dim, size])
                self.dim += size
            if spec["kind"] == "discrete" and len(spec["categories"]) > 1:
                self.cond_spans.append((spec["spans"][0][1], len(spec["categories"])))
        return self

    @property
    def cond_dim(self) -> int:
        """Length of the conditional vector: all categories of all category columns."""
        return sum(size for _, size in self.cond_spans)

    def transform(self, arrays: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """Rows as float32 vectors (N, dim); each value's mode is sampled from its posterior, as CTGAN does."""
        n = len(next(iter(arrays.values())))
        out = np.zeros((n, self.dim), dtype=np.float32)
        for spec in self.specs:
            if "spans" not in spec:
                continue
            x = arrays[spec["name"]]
            if spec["kind"] == "discrete":
                _, start, size = spec["spans"][0]
                out[np.arange(n), start + x] = 1
                continue
            means, stds = np.array(spec["means"]), np.array(spec["stds"])
            empty = np.isnan(x)
            filled = np.where(empty, means[0], x)
            p = _mode_probabilities(filled, means, stds, np.array(spec["mode_weights"]))
            mode = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
            alpha = np.clip((filled - means[mode]) / (4 * stds[mode]), -0.99, 0.99)
            (_, a, _), (_, m, _) = spec["spans"][:2]
            out[:, a] = np.where(empty, 0, alpha)
            out[np.arange(n), m + mode] = 1
            if spec["nullable"]:
                _, e, _ = spec["spans"][2]
                out[np.arange(n), e + empty.astype(int)] = 1
        return out

    def softmax_groups(self) -> list[tuple[int, int]]:
        """(start, size) of every softmax span, in order."""
        return [(s, n) for spec in self.specs for act, s, n in spec.get("spans", []) if act == "softmax"]

    def tanh_columns(self) -> list[int]:
        """Positions of the alpha scalars in the row vector."""
        return [s for spec in self.specs for act, s, _ in spec.get("spans", []) if act == "tanh"]

    def category_frequencies(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Empirical frequency of each conditional-vector position within its column."""
        freqs = []
        for spec in self.specs:
            if spec["kind"] == "discrete" and len(spec["categories"]) > 1:
                counts = np.bincount(arrays[spec["name"]], minlength=len(spec["categories"]))
                freqs.append(counts / counts.sum())
        return np.concatenate(freqs) if freqs else np.zeros(0)
