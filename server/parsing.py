"""Tree-sitter parsing of Python: functions and classes, positions, syntax-error tolerant.

Tree-sitter works on UTF-8 bytes; LSP positions count UTF-16 code units. Conversions between
them go through `PositionCodec`, never by indexing a str with `character`.
"""

from __future__ import annotations

import bisect

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Tree


@lru_cache(maxsize=1)
def python_language() -> Language:
    """The tree-sitter Python grammar."""
    return Language(tree_sitter_python.language())


PARSE_CHUNK = 4096  # bytes handed to tree-sitter per read (see `parse`)


def parse(source: bytes | str, pause: Callable[[], object] | None = None) -> Tree:
    """Parse Python source (bytes or str) into a tree; never raises on syntax errors.

    A large source is read in chunks through a callback: tree-sitter holds the GIL for the
    whole of a plain parse (6-11 ms for 2,000 lines, while the server's main thread waits to
    read a keystroke), but between two reads the GIL can go to another thread, and `pause`
    (background work: it blocks while a completion runs) is called. Same tree, same time.
    """
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    parser = Parser(python_language())
    if len(data) <= PARSE_CHUNK:
        return parser.parse(data)

    def read(offset: int, _point) -> bytes:
        if pause is not None:
            pause()
        return data[offset : offset + PARSE_CHUNK]

    return parser.parse(read)


@dataclass
class Definition:
    """A `def`, `async def` or `class` found in a file."""

    kind: str  # "function" or "class"
    name: str
    qualname: str  # Outer.method, outer.<locals>.inner
    node: Node = field(repr=False)
    start_byte: int
    end_byte: int
    start_line: int  # 0-based, of the def/class keyword (decorators excluded)
    end_line: int  # 0-based, inclusive
    signature: str  # the header up to and including the colon
    docstring: str | None
    docstring_node: Node | None = field(repr=False)
    body_node: Node | None = field(repr=False)
    is_method: bool = False
    is_async: bool = False
    has_error: bool = False

    @property
    def name_node(self) -> Node | None:
        """The identifier node of the definition's name."""
        return self.node.child_by_field_name("name")


def node_text(node: Node | None, source: bytes) -> str:
    """The source text of a node."""
    if node is None:
        return ""
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def string_value(node: Node, source: bytes) -> str | None:
    """The literal value of a plain string node (no f-string), else None."""
    if node.type != "string":
        return None
    parts = [c for c in node.children if c.type == "string_content"]
    if any(c.type == "interpolation" for c in node.children):
        return None
    return "".join(node_text(p, source) for p in parts)


def docstring_of(body: Node | None, source: bytes) -> tuple[str | None, Node | None]:
    """The docstring (first statement, a string) of a block, and its expression node."""
    if body is None:
        return None, None
    for child in body.named_children:
        if child.type == "comment":
            continue
        if child.type == "expression_statement" and child.named_child_count == 1:
            expr = child.named_children[0]
            if expr.type == "string":
                value = string_value(expr, source)
                return value, child
        return None, None
    return None, None


def _header(node: Node, body: Node | None, source: bytes) -> str:
    """The text from `def`/`class` up to the colon before the body."""
    end = body.start_byte if body is not None else node.end_byte
    text = source[node.start_byte : end].decode("utf-8", "replace").rstrip()
    return text


def iter_definitions(tree: Tree, source: bytes) -> Iterator[Definition]:
    """Every function and class in the file, outer first, with qualified names."""

    def walk(node: Node, prefix: str, in_class: bool) -> Iterator[Definition]:
        for child in node.named_children:
            target = child
            if child.type == "decorated_definition":
                target = child.child_by_field_name("definition") or child
            if target.type in ("function_definition", "class_definition"):
                name = node_text(target.child_by_field_name("name"), source)
                body = target.child_by_field_name("body")
                doc, doc_node = docstring_of(body, source)
                is_func = target.type == "function_definition"
                qual = f"{prefix}{name}"
                yield Definition(
                    kind="function" if is_func else "class",
                    name=name,
                    qualname=qual,
                    node=target,
                    start_byte=target.start_byte,
                    end_byte=target.end_byte,
                    start_line=target.start_point[0],
                    end_line=target.end_point[0] - (1 if target.end_point[1] == 0 else 0),
                    signature=_header(target, body, source),
                    docstring=doc,
                    docstring_node=doc_node,
                    body_node=body,
                    is_method=in_class and is_func,
                    is_async=is_func and target.children[0].type == "async",
                    has_error=target.has_error,
                )
                if body is not None:
                    inner = f"{qual}." if not is_func else f"{qual}.<locals>."
                    yield from walk(body, inner, not is_func)
            elif child.type in ("if_statement", "try_statement", "with_statement", "block",
                                "else_clause", "except_clause", "finally_clause", "elif_clause",
                                "for_statement", "while_statement", "ERROR"):
                yield from walk(child, prefix, in_class)

    yield from walk(tree.root_node, "", False)


