"""Review diagnostics: likely bugs at single tokens, and functions unusual against reference code.

`ReviewFeature.findings(text, settings, budget_s, is_cancelled)` parses a document, scores
every function that parses, and returns `Finding`s of two separate kinds: CODE_BUG, a token
where the model much prefers a confusable replacement (`findings.py`; a warning with a
quick fix), and CODE_UNUSUAL, a function more unusual than the threshold percentile of the
reference code (VAE anomaly + surprisal; a hint by default). `diagnostics.py` turns them into
LSP diagnostics, quick fixes and the `# devassist: ignore` suppression. Functions are scored on
worker threads, the visible and just edited ones first. No server here: the handlers call
this from the background lane (see `scheduler.py`).
"""

from __future__ import annotations

import os
import re
import textwrap
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from lsprotocol import types as lsp

from devassist.server.features.review.findings import (CODE_BUG, RescoreGate, TokenCandidate, bundle_threshold,
                                                        document_range, function_candidates, kind_threshold)
from devassist.server.features.review.model import ReviewModel
from devassist.server.features.review.signals import BundleSignals, FunctionSignals, ReviewCancelled, RunInterrupted
from devassist.server.parsing import definitions
from devassist.server.runtime.session import default_threads
from devassist.server.settings import ReviewSettings

SOURCE = "devassist"
CODE_UNUSUAL = "unusual-function"
CODE_INCOMPLETE = "review-incomplete"
SUPPRESS_COMMENT = "# devassist: ignore"
SUPPRESS_RE = re.compile(r"#.*\bdevassist:\s*ignore\b")
CACHED_FUNCTIONS = 5_000  # scored functions remembered by text (a few KB each at most)
MAX_SCORED_BYTES = 1_000_000  # beyond this only the first part is parsed and scored (~1 s of parsing)
SEVERITIES = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning,
              "information": lsp.DiagnosticSeverity.Information, "hint": lsp.DiagnosticSeverity.Hint}

__all__ = ["ReviewFeature", "Finding", "LineFinding", "ReviewReport", "ReviewCancelled", "is_python_document",
           "function_units", "CODE_BUG"]


@dataclass
class LineFinding:
    """One of the lines most responsible inside a flagged function."""

    line: int  # 0-based document line
    surprisal: float  # summed token surprisal on the line, nats
    score: float  # the localization score it was ranked by
    range: tuple[tuple[int, int], tuple[int, int]]  # LSP (line, utf-16 char) of the line's code


@dataclass
class Finding:
    """A function more unusual than the threshold, or a note about the review itself."""

    code: str  # CODE_BUG, CODE_UNUSUAL or CODE_INCOMPLETE
    message: str
    range: tuple[tuple[int, int], tuple[int, int]]  # the token or the function's name, LSP (line, utf-16 char)
    qualname: str = ""
    percentile: float = 0.0
    score: float = 0.0
    top_lines: list[LineFinding] = field(default_factory=list)
    written: str = ""  # CODE_BUG: the token as written
    replacement: str = ""  # CODE_BUG: the suggested fix
    margin: float = 0.0  # CODE_BUG: log p(fixed function) - log p(function as written), nats


@dataclass
class ReviewReport:
    """All scored functions of a document, and how far scoring got."""

    findings: list[Finding]
    functions: int  # functions found (not suppressed, parse without error)
    scored: int  # functions scored before the budget ran out
    percentiles: dict[str, float]  # qualname -> percentile, for every scored function
    elapsed_s: float
    truncated_bytes: bool = False

    @property
    def complete(self) -> bool:
        """Whether every function was scored."""
        return self.scored == self.functions and not self.truncated_bytes


@dataclass
class FunctionUnit:
    """A function to score: its dedented text and where it sits in the document."""

    qualname: str
    text: str  # dedented, from the def line to its last line
    start_line: int  # 0-based document line of the `def`
    indent: int  # columns removed by the dedent (in characters)
    name_range: tuple[tuple[int, int], tuple[int, int]]


def is_python_document(uri: str, language_id: str | None = None) -> bool:
    """Whether a document is Python (by language id when the client sent one, else by suffix)."""
    if language_id:
        return language_id.lower() in ("python", "py")
    return uri.lower().endswith((".py", ".pyi", ".pyw"))


def _utf16_col(line: bytes, byte_col: int) -> int:
    """UTF-16 column of a UTF-8 byte column in one line (tree-sitter reports byte columns)."""
    return len(line[:byte_col].decode("utf-8", "replace").encode("utf-16-le")) // 2


