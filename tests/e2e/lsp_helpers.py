"""Start the real server over stdio with pytest-lsp's client, as an editor would."""

from __future__ import annotations

import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities


@asynccontextmanager
async def lsp_session(bundle: Path, editor: str = "visual-studio-code", settings: dict | None = None,
                      workspace: Path | None = None, capabilities: types.ClientCapabilities | None = None,
                      serve_args: tuple[str, ...] = (), env: dict[str, str] | None = None):
    """A pytest-lsp client talking to `devassist serve --bundle BUNDLE [serve_args]`, initialized;
    `env` is added to the server's environment."""
    config = ClientServerConfig(server_command=[sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle),
                                                *serve_args],
                                server_env={**os.environ, **env} if env else None)
    client = await config.start()
    client.documents = {}  # uri -> text, as an editor holds it (updated by workspace/applyEdit)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        for change in params.edit.document_changes or []:
            uri = change.text_document.uri
            text = client.documents.get(uri)
            if text is None:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="unknown document")
            for e in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
                text = apply_text_edit(text, e)
            client.documents[uri] = text
        return types.ApplyWorkspaceEditResult(applied=True)

    client.statuses = []  # every devassist/status, in order (tests wait on the notification, then look here)

    @client.feature("devassist/status")
    def status(params):
        client.statuses.append(params if isinstance(params, dict) else {k: getattr(params, k) for k in params._fields})

    if settings is not None:
        client.set_configuration(settings, section="devassist")
    folders = [types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)] if workspace else None
    await client.initialize_session(types.InitializeParams(
        capabilities=capabilities or client_capabilities(editor), initialization_options=settings,
        workspace_folders=folders, root_uri=workspace.as_uri() if workspace else None))
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


def pulling_capabilities() -> types.ClientCapabilities:
    """VS Code's capabilities as of today: pulled diagnostics with refresh, inline completion."""
    caps = client_capabilities("visual-studio-code")
    caps.text_document.diagnostic = types.DiagnosticClientCapabilities(dynamic_registration=False)
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities(dynamic_registration=False)
    caps.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    return caps


def apply_text_edit(text: str, edit: types.TextEdit) -> str:
    """Apply one LSP TextEdit (UTF-16 positions) to a text."""
    from devassist.server.parsing import PositionCodec

    codec = PositionCodec(text)
    a = codec.offset(edit.range.start.line, edit.range.start.character)
    b = codec.offset(edit.range.end.line, edit.range.end.character)
    return text[:a] + edit.new_text + text[b:]


def open_doc(client, uri: str, text: str, language_id: str = "python", version: int = 1) -> None:
    """Send textDocument/didOpen (and remember the text, as an editor does)."""
    client.documents[uri] = text
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)))
