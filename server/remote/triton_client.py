"""The `generate` model of a Triton server over KServe v2, with `tritonclient` (HTTP or gRPC).

`http://host:8000` speaks HTTP/REST, `grpc://host:8001` gRPC. A call carries the prompt's token
ids and returns the generated ids with their log-probabilities: the tokenizer stays here. gRPC
requests are cancelled on the server when the editor cancels (the model checks between decoding
steps); over HTTP the client stops waiting and the server's decoding ends at the time budget.
"""

from __future__ import annotations

import threading
import time
from typing import Callable
from urllib.parse import urlparse

import numpy as np

from devassist.server.runtime.decode import GenerationResult

MODEL = "generate"
OUTPUTS = ("output_ids", "logprobs", "stop_reason", "prompt_tokens")


class RemoteUnavailable(Exception):
    """The Triton server did not answer (down, unreachable, timed out, or model not ready); one line says which."""


class RemoteMismatch(RemoteUnavailable):
    """The server answers but serves another model than the local bundle's (its tokenizer would not fit)."""


def split_url(url: str) -> tuple[str, str]:
    """`http://h:8000` -> ("http", "h:8000"); `grpc://h:8001` -> ("grpc", "h:8001"); a bare `h:p` is HTTP."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "grpc") or not parsed.hostname:
        raise ValueError(f"--remote {url!r}: give http://HOST:PORT (KServe v2 HTTP) or grpc://HOST:PORT")
    port = parsed.port or (8001 if parsed.scheme == "grpc" else 8000)
    return parsed.scheme, f"{parsed.hostname}:{port}"


class TritonGenerate:
    """One Triton server's `generate` model; a client per thread (tritonclient's HTTP client is gevent-based)."""

    def __init__(self, url: str, model: str = MODEL, timeout_s: float = 1.0):
        self.url = url
        self.protocol, self.address = split_url(url)
        self.model = model
        self.timeout_s = timeout_s
        self._local = threading.local()

    def _module(self):
        try:
            if self.protocol == "grpc":
                import tritonclient.grpc as module
            else:
                import tritonclient.http as module
        except ImportError as exc:
            raise RemoteUnavailable(f"tritonclient is not installed: pip install 'devassist[triton]' ({exc})") from None
        return module

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            module = self._module()
            if self.protocol == "grpc":
                client = module.InferenceServerClient(self.address)
            else:
                client = module.InferenceServerClient(self.address, connection_timeout=self.timeout_s,
                                                      network_timeout=self.timeout_s)
            self._local.client = client
        return client

    def _call(self, fn: Callable, *args, **kwargs):
        """Run a client call; every failure becomes RemoteUnavailable with one line."""
        try:
            return fn(*args, **kwargs)
        except RemoteUnavailable:
            raise
        except Exception as exc:  # tritonclient raises InferenceServerException, sockets OSError, gevent Timeout
            self._local.client = None  # a broken connection is not reused
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise RemoteUnavailable(f"Triton at {self.url}: {first or type(exc).__name__}") from None

    def model_parameters(self) -> dict[str, str]:
        """The `generate` model's config parameters (lm_sha256, vocab_size, ...); raises RemoteUnavailable."""
        client = self._client()
        if not self._call(client.is_model_ready, self.model):
            raise RemoteUnavailable(f"Triton at {self.url}: model {self.model!r} is not ready")
        if self.protocol == "grpc":
            config = self._call(client.get_model_config, self.model, as_json=True)["config"]
        else:
            config = self._call(client.get_model_config, self.model)
        return {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}

    def check(self, lm_sha256: str) -> dict[str, str]:
        """Verify the server serves the same LM file as the local bundle; returns its parameters."""
        params = self.model_parameters()
        if params.get("lm_sha256") != lm_sha256:
            raise RemoteMismatch(f"Triton at {self.url} serves {params.get('bundle', '?')}/{params.get('lm_file', '?')} "
                                 f"(sha256 {params.get('lm_sha256', '?')[:12]}), not this bundle's LM "
                                 f"({lm_sha256[:12]}): export the repository from the same bundle")
        return params

    def _inputs(self, module, prompt_ids, max_new_tokens, required, budget_ms, cache_tokens, cache_weight, max_lines):
        def tensor(name, array, dtype):
            t = module.InferInput(name, list(array.shape), dtype)
            t.set_data_from_numpy(array)
            return t

        inputs = [tensor("input_ids", np.asarray([prompt_ids], dtype=np.int64), "INT64"),
                  tensor("max_new_tokens", np.asarray([[max_new_tokens]], dtype=np.int32), "INT32"),
                  tensor("time_budget_ms", np.asarray([[max(0, int(budget_ms))]], dtype=np.int32), "INT32"),
                  tensor("max_lines", np.asarray([[max(0, int(max_lines))]], dtype=np.int32), "INT32")]
        if required:
            inputs.append(tensor("required", np.asarray([[required.encode("utf-8")]], dtype=object), "BYTES"))
        if cache_weight > 0 and cache_tokens:
            inputs.append(tensor("cache_weight", np.asarray([[cache_weight]], dtype=np.float32), "FP32"))
            inputs.append(tensor("cache_tokens", np.asarray([cache_tokens], dtype=np.int64), "INT64"))
        return inputs

    def generate(self, prompt_ids: list[int], max_new_tokens: int, required: str = "", budget_ms: float = 0,
                 cache_tokens: list[int] | None = None, cache_weight: float = 0.0,
                 is_cancelled: Callable[[], bool] | None = None, max_lines: int = 0) -> GenerationResult:
        """One completion in one round trip; `stop_reason` "cancelled" when `is_cancelled` said so first.

        `max_lines` > 0: the server stops once the generated text holds that many newlines (the
        client's own stop rule comes later or at the same token, so it still cuts exactly)."""
        started = time.perf_counter()
        module = self._module()
        client = self._client()
        inputs = self._inputs(module, prompt_ids, max_new_tokens, required, budget_ms, cache_tokens or [], cache_weight,
                              max_lines)
        outputs = [module.InferRequestedOutput(name) for name in OUTPUTS]
        if self.protocol == "grpc":
            result = self._grpc_wait(client, inputs, outputs, is_cancelled)
            if result is None:
                return GenerationResult([], "cancelled", (time.perf_counter() - started) * 1000, len(prompt_ids))
        else:
            result = self._call(client.infer, self.model, inputs, outputs=outputs)
        if is_cancelled and is_cancelled():
            return GenerationResult([], "cancelled", (time.perf_counter() - started) * 1000, len(prompt_ids))
        reason = result.as_numpy("stop_reason").reshape(-1)[0]
        return GenerationResult([int(t) for t in result.as_numpy("output_ids").reshape(-1)],
                                reason.decode() if isinstance(reason, bytes) else str(reason),
                                (time.perf_counter() - started) * 1000,
                                int(result.as_numpy("prompt_tokens").reshape(-1)[0]),
                                [float(x) for x in result.as_numpy("logprobs").reshape(-1)])

    def _grpc_wait(self, client, inputs, outputs, is_cancelled):
        """gRPC: wait for the answer, cancelling the call (on the server too) when the editor cancels."""
        done = threading.Event()
        box: dict = {}

        def callback(result, error):
            box["result"], box["error"] = result, error
            done.set()

        call = self._call(client.async_infer, self.model, inputs, callback, outputs=outputs, client_timeout=self.timeout_s)
        deadline = time.monotonic() + self.timeout_s
        while not done.wait(0.01):  # poll the editor's cancellation every 10 ms
            if is_cancelled and is_cancelled():
                call.cancel()
                return None
            if time.monotonic() > deadline + 0.5:
                call.cancel()
                raise RemoteUnavailable(f"Triton at {self.url}: no answer within {self.timeout_s:.1f} s")
        if box.get("error") is not None:
            if is_cancelled and is_cancelled():
                return None
            raise RemoteUnavailable(f"Triton at {self.url}: {str(box['error']).splitlines()[0][:200]}")
        return box["result"]