def function_units(text: str, max_bytes: int = MAX_SCORED_BYTES,
                   pause: Callable[[], object] | None = None) -> tuple[list[FunctionUnit], bool]:
    """Functions that parse and are not suppressed, in document order; and whether text was cut.
    `pause` is called between the parser's reads and per definition, by `definitions` (the server's
    review blocks there while a completion runs: the whole parse of 2,000 lines is 10-35 ms of Python)."""
    data = text.encode("utf-8", "surrogatepass")
    truncated = len(data) > max_bytes
    if truncated:
        cut = data.rfind(b"\n", 0, max_bytes)
        data = data[: cut + 1 if cut > 0 else max_bytes]
    lines = data.split(b"\n")
    units = []
    for d in definitions(data, pause):
        if d.kind != "function" or d.has_error or d.body_node is None:
            continue
        header = lines[d.start_line].decode("utf-8", "replace")
        if SUPPRESS_RE.search(header):
            continue
        raw = b"\n".join(lines[d.start_line : d.end_line + 1]).decode("utf-8", "replace")
        body = textwrap.dedent(raw)
        first = raw.split("\n", 1)[0]
        indent = len(first) - len(first.lstrip())
        node = d.name_node or d.node
        (sl, sc), (el, ec) = node.start_point, node.end_point
        name_range = ((sl, _utf16_col(lines[sl], sc)), (el, _utf16_col(lines[el], ec)))
        units.append(FunctionUnit(d.qualname, body.rstrip("\n"), d.start_line, indent, name_range))
    return units, truncated


