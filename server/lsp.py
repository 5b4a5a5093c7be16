"""The language server object: bundle, models, settings, and one worker thread for inference.

Handlers (server/handlers.py) stay thin and call the features held here. Model work runs off
the event loop in two lanes, so the loop keeps answering (cancellations included):

- the completion lane (one thread): the keystroke's suggestion and the docstring a person asked
  for, never queued behind review;
- the background lane (one thread): review scoring and indexing. Background work waits at
  `ForegroundGate.wait_idle()` between model runs whenever a completion is queued or running,
  so on two cores the two lanes never fight over them for more than one window of review.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from devassist.server import __version__
from devassist.server.bundle import Bundle
from devassist.server.document_window import WINDOW_LINES_BEFORE, window_of
from devassist.server.line_document import LineDocument
from devassist.server.features.completion import CompletionEngine
from devassist.server.runtime.lm import LanguageModel
from devassist.server.settings import Settings, parse_settings

log = logging.getLogger("devassist")

MAX_DOCUMENT_CHARS = 2_000_000  # larger documents are analysed in a window around the cursor


class Supersede:
    """Per-document request counters: a newer request makes older ones report cancelled."""

    def __init__(self):
        self._latest: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def begin(self, kind: str, uri: str) -> Callable[[], bool]:
        """Register a new request; returns its `is_superseded` check."""
        key = (kind, uri)
        with self._lock:
            ticket = self._latest.get(key, 0) + 1
            self._latest[key] = ticket
        return lambda: self._latest.get(key) != ticket


class ForegroundGate:
    """Counts completions in flight; background work waits for none, and for a quiet moment.

    While a person types, completions come every few hundred milliseconds: background work
    (review, docstrings) must not only pause while one runs but stay deferred until typing
    pauses, or its next model run lands on the next keystroke.
    """

    def __init__(self, quiet_s: float = 0.3):
        self.quiet_s = quiet_s
        self._active = 0
        self._last = -1e9  # monotonic time the last completion finished
        self._idle = threading.Condition()
        self.on_enter: list[Callable[[], None]] = []  # called as a completion is queued (review stops its runs)

    def enter(self) -> None:
        """A completion was queued: background work pauses at its next check, and whatever
        registered in `on_enter` stops its model runs now."""
        with self._idle:
            self._active += 1
        for stop in self.on_enter:
            stop()

    def leave(self) -> None:
        """A completion finished."""
        with self._idle:
            self._active = max(0, self._active - 1)
            self._last = time.monotonic()
            if self._active == 0:
                self._idle.notify_all()

    @property
    def busy(self) -> bool:
        """Whether a completion is queued or running."""
        return self._active > 0

    def wait_idle(self, timeout: float | None = None, quiet_s: float | None = None) -> bool:
        """Block until no completion is in flight and none finished in the last `quiet_s`
        (the gate's own by default; or until `timeout`); True when idle."""
        quiet_for = self.quiet_s if quiet_s is None else quiet_s
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while True:
                now = time.monotonic()
                left = None if deadline is None else deadline - now
                if left is not None and left <= 0:
                    return False
                if self._active:
                    self._idle.wait(left)
                    continue
                quiet = self._last + quiet_for - now
                if quiet <= 0:
                    return True
                self._idle.wait(quiet if left is None else min(quiet, left))


def completion_model(bundle: Bundle, threads: int | None, remote: str | None = None,
                     on_status: Callable[..., None] | None = None) -> tuple[LanguageModel, CompletionEngine]:
    """The completion model of a bundle (its `completion_component`, else `lm`) and its engine;
    with `remote` (a Triton server's URL) the engine decodes there."""
    defaults = bundle.manifest.get("defaults", {})
    component = defaults.get("completion_component", "lm")
    # With a remote completion server the local session loads only if something needs it
    # (review, docstrings, the fallback): the tokenizer is all that completion uses here.
    lm = LanguageModel(bundle, component=component if bundle.has(component) else "lm", threads=threads,
                       lazy=remote is not None)
    backend = None
    if remote is not None:
        from devassist.server.remote.backend import RemoteBackend

        backend = RemoteBackend(remote, lm, on_status=on_status)
    # A bundle may turn FIM prompts off when its model's FIM measured worse than prefix-only.
    return lm, CompletionEngine(lm, use_fim=bool(defaults.get("fim", True)), backend=backend)


class DevassistServer(LanguageServer):
    """pygls server holding the bundle's features."""

    def __init__(self, bundle: Bundle, threads: int | None = None, remote: str | None = None):
        super().__init__("devassist", __version__)
        self.bundle = bundle
        self.base_bundle = bundle  # the bundle served at start: a learnt bundle must be adapted from it
        self.threads = threads
        self.settings = Settings()
        started = time.perf_counter()
        self.lm, self.engine = completion_model(bundle, threads, remote,
                                                on_status=lambda state, message=None: self.status(state, message))
        self.settings.completion.cache_mix = float(bundle.manifest.get("defaults", {}).get("cache_mix", 0.0))
        self.load_ms = (time.perf_counter() - started) * 1000
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devassist-completion")
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devassist-background")
        self.gate = ForegroundGate()
        self._repo_index = None  # RepoIndex of the workspace, built on first use (repoContextTokens > 0)
        self._repo_future = None
        self.supersede = Supersede()
        self.extra_features: dict[str, Any] = {}
        # (server, CodeActionParams, text) -> [CodeAction]; features append theirs at registration
        self.code_action_providers: list[Callable[..., list]] = []
        log.info("loaded bundle %s (%s) in %.0f ms on %s", bundle.name, self.lm.component, self.load_ms,
                 self.engine.backend.label)

    def repo_index(self):
        """The workspace's snippet index for repository context, or None while it is being built.

        Built once, on first use, in the background lane from the workspace folders' Python files.
        """
        if self._repo_index is None and self._repo_future is None:
            from devassist.server.features.repo_context import RepoIndex

            roots = self.workspace_roots()

            def build():
                chunks = [c for root in roots for c in RepoIndex.from_folder(root).chunks]
                self._repo_index = RepoIndex(chunks)
                log.info("repository context: %d chunks from %s", len(chunks), ", ".join(map(str, roots)) or "no folder")

            self._repo_future = self.background.submit(build)
        return self._repo_index

    def workspace_roots(self) -> list[Path]:
        """The workspace folders (or the root path of a client without folders)."""
        roots = [Path(unquote(urlparse(f.uri).path)) for f in (self.workspace.folders or {}).values()]
        if not roots and self.workspace.root_path:
            roots = [Path(self.workspace.root_path)]
        return roots

    async def use_bundle(self, root: Path) -> None:
        """Hot swap: completions switch to the bundle at `root` (loaded and verified off the event
        loop). Requests already running finish on the model they started with; review and
        docstrings keep the base bundle's models, whose calibration they were fitted with."""
        from devassist.server.bundle import load_bundle

        def load():
            bundle = load_bundle(root)
            return (bundle, *completion_model(bundle, self.threads))

        bundle, lm, engine = await asyncio.get_running_loop().run_in_executor(None, load)
        self.bundle, self.lm, self.engine = bundle, lm, engine
        log.info("completions now use bundle %s (%s)", bundle.name, root)

    async def use_learnt_bundle(self) -> Path | None:
        """Switch to the bundle learnt on this workspace (`devassist learn`) when the cache holds
        one adapted from the bundle served at start; its folder, or None."""
        from devassist.server.bundle import BundleError
        from devassist.server.workspace_cache import adapted_bundle

        for root in self.workspace_roots():
            found = adapted_bundle(root, self.base_bundle.root)
            if found is None:
                continue
            try:
                await self.use_bundle(found[0])
            except (BundleError, OSError) as exc:
                self.warn(f"the model learnt on {root.name} cannot be used ({exc}); run Learn workspace again")
                continue
            self.status("ready", f"using the model learnt on {root.name}")
            return found[0]
        return None

    @property
    def model_label(self) -> str:
        """What the status bar shows as the loaded model."""
        return f"{self.bundle.name} ({self.lm.component}, {self.engine.backend.label})"

    def status(self, state: str, message: str | None = None) -> None:
        """Send `devassist/status` {state, model, message} for the editor's status bar."""
        params = {"state": state, "model": self.model_label}
        if message:
            params["message"] = message
        try:
            self.protocol.notify("devassist/status", params)
        except Exception:  # a status update must never break a request
            log.debug("status notification failed", exc_info=True)

    def warn(self, message: str) -> None:
        """Show a warning in the editor and log it."""
        log.warning(message)
        self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))

    def apply_settings(self, raw: Any) -> None:
        """Merge settings from the client; invalid values keep their defaults, with a warning."""
        self.settings, warnings = parse_settings(raw, self.settings)
        for w in warnings:
            self.warn(w)

    async def run_model(self, fn: Callable[..., Any], *args: Any, cancel_event: threading.Event | None = None,
                        background: bool = False) -> Any:
        """Run blocking model work in its lane; asyncio cancellation sets `cancel_event`.

        The completion lane (the default) marks the gate from the moment the work is queued,
        so background work stops at its next check instead of finishing its whole job first.
        """
        loop = asyncio.get_running_loop()
        if background:
            future = loop.run_in_executor(self.background, fn, *args)
        else:
            self.gate.enter()

            def foreground() -> Any:
                try:
                    return fn(*args)
                finally:
                    self.gate.leave()

            try:
                future = loop.run_in_executor(self.executor, foreground)
            except BaseException:
                self.gate.leave()
                raise
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if cancel_event is not None:
                cancel_event.set()  # the decoder checks it between steps
            raise

    def open_document(self, uri: str):
        """The open document at `uri` (keys are unquoted, as pygls stores them), or None; never
        an unopened URI, which pygls would read from disk."""
        return self.workspace.text_documents.get(unquote(uri))

    def text_of(self, uri: str, line: int | None = None) -> str | None:
        """The open document's text; for one over MAX_DOCUMENT_CHARS, the window around `line`
        (see `window_of`), or None without a line. None when the document is not open."""
        doc = self.open_document(uri)
        if doc is None:
            return None
        if not isinstance(doc, LineDocument) or doc.char_count <= MAX_DOCUMENT_CHARS:
            return doc.source
        warned = self.__dict__.setdefault("_oversize_warned", set())
        if uri not in warned:  # once per document: a warning on every keystroke would be noise
            warned.add(uri)
            self.warn(f"{uri.rsplit('/', 1)[-1]} has {doc.char_count:,} characters (more than {MAX_DOCUMENT_CHARS:,}): "
                      f"devassist analyses only the {WINDOW_LINES_BEFORE} lines around the cursor there")
        return window_of(doc.lines, line) if line is not None else None
