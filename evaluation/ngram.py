"""The baseline: a 4-gram token model with stupid back-off, counted with numpy over a token stream.

Contexts of up to three tokens are packed into one int64 (13+ bits per token), so counting is a
`np.unique` per order and a lookup is a binary search: fast enough for tens of millions of tokens.
"""

from __future__ import annotations

import numpy as np

BACKOFF = 0.4  # stupid back-off's discount per order dropped (Brants et al., 2007)


class NgramModel:
    """Counts of next tokens after 0..order-1 previous tokens."""

    def __init__(self, stream: np.ndarray, vocab_size: int, order: int = 4, separator: int | None = None):
        self.order, self.vocab = order, vocab_size
        self.bits = int(np.ceil(np.log2(vocab_size + 1)))
        if self.bits * order > 62:
            raise ValueError("vocabulary too large to pack the contexts into int64")
        stream = np.asarray(stream, dtype=np.int64)
        self.tables = []  # per context length k: (sorted packed keys, counts, context totals)
        for k in range(order):
            n = len(stream) - k
            ctx = np.zeros(n, dtype=np.int64)
            for j in range(k):  # pack tokens i-k..i-1
                ctx = (ctx << self.bits) | stream[j:j + n]
            nxt = stream[k:]
            keys, counts = np.unique((ctx << self.bits) | nxt, return_counts=True)
            ctx_keys = keys >> self.bits
            uniq_ctx, first = np.unique(ctx_keys, return_index=True)
            totals = np.add.reduceat(counts, first)
            self.tables.append((keys, counts, uniq_ctx, totals))

    def _context_key(self, context: list[int], k: int) -> int:
        key = 0
        for t in context[len(context) - k:]:
            key = (key << self.bits) | int(t)
        return key

    def _next_counts(self, context: list[int], k: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(next tokens, counts, total) after the last k tokens of context."""
        keys, counts, uniq_ctx, totals = self.tables[k]
        c = self._context_key(context, k)
        lo = np.searchsorted(keys, c << self.bits)
        hi = np.searchsorted(keys, (c + 1) << self.bits)
        if hi <= lo:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0
        idx = np.searchsorted(uniq_ctx, c)
        return keys[lo:hi] & ((1 << self.bits) - 1), counts[lo:hi], int(totals[idx])

    def scores(self, context: list[int], top: int = 50) -> dict[int, float]:
        """Stupid back-off scores of the likeliest next tokens (highest order first)."""
        out: dict[int, float] = {}
        weight = 1.0
        for k in range(min(self.order - 1, len(context)), -1, -1):
            toks, counts, total = self._next_counts(context, k)
            if total:
                order = np.argsort(-counts)[:top]
                for t, c in zip(toks[order], counts[order]):
                    out.setdefault(int(t), weight * float(c) / total)
            weight *= BACKOFF
        return out

    def distribution(self, context: list[int], top: int = 50) -> dict[int, float]:
        """The scores normalized into probabilities over the candidates (for mixing)."""
        s = self.scores(context, top)
        total = sum(s.values()) or 1.0
        return {t: v / total for t, v in s.items()}

    def predict(self, context: list[int]) -> int:
        """The back-off argmax next token."""
        s = self.scores(context, top=5)
        return max(s, key=s.get) if s else 0
