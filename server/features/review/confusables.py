"""Which tokens could be a slip for which others: the one-token alternatives the signals graph scores."""

from __future__ import annotations

import numpy as np

_OPERATOR_ALTERNATIVES = {
    "<": ("<=", ">"), "<=": ("<", ">="), ">": (">=", "<"), ">=": (">", "<="), "==": ("!=", "is"),
    "!=": ("==",), "is": ("==",), "and": ("or",), "or": ("and",), "+": ("-",), "-": ("+",), "*": ("/",),
    "/": ("*", "//"), "//": ("/",), "%": ("//",), "+=": ("-=",), "-=": ("+=",), "<<": (">>",), ">>": ("<<",),
    "|": ("&",), "&": ("|",),
}
_KEYWORDS = frozenset(
    "False None True and as assert async await break class continue def del elif else except finally for from "
    "global if import in is lambda nonlocal not or pass raise return try while with yield self cls".split())
MAX_ALTERNATIVES = 12  # candidate replacements scored per token


class Confusables:
    """Which tokens could be a slip for which others: operators, small integers, and names."""

    def __init__(self, tokenizer):
        vocab = tokenizer.get_vocab()
        self.static: dict[int, list[int]] = {}
        for space in ("", "Ġ"):
            for tok, alts in _OPERATOR_ALTERNATIVES.items():
                if space + tok in vocab:
                    ids = [vocab[space + a] for a in alts if space + a in vocab]
                    if ids:
                        self.static[vocab[space + tok]] = ids
            for n in range(0, 65):
                if space + str(n) in vocab:
                    ids = [vocab[space + str(m)] for m in (n - 1, n + 1) if m >= 0 and space + str(m) in vocab]
                    if ids:
                        self.static[vocab[space + str(n)]] = ids
        size = max(vocab.values()) + 1
        self.is_name = np.zeros(size, dtype=bool)
        self.spaced = np.zeros(size, dtype=bool)
        for tok, i in vocab.items():
            bare = tok[1:] if tok.startswith("Ġ") else tok
            if bare.isidentifier() and bare not in _KEYWORDS and not bare.isdigit():
                self.is_name[i] = True
                self.spaced[i] = tok.startswith("Ġ")
        # the per-token loop below reads plain Python containers: numpy scalars cost 10x more there
        self._spaced_name = {i: bool(self.spaced[i]) for i in np.flatnonzero(self.is_name).tolist()}

    def alternatives(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(n, MAX_ALTERNATIVES) candidate ids for each token of a sequence (-1 = none) and the kind (0 none, 1 op, 2 name)."""
        n = len(ids)
        alts = np.full((n, MAX_ALTERNATIVES), -1, dtype=np.int64)
        kind = np.zeros(n, dtype=np.int8)
        seen: dict[bool, dict[int, None]] = {False: {}, True: {}}  # names used so far, in order
        static, names = self.static, self._spaced_name
        for j, t in enumerate(ids):
            if t in static:
                cand = static[t][:MAX_ALTERNATIVES]
                kind[j] = 1
            elif t in names:
                # A name is a possible slip only where it is reused; its rivals are names used before it.
                pool = seen[names[t]]
                cand = [c for c in reversed(pool) if c != t][:MAX_ALTERNATIVES] if t in pool else []
                pool.pop(t, None)
                pool[t] = None
                if not cand:
                    continue
                kind[j] = 2
            else:
                continue
            alts[j, : len(cand)] = cand
        return alts, kind
