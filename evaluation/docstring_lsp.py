"""Latency of "Generate docstring" through LSP, as an editor sees it: command sent to edit applied.

`devassist evaluate docstring --lsp N` starts `devassist serve`, opens each sampled file (its
docstring hidden), waits until the server has reviewed the whole file (its diagnostics, then the
status "reviewed N of N functions": the user opened the file earlier; the review runs on the
same background thread in runs of at most 1 s, and a command sent meanwhile waits for the run
in progress), then times `workspace/executeCommand devassist.generateDocstring`
until the answer, the server's `workspace/applyEdit` round trip included. The first `warmup`
commands are sent the same way but not timed (first-call costs: ONNX sessions, caches).
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types

SETTLE_S = 30.0  # longest wait for a file's review diagnostics (a bundle without review sends none)


async def lsp_docstring_latency(bundle: str, documents: list[tuple[str, int]], warmup: int = 3) -> dict:
    """Time the docstring command on each (text, 0-based def line) after `warmup` untimed ones."""
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("devassist-docstring-bench", "1")
    published: dict[str, asyncio.Event] = {}

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):  # an editor that accepts every edit
        return types.ApplyWorkspaceEditResult(applied=True)

    reviewed = asyncio.Event()  # the open file's review has scored every function

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: types.PublishDiagnosticsParams):
        published.setdefault(params.uri, asyncio.Event()).set()

    @client.feature("devassist/status")
    def status(params):
        # pygls hands unknown notifications' params over as a dict or a namedtuple-like object
        message = (params.get("message") if isinstance(params, dict) else getattr(params, "message", None)) or ""
        done = re.match(r"reviewed (\d+) of (\d+) functions", message)
        if done and done.group(1) == done.group(2):
            reviewed.set()

    await client.start_io(sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(apply_edit=True))))
    client.initialized(types.InitializedParams())
    latencies, server_ms, sources, failed, unsettled = [], [], {}, 0, 0
    runs = [documents[i % len(documents)] for i in range(min(warmup, len(documents)))] + list(documents)
    for i, (text, line) in enumerate(runs):
        uri = Path(tempfile.gettempdir(), f"docstring_bench_{i}.py").as_uri()
        settled = published.setdefault(uri, asyncio.Event())
        reviewed.clear()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        try:  # the first diagnostics, then the end of the review (a review cut by its budget goes on)
            await asyncio.wait_for(settled.wait(), SETTLE_S)
            await asyncio.wait_for(reviewed.wait(), SETTLE_S)
        except TimeoutError:
            unsettled += 1
        start = time.perf_counter()
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devassist.generateDocstring", arguments=[uri, {"line": line, "character": 0}]))
        ms = (time.perf_counter() - start) * 1000
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        if i < min(warmup, len(documents)):
            continue
        if not result or not result.get("applied"):
            failed += 1
            continue
        latencies.append(ms)
        server_ms.append(float(result.get("ms", 0.0)))  # the edit's own time in the server, without the protocol
        sources[result.get("summarySource", "")] = sources.get(result.get("summarySource", ""), 0) + 1
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"latencies": latencies, "server_ms": server_ms, "summary_sources": sources, "not_applied": failed,
            "warmup": min(warmup, len(documents)), "no_diagnostics_within_s": {"count": unsettled, "limit": SETTLE_S}}
