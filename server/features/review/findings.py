"""Token-level bug findings: a slot where the model much prefers a confusable replacement.

The review signals graph scores, for every operator, small integer and reused name, up to 12
confusable alternatives under the LM with left context only (`signals.py`). Here those
margins become findings: a slot is a *candidate* when its left-context margin passes a low
prefilter; the few best candidates of a function are then re-scored with right context too
(the LM's surprisal of the function up to the end of the next line with the replacement
substituted, against the original's), and a candidate is a finding when that margin plus the
weighted bug detector's token logit (`TokenCandidate.score`) passes the calibrated threshold
(`review_findings.json`). Slots inside strings, comments and docstrings are never candidates, nor are BPE
pieces that are only part of a Python token.
"""

from __future__ import annotations

import ast
import bisect
import io
import itertools
import keyword
import tokenize
from dataclasses import dataclass
from typing import Callable

import numpy as np

from devassist.server.features.review.rewrites import (DROP_NOT, REWRITE_KINDS, SWAP_ARGS, span_tokens,
                                                        structural_rewrites)
from devassist.server.features.review.signals import FunctionSignal

CODE_BUG = "likely-bug"
PREFILTER_MARGIN = 0.0  # left-context margin (nats) a slot needs before it is re-scored with right context
RESCORED_PER_FUNCTION = 2  # candidates per function re-scored with right context (one model run each)
# Which candidates are re-scored: the best by left margin + this * the detector's token logit (the
# weight calibrate-findings chose for the score on 2026-12-02; fixed, so calibration sees what serving does).
RANK_DETECTOR_WEIGHT = 4.0
STRUCTURAL_PER_FUNCTION = 1  # `not` and argument-order rewrites re-scored per function (best detector logit)
RIGHT_CONTEXT_LINES = 1  # lines after the slot's own line that the re-scoring reads (cost grows with them)
DEFAULT_THRESHOLD = 4.0  # full-context margin (nats); the bundle's calibration overrides it

_OPERATOR_WORDS = {"<": "less than", "<=": "less than or equal", ">": "greater than", ">=": "greater than or equal"}


@dataclass
class TokenCandidate:
    """A slot where a confusable replacement is more likely than the written token."""

    start: int  # character offset in the function text
    end: int
    written: str
    replacement: str
    kind: str  # "operator", "number", "name", or a rewrite: "drop_not", "add_not", "swap_args"
    left_margin: float  # log p(replacement) - log p(written), left context only (nats)
    margin: float = float("nan")  # the same with right context, once re-scored
    token: int = -1  # index of the slot's token in the function's signal
    detector: float = 0.0  # the bug detector's logit at that token (0 without a detector)

    def score(self, detector_weight: float = 0.0) -> float:
        """What the threshold is compared with: the re-scored margin plus the weighted detector logit."""
        return self.margin + detector_weight * self.detector

    def line(self, text: str) -> int:
        """0-based line of the slot in `text`."""
        return text.count("\n", 0, self.start)

    def message(self) -> str:
        """What the editor says, in plain words."""
        if self.kind == SWAP_ARGS:
            return (f"The arguments `{self.written}` look swapped; `{self.replacement}` is the order this code "
                    f"usually has")
        if self.kind == DROP_NOT:
            return f"`{self.written}` here looks unusual; this code usually has `{self.replacement}` without the `not`"
        if self.kind == "name":
            return (f"`{self.written}` here looks unusual; `{self.replacement}` is the name this code "
                    f"usually has in this place")
        return f"`{self.written}` here looks unusual; `{self.replacement}` is what this code usually has"

    def fixed(self, text: str) -> str:
        """`text` with the replacement applied."""
        return text[: self.start] + self.replacement + text[self.end :]


