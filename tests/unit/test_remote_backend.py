"""The remote completion backend's logic without a server: URL forms, the stop-rule cut, status,
retry pause, fallback, and the model check (tests/e2e/test_triton_remote.py runs a real Triton)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from devassist.server.remote import backend as backend_module
from devassist.server.remote.backend import RemoteBackend
from devassist.server.remote.triton_client import RemoteMismatch, RemoteUnavailable, split_url
from devassist.server.runtime.decode import GenerationResult, first_stop
from devassist.server.settings import RemoteSettings


@pytest.mark.parametrize("url, expected", [
    ("http://gpu-box:8000", ("http", "gpu-box:8000")),
    ("grpc://10.0.0.5:9001", ("grpc", "10.0.0.5:9001")),
    ("gpu-box:8000", ("http", "gpu-box:8000")),
    ("grpc://gpu-box", ("grpc", "gpu-box:8001")),
], ids=["http", "grpc", "bare", "grpc-default-port"])
def test_split_url(url, expected):
    assert split_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://x:1", "http://", "https://gpu-box:8000"])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError, match="--remote"):
        split_url(url)


def test_first_stop_cuts_where_the_rule_fires():
    result = GenerationResult([1, 2, 3, 4], "max_tokens", 5.0, 7, [-0.1, -0.2, -0.3, -0.4])
    cut = first_stop(result, lambda ids: 3 in ids)
    assert cut.ids == [1, 2, 3] and cut.logprobs == [-0.1, -0.2, -0.3] and cut.stop_reason == "stop"
    assert first_stop(result, lambda ids: False) is result and first_stop(result, None) is result


class FakeLM:
    """What the backend reads of a LanguageModel."""

    file_sha256 = "abc"
    providers = ["CPUExecutionProvider"]

    def __init__(self):
        self.calls = 0

    def generate(self, prompt_ids, **kwargs):
        self.calls += 1
        return GenerationResult([9, 9], "eot", 1.0, len(prompt_ids), [-0.5, -0.5])


class FakeClient:
    """A Triton `generate` that answers, fails, or serves another model."""

    def __init__(self, fail=None, sha="abc"):
        self.fail, self.sha, self.timeout_s, self.calls = fail, sha, 1.0, 0

    def check(self, sha):
        if self.fail:
            raise self.fail
        if sha != self.sha:
            raise RemoteMismatch("serves another model")
        return {"bundle": "tiny", "lm_file": "lm.onnx"}

    def generate(self, prompt_ids, max_new_tokens, required, budget_ms, cache_tokens, cache_weight, is_cancelled,
                 max_lines=0):
        self.calls += 1
        return GenerationResult([5, 6, 7], "max_tokens", 2.0, len(prompt_ids), [-0.1] * 3)


def make(client, statuses):
    return RemoteBackend("http://h:1", FakeLM(), on_status=lambda s, m=None: statuses.append((s, m)), client=client)


def test_answers_are_cut_by_the_engine_stop_rule():
    statuses = []
    b = make(FakeClient(), statuses)
    out = b.generate([1, 2], should_stop=lambda ids: len(ids) == 2, options=RemoteSettings())
    assert out.ids == [5, 6] and out.stop_reason == "stop" and not statuses and b.lm.calls == 0


def test_unreachable_says_so_pauses_and_falls_back_only_when_asked(monkeypatch):
    statuses = []
    client = FakeClient(fail=RemoteUnavailable("Triton at http://h:1: connection refused"))
    b = make(client, statuses)
    out = b.generate([1, 2], options=RemoteSettings())
    assert out.ids == [] and out.stop_reason == "unavailable"
    assert statuses[-1][0] == "error" and "unreachable" in statuses[-1][1] and "connection refused" in statuses[-1][1]
    client.fail = None  # it comes back, but inside the retry pause it is not asked
    b.generate([1, 2], options=RemoteSettings())
    assert client.calls == 0
    out = b.generate([1, 2], options=RemoteSettings(fallback_to_local=True))
    assert out.ids == [9, 9] and b.lm.calls == 1
    monkeypatch.setattr(backend_module.time, "monotonic", lambda: 1e12)  # the pause is over
    out = b.generate([1, 2], options=RemoteSettings())
    assert out.ids == [5, 6, 7] and statuses[-1] == ("ready", None)


def test_another_model_on_the_server_is_never_used():
    statuses = []
    b = make(FakeClient(sha="other"), statuses)
    assert b.generate([1], options=RemoteSettings()).stop_reason == "unavailable"
    assert "another model" in statuses[-1][1] and b.client.calls == 0


def test_the_local_backend_ignores_remote_options():
    lm = FakeLM()
    out = backend_module.LocalBackend(lm).generate([1], max_lines=1, options=SimpleNamespace(), max_new_tokens=3)
    assert out.ids == [9, 9] and lm.calls == 1
