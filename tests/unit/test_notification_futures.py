"""Notifications leave no future behind: pygls keeps one per notification under a fresh uuid
(about 1.4 KB per keystroke, the growth of the typing soak), DevassistProtocol drops it."""

import asyncio

from lsprotocol import types

from devassist.server.serve import build_server


def test_typing_notifications_leave_no_futures(tiny_bundle, tmp_path):
    server = build_server(tiny_bundle)
    protocol = server.protocol
    uri = (tmp_path / "a.py").as_uri()

    async def type_text():
        for _ in protocol.lsp_initialize(types.InitializeParams(  # sets up the workspace (its handler not needed)
                capabilities=types.ClientCapabilities(), root_uri=tmp_path.as_uri())):
            pass
        protocol._handle_notification(types.TEXT_DOCUMENT_DID_OPEN, types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text="def f(x):\n    return x\n")))
        for n in range(200):
            protocol._handle_notification(types.TEXT_DOCUMENT_DID_CHANGE, types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=2 + n, uri=uri),
                [types.TextDocumentContentChangePartial(range=types.Range(types.Position(1, 12 + n), types.Position(1, 12 + n)),
                                                        text="y")]))
        await asyncio.sleep(0)  # let done-callbacks scheduled on the loop run

    asyncio.run(type_text())
    assert server.workspace.get_text_document(uri).source.endswith("x" + "y" * 200 + "\n")  # every edit applied
    assert len(protocol._request_futures) == 0
