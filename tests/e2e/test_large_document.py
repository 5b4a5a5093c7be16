"""Typing in a document over MAX_DOCUMENT_CHARS: completions from the window around the cursor,
edits applied, one warning for the document, and the server stays up."""

import pytest

from devassist.evaluation.lsp_wire import start_stdio
from devassist.server.lsp import MAX_DOCUMENT_CHARS

pytestmark = pytest.mark.slow


def test_typing_in_a_large_document_gets_completions_and_one_warning(tiny_bundle, tmp_path):
    unit = "def area_of_circle_%06d(radius):\n    return 3.14159 * radius * radius\n\n"
    text = "".join(unit % i for i in range(MAX_DOCUMENT_CHARS // len(unit % 0) + 1000))
    assert len(text) > MAX_DOCUMENT_CHARS
    proc, peer = start_stdio(tiny_bundle, cwd=tmp_path)
    try:
        assert peer.initialize(tmp_path) is not None
        uri = (tmp_path / "huge.py").as_uri()
        peer.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                              "text": text}})
        line = text.count("\n")  # the empty last line
        typed = "def area_of_c"
        for n, char in enumerate(typed):
            peer.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2 + n}, "contentChanges": [
                {"range": {"start": {"line": line, "character": n}, "end": {"line": line, "character": n}},
                 "text": char}]})
        answer = peer.wait_for(peer.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": len(typed)}}), 120)
        assert answer is not None and "error" not in answer
        items = answer["result"]["items"] if isinstance(answer["result"], dict) else answer["result"]
        assert items, "no completion from the window of a large document"
        for item in items:  # each edit starts at the typed word: the server saw every keystroke
            edit = item["textEdit"]
            assert edit["range"]["start"] == {"line": line, "character": len("def ")}
            assert edit["newText"].startswith("area_of_c")
        diagnostics = peer.wait_for(peer.request("textDocument/diagnostic", {"textDocument": {"uri": uri}}), 60)
        assert diagnostics is not None and diagnostics["result"]["items"] == []  # review skips it, said once
        warnings = [n for n in peer.notifications if n["method"] == "window/showMessage"
                    and "huge.py" in n["params"]["message"]]
        assert len(warnings) == 1 and "lines around the cursor" in warnings[0]["params"]["message"]
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
