"""Beam search on the KV cache, in numpy: the beams run through the graph as one batch.

The model only needs `forward(ids, past) -> (logits (T, V), past)` for the batch-1 prompt,
`step(tokens, past) -> (logits (B, V), past)` for one token per beam, `eot_id` and
`context_length`. The past is a dict of arrays whose first axis is the beam; it is reordered
by beam index each step, which also expands the prompt's batch-1 past to the beam count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from devassist.server.runtime.lm import GenerationResult, log_softmax


@dataclass
class _Hypothesis:
    ids: list[int]
    logprob: float  # sum of the chosen tokens' log-probabilities
    reason: str  # eot | stop for finished hypotheses, else the reason decoding ended


def normalized(logprob: float, length: int, alpha: float) -> float:
    """The length-penalised score: sum of log-probabilities / length**alpha."""
    return logprob / max(1, length) ** alpha


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite scores, best first; ties go to the lower index (as argmax)."""
    flat = scores.ravel()
    k = min(k, flat.size)
    part = np.argpartition(-flat, k - 1)[:k] if k < flat.size else np.arange(flat.size)
    part = part[np.isfinite(flat[part])]
    return part[np.lexsort((part, -flat[part]))]


def beam_search(
    lm,
    prompt_ids: list[int],
    beams: int = 4,
    max_new_tokens: int = 32,
    length_penalty: float = 1.0,
    should_stop: Callable[[list[int]], bool] | None = None,
    deadline: float | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    logits_processor: Callable[[np.ndarray, list[int]], np.ndarray] | None = None,
) -> GenerationResult:
    """The best hypothesis by sum logprob / len**length_penalty among `beams` beams.

    `alternatives` of the result lists every finished hypothesis kept (at most `beams`), best
    first, with its mean log-probability per token: a caller may pass over the best one.

    A hypothesis finishes at end-of-text (not counted in its length) or when
    `should_stop(ids)` is true. `logits_processor(logprobs, ids)` may ban tokens of one beam
    (set them to -inf) each step. When `deadline` (time.monotonic) passes, the best finished
    hypothesis is returned, else the best unfinished one with stop reason "time".
    """
    start = time.perf_counter()
    beams = max(1, int(beams))
    room = lm.context_length - 1
    max_new_tokens = max(0, min(max_new_tokens, room - 1))
    prompt = list(prompt_ids)[-(room - max_new_tokens):] if prompt_ids else [lm.eot_id or 0]

    finished: list[_Hypothesis] = []

    def result(h: _Hypothesis) -> GenerationResult:
        # the end-of-text token's probability counts in the mean, though not in the length
        n_best = [(f.ids, f.logprob / max(1, len(f.ids) + (f.reason == "eot"))) for f in finished]
        return GenerationResult(h.ids, h.reason, (time.perf_counter() - start) * 1000, len(prompt),
                                alternatives=n_best)

    if is_cancelled and is_cancelled():
        return result(_Hypothesis([], 0.0, "cancelled"))
    logits, past = lm.forward(prompt)
    last = logits[-1:]  # (1, V): one live beam until the first step fans out
    live = [_Hypothesis([], 0.0, "max_tokens")]

    def best_finished() -> _Hypothesis | None:
        return max(finished, key=lambda h: normalized(h.logprob, len(h.ids), length_penalty), default=None)

    def worst_finished_score() -> float:
        return min(normalized(h.logprob, len(h.ids), length_penalty) for h in finished)

    reason = "max_tokens"
    for step in range(max_new_tokens):
        logp = log_softmax(last)
        if logits_processor is not None:
            logp = np.stack([logits_processor(row, h.ids) for row, h in zip(logp, live)])
        scores = logp + np.array([h.logprob for h in live])[:, None]
        # Twice the beam count, so that beams finishing here still leave `beams` to continue.
        picked = _top(scores, 2 * beams)
        order, tokens, survivors = [], [], []
        for rank, flat in enumerate(picked):
            b, token = divmod(int(flat), scores.shape[1])
            h = live[b]
            # Only the `beams` best candidates may finish (as in Hugging Face's beam search): an
            # unlikely end, picked only to fill the list, would otherwise win when time runs out.
            if token == lm.eot_id:
                if rank < beams:
                    finished.append(_Hypothesis(h.ids, float(scores[b, token]), "eot"))
                continue
            ids = h.ids + [token]
            if should_stop is not None and should_stop(ids):
                if rank < beams:
                    finished.append(_Hypothesis(ids, float(scores[b, token]), "stop"))
                continue
            if len(survivors) < beams:
                order.append(b)
                tokens.append(token)
                survivors.append(_Hypothesis(ids, float(scores[b, token]), "max_tokens"))
        # Keep the `beams` best finished hypotheses; the rest can never be returned.
        finished.sort(key=lambda h: -normalized(h.logprob, len(h.ids), length_penalty))
        del finished[beams:]
        live = survivors
        if not live:
            reason = "done"
            break
        # Done when `beams` hypotheses are finished and no live beam scores better now (the
        # usual heuristic: exact when length_penalty is 0, since scores only fall).
        best_live = max(normalized(h.logprob, len(h.ids), length_penalty) for h in live)
        if len(finished) >= beams and best_live <= worst_finished_score():
            reason = "done"
            break
        if is_cancelled and is_cancelled():
            return result(_Hypothesis(max(live, key=lambda h: h.logprob).ids, 0.0, "cancelled"))
        if deadline is not None and time.monotonic() >= deadline:
            reason = "time"
            break
        if len(prompt) + step + 1 >= lm.context_length:
            reason = "context"
            break
        if step == max_new_tokens - 1:
            break  # no step to feed the last tokens into: skip that forward pass
        index = np.asarray(order, dtype=np.int64)
        if len(order) != len(last) or np.any(index != np.arange(len(order))):
            past = {name: value[index] for name, value in past.items()}
        logits, past = lm.step(tokens, past)
        last = logits
    done = best_finished()
    if done is not None:  # a finished sentence beats any unfinished one, whatever their scores
        return result(done)
    if not live:
        return result(_Hypothesis([], 0.0, "eot"))
    best = max(live, key=lambda h: normalized(h.logprob, len(h.ids), length_penalty))
    return result(_Hypothesis(best.ids, best.logprob, reason if reason != "done" else "max_tokens"))
