"""When review runs: debounced per document, off the event loop, cancelled by a newer version.

The handlers call `schedule` on open/save/change (push) and `await diagnose` for a pull
request. Scoring runs in a worker thread; the scorer polls `is_cancelled`, which turns true as
soon as a newer version of the same document is seen, so stale results are never published.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Awaitable, Callable

from lsprotocol import types as lsp

from devassist.server.features.review import ReviewCancelled, to_diagnostics
from devassist.server.settings import ReviewSettings

log = logging.getLogger(__name__)

Publish = Callable[[str, int, list[lsp.Diagnostic]], "Awaitable[None] | None"]


class ReviewScheduler:
    """Per-URI debounce, version tracking and cancellation around a `ReviewFeature`."""

    def __init__(self, feature, executor: Executor | None = None, budget_s: float = 1.0):
        self.feature = feature
        self.executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="devassist-review")
        self.budget_s = budget_s
        self._latest: dict[str, int] = {}
        self._pending: dict[str, asyncio.Task] = {}

    def latest_version(self, uri: str) -> int | None:
        """The newest version seen for a document."""
        return self._latest.get(uri)

    def seen(self, uri: str, version: int) -> None:
        """Record a new version: any scoring of an older one is cancelled."""
        if version >= self._latest.get(uri, -(2**31)):
            self._latest[uri] = version

    def close(self, uri: str) -> None:
        """Forget a closed document and cancel its work."""
        self._latest.pop(uri, None)
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()

    async def diagnose(self, uri: str, version: int, text: str, settings: ReviewSettings,
                       delay_s: float = 0.0) -> list[lsp.Diagnostic] | None:
        """Diagnostics for this version after `delay_s`, or None if a newer version arrived."""
        self.seen(uri, version)
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        stale = lambda: self._latest.get(uri) != version  # noqa: E731 - polled from the worker thread
        if stale():
            return None
        if not settings.enabled:
            return []
        loop = asyncio.get_running_loop()
        try:
            findings = await loop.run_in_executor(self.executor, self.feature.findings, text, settings, self.budget_s, stale)
        except ReviewCancelled:
            return None
        if stale():
            return None
        return to_diagnostics(findings, uri, settings.severity)

    def schedule(self, uri: str, version: int, text: str, settings: ReviewSettings, publish: Publish,
                 delay_s: float | None = None) -> asyncio.Task:
        """Debounced push: publish(uri, version, diagnostics) unless a newer version supersedes it."""
        self.seen(uri, version)
        previous = self._pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        delay = settings.debounce_ms / 1000.0 if delay_s is None else delay_s

        async def run() -> None:
            try:
                diags = await self.diagnose(uri, version, text, settings, delay)
            except asyncio.CancelledError:
                return
            except Exception:  # noqa: BLE001 - a failing review must not take the server down
                log.exception("review of %s (version %s) failed", uri, version)
                return
            if diags is None or self._latest.get(uri) != version:
                return
            result = publish(uri, version, diags)
            if asyncio.iscoroutine(result):
                await result

        task = asyncio.get_running_loop().create_task(run())
        self._pending[uri] = task
        task.add_done_callback(lambda t: self._pending.pop(uri, None) if self._pending.get(uri) is t else None)
        return task
