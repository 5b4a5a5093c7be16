"""Prefix-constrained decoding: the generated text must begin with what the user already typed.

A half-typed word is a context the model never saw: BPE merges ` self` into one token, so a
prompt ending in ` se` asks the model to continue a token boundary that does not exist in its
training text. The completion engine therefore backs the prompt up to the start of that word (or
operator, or run of spaces) and asks the decoder to regenerate it: at each step only tokens whose
text agrees with the rest of the typed characters are allowed, until all of them are covered.

`TokenTable.allowed(remaining)` lists those tokens from a sorted table of the vocabulary's
strings: the tokens that are a prefix of `remaining` (found by lookup of each of its prefixes)
and the tokens that start with it (a contiguous run in sorted order, found by bisection).
"""

from __future__ import annotations

import bisect

import numpy as np


class TokenTable:
    """The decoded text of every token, indexed for prefix queries."""

    def __init__(self, tokenizer, vocab_size: int):
        self.strings = [tokenizer.decode([i]) for i in range(vocab_size)]
        usable = [(s, i) for i, s in enumerate(self.strings) if s and "\ufffd" not in s]  # not part-UTF-8 bytes
        usable.sort()
        self._sorted = [s for s, _ in usable]
        self._sorted_ids = [i for _, i in usable]
        self._exact: dict[str, list[int]] = {}
        for s, i in usable:
            self._exact.setdefault(s, []).append(i)
        self._memo: dict[str, np.ndarray] = {}

    def allowed(self, remaining: str) -> np.ndarray:
        """Token ids whose text is a prefix of `remaining` or starts with it."""
        hit = self._memo.get(remaining)
        if hit is not None:
            return hit
        ids: list[int] = []
        for k in range(1, len(remaining)):
            ids.extend(self._exact.get(remaining[:k], ()))
        lo = bisect.bisect_left(self._sorted, remaining)
        while lo < len(self._sorted) and self._sorted[lo].startswith(remaining):
            ids.append(self._sorted_ids[lo])
            lo += 1
        out = np.asarray(sorted(set(ids)), dtype=np.int64)
        if len(self._memo) > 512:  # bounded: a long typing session asks for many prefixes
            self._memo.clear()
        self._memo[remaining] = out
        return out

    def pick(self, logits: np.ndarray, remaining: str) -> int:
        """The most likely token that agrees with the `remaining` typed characters."""
        return constrained_argmax(logits, self.allowed(remaining))

    def advance(self, remaining: str, token: int) -> str:
        """What is still to be covered after `token` was generated under the constraint."""
        text = self.strings[token]
        return "" if len(text) >= len(remaining) else remaining[len(text):]


def constrained_argmax(logits: np.ndarray, allowed: np.ndarray) -> int:
    """The most likely allowed token (the plain argmax when nothing is allowed)."""
    if len(allowed) == 0:
        return int(logits.argmax())
    return int(allowed[int(logits[allowed].argmax())])


def heal_point(line_prefix: str) -> int:
    """How many characters at the end of the cursor's line to regenerate under the constraint.

    The last pre-token of the line, as the byte-level BPE splits text: a word (identifier or
    number) with the space before it, a run of punctuation with the space before it, or trailing
    spaces (only the last one on an indentation-only line). Returns 0 at the start of a line.
    """
    n = len(line_prefix)
    i = n
    if i and (line_prefix[i - 1].isalnum() or line_prefix[i - 1] == "_"):
        while i and (line_prefix[i - 1].isalnum() or line_prefix[i - 1] == "_"):
            i -= 1
    elif i and line_prefix[i - 1] == " ":
        while i and line_prefix[i - 1] == " ":
            i -= 1
        if i == 0:  # only indentation: its last space starts the statement's first token (` self`)
            return 1
        return n - i
    elif i and not line_prefix[i - 1].isspace():
        while i and not (line_prefix[i - 1].isalnum() or line_prefix[i - 1] in "_ \t"):
            i -= 1
        i = max(i, n - 3)  # a short operator run; longer ones are not one token anyway
    if i and line_prefix[i - 1] == " ":
        i -= 1  # the space belongs to the word's token (` self`, ` =`)
    return n - i
