"""The "Generate docstring" / "Update docstring" feature, as a plain class the LSP layer calls.

`DocstringFeature.edit_for` turns (document text, cursor) into one text edit in LSP UTF-16
coordinates; `actions_for` lists the code actions for a definition's header line without
running any model, and only where there is something to do. Bad input raises `DocstringError`
with a message for the user. Every edit is checked by parsing the edited text before it is
returned: it never adds a syntax error. A summary that mentions anything the code does not
support is replaced by the parse's own summary, or by a marked placeholder (`edit.snippet`
turns placeholders into tab stops for editors that take snippets).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Callable
from dataclasses import dataclass, replace

from devassist.server.features.docstring.facts import FunctionFacts, function_facts, no_return_type
from devassist.server.features.docstring.faithful import allowed_context, vocabulary
from devassist.server.features.docstring.render import render
from devassist.server.features.docstring.styles import STYLES, new_model, parse_docstring, sync
from devassist.server.features.docstring.summary import (
    ParseSummarizer, Summarizer, SummaryRequest, default_summarizer, is_faithful)
from devassist.server.features.docstring.loading import docstring_lm_name, load_docstring_lm
from devassist.server.features.docstring.syntax import (
    DocstringError, header_colon, error_count, error_on_line, first_error_line, first_statement, full_start,
    header_end, lambda_on_line, line_ending, lsp_position)
from devassist.server.parsing import Definition, PositionCodec, iter_definitions, parse

COMMAND = "devassist.generateDocstring"
GENERATE, UPDATE = "Generate docstring", "Update docstring"
_LITERAL = re.compile(r"^([rRuU]*)(\"\"\"|'''|\"|')(.*)\2$", re.S)
_PLACEHOLDER_TEXT = re.compile(r"TODO: (?:describe|summarize)[^\r\n]*?\.(?=[\s\"']|$)")


@dataclass
class DocstringEdit:
    """One edit: replace `range` ((line, character) pairs, UTF-16) by `new_text`."""

    title: str
    start: tuple[int, int]
    end: tuple[int, int]
    new_text: str
    version: int | None = None  # the document version the edit was computed for
    qualname: str = ""
    docstring: str = ""  # the docstring's text as written (without quotes and indentation)
    summary_source: str = ""  # model | retrieval | fallback | placeholder | template | kept
    elapsed_ms: float = 0.0
    changed: bool = True
    confidence: float | None = None  # the model's mean log-probability per token, when it was asked
    draft: str | None = None  # the model's first sentence before the checks (for evaluation only)

    @property
    def snippet(self) -> str:
        """`new_text` as an LSP snippet: each marked placeholder is a tab stop the editor selects."""
        escaped = self.new_text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")
        stops = iter(range(1, 1000))
        return _PLACEHOLDER_TEXT.sub(lambda m: "${%d:%s}" % (next(stops), m.group(0)), escaped)

    @property
    def has_placeholder(self) -> bool:
        """Whether the new text holds a marked placeholder for the user to fill in."""
        return bool(_PLACEHOLDER_TEXT.search(self.new_text))

    def text_edit(self) -> dict:
        """The LSP TextEdit as JSON."""
        return {"range": {"start": {"line": self.start[0], "character": self.start[1]},
                          "end": {"line": self.end[0], "character": self.end[1]}},
                "newText": self.new_text}

    def workspace_edit(self, uri: str) -> dict:
        """A WorkspaceEdit (JSON) bound to the document version it was computed for."""
        return {"documentChanges": [{"textDocument": {"uri": uri, "version": self.version},
                                     "edits": [self.text_edit()]}]}

    def apply(self, text: str) -> str:
        """The document text with this edit applied."""
        codec = PositionCodec(text)
        a, b = codec.offset(*self.start), codec.offset(*self.end)
        return text[:a] + self.new_text + text[b:]


@dataclass
class DocstringAction:
    """A code action to offer: its title and the position to pass to the command."""

    title: str
    line: int
    character: int
    qualname: str
    kind: str = "refactor.rewrite"
    command: str = COMMAND


def check_version(edit: DocstringEdit, current_version: int | None) -> None:
    """Raise DocstringError if the document changed since the edit was computed."""
    if edit.version is not None and current_version is not None and current_version != edit.version:
        raise DocstringError("The document changed while the docstring was being written; nothing was "
                             "applied. Run the command again.")


def _escape(text: str | None) -> str | None:
    """Source form of new text for a non-raw triple-quoted literal."""
    if text is None:
        return None
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _escaped_facts(facts: FunctionFacts) -> FunctionFacts:
    params = [replace(p, type=_escape(p.type), default=_escape(p.default)) for p in facts.params]
    return replace(facts, params=params, return_type=_escape(facts.return_type),
                   return_values=[_escape(v) for v in facts.return_values], yield_type=_escape(facts.yield_type))


def _literal(lines: list[str], indent: str, newline: str, prefix: str = "", quote: str = '"""') -> str:
    """A docstring literal: one line when it fits, else quotes on their own lines' ends."""
    body = [ln.rstrip() for ln in lines]
    if len(body) == 1:
        text = body[0]
        if text.endswith(quote[0]):
            text = text[:-1] + "\\" + quote[0]
        return f"{prefix}{quote}{text}{quote}"
    rest = [f"{indent}{ln}" if ln else "" for ln in body[1:]]
    return newline.join([f"{prefix}{quote}{body[0]}", *rest, f"{indent}{quote}"])


