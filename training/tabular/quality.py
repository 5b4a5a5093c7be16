"""Synthetic-data metrics with SDMetrics' definitions: column shapes, pair trends, detection, privacy.

Inputs are "typed tables": dict column → array, where a numeric (or date) column is a float
array with NaN for empty and a categorical column is an array of string labels. Definitions:
  KSComplement       1 − KS statistic of the non-empty values (numeric and date columns)
  TVComplement       1 − total variation distance of the category frequencies (empty is a category)
  CorrelationSimilarity  1 − |ρ_real − ρ_synth| / 2 with Pearson's ρ (numeric pairs)
  ContingencySimilarity  1 − TVD of the joint frequencies (pairs with a category; numbers in 10 bins)
  quality            mean(mean column shape, mean pair trend), as SDMetrics' QualityReport
  detection          1 − (2·max(AUC, 0.5) − 1) of a logistic regression, 3-fold cross-validated
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

BINS = 10  # SDMetrics' num_discrete_bins for numeric columns in contingency pairs
DCR_ROWS = 1000  # rows whose distance to the closest record is measured (enough for a median)


def is_numeric(values: np.ndarray) -> bool:
    """Whether a typed column is numeric (float) rather than categorical (labels)."""
    return values.dtype.kind == "f"


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov D (scipy's ks_2samp statistic, without its p-value work)."""
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, both, side="right") / len(a)
    cdf_b = np.searchsorted(b, both, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def column_shape(real: np.ndarray, synth: np.ndarray) -> float:
    """KSComplement for numbers, TVComplement for categories."""
    if is_numeric(real):
        r, s = real[~np.isnan(real)], synth[~np.isnan(synth)]
        if len(r) == 0 or len(s) == 0:
            return float(len(r) == len(s))
        return 1.0 - ks_statistic(r, s)
    return 1.0 - _tvd([real], [synth])


def _tvd(real_cols: list[np.ndarray], synth_cols: list[np.ndarray]) -> float:
    """Total variation distance between the (joint) frequencies of label columns."""
    def freq(cols):
        """Relative frequency of each joint label."""
        keys = ["\x1f".join(t) for t in zip(*[c.astype(str) for c in cols])]
        values, counts = np.unique(keys, return_counts=True)
        return dict(zip(values.tolist(), (counts / counts.sum()).tolist()))
    fr, fs = freq(real_cols), freq(synth_cols)
    return 0.5 * sum(abs(fr.get(k, 0.0) - fs.get(k, 0.0)) for k in set(fr) | set(fs))


def _binned(real: np.ndarray, synth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers → bin labels on edges from the real column; empty is a bin of its own."""
    valid = real[~np.isnan(real)]
    edges = np.histogram_bin_edges(valid if len(valid) else [0.0], bins=BINS)
    def label(x):
        """Bin index as a label; empty for NaN."""
        b = np.clip(np.digitize(x, edges[1:-1]), 0, BINS - 1).astype(str).astype(object)
        b[np.isnan(x)] = "empty"
        return b
    return label(real), label(synth)


def pair_trend(real: dict, synth: dict, a: str, b: str) -> tuple[str, float]:
    """CorrelationSimilarity for two numeric columns, else ContingencySimilarity."""
    if is_numeric(real[a]) and is_numeric(real[b]):
        def rho(t):
            """Pearson correlation of a and b over rows where both are present."""
            x, y = t[a], t[b]
            ok = ~(np.isnan(x) | np.isnan(y))
            if ok.sum() < 2 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
                return 0.0
            return float(np.corrcoef(x[ok], y[ok])[0, 1])
        return "correlation", 1.0 - abs(rho(real) - rho(synth)) / 2
    cols_r, cols_s = [], []
    for c in (a, b):
        r, s = _binned(real[c], synth[c]) if is_numeric(real[c]) else (real[c], synth[c])
        cols_r.append(r)
        cols_s.append(s)
    return "contingency", 1.0 - _tvd(cols_r, cols_s)


def quality_report(real: dict, synth: dict) -> dict:
    """Column shapes, column pair trends and their mean (SDMetrics' quality score)."""
    shapes = {c: column_shape(real[c], synth[c]) for c in real}
    pairs = {f"{a} / {b}": pair_trend(real, synth, a, b) for a, b in combinations(real, 2)}
    shape_mean = float(np.mean(list(shapes.values()))) if shapes else float("nan")
    pair_mean = float(np.mean([v for _, v in pairs.values()])) if pairs else shape_mean
    return {"quality": (shape_mean + pair_mean) / 2, "column_shapes": shape_mean, "column_pair_trends": pair_mean,
            "shapes": shapes, "pairs": {k: v for k, (_, v) in pairs.items()}}


def features(tables: list[dict], reference: dict) -> list[np.ndarray]:
    """Numeric matrices for a classifier: standardized numbers + empty flags, one-hot categories."""
    blocks = [[] for _ in tables]
    for c, ref in reference.items():
        if is_numeric(ref):
            mean, std = np.nanmean(ref) if np.isfinite(ref).any() else 0.0, np.nanstd(ref) or 1.0
            for out, t in zip(blocks, tables):
                x = t[c]
                out += [np.nan_to_num((x - mean) / std, nan=0.0), np.isnan(x).astype(float)]
        else:
            for level in np.unique(ref.astype(str)):
                for out, t in zip(blocks, tables):
                    out.append((t[c].astype(str) == level).astype(float))
    return [np.column_stack(b) if b else np.zeros((len(next(iter(t.values()))), 0)) for b, t in zip(blocks, tables)]


def detection_score(real: dict, synth: dict, seed: int = 0) -> dict:
    """LogisticDetection: how well real rows can be told from synthetic ones (1 = indistinguishable)."""
    xr, xs = features([real, synth], real)
    x = np.vstack([xr, xs])
    y = np.r_[np.zeros(len(xr)), np.ones(len(xs))]
    aucs = []
    for train, test in StratifiedKFold(3, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(max_iter=1000).fit(x[train], y[train])
        aucs.append(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1]))
    auc = float(np.mean(aucs))
    return {"detection": 1 - (2 * max(auc, 0.5) - 1), "auc": auc}


def _row_keys(t: dict) -> list[tuple]:
    cols = [t[c].tolist() for c in t]
    return [tuple(None if isinstance(v, float) and v != v else v for v in row) for row in zip(*cols)]


def _gower(a: dict, b: dict, reference: dict) -> np.ndarray:
    """Distance of each row of a to its closest row of b (mean per-column distance in [0, 1])."""
    na = len(next(iter(a.values())))
    best = np.full(na, np.inf)
    nb = len(next(iter(b.values())))
    for start in range(0, nb, 500):
        d = np.zeros((na, min(500, nb - start)))
        for c, ref in reference.items():
            x, y = a[c], b[c][start:start + 500]
            if is_numeric(ref):
                span = (np.nanmax(ref) - np.nanmin(ref)) or 1.0
                diff = np.abs(x[:, None] - y[None, :]) / span
                both = np.isnan(x)[:, None] & np.isnan(y)[None, :]
                diff = np.where(both, 0.0, np.nan_to_num(diff, nan=1.0))
                d += np.minimum(diff, 1.0)
            else:
                d += x.astype(str)[:, None] != y.astype(str)[None, :]
        best = np.minimum(best, d.min(axis=1) / len(reference))
    return best


def privacy_report(train: dict, synth: dict, holdout: dict | None, seed: int = 0) -> dict:
    """Share of synthetic rows equal to a training row; median distance to the closest training record."""
    train_keys = set(_row_keys(train))
    synth_keys = _row_keys(synth)
    report = {"identical_share": sum(k in train_keys for k in synth_keys) / max(1, len(synth_keys)),
              "identical_rows": sum(k in train_keys for k in synth_keys)}
    rng = np.random.default_rng(seed)
    def subset(t):
        """At most DCR_ROWS random rows of a typed table."""
        n = len(next(iter(t.values())))
        pick = rng.choice(n, min(n, DCR_ROWS), replace=False)
        return {c: v[pick] for c, v in t.items()}
    report["dcr_synthetic_median"] = float(np.median(_gower(subset(synth), train, train)))
    if holdout is not None:
        report["dcr_holdout_median"] = float(np.median(_gower(subset(holdout), train, train)))
        report["dcr_ratio"] = report["dcr_synthetic_median"] / max(report["dcr_holdout_median"], 1e-12)
    return report
