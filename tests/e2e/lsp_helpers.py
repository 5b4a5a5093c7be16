"""Start the real server over stdio with pytest-lsp's client, as an editor would."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities


@asynccontextmanager
async def lsp_session(bundle: Path, editor: str = "visual-studio-code", settings: dict | None = None,
                      workspace: Path | None = None):
    """A pytest-lsp client talking to `devassist serve --bundle BUNDLE`, initialized."""
    config = ClientServerConfig(server_command=[sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle)])
    client = await config.start()
    if settings is not None:
        client.set_configuration(settings, section="devassist")
    folders = [types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)] if workspace else None
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(editor), initialization_options=settings,
        workspace_folders=folders, root_uri=workspace.as_uri() if workspace else None))
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


def open_doc(client, uri: str, text: str, language_id: str = "python", version: int = 1) -> None:
    """Send textDocument/didOpen."""
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)))
