"""Let the docstring model choose the summary among its own sentence and retrieved ones.

Each candidate is scored by the docstring LM's log-likelihood as the FIM middle of the same
prompt the model generates from: the sentence's tokens followed by end-of-text, exactly the
target `training/docstring_data.py` trains on. The rule has a few knobs, tuned on the
validation split: a length normalisation, a margin the model's own sentence gets, and a weight
on the BM25 score of retrieved sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

from devassist.server.runtime.lm import PromptCache
from devassist.server.runtime.scoring import continuation_logprobs


@dataclass
class Candidate:
    """One summary sentence that may be chosen, with what the rule looks at."""

    text: str  # already a sentence (`as_sentence`)
    origin: str  # "model" (the greedy sentence) or "retrieval"
    bm25: float = 0.0  # retrieval score of the neighbour it comes from (0 for the model's own)
    logprob: float = 0.0  # sum of the tokens' log-probabilities, end-of-text included
    tokens: int = 0  # how many tokens were scored


@dataclass
class RerankRule:
    """score = logprob / tokens**length_penalty + bm25_weight * bm25 (+ margin for the model's own sentence)."""

    k: int = 0  # retrieved neighbours offered (0: no reranking)
    length_penalty: float = 1.0  # 1: mean log-probability per token; 0: the sum
    margin: float = 0.0  # a retrieved sentence must beat the model's own by this much
    bm25_weight: float = 0.0  # near-duplicates (high BM25) are trusted more

    def score(self, c: Candidate) -> float:
        """The candidate's score under this rule."""
        value = c.logprob / max(1, c.tokens) ** self.length_penalty + self.bm25_weight * c.bm25
        return value + (self.margin if c.origin == "model" else 0.0)

    def choose(self, candidates: list[Candidate]) -> Candidate:
        """The best-scoring candidate; the first one (the model's own, when offered) wins ties."""
        return max(candidates, key=self.score)  # max keeps the first of equal scores


def target_ids(lm, sentence: str, max_new_tokens: int) -> list[int]:
    """The tokens the model was trained to write for a sentence: the sentence (truncated), then end-of-text."""
    return lm.encode(sentence)[: max_new_tokens - 1] + [lm.eot_id]


def unique(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates with distinct text, the first (model's own, or the better-ranked neighbour) kept."""
    seen, out = set(), []
    for c in candidates:
        if c.text and c.text not in seen:
            seen.add(c.text)
            out.append(c)
    return out


def score_candidates(lm, prompt: list[int], candidates: list[Candidate], max_new_tokens: int,
                     reuse: PromptCache | None = None) -> list[Candidate]:
    """Fill each candidate's log-probability and token count in one batched forward pass."""
    ids = [target_ids(lm, c.text, max_new_tokens) for c in candidates]
    for c, cont, logp in zip(candidates, ids, continuation_logprobs(lm, prompt, ids, reuse)):
        c.logprob, c.tokens = float(logp.sum()), len(cont)
    return candidates
