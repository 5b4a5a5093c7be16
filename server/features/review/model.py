"""The review score: VAE anomaly + surprisal features, combined, calibrated into percentiles.

The bundle's `review` component carries `review_signals.onnx` (see `signals.py`),
`review_vae.onnx` (input `embedding` (B, D); outputs `neg_elbo`, `recon_error`, `mean`,
`logvar`) and `review_calibration.json`:

    {"feature_names": [...], "weights": [...], "bias": b, "feature_mean": [...], "feature_std": [...],
     "elbo_mean": m, "elbo_std": s, "token_mean": mu, "token_std": sd,
     "reference_scores": [sorted combined scores of the validation functions],
     "line_score": "mean", "line_weights": [w_op, w_name], "fit": {...}}

The score is `surprisal_residual + elbo_weight * elbo_z [+ detector_weight * detector]`: the
function's summed token surprisal (LM mixed with an in-function n-gram cache) against what its
line count predicts, the VAE's standardized negative ELBO, and, when the bundle ships
`review_detector.onnx`, the bug detector's function logit (a small convolution net over the
per-token hidden states and surprisal, trained on synthetic bugs; `training/review/detector.py`).
The cache weight, the length slope and the weights are chosen on synthetic bugs of the
validation split (see `training/review/calibrate.py`). Lines are ranked by the detector's token
logits (`line_score: "detector"`) or by surprisal plus "margins" (how much more probable the LM
finds a one-token replacement of an operator, a small integer or a reused name).

`function_features` is shared with the PyTorch side (calibration and evaluation), so training
and serving compute the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from devassist.server.features.review.signals import FunctionSignal

FEATURE_NAMES = ("surprisal_residual", "elbo")
DETECTOR = "detector"  # an optional third feature: the bug detector's function logit
LINE_SCORES = ("sum", "excess", "z", "mean")


CACHE_ORDERS = {3: 4.0, 2: 2.0, 1: 1.0}  # context length -> weight, as in runtime/ngram.py


def _earlier_counts(keys: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions hold the same key."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    idx = np.arange(len(keys))
    first = np.maximum.accumulate(np.where(np.r_[True, sk[1:] != sk[:-1]], idx, 0))
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = idx - first
    return out


def cache_mixed_surprisal(ids: np.ndarray, surprisal: np.ndarray, weight: float) -> np.ndarray:
    """Per-token surprisal under (1 - w)·p_LM + w·p_cache, the cache counting the function's own
    earlier tokens (which token followed the same 3-, 2-, 1-token context; weights 4:2:1). Where
    no earlier context matches, the LM's surprisal stands. Vectorized: each context and each
    (context, token) pair is packed into one int64 and counted by a stable sort."""
    s = np.asarray(surprisal, dtype=np.float64)
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    if weight <= 0 or n < 2:
        return s.copy()
    base = int(ids.max()) + 1
    pc = np.zeros(n)
    wsum = np.zeros(n)
    for order, w in CACHE_ORDERS.items():
        if n <= order:
            continue
        ctx = np.zeros(n - order, dtype=np.int64)
        for k in range(order):  # tokens t-order .. t-1 for t = order .. n-1
            ctx = ctx * base + ids[k : n - order + k]
        totals = _earlier_counts(ctx)
        pairs = _earlier_counts(ctx * base + ids[order:])
        seen = totals > 0
        pc[order:][seen] += w * pairs[seen] / totals[seen]
        wsum[order:][seen] += w
    out = s.copy()
    has = wsum > 0
    out[has] = -np.log((1 - weight) * np.exp(-s[has]) + weight * pc[has] / wsum[has])
    return out


def line_scores(sig: FunctionSignal, token_mean: float, token_std: float, kind: str = "excess",
                weights: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """How suspicious each line is; lines without tokens score -inf.

    sum: summed surprisal; excess: summed surprisal minus what an average token would cost;
    z: excess / (token_std * sqrt(n)); mean: surprisal per token. `weights` add the line's
    largest operator and name margins (how much the model prefers a one-token replacement).
    """
    n = sig.line_tokens.astype(np.float64)
    s = sig.line_surprisal.astype(np.float64)
    if kind == "sum":
        out = s.copy()
    elif kind == "excess":
        out = s - n * token_mean
    elif kind == "z":
        out = (s - n * token_mean) / (token_std * np.sqrt(np.maximum(n, 1)))
    elif kind == "mean":
        out = s / np.maximum(n, 1)
    else:
        raise ValueError(f"unknown line score {kind!r}")
    for w, margin in zip(weights, (sig.op_margin, sig.name_margin)):
        if w:
            out = out + w * (np.maximum(sig.line_max(margin), -2.0) + 2.0)
    out[n == 0] = -np.inf
    return out


def detector_line_scores(sig: FunctionSignal, token_logits: np.ndarray) -> np.ndarray:
    """Per-line maximum of the detector's token logits; lines without tokens score -inf."""
    out = sig.line_max(np.asarray(token_logits, dtype=np.float64))
    out[sig.line_tokens == 0] = -np.inf
    return out


