"""A cache n-gram model over the tokens of the open file, mixed into the network's distribution.

Code repeats itself within a file (identifiers, call patterns). Counting which token followed
the same 3-, 2- and 1-token contexts earlier in the file and mixing that in
(p = (1 - λ)·p_LM + λ·p_cache) is a cheap, training-free lever (Hellendoorn & Devanbu, 2017).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

ORDERS = (3, 2, 1)
WEIGHTS = {3: 4.0, 2: 2.0, 1: 1.0}  # longer contexts are more specific, so they count more


class NgramCache:
    """Counts of the next token after each 1..3-token context seen so far."""

    def __init__(self, tokens: list[int] | None = None):
        self.counts: dict[int, dict[tuple[int, ...], Counter]] = {n: defaultdict(Counter) for n in ORDERS}
        self.history: list[int] = []
        for t in tokens or ():
            self.push(t)

    def push(self, token: int) -> None:
        """Record `token` as the continuation of every context that ends before it."""
        h = self.history
        for n in ORDERS:
            if len(h) >= n:
                self.counts[n][tuple(h[-n:])][token] += 1
        h.append(token)

    def pick(self, logits: np.ndarray, weight: float) -> int:
        """The next token under the network's distribution mixed with this cache's (weight `weight`)."""
        return mix_argmax(logits, self.distribution(), weight)

    def distribution(self, context: list[int] | None = None) -> dict[int, float]:
        """The cache's next-token probabilities after `context` (default: the history)."""
        ctx = self.history if context is None else context
        total_w = 0.0
        mixed: dict[int, float] = defaultdict(float)
        for n in ORDERS:
            if len(ctx) < n:
                continue
            counter = self.counts[n].get(tuple(ctx[-n:]))
            if not counter:
                continue
            total = sum(counter.values())
            w = WEIGHTS[n]
            total_w += w
            for tok, c in counter.items():
                mixed[tok] += w * c / total
        if not total_w:
            return {}
        return {t: p / total_w for t, p in mixed.items()}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def mix_argmax(logits: np.ndarray, cache: dict[int, float], weight: float) -> int:
    """argmax of (1 - w)·softmax(logits) + w·cache, touching only the cache's few tokens."""
    if not cache or weight <= 0:
        return int(logits.argmax())
    probs = softmax(logits.astype(np.float64))
    best = int(probs.argmax())
    best_p = (1 - weight) * probs[best] + weight * cache.get(best, 0.0)
    for tok, pc in cache.items():
        p = (1 - weight) * probs[tok] + weight * pc
        if p > best_p:
            best, best_p = tok, p
    return best


def mix_probs(logits: np.ndarray, cache: dict[int, float], weight: float) -> np.ndarray:
    """The full mixed distribution (for evaluation: accuracy and surprisal)."""
    probs = softmax(logits.astype(np.float64))
    if cache and weight > 0:
        probs = (1 - weight) * probs
        for tok, pc in cache.items():
            probs[tok] += weight * pc
    return probs
