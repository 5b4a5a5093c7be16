"""Likely-bug candidates that are not one-token swaps: a `not` too many or too few, arguments swapped.

The signals graph scores one-token confusables as it reads the function; these rewrites change
the structure (a token dropped or added, two arguments exchanged), so the graph cannot score
them on the way. They are found in the function's syntax tree, ranked by the bug detector's
token logits over their span (free: the detector already ran), and the best of a function are
re-scored like the other candidates (`findings.rescore`). Only rewrites within one line.
"""

from __future__ import annotations

import ast

import numpy as np

DROP_NOT, ADD_NOT, SWAP_ARGS = "drop_not", "add_not", "swap_args"
REWRITE_KINDS = frozenset({DROP_NOT, ADD_NOT, SWAP_ARGS})
_SIMPLE = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)


def _offsets(text: str) -> list[int]:
    """Character offset of each line's start."""
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def _body(tree: ast.Module) -> list[ast.stmt]:
    """The statements of the first function, without its docstring."""
    func = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None:
        return []
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def structural_rewrites(text: str) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, replacement) character spans of a dedented function text: drop a `not`,
    negate a condition (of `if`, `while`, `assert`, a conditional expression or an operand of
    `and`/`or`), or exchange two adjacent positional arguments of a call."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    starts = _offsets(text)
    lines = text.split("\n")

    def span(node: ast.AST) -> tuple[int, int] | None:
        if node.lineno != node.end_lineno:
            return None
        # ast columns are UTF-8 bytes; the text is indexed by characters
        line = lines[node.lineno - 1].encode("utf-8")
        a = len(line[: node.col_offset].decode("utf-8", "replace"))
        b = len(line[: node.end_col_offset].decode("utf-8", "replace"))
        return starts[node.lineno - 1] + a, starts[node.lineno - 1] + b

    def seg(node: ast.AST) -> str | None:
        s = span(node)
        return None if s is None else text[s[0] : s[1]]

    out: list[tuple[str, int, int, str]] = []
    conditions: list[tuple[ast.AST, bool]] = []  # (expression, is a whole test)
    for stmt in _body(tree):
        for node in ast.walk(stmt):
            if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                conditions.append((node.test, True))
            elif isinstance(node, ast.BoolOp):
                conditions.extend((v, False) for v in node.values)
            elif isinstance(node, ast.Call):
                for x, y in zip(node.args, node.args[1:]):
                    sx, sy, px, py = seg(x), seg(y), span(x), span(y)
                    if isinstance(x, ast.Starred) or isinstance(y, ast.Starred) or None in (sx, sy, px, py) \
                            or sx == sy or x.lineno != y.lineno:
                        continue
                    out.append((SWAP_ARGS, px[0], py[1], sy + text[px[1] : py[0]] + sx))
    for expr, whole in conditions:
        s, body = span(expr), seg(expr)
        if s is None or body is None:
            continue
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
            inner = seg(expr.operand)
            if inner is None:
                continue
            keep_parens = not whole and not isinstance(expr.operand, _SIMPLE)
            out.append((DROP_NOT, s[0], s[1], f"({inner})" if keep_parens else inner))
        elif not isinstance(expr, ast.BoolOp) or whole:
            out.append((ADD_NOT, s[0], s[1], "not " + (body if isinstance(expr, _SIMPLE) else f"({body})")))
    return out


def span_tokens(offsets: list[tuple[int, int]] | np.ndarray, a: int, b: int) -> np.ndarray:
    """Indices of the tokens that overlap characters a..b (a BPE token may start with the space before)."""
    if len(offsets) == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = np.asarray(offsets, dtype=np.int64)
    return np.flatnonzero((pairs[:, 1] > a) & (pairs[:, 0] < b))
