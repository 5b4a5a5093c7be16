"""Review findings as the editor gets them: LSP diagnostics, the quick fix, and the suppression comment."""

from __future__ import annotations

from lsprotocol import types as lsp

from devassist.server.features.review.feature import (CODE_BUG, CODE_UNUSUAL, SEVERITIES, SOURCE, SUPPRESS_COMMENT,
                                                       SUPPRESS_RE, Finding)


def to_diagnostics(findings: list[Finding], uri: str, severity: str = "hint") -> list[lsp.Diagnostic]:
    """LSP diagnostics for findings: bug findings as warnings carrying their fix in `data`,
    unusual functions at `severity` with related information pointing at the top lines."""
    level = SEVERITIES.get(severity, lsp.DiagnosticSeverity.Hint)
    out = []
    for f in findings:
        rng = lsp.Range(lsp.Position(*f.range[0]), lsp.Position(*f.range[1]))
        if f.code == CODE_BUG:
            out.append(lsp.Diagnostic(range=rng, message=f.message, source=SOURCE, code=f.code,
                                      severity=lsp.DiagnosticSeverity.Warning,
                                      data={"written": f.written, "replacement": f.replacement,
                                            "margin": round(f.margin, 2)}))
            continue
        related = [
            lsp.DiagnosticRelatedInformation(
                lsp.Location(uri, lsp.Range(lsp.Position(*t.range[0]), lsp.Position(*t.range[1]))),
                f"line {t.line + 1} is {'the' if k == 0 else 'among the'} least expected in this function")
            for k, t in enumerate(f.top_lines)
        ]
        out.append(lsp.Diagnostic(
            range=rng, message=f.message, source=SOURCE, code=f.code,
            severity=level if f.code == CODE_UNUSUAL else lsp.DiagnosticSeverity.Hint,
            related_information=related or None,
            data={"qualname": f.qualname, "percentile": round(f.percentile, 2)} if f.code == CODE_UNUSUAL else None,
        ))
    return out


def suppress_action(text: str, diagnostic: lsp.Diagnostic) -> lsp.TextEdit | None:
    """The edit that appends `# devassist: ignore` to the diagnostic's `def` line (None if present)."""
    if diagnostic.source != SOURCE or diagnostic.code not in (CODE_UNUSUAL, CODE_BUG):
        return None
    lines = text.split("\n")
    line = diagnostic.range.start.line
    if not 0 <= line < len(lines):
        return None
    current = lines[line].rstrip("\r")
    if SUPPRESS_RE.search(current):
        return None
    stripped = current.rstrip()
    end = len(stripped.encode("utf-16-le")) // 2
    full = len(current.encode("utf-16-le")) // 2
    return lsp.TextEdit(lsp.Range(lsp.Position(line, end), lsp.Position(line, full)), "  " + SUPPRESS_COMMENT)


def fix_action(text: str, diagnostic: lsp.Diagnostic) -> lsp.TextEdit | None:
    """The edit that replaces a bug finding's token with its suggested fix (None if the text
    there is no longer the token the finding was about)."""
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    if diagnostic.source != SOURCE or diagnostic.code != CODE_BUG or not data.get("replacement"):
        return None
    start, end = diagnostic.range.start, diagnostic.range.end
    lines = text.split("\n")
    if start.line != end.line or not 0 <= start.line < len(lines):
        return None
    units = lines[start.line].encode("utf-16-le")
    if units[2 * start.character : 2 * end.character].decode("utf-16-le", "replace") != data.get("written"):
        return None
    return lsp.TextEdit(diagnostic.range, str(data["replacement"]))


def fix_code_action(uri: str, text: str, diagnostic: lsp.Diagnostic) -> lsp.CodeAction | None:
    """A preferred quick fix that applies a bug finding's suggested replacement."""
    edit = fix_action(text, diagnostic)
    if edit is None:
        return None
    return lsp.CodeAction(
        title=f"Replace `{diagnostic.data['written']}` with `{diagnostic.data['replacement']}`",
        kind=lsp.CodeActionKind.QuickFix, diagnostics=[diagnostic], is_preferred=True,
        edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
    )


def suppress_code_action(uri: str, text: str, diagnostic: lsp.Diagnostic) -> lsp.CodeAction | None:
    """A quick fix that adds the suppression comment for one review diagnostic."""
    edit = suppress_action(text, diagnostic)
    if edit is None:
        return None
    return lsp.CodeAction(
        title="Ignore this review finding (# devassist: ignore)",
        kind=lsp.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
    )
