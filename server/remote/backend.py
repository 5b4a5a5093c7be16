"""Where the completion engine's decoding runs: the bundle's model in this process, or a team's Triton server.

`CompletionEngine` calls `backend.generate(...)` and nothing else of a backend; the prompt, the
stop rules and the filters stay in the engine, the tokenizer stays here. `RemoteBackend` sends
the prompt's ids to Triton's `generate` model (one round trip per completion) and cuts the answer
where the engine's stop rule says, so a remote completion is token for token a local one. When
the server cannot be reached the status bar says so, and with `remote.fallbackToLocal` the local
bundle's model (loaded on first need) answers instead; a failed server is retried after a pause.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from devassist.server.remote.triton_client import RemoteMismatch, RemoteUnavailable, TritonGenerate
from devassist.server.runtime.decode import GenerationResult, first_stop

log = logging.getLogger("devassist")

RETRY_AFTER_S = 5.0  # after a failure, requests skip the server this long (no timeout per keystroke)


class LocalBackend:
    """Decoding on the bundle's onnxruntime session in this process."""

    remote = False

    def __init__(self, lm):
        self.lm = lm

    @property
    def label(self) -> str:
        """What the status bar shows as the model's place."""
        return self.lm.providers[0].replace("ExecutionProvider", "")

    def generate(self, prompt_ids: list[int], max_lines: int = 0, options=None, **kwargs) -> GenerationResult:
        """`LanguageModel.generate` (`max_lines` and `options` are for remote backends)."""
        return self.lm.generate(prompt_ids, **kwargs)


class RemoteBackend:
    """Decoding on a Triton server's `generate` model; optional fallback to the local model."""

    remote = True

    def __init__(self, url: str, lm, on_status: Callable[[str, str | None], None] | None = None,
                 client: TritonGenerate | None = None):
        self.lm = lm
        self.client = client or TritonGenerate(url)
        self.url = url
        self.local = LocalBackend(lm)
        self.on_status = on_status or (lambda state, message=None: None)
        self._checked = False  # the server's LM was compared with the bundle's
        self._down_until = 0.0
        self._down_reason = ""
        self._lock = threading.Lock()
        self.lm_sha256 = lm.file_sha256

    @property
    def label(self) -> str:
        """What the status bar shows as the model's place."""
        return f"remote {self.url}"

    def check(self) -> None:
        """Compare the server's model with the bundle's once it answers; raises RemoteUnavailable."""
        if not self._checked:
            params = self.client.check(self.lm_sha256)
            self._checked = True
            log.info("remote completion model at %s: %s/%s", self.url, params.get("bundle"), params.get("lm_file"))

    def _failed(self, exc: RemoteUnavailable) -> None:
        with self._lock:
            first = not self._down_reason
            self._down_until = time.monotonic() + RETRY_AFTER_S
            self._down_reason = str(exc)
        if first:
            log.warning("%s", exc)
        self.on_status("error", f"completion server unreachable: {exc}")

    def generate(self, prompt_ids: list[int], max_new_tokens: int = 32, should_stop=None, deadline=None,
                 is_cancelled=None, cache=None, cache_weight: float = 0.0, required: str = "", max_lines: int = 0,
                 options=None, **local_only) -> GenerationResult:
        """One completion from the server, cut by `should_stop`; the local model's when the server is down
        and `options.fallback_to_local`; an empty result ("unavailable") otherwise."""
        timeout_s = (options.timeout_ms if options is not None else 1000) / 1000.0
        fallback = bool(options is not None and options.fallback_to_local)
        if time.monotonic() >= self._down_until:
            try:
                self.client.timeout_s = timeout_s
                self.check()
                budget_ms = (deadline - time.monotonic()) * 1000 if deadline is not None else 0
                result = self.client.generate(prompt_ids, max_new_tokens, required, max(1, budget_ms) if deadline else 0,
                                              list(cache.history) if cache is not None else None, cache_weight,
                                              is_cancelled, max_lines=max_lines)
                if self._down_reason:
                    self._down_reason = ""
                    log.info("completion server %s answers again", self.url)
                    self.on_status("ready", None)
                return first_stop(result, should_stop, local_only.get("stop_after"))
            except RemoteMismatch as exc:
                self._failed(exc)
                self._down_until = float("inf")  # another model will not become this one: stop asking
            except RemoteUnavailable as exc:
                self._failed(exc)
        if fallback:
            return self.local.generate(prompt_ids, max_new_tokens=max_new_tokens, should_stop=should_stop,
                                       deadline=deadline, is_cancelled=is_cancelled, cache=cache,
                                       cache_weight=cache_weight, required=required, **local_only)
        return GenerationResult([], "unavailable", 0.0, len(prompt_ids))
