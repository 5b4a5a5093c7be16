"""When review runs: debounced per document, in the background lane, never ahead of a keystroke.

The handlers call `schedule` on open/save/change (pushed diagnostics) and `pull` for a
`textDocument/diagnostic` request. Pulled diagnostics answer at once from the last finished
review of the document (editors pull on every keystroke) and a debounced re-score follows; when
it finishes, the client is asked to pull again (`workspace/diagnostic/refresh`). Scoring polls
`is_cancelled` between model runs: it turns true as soon as a newer version of the document is
seen, and it first waits while a completion is in flight (the server's `ForegroundGate`).
A review cut short by its budget continues in the next run: scored functions are cached by text.
The functions on screen (`devassist/visibleRanges` from the client) and just edited go first.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Awaitable, Callable

from lsprotocol import types as lsp

from devassist.server.features.review.diagnostics import to_diagnostics
from devassist.server.features.review.feature import CODE_INCOMPLETE, ReviewCancelled, ReviewReport
from devassist.server.settings import ReviewSettings

log = logging.getLogger(__name__)

MAX_FOCUS_RANGES = 8  # visible or edited line ranges kept per document
# Review scores on every core only after this long without a completion: while a person types, one
# worker goes on and the other cores are left to the next keystroke's completion.
TYPING_PAUSE_S = 2.0

Publish = Callable[[str, int, list[lsp.Diagnostic]], "Awaitable[None] | None"]


@dataclass
class StoredReview:
    """The last finished review of a document."""

    version: int
    diagnostics: list[lsp.Diagnostic]
    result_id: str
    scored: int
    functions: int
    continues: bool = False  # cut short by the budget with progress made: another run follows


class ReviewScheduler:
    """Per-URI debounce, version tracking, cancellation and results around a `ReviewFeature`."""

    def __init__(self, feature, executor: Executor | None = None, budget_s: float | None = None, gate=None,
                 on_report: Callable[[str, int, ReviewReport], None] | None = None):
        self.feature = feature
        self.executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="devassist-review")
        self.budget_s = budget_s  # None: the `review.budgetMs` setting
        self._visible: dict[str, list[tuple[int, int]]] = {}  # lines on screen, per document
        self._edited: dict[str, list[tuple[int, int]]] = {}  # lines of the latest edits, per document
        self.gate = gate  # ForegroundGate: scoring waits while a completion is in flight
        if gate is not None and hasattr(feature, "yield_to"):
            feature.yield_to(gate)  # ... its model runs stop at once and start only after the completion
        self.on_report = on_report
        self._latest: dict[str, int] = {}
        self._pending: dict[str, asyncio.Task] = {}
        self._results: dict[str, StoredReview] = {}
        self._ids = itertools.count(1)

    def latest_version(self, uri: str) -> int | None:
        """The newest version seen for a document."""
        return self._latest.get(uri)

    def result(self, uri: str) -> StoredReview | None:
        """The last finished review of a document (possibly of an older version)."""
        return self._results.get(uri)

    def seen(self, uri: str, version: int) -> None:
        """Record a new version: any scoring of an older one is cancelled."""
        if version >= self._latest.get(uri, -(2**31)):
            self._latest[uri] = version

    def visible(self, uri: str, ranges: list[tuple[int, int]]) -> None:
        """The 0-based line ranges a client shows of a document: their functions are scored first."""
        self._visible[uri] = ranges[:MAX_FOCUS_RANGES]

    def edited(self, uri: str, ranges: list[tuple[int, int]]) -> None:
        """Line ranges just changed: their functions are scored first (after the visible ones'
        cache hits, which cost nothing); the newest edits are kept."""
        self._edited[uri] = (ranges + self._edited.get(uri, []))[:MAX_FOCUS_RANGES]

    def focus(self, uri: str) -> list[tuple[int, int]]:
        """What to score first in a document: its visible and recently edited lines."""
        return self._edited.get(uri, []) + self._visible.get(uri, [])

    def close(self, uri: str) -> None:
        """Forget a closed document and cancel its work."""
        self._latest.pop(uri, None)
        self._results.pop(uri, None)
        self._visible.pop(uri, None)
        self._edited.pop(uri, None)
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()

    def _stale_check(self, uri: str, version: int) -> Callable[[], bool]:
        """Polled from the worker between model runs: wait out completions, then report staleness."""

        def stale() -> bool:
            if self.gate is not None:
                self.gate.wait_idle()
            return self._latest.get(uri) != version

        return stale

    async def diagnose(self, uri: str, version: int, text: str, settings: ReviewSettings,
                       delay_s: float = 0.0) -> list[lsp.Diagnostic] | None:
        """Diagnostics for this version after `delay_s`, or None if a newer version arrived."""
        stored = await self._review(uri, version, text, settings, delay_s)
        return None if stored is None else stored.diagnostics

    async def _review(self, uri: str, version: int, text: str, settings: ReviewSettings,
                      delay_s: float) -> StoredReview | None:
        self.seen(uri, version)
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        if self._latest.get(uri) != version:
            return None
        if not settings.enabled:
            report = ReviewReport([], 0, 0, {}, 0.0)
        else:
            loop = asyncio.get_running_loop()
            try:
                budget = self.budget_s if self.budget_s is not None else settings.budget_ms / 1000.0
                calm = None if self.gate is None else functools.partial(self.gate.wait_idle, 0.05, TYPING_PAUSE_S)
                report = await loop.run_in_executor(self.executor, functools.partial(
                    self.feature.review, text, settings, budget, self._stale_check(uri, version), self.focus(uri), calm))
            except ReviewCancelled:
                return None
        if self._latest.get(uri) != version:
            return None
        findings = [f for f in report.findings if f.code != CODE_INCOMPLETE]  # coverage goes to the status
        stored = StoredReview(version, to_diagnostics(findings, uri, settings.severity), str(next(self._ids)),
                              report.scored, report.functions)
        previous = self._results.get(uri)
        self._results[uri] = stored
        if self.on_report is not None:
            self.on_report(uri, version, report)
        progressed = previous is None or previous.version != version or previous.scored < stored.scored
        if report.scored < report.functions and progressed:
            stored.continues = True
        return stored

    def schedule(self, uri: str, version: int, text: str, settings: ReviewSettings, publish: Publish,
                 delay_s: float | None = None) -> asyncio.Task:
        """Debounced review: publish(uri, version, diagnostics) unless a newer version supersedes it.

        A review cut short by the budget goes on at once in another run (cached functions are
        free), publishing each time, until every function is scored or no progress is made.
        """
        self.seen(uri, version)
        previous = self._pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        delay = settings.debounce_ms / 1000.0 if delay_s is None else delay_s

        async def run() -> None:
            wait = delay
            while True:
                try:
                    stored = await self._review(uri, version, text, settings, wait)
                except asyncio.CancelledError:
                    return
                except Exception:  # noqa: BLE001 - a failing review must not take the server down
                    log.exception("review of %s (version %s) failed", uri, version)
                    return
                if stored is None or self._latest.get(uri) != version:
                    return
                result = publish(uri, version, stored.diagnostics)
                if asyncio.iscoroutine(result):
                    await result
                if not stored.continues:
                    return
                wait = 0.0

        task = asyncio.get_running_loop().create_task(run())
        self._pending[uri] = task
        task.add_done_callback(lambda t: self._pending.pop(uri, None) if self._pending.get(uri) is t else None)
        return task

    async def pull(self, uri: str, version: int, text: str, settings: ReviewSettings,
                   refresh: Callable[[], None] | None) -> StoredReview | None:
        """What a `textDocument/diagnostic` pull answers.

        The last finished review answers at once; if it is of an older version, a debounced
        review of this one is scheduled and `refresh()` asks the client to pull again when it is
        done. A client that cannot be asked (`refresh` None) waits for that review instead.
        """
        self.seen(uri, version)
        stored = self._results.get(uri)
        if stored is not None and stored.version == version:
            return stored
        pending = self._pending.get(uri)
        if pending is None or getattr(pending, "version", None) != version:
            notify = (lambda u, v, d: refresh()) if refresh is not None else (lambda u, v, d: None)
            pending = self.schedule(uri, version, text, settings, notify, delay_s=0.0 if stored is None else None)
            pending.version = version  # type: ignore[attr-defined]
        if refresh is None:
            await asyncio.wait({pending})  # never raises: a superseded review just ends
            return self._results.get(uri)
        return stored
