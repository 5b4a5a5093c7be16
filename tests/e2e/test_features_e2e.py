"""Docstring command and code actions, review diagnostics, and the test-data command over real LSP."""

from __future__ import annotations

import ast

import pytest
from lsprotocol import types

from tests.e2e.lsp_helpers import lsp_session, open_doc

pytestmark = pytest.mark.slow

SOURCE = "def mean(values, weights=None):\n    if not values:\n        raise ValueError('empty')\n    return sum(values) / len(values)\n"


async def test_generate_docstring_command_applies_an_edit(tiny_bundle, tmp_path):
    async with lsp_session(tiny_bundle) as client:
        uri = (tmp_path / "stats.py").as_uri()
        open_doc(client, uri, SOURCE)
        actions = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=0, character=4), end=types.Position(line=0, character=4)),
            context=types.CodeActionContext(diagnostics=[])))
        titles = [a.title for a in actions]
        assert "Generate docstring" in titles
        action = next(a for a in actions if a.title == "Generate docstring")
        # lsprotocol may read a CodeAction back as a Command (the result union is ambiguous)
        raw = action.command
        if isinstance(raw, str) and raw.startswith("{"):  # cattrs turned the nested Command into its repr
            raw = ast.literal_eval(raw)
        if isinstance(raw, dict):
            name, arguments = raw["command"], raw["arguments"]
        elif isinstance(raw, str):
            name, arguments = raw, action.arguments
        else:
            name, arguments = raw.command, raw.arguments
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=name, arguments=arguments))
        assert result["applied"] is True
        doc = client.documents[uri]
        assert '"""' in doc and "Args:" in doc and "values" in doc
        assert "Raises:" in doc and "ValueError" in doc


async def test_docstring_on_a_line_without_a_function_says_so(tiny_bundle, tmp_path):
    async with lsp_session(tiny_bundle) as client:
        uri = (tmp_path / "x.py").as_uri()
        open_doc(client, uri, "x = 1\n\n" + SOURCE)
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devassist.generateDocstring", arguments=[uri, {"line": 0, "character": 0}]))
        assert result["applied"] is False and "No function" in result["message"]
        assert client.documents[uri].startswith("x = 1\n")


async def test_synthesize_refuses_a_path_outside_the_workspace(tiny_bundle, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    outside = tmp_path / "data.csv"
    outside.write_text("a,b\n1,2\n3,4\n")
    async with lsp_session(tiny_bundle, workspace=ws) as client:
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="devassist.synthesizeTestData", arguments=[outside.as_uri(), 10]))
        assert result["ok"] is False and "outside the workspace" in result["message"]
        assert not (tmp_path / "data.synthetic.csv").exists()
