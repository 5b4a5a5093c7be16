"""The completion list's other choices: the words the model ranks next, each finished greedily.

The inline suggestion is one greedy continuation; a list should offer the second and third
guess too. At the cursor the model's most likely first tokens (those that agree with the typed
characters, see `runtime/constrain.py`) each start a candidate, and all candidates are continued
together in one batch until their word ends (the next token would start with a space or
punctuation). Ranked by the candidate's total log-probability; duplicates merged.
"""

from __future__ import annotations

import numpy as np

from devassist.server.runtime.constrain import constrained_argmax
from devassist.server.runtime.lm import LanguageModel, PromptCache, log_softmax

MAX_WORD_TOKENS = 6  # a word longer than this many tokens is cut (rare in code)


def _continues_word(token_text: str) -> bool:
    """Whether a token glues onto the word before it (no space, an identifier character)."""
    return bool(token_text) and (token_text[0].isalnum() or token_text[0] == "_")


def word_alternatives(lm: LanguageModel, prompt: list[int], heal: str, reuse: PromptCache,
                      k: int = 8) -> list[tuple[str, float]]:
    """Up to `k` (word after the typed characters, log-probability) pairs, best first."""
    if not prompt or k <= 0:
        return []
    table = lm.token_table
    keep = reuse.common_prefix(prompt) if reuse.past is not None else 0
    keep = min(keep, len(prompt) - 1)
    if keep >= 8:
        logits, past = lm.forward(prompt[keep:], {n: v[:, :, :keep] for n, v in reuse.past.items()})
    else:
        logits, past = lm.forward(prompt)
    logp = log_softmax(logits[-1])  # (V,)
    typed = heal
    lead: list[int] = []  # typed punctuation or spaces (`.`, `(`) regenerated before branching
    if heal and not (heal[-1].isalnum() or heal[-1] in "_ \t"):  # ends in punctuation: no word merges into it
        while heal:
            token = constrained_argmax(logp, table.allowed(heal))
            heal = table.advance(heal, token)
            lead.append(token)
            logits, past = lm.forward([token], past)
            logp = log_softmax(logits[-1])
    if heal:
        pool = table.allowed(heal)
    else:
        specials = set(lm.special_ids.values())
        pool = np.asarray([i for i in np.argsort(-logp)[: 2 * k] if i not in specials and table.strings[i].strip()])
    if len(pool) == 0:
        return []
    first = pool[np.argsort(-logp[pool], kind="stable")[:k]]
    rows = [[int(t)] for t in first]
    scores = [float(logp[t]) for t in first]
    remaining = [table.advance(heal, int(t)) if heal else "" for t in first]
    done = [False] * len(rows)
    batch_past = {n: np.repeat(v, len(rows), axis=0) for n, v in past.items()}  # (B, H, T, D)
    for _ in range(MAX_WORD_TOKENS - 1):
        step_logits, batch_past = lm.step([r[-1] for r in rows], batch_past)
        step_logp = log_softmax(step_logits)  # (B, V)
        for b, row in enumerate(rows):
            if done[b]:
                continue
            if remaining[b]:
                token = constrained_argmax(step_logp[b], table.allowed(remaining[b]))
                remaining[b] = table.advance(remaining[b], token)
            else:
                token = int(step_logp[b].argmax())
                if not _continues_word(table.strings[token]):
                    done[b] = True
                    continue
            row.append(token)
            scores[b] += float(step_logp[b, token])
        if all(done):
            break
    best: dict[str, float] = {}
    for row, score, left in zip(rows, scores, remaining):
        text = lm.decode(lead + row)
        if left or not text.startswith(typed):
            continue
        word = text[len(typed):]
        if not word.strip() or word.strip().startswith("#"):
            continue
        best[word] = max(best.get(word, -np.inf), score)
    return sorted(best.items(), key=lambda kv: -kv[1])[:k]
