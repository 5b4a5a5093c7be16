"""What a summarizer is asked and answers, and the summarizers that need no model.

`SummaryRequest` is what a summarizer may look at, `Summary` what it returns; the template
(the name as a sentence), the parse's own summary and BM25 retrieval are the summarizers that
run without a model (the model's is `summary.FimSummarizer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from devassist.server.features.docstring.anchor import (
    anchored, contradicts_name, general_name_unbacked, invented_object, unnamed_object)
from devassist.server.features.docstring.facts import FunctionFacts
from devassist.server.features.docstring.faithful import false_claims, ungrounded, unsupported
from devassist.server.features.docstring.fallback import (
    parse_summary,
    summary_placeholder,
    words_of,
)
from devassist.server.features.docstring.retrieval import BM25Index, code_tokens
from devassist.server.features.docstring.sentence_shape import kind_of_itself, moves_to_itself, negates_test, stutters


@dataclass
class SummaryRequest:
    """What a summarizer may look at: the definition and its surroundings."""

    name: str
    kind: str  # "function" or "class"
    header: str  # decorators and the signature, up to and including the colon
    body: str  # the body's lines after the header, without a docstring
    indent: str = "    "  # the body's indentation
    before: str = ""  # file text before the definition
    facts: FunctionFacts | None = None  # the parse's facts, for the fallback summary
    qualname: str = ""
    allowed: set[str] | None = None  # the vocabulary a faithful summary may draw on (None: unchecked)
    own: set[str] | None = None  # the function's own vocabulary: a summary must be about it (None: unchecked)

    @property
    def code(self) -> str:
        """The definition's text without its docstring."""
        return f"{self.header}\n{self.body}"


@dataclass
class Summary:
    """A summary sentence, an optional longer description, and who wrote it."""

    text: str
    description: str | None = None
    source: str = "template"  # template | fallback | placeholder | retrieval | model | cancelled
    elapsed_ms: float = 0.0
    confidence: float | None = None  # the model's mean log-probability per token, when a model wrote it
    draft: str | None = None  # the model's first sentence before any check (to measure what the checks change)


class Summarizer(Protocol):
    """Anything that writes a summary line."""

    name: str

    def summarize(self, request: SummaryRequest, deadline: float | None = None,
                  is_cancelled: Callable[[], bool] | None = None) -> Summary:
        """A summary for the request, finishing by `deadline` (time.monotonic) if possible."""
        ...


def as_sentence(text: str) -> str:
    """One line, capitalised, ending with a period."""
    text = " ".join(text.split()).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def name_sentence(name: str) -> str:
    """`get_user_name` -> "Get user name."; `HTTPServer` -> "HTTP server."."""
    return as_sentence(" ".join(words_of(name)) or name.strip("_") or name)


def is_faithful(summary: str, request: SummaryRequest) -> bool:
    """Whether every mention of a summary is supported by the allowed context, the summary is about this
    function (its words, and a word of its name, or for a name of general words only, the signature's and
    the calls' words), the object it ends on occurs in the allowed context, its shape does not give it away
    (`sentence_shape`), and the parse refutes none of its claims."""
    if request.allowed is not None and (unsupported(summary, request.allowed)
                                        or invented_object(summary, request.allowed)):
        return False
    if moves_to_itself(summary) or stutters(summary) or kind_of_itself(summary, request.name) \
            or negates_test(summary, request.name, request.body):
        return False
    if request.own is None:
        return True
    if ungrounded(summary, request.own, request.allowed) or not anchored(summary, request.name):
        return False
    facts = request.facts
    prop = facts is not None and bool({"property", "cached_property"} & set(facts.decorators))
    if contradicts_name(summary, request.name, prop) or unnamed_object(summary, request.name, request.qualname, facts):
        return False
    if general_name_unbacked(summary, request.name, request.qualname, facts, request.body):
        return False
    return not false_claims(summary, request.facts, request.own, request.body)


class TemplateSummarizer:
    """The name turned into a sentence (also the last-resort fallback)."""

    name = "template"

    def summarize(self, request: SummaryRequest, deadline: float | None = None,
                  is_cancelled: Callable[[], bool] | None = None) -> Summary:
        """The request's name as a sentence."""
        return Summary(name_sentence(request.name), source=self.name)


class ParseSummarizer:
    """The parse's own summary (`fallback.parse_summary`), else the marked placeholder."""

    name = "fallback"

    def summarize(self, request: SummaryRequest, deadline: float | None = None,
                  is_cancelled: Callable[[], bool] | None = None) -> Summary:
        """A summary from the name, parameters and body; the placeholder when nothing good can be said."""
        text = parse_summary(request.facts, request.qualname) if request.facts is not None else None
        if text is None:
            return Summary(summary_placeholder(request.name), source="placeholder")
        return Summary(text, source=self.name)


class RetrievalSummarizer:
    """The first sentence of the most similar documented function's docstring (BM25)."""

    name = "retrieval"

    def __init__(self, index: BM25Index, fallback: Summarizer | None = None):
        self.index = index
        self.fallback = fallback or ParseSummarizer()

    def candidates(self, request: SummaryRequest, k: int = 5) -> list[tuple[str, float]]:
        """The k best (sentence, score) pairs."""
        return [(self.index.sentences[i], s) for i, s in self.index.top(code_tokens(request.code), k)]

    def summarize(self, request: SummaryRequest, deadline: float | None = None,
                  is_cancelled: Callable[[], bool] | None = None) -> Summary:
        """The best match's first sentence, or the template when nothing matches."""
        start = time.perf_counter()
        best = self.candidates(request, 1)
        if not best:
            return self.fallback.summarize(request, deadline)
        return Summary(as_sentence(best[0][0]), source=self.name, elapsed_ms=(time.perf_counter() - start) * 1000)