class DocstringFeature:
    """Generates and updates docstrings; plain Python, no LSP objects."""

    def __init__(self, bundle=None, lm=None, summarizer: Summarizer | None = None, budget_ms: int = 250,
                 faithful: bool = True, summary: str = "model"):
        """`lm` is the completion model if already loaded; a bundle whose `docstring` component names
        another model (`docstring_lm`) gets that one loaded on first use (`summarizer`). `faithful=False`
        turns the check of summaries against the code off (only to measure what it changes). `summary`
        is who writes the summary line by default (`settings.SUMMARY_POLICIES`)."""
        self._summarizer = summarizer
        self._bundle, self._lm = bundle, lm
        self._loading = threading.Lock()
        self.budget_ms = budget_ms
        self.faithful = faithful
        self.summary = summary

    @property
    def summarizer(self) -> Summarizer:
        """Who writes the summary line for the `model` and `parse-first` policies, built on first use:
        the default policy (`parse`) never needs the docstring model, and loading it cost the server's
        start 0.25 s and 70 MB."""
        with self._loading:
            if self._summarizer is None:
                bundle, lm = self._bundle, self._lm
                name = docstring_lm_name(bundle)
                if name is not None and (lm is None or getattr(lm, "component", None) != name):
                    lm = load_docstring_lm(bundle)
                self._summarizer = default_summarizer(bundle, lm)
            return self._summarizer

    # ---- locating -----------------------------------------------------------------------

    def _target(self, text: str, line: int, character: int) -> tuple[bytes, Definition, object]:
        data = text.encode("utf-8", "surrogatepass")
        tree = parse(data)
        codec = PositionCodec(text)
        if line < 0 or line >= codec.line_count:
            raise DocstringError(f"Line {line + 1} is outside the document.")
        offset = codec.offset(line, character)
        byte = len(text[:offset].encode("utf-8", "surrogatepass"))
        node = tree.root_node.descendant_for_byte_range(byte, byte)
        while node is not None and node.type not in ("function_definition", "class_definition", "lambda"):
            node = node.parent
        if node is not None and node.type == "lambda":
            raise DocstringError("A lambda cannot have a docstring; turn it into a `def` first.")
        defs = list(iter_definitions(tree, data))
        best = None
        for d in defs:
            first = full_start(d).start_point[0]
            if first <= line <= d.end_line and (best is None or d.start_byte >= best.start_byte):
                best = d
        if best is None and lambda_on_line(tree.root_node, line):
            raise DocstringError("A lambda cannot have a docstring; turn it into a `def` first.")
        if best is None and error_on_line(tree.root_node, line):
            raise DocstringError(f"Line {line + 1} has a syntax error; fix it first, then generate the docstring.")
        if best is None:
            raise DocstringError(f"No function or class at line {line + 1}: put the cursor on a `def` or `class`.")
        if best.has_error or best.body_node is None:
            where = first_error_line(best.node)
            raise DocstringError(f"`{best.qualname}` has a syntax error (line {where + 1}); fix it first.")
        return data, best, tree

    # ---- public interface ---------------------------------------------------------------

    def edit_for(self, text: str, line: int, character: int, style: str = "google", version: int | None = None,
                 deadline: float | None = None, is_cancelled: Callable[[], bool] | None = None,
                 summary: str | None = None) -> DocstringEdit:
        """The edit that generates (or updates) the docstring of the definition at the cursor.

        `line`/`character` are an LSP position (UTF-16); `version` is the document version the
        text belongs to (echoed in the edit); `deadline` (time.monotonic) bounds the model, by
        default `budget_ms` from now; `is_cancelled` is polled between generated tokens; `summary`
        overrides who writes the summary line (`settings.SUMMARY_POLICIES`).
        Raises DocstringError with a message for the user.
        """
        start = time.perf_counter()
        style = style if style in STYLES else "google"
        data, defn, tree = self._target(text, line, character)
        at = defn.docstring_node.start_byte if defn.docstring_node is not None else header_colon(defn).end_byte
        newline = line_ending(data, at, text)  # the ending of the line edited (files may mix them)
        facts = _escaped_facts(function_facts(defn, data))
        if defn.docstring_node is not None:
            edit = self._update(text, data, defn, facts, style, newline)
        else:
            if deadline is None:
                deadline = time.monotonic() + self.budget_ms / 1000
            edit = self._generate(text, data, defn, facts, style, newline, deadline, is_cancelled, tree,
                                  summary or self.summary)
        edit.version = version
        edit.qualname = defn.qualname
        self._verify(text, edit, tree, defn)
        edit.elapsed_ms = (time.perf_counter() - start) * 1000
        return edit

    def actions_for(self, text: str, start_line: int, end_line: int | None = None) -> list[DocstringAction]:
        """Code actions for the definition whose header (decorators to `:`) holds `start_line`; cheap, no model.

        Nothing is offered inside a body, for a class that has a docstring, or for a function
        whose docstring already matches its signature.
        """
        data = text.encode("utf-8", "surrogatepass")
        tree = parse(data)
        best = None
        for d in iter_definitions(tree, data):
            if d.has_error or d.body_node is None or not full_start(d).start_point[0] <= start_line <= header_end(d):
                continue
            if best is None or d.start_byte >= best.start_byte:
                best = d
        if best is None or (best.docstring_node is not None and best.kind != "function"):
            return []
        if best.docstring_node is not None:
            try:
                facts = _escaped_facts(function_facts(best, data))
                if not self._update(text, data, best, facts, "google", "\n").changed:
                    return []
            except DocstringError:
                return []
        title = UPDATE if best.docstring_node is not None else GENERATE
        codec_line, codec_char = lsp_position(text, data, best.name_node.start_byte if best.name_node else best.start_byte)
        return [DocstringAction(title, codec_line, codec_char, best.qualname)]

    # ---- generate -------------------------------------------------------------------------

    def summary_request(self, text: str, data: bytes, defn: Definition, tree=None) -> SummaryRequest:
        """What the summarizer sees of a definition (its text without a docstring), its facts, and
        the vocabulary a faithful summary may use (the definition, its class, imports, call sites)."""
        body = defn.body_node
        full = full_start(defn)
        colon = header_colon(defn)
        header = data[full.start_byte : colon.end_byte].decode("utf-8", "replace")
        rest = data[colon.end_byte : body.end_byte]
        if defn.docstring_node is not None:
            ds = defn.docstring_node
            rest = data[colon.end_byte : ds.start_byte] + data[ds.end_byte : body.end_byte]
        body_text = rest.decode("utf-8", "replace").lstrip(" \t").lstrip("\r\n")
        before = data[max(0, full.start_byte - 2000) : full.start_byte].decode("utf-8", "replace")
        return SummaryRequest(defn.name, defn.kind, header.replace("\r\n", "\n"), body_text.replace("\r\n", "\n"),
                              self._indent(text, data, defn), before.replace("\r\n", "\n"),
                              facts=function_facts(defn, data), qualname=defn.qualname,
                              allowed=allowed_context(defn, data, tree if tree is not None else parse(data))
                              if self.faithful else None,
                              own=vocabulary(data[full.start_byte : body.end_byte].decode("utf-8", "replace"))
                              if self.faithful else None)

    def _indent(self, text: str, data: bytes, defn: Definition) -> str:
        """The body's indentation; for a one-line body, the header's plus one level."""
        colon = header_colon(defn)
        first = first_statement(defn.body_node)
        line_start = data.rfind(b"\n", 0, first.start_byte) + 1
        if first is not defn.body_node and first.start_point[0] != colon.end_point[0]:
            return data[line_start : first.start_byte].decode("utf-8")
        head_start = data.rfind(b"\n", 0, defn.node.start_byte) + 1
        head_indent = re.match(r"[ \t]*", data[head_start : defn.node.start_byte].decode("utf-8")).group(0)
        unit = "\t" if "\t" in head_indent or (not head_indent and "\n\t" in text) else "    "
        return head_indent + unit

    def _summarize(self, request: SummaryRequest, deadline, is_cancelled, policy: str):
        """The summary line as `policy` says: the summarizer's (`model`), the parse's where it has one
        (`parse-first`), or the parse's and never the model's (`parse`)."""
        if policy in ("parse", "parse-first"):
            parsed = ParseSummarizer().summarize(request)
            if policy == "parse" or parsed.source == "fallback":
                return parsed
        return self.summarizer.summarize(request, deadline, is_cancelled)

    def _generate(self, text, data, defn, facts, style, newline, deadline, is_cancelled=None, tree=None,
                  policy: str = "model") -> DocstringEdit:
        request = self.summary_request(text, data, defn, tree)
        summary = self._summarize(request, deadline, is_cancelled, policy)
        if summary.source == "cancelled":
            raise DocstringError("Docstring generation was cancelled.")
        if summary.source not in ("fallback", "placeholder") and not is_faithful(summary.text, request):
            # request.allowed is None when the check is off: is_faithful then passes everything
            checked = ParseSummarizer().summarize(request)  # any summarizer's sentence is held to the same rule
            checked.confidence, checked.draft = summary.confidence, summary.draft or summary.text
            summary = checked
        description = _escape(summary.description)
        model = new_model(facts, _escape(summary.text), description, style)
        lines = render(model)
        indent = request.indent
        literal = _literal(lines, indent, newline)
        colon = header_colon(defn)
        first = first_statement(defn.body_node)
        if first is not defn.body_node and first.start_point[0] == colon.end_point[0]:  # `def f(): pass`
            a, b = colon.end_byte, first.start_byte
            new_text = f"{newline}{indent}{literal}{newline}{indent}"
        else:  # insert after the header line (and its comment, if any)
            eol = data.find(b"\n", colon.end_byte)
            eol = len(data) if eol < 0 else eol
            if eol > 0 and data[eol - 1 : eol] == b"\r":
                eol -= 1
            a = b = eol
            new_text = f"{newline}{indent}{literal}"
        return DocstringEdit(GENERATE, lsp_position(text, data, a), lsp_position(text, data, b), new_text,
                             docstring="\n".join(lines), summary_source=summary.source, confidence=summary.confidence,
                             draft=summary.draft)

    # ---- update ---------------------------------------------------------------------------

    def _update(self, text, data, defn, facts, style, newline) -> DocstringEdit:
        node = defn.docstring_node.named_children[0]
        source = data[node.start_byte : node.end_byte].decode("utf-8", "surrogatepass")
        match = _LITERAL.match(source)
        if match is None or "f" in match.group(1).lower() or "b" in match.group(1).lower():
            raise DocstringError(f"The docstring of `{defn.qualname}` is not a plain string literal; edit it by hand.")
        prefix, quote, content = match.groups()
        if defn.kind != "function":
            raise DocstringError(f"`{defn.qualname}` already has a docstring.")
        if "r" in prefix.lower():  # a raw literal keeps backslashes as written: undo our escaping
            facts = _unescape_facts(facts)
        model = parse_docstring(content, style)
        old_lines = render(parse_docstring(content, style))
        rt = defn.node.child_by_field_name("return_type")
        explicit_none = rt is not None and no_return_type(data[rt.start_byte : rt.end_byte].decode())
        model = sync(model, facts, no_return_annotation=explicit_none)
        lines = render(model)
        indent = self._indent(text, data, defn)
        triple = quote if len(quote) == 3 else quote * 3
        one_line = len(lines) == 1 and "\n" not in content
        literal = _literal(lines, indent, newline, prefix, triple if not one_line or len(quote) == 3 else quote)
        a, b = node.start_byte, node.end_byte
        return DocstringEdit(UPDATE, lsp_position(text, data, a), lsp_position(text, data, b), literal,
                             docstring="\n".join(lines), summary_source="kept", changed=lines != old_lines)

    # ---- safety -------------------------------------------------------------------------

    def _verify(self, text: str, edit: DocstringEdit, tree, defn: Definition) -> None:
        """Parse the edited text: no new syntax errors, and the definition now has a docstring."""
        new_text = edit.apply(text)
        new_data = new_text.encode("utf-8", "surrogatepass")
        new_tree = parse(new_data)
        ok = error_count(new_tree.root_node) <= error_count(tree.root_node)
        if ok:
            after = [d for d in iter_definitions(new_tree, new_data) if d.qualname == defn.qualname]
            ok = any(d.docstring_node is not None for d in after)
        if not ok:
            raise DocstringError(f"Could not write a safe docstring edit for `{defn.qualname}`; nothing was changed.")


def _unescape_facts(facts: FunctionFacts) -> FunctionFacts:
    def un(t):
        return None if t is None else t.replace('\\"\\"\\"', '"""').replace("\\\\", "\\")
    params = [replace(p, type=un(p.type), default=un(p.default)) for p in facts.params]
    return replace(facts, params=params, return_type=un(facts.return_type),
                   return_values=[un(v) for v in facts.return_values], yield_type=un(facts.yield_type))
