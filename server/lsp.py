"""The language server object: bundle, models, settings, and one worker thread for inference.

Handlers (server/handlers.py) stay thin and call the features held here. Inference runs on a
single worker thread so the event loop keeps answering (cancellations included) while a
model decodes; one thread also keeps ONNX Runtime from fighting itself for the cores.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from devassist.server import __version__
from devassist.server.bundle import Bundle
from devassist.server.document_window import MAX_WINDOWED_DOCUMENT_CHARS, WINDOW_LINES_BEFORE, window_of
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


class DevassistServer(LanguageServer):
    """pygls server holding the bundle's features."""

    def __init__(self, bundle: Bundle, threads: int | None = None):
        super().__init__("devassist", __version__)
        self.bundle = bundle
        self.settings = Settings()
        defaults = bundle.manifest.get("defaults", {})
        component = defaults.get("completion_component", "lm")
        started = time.perf_counter()
        self.lm = LanguageModel(bundle, component=component if bundle.has(component) else "lm", threads=threads)
        self.settings.completion.cache_mix = float(defaults.get("cache_mix", 0.0))
        # A bundle may turn FIM prompts off when its model's FIM measured worse than prefix-only.
        self.engine = CompletionEngine(self.lm, use_fim=bool(defaults.get("fim", True)))
        self.load_ms = (time.perf_counter() - started) * 1000
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devassist-model")
        self.supersede = Supersede()
        self.extra_features: dict[str, Any] = {}
        # (server, CodeActionParams, text) -> [CodeAction]; features append theirs at registration
        self.code_action_providers: list[Callable[..., list]] = []
        log.info("loaded bundle %s (%s) in %.0f ms on %s", bundle.name, self.lm.component, self.load_ms, self.lm.providers)

    @property
    def model_label(self) -> str:
        """What the status bar shows as the loaded model."""
        return f"{self.bundle.name} ({self.lm.component}, {self.lm.providers[0].replace('ExecutionProvider', '')})"

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

    async def run_model(self, fn: Callable[..., Any], *args: Any, cancel_event: threading.Event | None = None) -> Any:
        """Run blocking model work on the worker thread; asyncio cancellation sets `cancel_event`."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if cancel_event is not None:
                cancel_event.set()  # the decoder checks it between steps
            raise

    def text_of(self, uri: str, line: int | None = None) -> str | None:
        """The open document's text; for one over MAX_DOCUMENT_CHARS, the window around `line`
        (see `window_of`), or None without a line. None when the document is not open."""
        try:  # only open documents: get_text_document would read an unopened URI from disk
            doc = self.workspace.text_documents.get(unquote(uri))
            source = doc.source if doc is not None else None
        except Exception:
            return None
        if source is None:
            return None
        if len(source) <= MAX_DOCUMENT_CHARS:
            return source
        windowed = len(source) <= MAX_WINDOWED_DOCUMENT_CHARS
        warned = self.__dict__.setdefault("_oversize_warned", set())
        if uri not in warned:  # once per document: a warning on every keystroke would be noise
            warned.add(uri)
            what = (f"analyses only the {WINDOW_LINES_BEFORE} lines around the cursor there" if windowed
                    else f"does not analyse it (over {MAX_WINDOWED_DOCUMENT_CHARS:,})")
            self.warn(f"{uri.rsplit('/', 1)[-1]} has {len(source):,} characters (more than {MAX_DOCUMENT_CHARS:,}): "
                      f"devassist {what}")
        return window_of(source, line) if windowed and line is not None else None