def function_features(sig: FunctionSignal, elbo_z: float, line_mean: float, line_std: float,
                      cache_weight: float = 0.0, length_slope: float = 1.0) -> np.ndarray:
    """The feature vector (FEATURE_NAMES order) of one function.

    surprisal_residual = (S - length_slope * line_mean * L) / (line_std * sqrt(L)): S the summed
    surprisal under the LM mixed with the function's own n-gram cache, L its lines with code.
    Lines, not tokens, set the scale because no one-token slip changes them: within a function
    the score moves exactly with S.
    """
    lines = max(int(np.count_nonzero(sig.line_tokens)), 1)
    if sig.token_surprisal is not None and sig.token_ids is not None and cache_weight > 0:
        total = float(cache_mixed_surprisal(sig.token_ids, sig.token_surprisal, cache_weight).sum())
    else:
        total = sig.total_surprisal
    residual = (total - length_slope * line_mean * lines) / (line_std * np.sqrt(lines))
    return np.asarray([residual, elbo_z], dtype=np.float64)


def detector_features(sig: FunctionSignal) -> np.ndarray:
    """Per-token inputs (n_tokens, D + 5) of the bug detector: the final hidden state after the
    token, its surprisal, and its operator and name margins with a flag for "has one" (0 when not)."""
    n = len(sig.token_ids) if sig.token_ids is not None else 0
    hidden = sig.token_hidden if sig.token_hidden is not None else np.zeros((n, sig.embedding.shape[0]), np.float32)
    cols = [np.asarray(sig.token_surprisal[:n], np.float32)]
    for margin in (sig.op_margin, sig.name_margin):
        m = np.asarray(margin[:n], np.float32) if margin is not None else np.full(n, np.nan, np.float32)
        cols += [np.nan_to_num(m, nan=0.0), (~np.isnan(m)).astype(np.float32)]
    return np.concatenate([hidden[:n].astype(np.float32), np.stack(cols, 1)], axis=1)


def run_detector(session, signals: list[FunctionSignal], batch_tokens: int = 8192) -> np.ndarray:
    """The bug detector's function logit for each signal; its token logits go to `sig.detector_logits`.

    Functions are batched by length (padding masked out). A signal without per-token hidden
    states (a signals source that does not keep them) is scored on zeros there.
    """
    out = np.zeros(len(signals))
    order = sorted(range(len(signals)), key=lambda i: len(signals[i].token_surprisal))
    k = 0
    while k < len(order):
        idx = [order[k]]
        k += 1
        while k < len(order) and (len(idx) + 1) * max(len(signals[order[k]].token_surprisal), 1) <= batch_tokens:
            idx.append(order[k])
            k += 1
        rows = [detector_features(signals[i]) for i in idx]
        longest = max(max(len(x) for x in rows), 1)  # sorted by length: the last row is the longest
        feats = np.zeros((len(rows), longest, rows[0].shape[1]), np.float32)
        mask = np.zeros((len(rows), longest), np.float32)
        for r, x in enumerate(rows):
            feats[r, : len(x)] = x
            mask[r, : len(x)] = 1.0
        tok, fn = session.run(["token_logits", "function_logit"], {"features": feats, "mask": mask})
        for r, i in enumerate(idx):
            signals[i].detector_logits = tok[r, : len(rows[r])].astype(np.float64)
            out[i] = float(fn[r]) if len(rows[r]) else -1e4
    return out


