"""Training data for the review bug detector: (original, buggy twin) pairs with per-token labels.

Each function of a corpus split gets one or more buggy twins (`mutations.py`). Both texts go
through the bundle's own signals graph (`BundleSignals(keep_hidden=True)`), so the detector is
trained on exactly the features the server computes. In a twin, the tokens that differ from the
original (the shortest differing span, found from both ends) are labelled 1.
"""

from __future__ import annotations

import numpy as np

from devassist.server.features.review.model import detector_features
from devassist.server.features.review.signals import FunctionSignal
from devassist.training.review.mutations import mutate
from devassist.training.review.data import Function, compute_signals

MAX_TOKENS = 256  # longer functions are cut here for training (the served detector reads any length)


def changed_span(orig: np.ndarray, twin: np.ndarray) -> tuple[int, int]:
    """[start, end) of the twin's tokens that differ from the original's (prefix/suffix matching)."""
    n = min(len(orig), len(twin))
    start = 0
    while start < n and orig[start] == twin[start]:
        start += 1
    back = 0
    while back < n - start and orig[len(orig) - 1 - back] == twin[len(twin) - 1 - back]:
        back += 1
    return start, max(len(twin) - back, start + 1)


def build_pairs(signals, funcs: list[Function], rounds: int = 1, desc: str = "detector") -> dict:
    """Features, token labels and pair ids for originals and twins, truncated to MAX_TOKENS.

    Returns {"features": [(n, F) float16], "labels": [(n,) uint8], "y": (N,), "pair": (N,), "kind": [str]}:
    originals have y 0, twins y 1, and a pair id shared by a twin and its original. Twins whose
    change lies past MAX_TOKENS are left out with their original.
    """
    texts, meta = [], []
    for r in range(rounds):
        for f in funcs:
            m = mutate(f.text, f.key if r == 0 else f"{f.key}#{r}")
            if m is not None:
                texts += [f.text, m.mutated]
                meta.append(m.kind)
    sigs: list[FunctionSignal] = compute_signals(signals, texts, desc)
    out = {"features": [], "labels": [], "y": [], "pair": [], "kind": []}
    for k, kind in enumerate(meta):
        so, st = sigs[2 * k], sigs[2 * k + 1]
        a, b = changed_span(so.token_ids, st.token_ids)
        if a >= MAX_TOKENS or so.token_hidden is None or st.token_hidden is None:
            continue
        lab = np.zeros(min(len(st.token_ids), MAX_TOKENS), np.uint8)
        lab[a:b] = 1
        for sig, y, labels in ((so, 0, np.zeros(min(len(so.token_ids), MAX_TOKENS), np.uint8)), (st, 1, lab)):
            out["features"].append(detector_features(sig)[:MAX_TOKENS].astype(np.float16))
            out["labels"].append(labels)
            out["y"].append(y)
            out["pair"].append(k)
            out["kind"].append(kind)
    out["y"] = np.asarray(out["y"], np.int64)
    out["pair"] = np.asarray(out["pair"], np.int64)
    return out