def _line_range(text_lines: list[str], line: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The range of a line's code (without leading whitespace), in UTF-16 columns."""
    s = text_lines[line] if line < len(text_lines) else ""
    lead = len(s) - len(s.lstrip())
    width = lambda t: len(t.encode("utf-16-le")) // 2  # noqa: E731 - local helper
    return (line, width(s[:lead])), (line, width(s.rstrip()))


@dataclass
class ScoredUnit:
    """What review keeps of a scored function: its score and per-line numbers."""

    score: float
    line_scores: np.ndarray  # (lines,) localization scores
    line_surprisal: np.ndarray  # (lines,) summed surprisal, nats
    candidates: list[TokenCandidate] = field(default_factory=list)  # re-scored bug candidates, best first
    gated_at: float = -np.inf  # the threshold shift its candidates were gated for (valid for any shift above)


class ReviewFeature:
    """Scores the functions of a document and reports the unusual ones."""

    def __init__(self, bundle=None, lm=None, signals: FunctionSignals | None = None, model: ReviewModel | None = None,
                 background: bool = False, workers: int | None = None):
        # `workers` functions are scored at once, each model run on one thread: a function's runs
        # are small (about 100 tokens), and two of them side by side on two cores take 4.7 ms
        # where one run on two threads takes 9.9 ms (without spinning, as in the background).
        env = os.environ.get("DEVASSIST_REVIEW_WORKERS", "")
        self.workers = max(1, workers if workers is not None else int(env) if env.isdigit() else default_threads())
        # `background`: the server's review yields the cores to completions (no spinning threads)
        self.signals = signals if signals is not None else BundleSignals(
            bundle, lm, background=background, keep_past=True, threads=1 if self.workers > 1 else None)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="devassist-review-fn") if self.workers > 1 else None
        self._lock = threading.Lock()  # the cache, shared by the workers
        self._hold: Callable[[], object] | None = None  # see `yield_to`
        self.model = model if model is not None else ReviewModel.from_bundle(bundle)
        self._cache: OrderedDict[str, ScoredUnit] = OrderedDict()  # function text -> its numbers (LRU)
        self.finding_threshold, record = bundle_threshold(bundle)
        self.finding_record = record  # per-kind thresholds, when calibrated so
        self.detector_weight = float(record.get("detector_weight", 0.0))
        tokenizer = getattr(self.signals, "tokenizer", None)
        self._decode = (lambda i: tokenizer.decode([i])) if tokenizer is not None else None

    @classmethod
    def available(cls, bundle) -> bool:
        """Whether a bundle has what review needs: `lm` and `review`, whose own signals graph
        (or else the bundle's `embed` encoder) gives the embeddings."""
        if not (bundle.has("lm") and bundle.has("review")):
            return False
        return bool(bundle.component("review").get("signals")) or bundle.has("embed")

    def interrupt(self) -> None:
        """Stop the model runs in progress now (each function cut short is scored again after
        the completion): called by the server's gate when a completion is queued."""
        stop = getattr(self.signals, "interrupt", None)
        if stop is not None:
            stop()

    def yield_to(self, gate) -> None:
        """Give way to a `ForegroundGate`'s completions: a queued completion stops the model runs
        in progress (`interrupt`), and no model run starts while one is in flight. Without this
        the re-scoring runs of a function begun before the keystroke went on beside its completion."""
        gate.on_enter.append(self.interrupt)
        self._hold = gate.wait_idle
        if hasattr(self.signals, "hold"):
            self.signals.hold = gate.wait_idle
            self.signals.busy = lambda: gate.busy

    def forget(self) -> None:
        """Drop every cached function score (the next review scores from scratch)."""
        self._cache.clear()

    def _cached(self, text: str, shift: float) -> ScoredUnit | None:
        """The cached numbers of a function text, if their candidates were gated for `shift` or less."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None and hit.gated_at <= shift:
                self._cache.move_to_end(text)
                return hit
        return None

    def score_unit(self, unit: FunctionUnit, deadline: float | None, check: Callable[[], bool],
                   shift: float = 0.0) -> ScoredUnit | None:
        """A function's score and line scores, from the cache or the model (None past the deadline).

        A function's numbers depend on its own text only (each window runs alone), so they are
        cached by text: after an edit only the changed functions are scored again. `shift` is
        the user's finding-threshold shift, which decides which candidates are worth re-scoring.
        """
        hit = self._cached(unit.text, shift)
        if hit is not None:
            return hit
        [sig] = self.signals.analyze([unit.text], deadline=deadline, is_cancelled=check)
        if sig is None:
            return None
        if self._hold is not None:
            self._hold()  # the detector's and the VAE's runs, too, wait out a completion in flight
        [score] = self.model.scores([sig])
        candidates = []
        if self._decode is not None:
            gate = RescoreGate(self.finding_record, self.finding_threshold, shift) if self.finding_record else None
            candidates = function_candidates(self.signals, sig, unit.text, self._decode, deadline, check, gate=gate)
            if candidates is None:
                return None  # the deadline cut the re-scoring: score this function again next run
        scored = ScoredUnit(float(score), np.asarray(self.model.line_scores(sig), dtype=np.float64),
                            np.asarray(sig.line_surprisal, dtype=np.float64), candidates, shift)
        with self._lock:
            self._cache[unit.text] = scored
            while len(self._cache) > CACHED_FUNCTIONS:
                self._cache.popitem(last=False)
        return scored

    def _score_all(self, units: list[FunctionUnit], deadline: float, check: Callable[[], bool],
                   shift: float, focus: list[tuple[int, int]],
                   calm: Callable[[], bool] | None = None) -> dict[int, ScoredUnit]:
        """Score units (cached ones first, then those overlapping a `focus` line range, in the
        ranges' order, then shortest first) on `workers` threads until the deadline; raises
        ReviewCancelled, after every worker has stopped, if any was cancelled. With `calm` (waits
        briefly, False while a person is typing), only the first worker starts new functions
        while typing goes on: the other cores stay free for the next keystroke's completion."""
        def focus_rank(u: FunctionUnit) -> int:
            last = u.start_line + u.text.count("\n")
            return next((k for k, (a, b) in enumerate(focus) if a <= last and u.start_line <= b), len(focus))

        order = iter(sorted(range(len(units)), key=lambda i: (units[i].text not in self._cache, focus_rank(units[i]),
                                                              len(units[i].text))))
        take = threading.Lock()
        results: dict[int, ScoredUnit] = {}
        first_done = threading.Event()

        def work(k: int) -> None:
            try:
                while True:
                    while k > 0 and calm is not None and not calm():
                        if first_done.is_set():
                            return
                    with take:
                        i = next(order, None)
                    if i is None or (units[i].text not in self._cache and time.monotonic() >= deadline):
                        return
                    if check():
                        raise ReviewCancelled()
                    while True:
                        try:
                            got = self.score_unit(units[i], deadline, check, shift)
                            break
                        except RunInterrupted:  # a completion came: `check` waits it out, then score again
                            if check():
                                raise ReviewCancelled() from None
                    if got is not None:
                        results[i] = got
            finally:
                if k == 0:
                    first_done.set()

        if self._pool is None or len(units) < 2:
            work(0)
            return results
        futures = [self._pool.submit(work, k) for k in range(self.workers)]
        wait(futures)  # all of them: a worker still running would race the next review
        for f in futures:
            f.result()  # re-raises ReviewCancelled (or a real error)
        return results

    def review(self, text: str, settings: ReviewSettings, budget_s: float = 1.0,
               is_cancelled: Callable[[], bool] | None = None,
               focus: list[tuple[int, int]] | None = None, calm: Callable[[], bool] | None = None) -> ReviewReport:
        """Score every function within `budget_s` of model time; raise ReviewCancelled if `is_cancelled()`.

        Functions already scored (same text) cost nothing; of the others, those overlapping a
        `focus` range of 0-based lines (on screen, just edited) come first, then shortest first.
        Files over MAX_SCORED_BYTES are parsed and scored only up to that size; either limit
        adds a CODE_INCOMPLETE finding that says how many functions were reviewed.
        """
        start = time.monotonic()
        check = is_cancelled or (lambda: False)
        if not settings.enabled or not text.strip():
            return ReviewReport([], 0, 0, {}, 0.0)
        if check():
            raise ReviewCancelled()
        units, truncated = function_units(text, pause=self._hold)
        if check():
            raise ReviewCancelled()
        deadline = time.monotonic() + max(budget_s, 0.0)  # the budget is model time; parsing is bounded by the byte cap
        results = self._score_all(units, deadline, check, settings.finding_threshold_shift, focus or [], calm)
        scored = [(units[i], results[i]) for i in sorted(results)]
        pct = self.model.percentiles(np.asarray([r.score for _, r in scored], dtype=np.float64))
        doc_lines = text.split("\n")
        bugs = self._bug_findings(scored, doc_lines, self.finding_threshold + settings.finding_threshold_shift,
                                  self.detector_weight, self.finding_record)
        flagged = []
        for (unit, res), p in zip(scored, pct):
            if p <= settings.threshold or not settings.unusual_functions:
                continue
            ls = res.line_scores
            order = [int(i) for i in np.argsort(-ls, kind="stable") if np.isfinite(ls[i])][:3]
            tops = [LineFinding(unit.start_line + i, float(res.line_surprisal[i]), float(ls[i]),
                                _line_range(doc_lines, unit.start_line + i)) for i in order]
            where = f"; line {tops[0].line + 1} is the least expected" if tops else ""
            msg = f"This function is written more unusually than {p:.1f} % of reference code{where}"
            flagged.append(Finding(CODE_UNUSUAL, msg, unit.name_range, unit.qualname, float(p), res.score, tops))
        flagged.sort(key=lambda f: (-f.percentile, -f.score))
        bugs.sort(key=lambda f: -f.margin)
        flagged = sorted((bugs + flagged)[: max(settings.max_diagnostics, 0)], key=lambda f: f.range[0])
        report = ReviewReport(flagged, len(units), len(scored), {u.qualname: float(p) for (u, _), p in zip(scored, pct)},
                              time.monotonic() - start, truncated)
        if not report.complete and settings.max_diagnostics > 0:
            why = f"the first {MAX_SCORED_BYTES // 1_000_000} MB of this file" if truncated else "this file"
            msg = (f"Review scored {report.scored} of {report.functions} functions in {why} "
                   f"within its {budget_s:g} s budget; the rest were not reviewed")
            report.findings.append(Finding(CODE_INCOMPLETE, msg, ((0, 0), (0, 0))))
        return report

    @staticmethod
    def _bug_findings(scored: list[tuple[FunctionUnit, ScoredUnit]], doc_lines: list[str],
                      threshold: float, detector_weight: float = 0.0, record: dict | None = None) -> list[Finding]:
        """CODE_BUG findings: the candidates whose score passes `threshold` (moved by the record's
        per-kind threshold, if any), one per line."""
        out, lines = [], set()
        base = float(record["threshold"]) if record and "threshold" in record else threshold
        for unit, res in scored:
            for c in res.candidates:
                if not c.score(detector_weight) > kind_threshold(record or {}, c.kind, base) + threshold - base:
                    continue
                rng = document_range(doc_lines, unit.text, unit.start_line, c.start, c.end)
                if rng[0][0] in lines or SUPPRESS_RE.search(doc_lines[rng[0][0]]):
                    continue  # one finding a line; `# devassist: ignore` on the line silences it
                lines.add(rng[0][0])
                out.append(Finding(CODE_BUG, c.message(), rng, unit.qualname, written=c.written,
                                   replacement=c.replacement, margin=float(c.margin)))
        return out

    def findings(self, text: str, settings: ReviewSettings, budget_s: float = 1.0,
                 is_cancelled: Callable[[], bool] | None = None) -> list[Finding]:
        """The findings of `review` (flagged functions, then a note if scoring was cut short)."""
        return self.review(text, settings, budget_s, is_cancelled).findings
