"""Where a docstring goes: the definition at a cursor, its header, its line endings, syntax errors.

Tree-sitter nodes and byte offsets in, LSP positions out (through `PositionCodec`).
"""

from __future__ import annotations

from tree_sitter import Node

from devassist.server.parsing import Definition, PositionCodec


class DocstringError(Exception):
    """Input the feature cannot (or must not) edit; the message is meant for the user."""


def error_count(node: Node) -> int:
    """ERROR and MISSING nodes under a node."""
    if not node.has_error:
        return 0
    count = int(node.type == "ERROR" or node.is_missing)
    return count + sum(error_count(c) for c in node.children)


def full_start(defn: Definition) -> Node:
    """The node including decorators."""
    parent = defn.node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else defn.node


def error_on_line(root: Node, line: int) -> bool:
    """Whether an ERROR or MISSING node covers a line."""
    stack = [root]
    while stack:
        n = stack.pop()
        if n.start_point[0] > line or n.end_point[0] < line or not (n.has_error or n.is_missing):
            continue
        if n.type == "ERROR" or n.is_missing:
            return True
        stack.extend(n.children)
    return False


def lambda_on_line(root: Node, line: int) -> bool:
    """Whether a lambda starts or ends on a line."""
    stack = [root]
    while stack:
        n = stack.pop()
        if n.start_point[0] > line or n.end_point[0] < line:
            continue
        if n.type == "lambda":
            return True
        stack.extend(n.children)
    return False


def header_colon(defn: Definition) -> Node:
    """The `:` that ends a definition's header."""
    colon = None
    for child in defn.node.children:
        if child.type == ":":
            colon = child
        if child.type == "block":
            break
    if colon is None:
        raise DocstringError(f"`{defn.qualname}` has no `:` after its header; fix the syntax first.")
    return colon


def header_end(defn: Definition) -> int:
    """The line of the `:` that ends a definition's header (its first line if there is none)."""
    colon = next((c for c in defn.node.children if c.type == ":"), None)
    return colon.end_point[0] if colon is not None else defn.node.start_point[0]


def line_ending(data: bytes, byte: int, text: str) -> str:
    """The ending of the line holding `byte` ("\\r\\n" or "\\n"); for a last line without one, the file's usual."""
    eol = data.find(b"\n", byte)
    if eol < 0:
        return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"
    return "\r\n" if eol > 0 and data[eol - 1 : eol] == b"\r" else "\n"


def first_statement(body: Node) -> Node:
    """The first non-comment child of a block (the block itself if empty)."""
    return next((c for c in body.named_children if c.type != "comment"), body)


def first_error_line(node: Node) -> int:
    """The line of the first ERROR/MISSING node under `node`."""
    stack = [node]
    while stack:
        n = stack.pop(0)
        if n.type == "ERROR" or n.is_missing:
            return n.start_point[0]
        stack[:0] = [c for c in n.children if c.has_error or c.is_missing or c.type == "ERROR"]
    return node.start_point[0]


def lsp_position(text: str, data: bytes, byte: int) -> tuple[int, int]:
    """The LSP position of a byte offset."""
    offset = len(data[:byte].decode("utf-8", "surrogatepass"))
    return PositionCodec(text).position(offset)
