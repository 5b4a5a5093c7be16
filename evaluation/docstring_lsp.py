"""Latency of "Generate docstring" through LSP, as an editor sees it: command sent to edit applied.

`devassist evaluate docstring --lsp N` starts `devassist serve`, opens each sampled file (its
docstring hidden) and times `workspace/executeCommand devassist.generateDocstring` until the
answer, the server's `workspace/applyEdit` round trip included.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types


async def lsp_docstring_latency(bundle: str, documents: list[tuple[str, int]]) -> dict:
    """Time the docstring command on each (text, 0-based def line); returns the latencies and the sources."""
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("devassist-docstring-bench", "1")

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):  # an editor that accepts every edit
        return types.ApplyWorkspaceEditResult(applied=True)

    await client.start_io(sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(apply_edit=True))))
    client.initialized(types.InitializedParams())
    latencies, sources, failed = [], {}, 0
    for i, (text, line) in enumerate(documents):
        uri = Path(tempfile.gettempdir(), f"docstring_bench_{i}.py").as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        start = time.perf_counter()
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devassist.generateDocstring", arguments=[uri, {"line": line, "character": 0}]))
        ms = (time.perf_counter() - start) * 1000
        client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        if not result or not result.get("applied"):
            failed += 1
            continue
        latencies.append(ms)
        sources[result.get("summarySource", "")] = sources.get(result.get("summarySource", ""), 0) + 1
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"latencies": latencies, "summary_sources": sources, "not_applied": failed}
