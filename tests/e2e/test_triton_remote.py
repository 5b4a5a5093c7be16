"""`devassist serve --remote`: a real tritonserver on loopback, serving a repository exported from the
tiny bundle, gives the same completions (greedy, identical tokens) as the bundle in-process."""

from __future__ import annotations

import asyncio
import importlib.util
import os

import pytest
from lsprotocol import types

from tests.e2e.lsp_helpers import lsp_session, open_doc

# Without the `triton` extra these are skipped, not failed; CI installs it and sets
# DEVASSIST_REQUIRE_TRITON=1, so there a missing client fails them.
NO_CLIENT = importlib.util.find_spec("tritonclient") is None and not os.environ.get("DEVASSIST_REQUIRE_TRITON")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(NO_CLIENT, reason="tritonclient is not installed (pip install 'devassist[triton]')")]

# Cursor spots of different kinds: after a dot, mid-word (the typed characters constrain the
# first tokens), an empty indented line (block mode), code after the cursor (FIM).
SPOTS = [
    'import math\n\n\ndef area_of_circle(radius):\n    """Area of a circle."""\n    return math.',
    'def count_words(text):\n    """Count the words in a text."""\n    return len(text.sp',
    'class Point:\n    """A point in the plane."""\n\n    def __init__(self, x, y):\n        ',
    'def add(a, b):\n    """Add two numbers."""\n    return \n\n\ndef subtract(a, b):\n    return a - b\n',
]
# Every token shown, and a time budget no loaded CI machine reaches: the comparison is of tokens.
QUIET = {"completion": {"minTokenProbability": 0, "timeBudgetMs": 20000}, "review": {"enabled": False}}


@pytest.fixture(scope="module")
def triton(tiny_bundle, tmp_path_factory):
    """tritonserver (the nvidia-pytriton wheel's binary) on 127.0.0.1 with the tiny bundle's repository."""
    from devassist.export.triton.launch import TritonUnavailable, start_triton
    from devassist.export.triton.repository import export_triton

    work = tmp_path_factory.mktemp("triton")
    export_triton(tiny_bundle, work / "repo", log=lambda *_: None)
    try:
        server = start_triton(work / "repo", work / "run")
    except TritonUnavailable as exc:
        if os.environ.get("DEVASSIST_REQUIRE_TRITON"):  # CI installs it: there, absence is a failure
            pytest.fail(f"tritonserver is required here: {exc}")
        pytest.skip(f"no tritonserver here: {exc}")
    yield server
    server.stop()


def _position(text: str) -> types.Position:
    cursor = text.index("return \n") + len("return ") if "return \n" in text else len(text)
    lines = text[:cursor].split("\n")
    return types.Position(line=len(lines) - 1, character=len(lines[-1]))


async def _inline_texts(bundle, tmp_path, serve_args=(), settings=QUIET) -> list[str]:
    texts = []
    async with lsp_session(bundle, settings=settings, serve_args=serve_args) as client:
        for k, source in enumerate(SPOTS):
            uri = (tmp_path / f"spot_{k}.py").as_uri()  # a document each: no KV cache reused between spots
            open_doc(client, uri, source)
            result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=_position(source),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
            texts.append(result.items[0].insert_text if result and result.items else "")
    return texts


def test_generate_model_gives_the_local_tokens(tiny_bundle, triton):
    """The same prompts decoded in-process and by Triton's `generate`: identical ids, close log-probabilities."""
    from devassist.export.triton.repository import completion_component
    from devassist.server.bundle import load_bundle
    from devassist.server.remote.triton_client import TritonGenerate
    from devassist.server.runtime.lm import LanguageModel

    bundle = load_bundle(tiny_bundle)
    lm = LanguageModel(bundle, component=completion_component(bundle))
    for protocol_url in (triton.url, f"grpc://127.0.0.1:{triton.grpc_port}"):
        remote = TritonGenerate(protocol_url, timeout_s=30)
        remote.check(lm.file_sha256)
        for source, required in ((SPOTS[0], ""), (SPOTS[1][:-3], " sp"), (SPOTS[2], " ")):
            prompt = lm.encode(source)
            local = lm.generate(prompt, max_new_tokens=16, required=required)
            got = remote.generate(prompt, 16, required=required)
            assert got.ids == local.ids, (protocol_url, source[-20:])
            assert got.stop_reason == local.stop_reason and got.prompt_tokens == local.prompt_tokens
            assert max(abs(a - b) for a, b in zip(got.logprobs, local.logprobs)) < 1e-3


async def test_serve_remote_completes_as_the_local_bundle(tiny_bundle, triton, tmp_path):
    local = await _inline_texts(tiny_bundle, tmp_path)
    remote = await _inline_texts(tiny_bundle, tmp_path, serve_args=("--remote", triton.url))
    assert any(local), "the tiny model completed nothing locally: the comparison would be empty"
    assert remote == local


async def test_unreachable_server_says_so_and_falls_back_when_asked(tiny_bundle, tmp_path):
    from devassist.export.triton.launch import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with lsp_session(tiny_bundle, settings=QUIET, serve_args=("--remote", url)) as client:
        uri = (tmp_path / "a.py").as_uri()
        open_doc(client, uri, SPOTS[0])
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_position(SPOTS[0]),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked))
        waiting = asyncio.ensure_future(_status_with(client, "unreachable"))
        result = await client.text_document_inline_completion_async(params)
        status = await asyncio.wait_for(waiting, timeout=30)
        assert status["state"] == "error" and url in status["message"]
        assert not (result and result.items)
    fallback = {**QUIET, "remote": {"fallbackToLocal": True}}
    remote = await _inline_texts(tiny_bundle, tmp_path, serve_args=("--remote", url), settings=fallback)
    assert remote == await _inline_texts(tiny_bundle, tmp_path)


async def _status_with(client, word: str) -> dict:
    while True:
        params = await client.wait_for_notification("devassist/status")
        params = params if isinstance(params, dict) else {"state": params.state, "message": getattr(params, "message", "")}
        if word in (params.get("message") or ""):
            return params