def definitions(source: bytes | str, pause: Callable[[], object] | None = None) -> list[Definition]:
    """Parse and list every function and class (`pause`: see `parse`; also called per definition)."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    out = []
    for d in iter_definitions(parse(data, pause), data):
        if pause is not None:
            pause()
        out.append(d)
    return out


def enclosing_definition(defs: list[Definition], line: int, kinds: tuple[str, ...] = ("function", "class")) -> Definition | None:
    """The innermost definition whose lines contain `line` (0-based)."""
    best = None
    for d in defs:
        if d.kind in kinds and d.start_line <= line <= d.end_line:
            if best is None or d.start_byte >= best.start_byte:
                best = d
    return best


class PositionCodec:
    """Converts between LSP positions (line, UTF-16 column) and offsets in a document's text.

    Runs of newlines at either end cost nothing: a large document's window (`window_of`) is
    millions of emptied lines around a few hundred real ones, and only the real ones are scanned.
    """

    def __init__(self, text: str):
        self.text = text
        size = len(text)
        self._lead = size - len(text.lstrip("\n"))  # line i < lead starts at offset i
        self._body_end = len(text.rstrip("\n")) if self._lead < size else size  # then one line per newline
        self._starts: list[int] = []  # starts of the lines that begin inside the body
        i = text.find("\n", self._lead, self._body_end)
        while i >= 0:  # str.find runs in C: fast even for a 10 MB document
            self._starts.append(i + 1)
            i = text.find("\n", i + 1, self._body_end)
        self._trail = size - self._body_end

    @property
    def line_count(self) -> int:
        """Number of lines (a trailing newline starts an empty last line)."""
        return 1 + self._lead + len(self._starts) + self._trail

    def _start(self, line: int) -> int:
        """The offset where `line` (0 <= line < line_count) starts."""
        if line <= self._lead:
            return line
        k = line - self._lead - 1
        if k < len(self._starts):
            return self._starts[k]
        return self._body_end + (k - len(self._starts)) + 1

    def _end(self, line: int) -> int:
        """The offset of `line`'s newline (the text's end for the last line)."""
        return self._start(line + 1) - 1 if line + 1 < self.line_count else len(self.text)

    def line_text(self, line: int) -> str:
        """A line's text without its newline."""
        return self.text[self._start(line):self._end(line)].rstrip("\r")

    def offset(self, line: int, character: int) -> int:
        """The str offset of an LSP position, clamped to the document (never raises)."""
        if line < 0:
            return 0
        if line >= self.line_count:
            return len(self.text)
        i, end = self._start(line), self._end(line)
        units = 0
        while i < end and units < character:
            units += 2 if ord(self.text[i]) > 0xFFFF else 1
            i += 1
        return i

    def position(self, offset: int) -> tuple[int, int]:
        """The LSP (line, UTF-16 character) of a str offset."""
        offset = max(0, min(offset, len(self.text)))
        if offset <= self._lead:
            return offset, 0
        if offset > self._body_end:  # inside the trailing newlines: each starts a line
            return self._lead + len(self._starts) + (offset - self._body_end), 0
        lo = self._lead + bisect.bisect_right(self._starts, offset)  # the last line starting at or before offset
        start = self._start(lo)
        col = sum(2 if ord(c) > 0xFFFF else 1 for c in self.text[start:offset])
        return lo, col
