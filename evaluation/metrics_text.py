"""Text similarity for docstrings: CodeXGLUE's smoothed sentence BLEU-4 and ROUGE-L.

BLEU follows CodeXGLUE's code-to-text `evaluator.py`: lower-case, tokens `[\\w]+|[^\\s\\w]`,
clipped n-gram counts up to 4, add-one smoothing on the 2- to 4-gram precisions (the unigram
precision is not smoothed), brevity penalty `min(0, 1 - (r+1)/(h+1))` added in log space; the
corpus score is the mean of sentence scores x 100. ROUGE-L is the LCS F1 over the same tokens.
The entry counts read a generated docstring's sections back: empty entries, entries that only
echo code ("``ret``.", "The result.") and marked placeholders.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter

from devassist.server.features.docstring.describe import is_placeholder
from devassist.server.features.docstring.styles import parse_docstring

_TOKEN = re.compile(r"[\w]+|[^\s\w]")
_TINY = sys.float_info.min


def tokenize(text: str) -> list[str]:
    """CodeXGLUE tokens: lower-cased words and single punctuation marks."""
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(reference: str, hypothesis: str, max_n: int = 4) -> float:
    """Smoothed sentence BLEU-4 in [0, 1], exactly as CodeXGLUE scores one example."""
    ref, hyp = tokenize(reference), tokenize(hypothesis)
    log_bleu = 0.0
    for n in range(1, max_n + 1):
        counts = _ngrams(hyp, n)
        ref_counts = _ngrams(ref, n)
        correct = sum(min(c, ref_counts[g]) for g, c in counts.items())
        guess = max(0, len(hyp) - n + 1)
        smooth = 1 if n > 1 else 0
        log_bleu += math.log(correct + smooth + _TINY) - math.log(guess + smooth + _TINY)
    log_bleu /= max_n
    log_bleu += min(0.0, 1 - (len(ref) + 1) / (len(hyp) + 1))
    return math.exp(log_bleu)


def corpus_bleu(references: list[str], hypotheses: list[str]) -> float:
    """Mean smoothed sentence BLEU-4 x 100 (CodeXGLUE's reported number)."""
    if not references:
        return 0.0
    return 100.0 * sum(sentence_bleu(r, h) for r, h in zip(references, hypotheses)) / len(references)


def _lcs(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(reference: str, hypothesis: str) -> float:
    """ROUGE-L F1 in [0, 1] over CodeXGLUE tokens."""
    ref, hyp = tokenize(reference), tokenize(hypothesis)
    lcs = _lcs(ref, hyp)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(hyp), lcs / len(ref)
    return 2 * p * r / (p + r)


def corpus_rouge_l(references: list[str], hypotheses: list[str]) -> float:
    """Mean ROUGE-L F1 x 100."""
    if not references:
        return 0.0
    return 100.0 * sum(rouge_l(r, h) for r, h in zip(references, hypotheses)) / len(references)


_ECHO = re.compile(r"^(?:``[^`]+``(?: or ``[^`]+``)*\.?|the result\.?)$", re.I)


def entry_counts(docstring: str, style: str) -> dict:
    """Entries of the generated sections: how many, how many empty, echoing code, or a placeholder."""
    model = parse_docstring(docstring, style)
    counts = {"entries": 0, "empty": 0, "echo": 0, "placeholder": 0, "returns": 0, "returns_echo": 0}
    for block in model.blocks:
        if block.kind not in ("params", "returns", "yields", "raises"):
            continue
        for entry in block.entries:
            text = " ".join(line.strip() for line in entry.desc).strip()
            counts["entries"] += 1
            counts["returns"] += block.kind == "returns"
            if not text:
                counts["empty"] += 1
            elif _ECHO.match(text):
                counts["echo"] += 1
                counts["returns_echo"] += block.kind == "returns"
            elif is_placeholder([text]):
                counts["placeholder"] += 1
    return counts


def faithfulness_rates(counts: dict, flagged: dict, n: int) -> dict:
    """The faithfulness part of the report, in percent."""
    total = max(1, counts["entries"])
    return {
        "hallucination_rate": {k: round(100.0 * v / n, 2) if n else 0.0 for k, v in flagged.items()},
        "entries": counts["entries"],
        "empty_entry_rate": round(100.0 * (counts["empty"] + counts["echo"]) / total, 2),
        "empty": counts["empty"], "echo": counts["echo"], "returns_echo": counts["returns_echo"],
        "placeholder_rate": round(100.0 * counts["placeholder"] / total, 2),
    }