def code_tokens(text: str) -> dict[int, tuple[int, str]]:
    """Python tokens outside strings and comments: start offset -> (end offset, token type name).

    A text that does not tokenize yields the tokens before the error (a finding needs a
    token it can be sure of).
    """
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    out: dict[int, tuple[int, str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type not in (tokenize.OP, tokenize.NAME, tokenize.NUMBER):
                continue
            (sl, sc), (el, ec) = tok.start, tok.end
            if sl - 1 >= len(starts) or el - 1 >= len(starts):
                break
            kind = "NAME" if tok.type == tokenize.NAME else ("NUMBER" if tok.type == tokenize.NUMBER else "OP")
            out[starts[sl - 1] + sc] = (starts[el - 1] + ec, kind)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _kind(written: str, python_kind: str) -> str | None:
    """The candidate kind of a Python token, or None if it is not one review compares."""
    if python_kind == "NUMBER":
        return "number" if written.isdigit() else None
    if python_kind == "NAME":
        if written in ("and", "or", "is"):
            return "operator"
        return None if keyword.iskeyword(written) else "name"
    return "operator"


_BINDING_BEFORE = frozenset({"for", "as", "def", "class", "import", "global", "nonlocal", "lambda"})


def _binds(text: str, tokens: dict[int, tuple[int, str]], starts: list[int], a: int) -> bool:
    """Whether the name at `a` is bound or a keyword argument there (`x = ...`, `f(key=...)`,
    `for x in`): a slip of a name is a *use* of the wrong variable, so bindings are no candidates."""
    k = bisect.bisect_left(starts, a)
    after = text[starts[k + 1] : tokens[starts[k + 1]][0]] if k + 1 < len(starts) else ""
    before = text[starts[k - 1] : tokens[starts[k - 1]][0]] if k > 0 else ""
    return after == "=" or before in _BINDING_BEFORE


def token_candidates(sig: FunctionSignal, text: str, decode: Callable[[int], str],
                     prefilter: float = PREFILTER_MARGIN) -> list[TokenCandidate]:
    """Slots of one function whose best confusable beats the written token by `prefilter` nats
    (left context only), best first by that margin + RANK_DETECTOR_WEIGHT * the detector's token
    logit; only whole Python tokens outside strings and comments."""
    if sig.best_alternative is None or sig.token_offsets is None:
        return []
    margins = np.fmax(np.nan_to_num(sig.op_margin, nan=-np.inf), np.nan_to_num(sig.name_margin, nan=-np.inf))
    slots = np.flatnonzero(margins > prefilter)
    if not len(slots):
        return []
    rank = margins.copy()
    if sig.detector_logits is not None and len(sig.detector_logits) == len(margins):
        rank = rank + RANK_DETECTOR_WEIGHT * np.asarray(sig.detector_logits, dtype=np.float64)
    tokens = code_tokens(text)
    # A name's replacement must be a whole name of this function, not a BPE piece of one.
    names = {text[a:e] for a, (e, k) in tokens.items() if k == "NAME"}
    starts = sorted(tokens)
    out = []
    for j in slots[np.argsort(-rank[slots], kind="stable")]:
        alt = int(sig.best_alternative[j])
        if alt < 0 or j >= len(sig.token_offsets):
            continue
        a, b = sig.token_offsets[j]
        piece = text[a:b]
        a += len(piece) - len(piece.lstrip())
        found = tokens.get(a)
        if found is None or found[0] != b:
            continue  # part of a longer token, or inside a string or comment
        written = text[a:b]
        kind = _kind(written, found[1])
        replacement = decode(alt).strip()
        if kind is None or not replacement or replacement == written:
            continue
        if kind == "name" and (replacement not in names or _binds(text, tokens, starts, a)):
            continue
        out.append(TokenCandidate(a, b, written, replacement, kind, float(margins[j]), token=int(j)))
    return out


def rewrite_candidates(sig: FunctionSignal, text: str, keep: int = STRUCTURAL_PER_FUNCTION) -> list[TokenCandidate]:
    """The `keep` rewrites of a function (`rewrites.py`: `not` dropped or added, arguments
    exchanged) where the bug detector's largest token logit over the span is highest; none
    without detector logits (nothing cheap would rank them)."""
    if sig.detector_logits is None or sig.token_offsets is None or keep <= 0:
        return []
    logits = np.asarray(sig.detector_logits, dtype=np.float64)
    pairs = np.asarray(sig.token_offsets[: len(logits)], dtype=np.int64).reshape(-1, 2)  # once, not per rewrite
    ranked = []
    for kind, a, b, replacement in structural_rewrites(text):
        idx = span_tokens(pairs, a, b)
        if len(idx):
            j = int(idx[np.argmax(logits[idx])])
            ranked.append((logits[j], TokenCandidate(a, b, text[a:b], replacement, kind, float("nan"), token=j)))
    ranked.sort(key=lambda r: -r[0])
    return list(itertools.islice((c for _, c in ranked if _parses(c.fixed(text))), keep))  # parse only what is kept


def _cut(text: str, start: int, lines_after: int = RIGHT_CONTEXT_LINES) -> int:
    """Where the right context of a slot ends: after its line and `lines_after` more (or the text's end)."""
    cut = start
    for _ in range(lines_after + 1):
        cut = text.find("\n", cut + 1 if cut > start else cut)
        if cut < 0:
            return len(text)
    return cut


def rescore(candidates: list[TokenCandidate], text: str, sig: FunctionSignal,
            surprisal_of: Callable[[list[str]], list[float | None]],
            suffix_margin: Callable[[FunctionSignal, str, str], float | None] | None = None) -> list[TokenCandidate]:
    """Fill each candidate's margin with right context: the summed surprisal of the function up
    to the end of the next line as written minus with the replacement. `suffix_margin` (the
    signals' KV-cache path) runs both only from the slot on; otherwise `surprisal_of` runs the
    LM on the whole rewritten prefix (the written one is already scored). Dropped if not reached."""
    if not candidates or sig.token_surprisal is None or sig.token_offsets is None:
        return []
    if suffix_margin is not None and sig.past:
        rest = []
        for c in candidates:
            cut = _cut(text, c.start)
            c.margin = suffix_margin(sig, text[:cut], c.fixed(text)[: cut + len(c.replacement) - len(c.written)])
            if c.margin is None:
                c.margin = float("nan")
                rest.append(c)
        kept = {id(c) for c in rescore(rest, text, sig, surprisal_of)}
        return [c for c in candidates if not np.isnan(c.margin) or id(c) in kept]
    ends = np.asarray([b for _, b in sig.token_offsets[: len(sig.token_surprisal)]], dtype=np.int64)
    cuts = [_cut(text, c.start) for c in candidates]
    totals = surprisal_of([c.fixed(text)[: cut + len(c.replacement) - len(c.written)]
                           for c, cut in zip(candidates, cuts)])
    out = []
    for c, cut, total in zip(candidates, cuts, totals):
        if total is None:
            continue
        written = float(np.sum(sig.token_surprisal[: len(ends)][ends <= cut]))
        c.margin = written - float(total)
        out.append(c)
    return out


def _parses(text: str) -> bool:
    """Whether a rewrite is still Python (`x is not y` -> `x == not y` is not a fix)."""
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


@dataclass
class RescoreGate:
    """Which chosen candidates are worth re-scoring: those that could still pass their threshold.

    Calibration re-scores every chosen candidate and records, per kind, the most the right context
    ever added to a left-context margin (token kinds) or the largest re-scored margin (rewrites),
    plus `RESCORE_SLACK` (`rescore_bounds` in `review_findings.json`). A candidate whose left
    margin (or nothing) plus that bound plus the weighted detector logit stays under its
    threshold cannot become a finding there, so its model run is skipped (in the 2,000-line
    benchmark file 91 of 150 with a slack of 2 nats; the findings were the same).
    """

    record: dict
    default: float  # the bundle's one threshold (kinds without their own use it)
    shift: float = 0.0  # the user's `finding_threshold_shift`: a lower threshold gates less

    def worth(self, c: TokenCandidate, detector: float) -> bool:
        """Whether `c` (with its detector logit) could pass its threshold once re-scored."""
        bound = self.record.get("rescore_bounds", {}).get(c.kind)
        if bound is None:
            return True
        best = bound if c.kind in REWRITE_KINDS else c.left_margin + bound
        weight = float(self.record.get("detector_weight", 0.0))
        return best + weight * detector > kind_threshold(self.record, c.kind, self.default) + self.shift

    def any_token(self, sig: FunctionSignal) -> bool:
        """Whether any operator, number or name slot of a signal could pass (else none is looked up)."""
        logits = sig.detector_logits
        weight = float(self.record.get("detector_weight", 0.0))
        for margin, kinds in ((sig.op_margin, ("operator", "number")), (sig.name_margin, ("name",))):
            if margin is None or logits is None or len(logits) != len(margin):
                return True
            m = np.asarray(margin, np.float64)
            ok = np.nan_to_num(m, nan=-np.inf) > PREFILTER_MARGIN
            if ok.any():  # the best left margin + weighted logit of the group stands in for each slot
                best = float(np.max((m + weight * np.asarray(logits, np.float64))[ok]))
                if any(self.worth(TokenCandidate(0, 0, "", "", k, best), 0.0) for k in kinds):
                    return True
        return False

    def any_rewrite(self, detector_max: float) -> bool:
        """Whether a rewrite at a token with this detector logit could pass (else none is made)."""
        return any(self.worth(TokenCandidate(0, 0, "", "", k, float("nan")), detector_max) for k in sorted(REWRITE_KINDS))


RESCORE_SLACK = 2.0  # nats added to the largest right-context gain calibration saw (over 3,000 candidates;
# on the unseen packages none came within it: `evaluate review` gates at its lowest swept threshold)


def rescore_bounds(found: list[list[TokenCandidate]]) -> dict[str, float]:
    """Per kind, the largest right-context gain (token kinds: margin - left margin; rewrites: the
    margin) among re-scored candidates, plus RESCORE_SLACK (see `RescoreGate`)."""
    out: dict[str, float] = {}
    for c in itertools.chain.from_iterable(found):
        if np.isnan(c.margin):
            continue
        gain = c.margin if c.kind in REWRITE_KINDS else c.margin - c.left_margin
        out[c.kind] = max(out.get(c.kind, -np.inf), float(gain))
    return {k: round(v + RESCORE_SLACK, 3) for k, v in out.items()}


def function_candidates(signals, sig: FunctionSignal, text: str, decode: Callable[[int], str],
                        deadline: float | None = None, is_cancelled: Callable[[], bool] | None = None,
                        keep: int = RESCORED_PER_FUNCTION, gate: RescoreGate | None = None) -> list[TokenCandidate] | None:
    """The `keep` best candidates of one function, re-scored with the whole function as context by
    `signals` (a `FunctionSignals`); None when the deadline cut the re-scoring short. With a
    `gate`, the chosen candidates that could not become findings are dropped unscored (chosen
    first, gated after, so that the candidates scored are a subset of those calibration saw)."""
    best = [] if gate is not None and not gate.any_token(sig) else list(  # tokenizing is skipped when none could pass
        itertools.islice((c for c in token_candidates(sig, text, decode) if _parses(c.fixed(text))), keep))
    logits = sig.detector_logits
    if gate is None or logits is None or not len(logits) or gate.any_rewrite(float(np.max(logits))):
        best += rewrite_candidates(sig, text)  # parsing for rewrites is skipped when none could pass
    if gate is not None:
        best = [c for c in best if gate.worth(c, float(logits[c.token]) if logits is not None
                                               and 0 <= c.token < len(logits) else 0.0)]

    def surprisal_of(texts: list[str]) -> list[float | None]:
        got = signals.analyze(texts, deadline=deadline, is_cancelled=is_cancelled)
        return [None if g is None else float(np.sum(g.token_surprisal)) for g in got]

    found = rescore(best, text, sig, surprisal_of, getattr(signals, "suffix_margin", None))
    sig.past = None  # the KV cache served its purpose; a kept signal should not hold megabytes
    if sig.detector_logits is not None:  # the review score ran the detector on this signal already
        for c in found:
            c.detector = float(sig.detector_logits[c.token]) if 0 <= c.token < len(sig.detector_logits) else 0.0
    return found if len(found) == len(best) else None


def threshold_for_rate(margins: np.ndarray, lines: int, per_kloc: float) -> float:
    """The smallest threshold (a margin value, findings need more) that leaves at most `per_kloc`
    findings per 1,000 of `lines` among `margins` (one per clean line at most)."""
    allowed = int(np.floor(per_kloc * lines / 1000.0))
    ranked = np.sort(np.asarray(margins, dtype=np.float64))[::-1]
    if allowed >= len(ranked):
        return float(ranked[-1]) - 1e-6 if len(ranked) else 0.0
    return float(ranked[allowed])


def kind_threshold(record: dict, kind: str, default: float) -> float:
    """The calibrated threshold of one candidate kind (`thresholds` in the record), else `default`;
    a rewrite (`not`, argument order) without its own is never a finding: removing a token lowers
    the summed surprisal by itself and adding one raises it, so only a threshold of its own is fair."""
    thresholds = record.get("thresholds", {})
    if kind not in thresholds and kind in REWRITE_KINDS:
        return float("inf")
    return float(thresholds.get(kind, default))


def bundle_threshold(bundle) -> tuple[float, dict]:
    """The calibrated threshold of a bundle's `review` component and its record (which holds the
    `detector_weight`), or DEFAULT_THRESHOLD and {} when the bundle has no findings calibration."""
    import json
    from pathlib import Path

    if bundle is None or not bundle.has("review"):
        return DEFAULT_THRESHOLD, {}
    name = bundle.component("review").get("findings")
    if not name:
        return DEFAULT_THRESHOLD, {}
    data = json.loads(Path(bundle.path(name)).read_text(encoding="utf-8"))
    return float(data["threshold"]), data


def document_range(doc_lines: list[str], unit_text: str, start_line: int, a: int, b: int
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    """LSP range (line, UTF-16 column) in the document of characters a..b of a dedented function
    text whose first line is document line `start_line` (the dedent width is measured per line)."""
    line = unit_text.count("\n", 0, a)
    line_start = unit_text.rfind("\n", 0, a) + 1
    unit_line = unit_text[line_start:].split("\n", 1)[0]
    doc_line = doc_lines[start_line + line] if start_line + line < len(doc_lines) else unit_line
    shift = len(doc_line) - len(unit_line)
    width = lambda s: len(s.encode("utf-16-le")) // 2  # noqa: E731 - local helper
    ca, cb = a - line_start + shift, b - line_start + shift
    return (start_line + line, width(doc_line[:ca])), (start_line + line, width(doc_line[:cb]))