def percentile_of(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Share (in %) of the sorted reference scores below each score (ties count half)."""
    ref = np.asarray(reference, dtype=np.float64)
    if ref.size == 0:
        return np.zeros(len(scores))
    lo = np.searchsorted(ref, scores, side="left")
    hi = np.searchsorted(ref, scores, side="right")
    return 100.0 * (lo + hi) / (2.0 * ref.size)


@dataclass
class Calibration:
    """Everything `review_calibration.json` holds."""

    feature_names: list[str]
    weights: np.ndarray
    bias: float
    feature_mean: np.ndarray
    feature_std: np.ndarray
    elbo_mean: float
    elbo_std: float
    token_mean: float
    token_std: float
    reference_scores: np.ndarray
    line_score: str = "excess"
    line_weights: tuple[float, float] = (0.0, 0.0)
    cache_weight: float = 0.0
    length_slope: float = 1.0
    line_mean: float = 1.0
    line_std: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Calibration":
        """Read the JSON form."""
        known = {"feature_names", "weights", "bias", "feature_mean", "feature_std", "elbo_mean", "elbo_std",
                 "token_mean", "token_std", "reference_scores", "line_score", "line_weights", "cache_weight",
                 "length_slope", "line_mean", "line_std"}
        return cls(
            feature_names=list(data["feature_names"]),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            feature_mean=np.asarray(data["feature_mean"], dtype=np.float64),
            feature_std=np.asarray(data["feature_std"], dtype=np.float64),
            elbo_mean=float(data["elbo_mean"]),
            elbo_std=float(data["elbo_std"]),
            token_mean=float(data["token_mean"]),
            token_std=float(data["token_std"]),
            reference_scores=np.sort(np.asarray(data["reference_scores"], dtype=np.float64)),
            line_score=str(data.get("line_score", "excess")),
            line_weights=tuple(float(w) for w in data.get("line_weights", (0.0, 0.0))),
            cache_weight=float(data.get("cache_weight", 0.0)),
            length_slope=float(data.get("length_slope", 1.0)),
            line_mean=float(data.get("line_mean", 1.0)),
            line_std=float(data.get("line_std", 1.0)),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        out = {
            "feature_names": list(self.feature_names), "weights": [float(w) for w in self.weights],
            "bias": float(self.bias), "feature_mean": [float(v) for v in self.feature_mean],
            "feature_std": [float(v) for v in self.feature_std], "elbo_mean": self.elbo_mean,
            "elbo_std": self.elbo_std, "token_mean": self.token_mean, "token_std": self.token_std,
            "line_score": self.line_score, "line_weights": list(self.line_weights),
            "cache_weight": self.cache_weight, "length_slope": self.length_slope,
            "line_mean": self.line_mean, "line_std": self.line_std,
            "reference_scores": [round(float(v), 6) for v in np.sort(self.reference_scores)],
        }
        out.update(self.extra)
        return out

    def combine(self, features: np.ndarray) -> np.ndarray:
        """The shipped score (a logit) of feature rows (N, F)."""
        x = (np.atleast_2d(features) - self.feature_mean) / self.feature_std
        return x @ self.weights + self.bias


class ReviewModel:
    """The bundle's VAE (onnxruntime) and calibration: signals in, scores and percentiles out."""

    def __init__(self, vae_session, calibration: Calibration, detector_session=None):
        names = tuple(calibration.feature_names)
        needs_detector = names[-1] == DETECTOR or calibration.line_score == DETECTOR
        if names not in (FEATURE_NAMES, FEATURE_NAMES + (DETECTOR,)) or (needs_detector and detector_session is None):
            raise ValueError(f"review calibration has features {calibration.feature_names}, this devassist computes "
                             f"{list(FEATURE_NAMES)} (+ {DETECTOR!r} with a detector graph): rerun `devassist review calibrate`")
        self.session = vae_session
        self.calibration = calibration
        self.input_name = vae_session.get_inputs()[0].name
        self.detector = detector_session  # review_detector.onnx, or None

    @classmethod
    def from_bundle(cls, bundle, threads: int | None = 1) -> "ReviewModel":
        """Load the `review` component of a bundle."""
        from devassist.server.runtime.session import create_session

        meta = bundle.component("review")
        session = create_session(bundle.path(meta["file"]), threads=threads, prefer_gpu=False, spin=False)
        calib = json.loads(Path(bundle.path(meta["calibration"])).read_text(encoding="utf-8"))
        detector = create_session(bundle.path(meta["detector"]), threads=threads, prefer_gpu=False,
                                  spin=False) if meta.get("detector") else None
        return cls(session, Calibration.from_json(calib), detector)

    def detect(self, signals: list[FunctionSignal]) -> np.ndarray:
        """The detector's function logit for each signal (see `run_detector`)."""
        return run_detector(self.detector, signals)

    def neg_elbo(self, embeddings: np.ndarray) -> np.ndarray:
        """Negative ELBO of each embedding row under the VAE (higher = more unusual)."""
        if len(embeddings) == 0:
            return np.zeros(0)
        out = self.session.run(["neg_elbo"], {self.input_name: np.asarray(embeddings, dtype=np.float32)})[0]
        return out.astype(np.float64)

    def features(self, signals: list[FunctionSignal]) -> np.ndarray:
        """Feature rows (N, F) for signals."""
        c = self.calibration
        if not signals:
            return np.zeros((0, len(FEATURE_NAMES)))
        elbo = (self.neg_elbo(np.stack([s.embedding for s in signals])) - c.elbo_mean) / c.elbo_std
        rows = np.stack([function_features(s, e, c.line_mean, c.line_std, c.cache_weight, c.length_slope)
                         for s, e in zip(signals, elbo)])
        if c.feature_names[-1] == DETECTOR:
            rows = np.concatenate([rows, self.detect(signals)[:, None]], axis=1)
        return rows

    def scores(self, signals: list[FunctionSignal]) -> np.ndarray:
        """The shipped anomaly score of each function."""
        if not signals:
            return np.zeros(0)
        return self.calibration.combine(self.features(signals))

    def percentiles(self, scores: np.ndarray) -> np.ndarray:
        """How unusual each score is, as a percentile of the reference (validation) code."""
        return percentile_of(np.asarray(scores, dtype=np.float64), self.calibration.reference_scores)

    def line_scores(self, sig: FunctionSignal) -> np.ndarray:
        """Per-line localization scores with the calibrated aggregation."""
        c = self.calibration
        if c.line_score == DETECTOR:
            if sig.detector_logits is None:
                self.detect([sig])
            return detector_line_scores(sig, sig.detector_logits)
        return line_scores(sig, c.token_mean, c.token_std, c.line_score, c.line_weights)
