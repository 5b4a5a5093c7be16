"""A stand-in language server that speaks devassist's LSP contract with canned answers.

It runs no model. It exists so the editor clients (VS Code, Neovim) can be developed and their
tests debugged without a bundle; the end-to-end tests use the real `devassist serve` unless
DEVASSIST_TEST_CONTRACT_SERVER=1 is set. What it answers:

- completion and inline completion: one item, `CONTRACT_COMPLETION`;
- `devassist.generateDocstring [uri, {line, character}]`: inserts a one-line docstring under the
  enclosing `def` through `workspace/applyEdit`;
- `devassist.synthesizeTestData [uri, rows]`: writes `<name>.synthetic<ext>` beside the file;
- diagnostics: one `devassist` diagnostic on the first `def` of every Python document;
- code actions: "Generate docstring"; the status notification `devassist/status`.

Run: python editor-client/testing/contract_server.py serve [--bundle DIR]
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

CONTRACT_COMPLETION = "total = a + b"
MODEL = "contract-stub"
server = LanguageServer("devassist-contract", "0.1.0")
log = logging.getLogger("contract")


def status(state: str, message: str | None = None) -> None:
    """Send `devassist/status`."""
    params = {"state": state, "model": MODEL}
    if message:
        params["message"] = message
    server.protocol.notify("devassist/status", params)


@server.feature(types.INITIALIZED)
def initialized(params: types.InitializedParams) -> None:
    """Report ready."""
    status("starting")
    status("ready")


def _review(uri: str) -> None:
    """One diagnostic on the first `def`."""
    doc = server.workspace.get_text_document(uri)
    diags = []
    for i, line in enumerate(doc.lines):
        m = re.match(r"\s*(async\s+)?def\s+(\w+)", line)
        if m:
            diags.append(types.Diagnostic(
                range=types.Range(types.Position(i, m.start(2)), types.Position(i, m.end(2))),
                message=f"devassist review: {m.group(2)} is unusual (score above the 99th percentile)",
                severity=types.DiagnosticSeverity.Information,
                source="devassist",
            ))
            break
    server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diags))


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(params: types.DidOpenTextDocumentParams) -> None:
    """Review on open."""
    _review(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(params: types.DidChangeTextDocumentParams) -> None:
    """Review on change."""
    _review(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", " "]))
def completion(params: types.CompletionParams) -> types.CompletionList:
    """One canned item that replaces the word being typed (so the client's filter keeps it)."""
    log.info("completion at %s", params.position)
    status("busy")
    doc = server.workspace.get_text_document(params.text_document.uri)
    line = doc.lines[params.position.line] if params.position.line < len(doc.lines) else ""
    start = params.position.character  # ASCII test files: characters are code points
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    new_text = line[start:params.position.character] + CONTRACT_COMPLETION
    item = types.CompletionItem(
        label=new_text, kind=types.CompletionItemKind.Text, detail="devassist", filter_text=new_text,
        text_edit=types.TextEdit(types.Range(types.Position(params.position.line, start), params.position), new_text))
    status("ready")
    return types.CompletionList(is_incomplete=True, items=[item])


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList:
    """One canned ghost-text item at the cursor."""
    log.info("inlineCompletion at %s", params.position)
    pos = params.position
    return types.InlineCompletionList(items=[types.InlineCompletionItem(
        insert_text=CONTRACT_COMPLETION, range=types.Range(pos, pos))])


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION)
def code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
    """Offer "Generate docstring" at the cursor."""
    pos = params.range.start
    return [types.CodeAction(title="Generate docstring", kind=types.CodeActionKind.RefactorRewrite,
                             command=types.Command(title="Generate docstring", command="devassist.generateDocstring",
                                                   arguments=[params.text_document.uri, {"line": pos.line, "character": pos.character}]))]


@server.command("devassist.generateDocstring")
def generate_docstring(uri: str, position: dict) -> bool:
    """Insert a docstring under the enclosing def."""
    doc = server.workspace.get_text_document(uri)
    for i in range(min(position["line"], len(doc.lines) - 1), -1, -1):
        m = re.match(r"(\s*)(async\s+)?def\s+\w+", doc.lines[i])
        if m:
            end = i
            while not doc.lines[end].rstrip().endswith(":") and end + 1 < len(doc.lines):
                end += 1
            indent = m.group(1) + "    "
            text = f'{indent}"""Docstring generated by devassist."""\n'
            at = types.Position(end + 1, 0)
            edit = types.WorkspaceEdit(changes={uri: [types.TextEdit(types.Range(at, at), text)]})
            server.workspace_apply_edit(types.ApplyWorkspaceEditParams(edit=edit, label="Generate docstring"))
            return True
    return False


@server.command("devassist.synthesizeTestData")
def synthesize(uri: str, rows: int) -> str:
    """Copy the header and first row `rows` times beside the file."""
    path = Path(to_fs_path(uri))
    out = path.with_name(path.stem + ".synthetic" + path.suffix)
    lines = path.read_text().splitlines()
    out.write_text("\n".join(lines[:1] + lines[1:2] * int(rows)) + "\n")
    return out.as_uri()


def main(argv: list[str] | None = None) -> int:
    """`contract_server.py serve [--bundle DIR]`: stdio only."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="contract %(levelname)s %(message)s")
    if "--bundle" in argv:
        bundle = Path(argv[argv.index("--bundle") + 1])
        if not (bundle / "manifest.json").is_file():
            print(f"devassist: {bundle / 'manifest.json'}: no such file (not a bundle)", file=sys.stderr)
            return 2
    server.start_io()
    return 0


if __name__ == "__main__":
    sys.exit(main())
