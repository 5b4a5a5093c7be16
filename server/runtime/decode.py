"""Greedy KV-cache decoding over any `forward(ids, past) -> (logits, past)`: one loop for both sides.

The editor's server runs it on its own onnxruntime session (`LanguageModel.generate`); the
Triton `generate` model runs the very same file next to its session (`devassist export
--triton` copies it, with `constrain.py` and `ngram.py`, into the model folder), so a remote
completion yields the same tokens as a local one. That is why this module imports nothing of
ours: the prefix constraint and the n-gram cache come in as objects (duck-typed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class GenerationResult:
    """What `generate` produced and why it stopped."""

    ids: list[int]
    stop_reason: str  # eot | max_tokens | stop | time | cancelled | context
    elapsed_ms: float
    prompt_tokens: int
    logprobs: list[float] = field(default_factory=list)  # the model's log-probability of each generated token
    # beam search: the finished hypotheses, best first, as (ids, mean log-probability per token)
    alternatives: list[tuple[list[int], float]] = field(default_factory=list)


def session_forward(session, rows: np.ndarray, past: dict[str, np.ndarray], inputs: set[str] | None = None,
                    outputs: list[str] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run B rows of T new tokens after a batched `past` on an optimum GPT-2 ONNX session.

    Returns logits (B, T, V) float32 and the new cache under the `past_key_values.*` names.
    `inputs`/`outputs`: the graph's names, when the caller keeps them (read from `session` otherwise).
    Rows may be right-padded: attention is causal, so a padding token changes only the logits at
    and after its own position, which the caller ignores.
    """
    rows = np.asarray(rows, dtype=np.int64)
    batch, t = rows.shape
    past_len = next(iter(past.values())).shape[2]
    inputs = inputs if inputs is not None else {i.name for i in session.get_inputs()}
    outputs = outputs if outputs is not None else [o.name for o in session.get_outputs()]
    feeds = dict(past)
    feeds["input_ids"] = rows
    if "attention_mask" in inputs:
        feeds["attention_mask"] = np.ones((batch, past_len + t), dtype=np.int64)
    if "position_ids" in inputs:
        feeds["position_ids"] = np.broadcast_to(np.arange(past_len, past_len + t, dtype=np.int64), (batch, t))
    values = session.run(outputs, feeds)
    present = {name.replace("present", "past_key_values"): v for name, v in zip(outputs[1:], values[1:])}
    return values[0].astype(np.float32, copy=False), present


def empty_past(n_layer: int, n_head: int, head_dim: int, dtype) -> dict[str, np.ndarray]:
    """A zero-length KV cache for one sequence: (1, n_head, 0, head_dim) per layer and key/value."""
    empty = np.zeros((1, n_head, 0, head_dim), dtype=dtype)
    return {f"past_key_values.{i}.{kv}": empty for i in range(n_layer) for kv in ("key", "value")}


def greedy(
    forward: Callable[[list[int], dict | None], tuple[np.ndarray, dict]],
    prompt_ids: list[int],
    context_length: int,
    eot_id: int | None,
    max_new_tokens: int = 32,
    should_stop: Callable[[list[int]], bool] | None = None,
    deadline: float | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    cache=None,
    cache_weight: float = 0.0,
    ignore_eot: bool = False,
    reuse=None,
    logits_processor: Callable[[np.ndarray, list[int]], np.ndarray] | None = None,
    required: str = "",
    table=None,
    stop_after: Callable[[list[int], list[float]], bool] | None = None,
) -> GenerationResult:
    """Greedy decoding with the KV cache (the loop behind `LanguageModel.generate`, whose docstring
    explains the options). `forward(ids, past)` returns logits (T, V) and the new cache (`past`
    None: from the start); `table` is the `TokenTable` that `required` is checked against; `cache`
    an `NgramCache`; `reuse` a `PromptCache`."""
    start = time.perf_counter()
    room = context_length - 1
    remaining = required
    max_new_tokens = max(0, min(max_new_tokens + min(len(required), 4), room - 1))
    prompt = list(prompt_ids)[-(room - max_new_tokens):] if prompt_ids else [eot_id or 0]
    generated: list[int] = []
    logprobs: list[float] = []
    reason = "max_tokens"
    if is_cancelled and is_cancelled():
        return GenerationResult([], "cancelled", 0.0, len(prompt))
    keep = reuse.common_prefix(prompt) if reuse is not None and reuse.past is not None else 0
    keep = min(keep, len(prompt) - 1)  # at least one token must run, for its logits
    if keep >= 8:
        past = {k: v[:, :, :keep] for k, v in reuse.past.items()}
        logits, past = forward(prompt[keep:], past)
    else:
        logits, past = forward(prompt, None)
    fed = list(prompt)
    last = logits[-1]
    for _ in range(max_new_tokens):
        if logits_processor is not None:
            last = logits_processor(last, generated)
        if remaining:
            token = table.pick(last, remaining)
            remaining = table.advance(remaining, token)
        elif cache is not None and cache_weight > 0:
            token = cache.pick(last, cache_weight)
        else:
            token = int(last.argmax())
        if token == eot_id and not ignore_eot:
            reason = "eot"
            break
        generated.append(token)
        top = float(last.max())
        logprobs.append(float(last[token]) - top - float(np.log(np.exp(last - top).sum())))
        if cache is not None:
            cache.push(token)
        if should_stop and should_stop(generated):
            reason = "stop"
            break
        if stop_after and stop_after(generated, logprobs):
            reason = "stop"
            break
        if is_cancelled and is_cancelled():
            reason = "cancelled"
            break
        if deadline is not None and time.monotonic() >= deadline:
            reason = "time"
            break
        if len(prompt) + len(generated) >= context_length:
            reason = "context"
            break
        logits, past = forward([token], past)
        fed.append(token)
        last = logits[-1]
    if reuse is not None:
        reuse.ids, reuse.past = fed, past
    return GenerationResult(generated, reason, (time.perf_counter() - start) * 1000, len(prompt), logprobs)


def first_stop(result: GenerationResult, should_stop: Callable[[list[int]], bool] | None,
               stop_after: Callable[[list[int], list[float]], bool] | None = None) -> GenerationResult:
    """`result` cut where `should_stop` or `stop_after` would have ended the loop (for tokens
    decoded without them).

    A remote decoder cannot run the editor's stop rules, so it decodes on and the client cuts:
    greedy decoding is deterministic, so the cut tokens are exactly the ones the loop would have
    produced with the rules in place.
    """
    if should_stop is None and stop_after is None:
        return result
    for k in range(1, len(result.ids) + 1):
        if (should_stop is not None and should_stop(result.ids[:k])) or \
                (stop_after is not None and stop_after(result.ids[:k], result.logprobs[:k])):
            return GenerationResult(result.ids[:k], "stop", result.elapsed_ms, result.prompt_tokens,
                                    result.logprobs[:k])
    return result
