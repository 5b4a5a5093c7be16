"""Log-likelihood of several continuations of one prompt, in one batched pass over its KV cache.

The model needs `forward(ids, past) -> (logits (T, V), past)` for the batch-1 prompt and
`forward_batch(rows (B, T), past (B, ...)) -> (logits (B, T, V), past)`. The prompt's cache is
computed once (or taken from a `PromptCache` that generation filled) and repeated along the
batch axis, so each candidate costs only its own tokens.
"""

from __future__ import annotations

import numpy as np

from devassist.server.runtime.lm import PromptCache, log_softmax


def prompt_past(lm, prompt: list[int], reuse: PromptCache | None = None) -> dict[str, np.ndarray]:
    """The batch-1 KV cache of all prompt tokens but the last, from `reuse` when it holds them."""
    keep = len(prompt) - 1
    if reuse is not None and reuse.past is not None and reuse.common_prefix(prompt) >= keep:
        return {name: value[:, :, :keep] for name, value in reuse.past.items()}
    if keep == 0:
        return lm._empty_past()
    return lm.forward(prompt[:keep])[1]


def continuation_logprobs(lm, prompt_ids: list[int], continuations: list[list[int]],
                          reuse: PromptCache | None = None) -> list[np.ndarray]:
    """Log-probability (natural log) of each token of each continuation, given the prompt before it.

    The last prompt token is fed again as the first token of every row: its logits predict each
    continuation's first token, so nothing but the cache has to be kept from generation.
    """
    prompt = list(prompt_ids)
    if not continuations:
        return []
    if not prompt:
        raise ValueError("continuation_logprobs needs a prompt of at least one token")
    past = prompt_past(lm, prompt, reuse)
    width = max(1, max(len(c) for c in continuations))
    rows = np.full((len(continuations), width), prompt[-1], dtype=np.int64)  # right padding: ignored
    for i, cont in enumerate(continuations):
        rows[i, 1 : len(cont)] = cont[:-1]
    batched = {name: np.repeat(value, len(continuations), axis=0) for name, value in past.items()}
    logits, _ = lm.forward_batch(rows, batched)
    out = []
    for i, cont in enumerate(continuations):
        logp = log_softmax(logits[i, : len(cont)])
        out.append(logp[np.arange(len(cont)), np.asarray(cont, dtype=np.int64)])
    return out
