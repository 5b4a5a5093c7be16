"""Synthetic one-token bugs for the review evaluation: a buggy twin of a function, and its line.

Each mutation edits the function's source text in place (formatting and every other line
unchanged), re-parses the result, and records the 0-based line it touched. Kinds:

    swap_args            f(a, b)        -> f(b, a)
    binary_operator      a + b          -> a - b
    comparison_operator  a < b          -> a <= b
    wrong_operand        total += x     -> total += y     (variable misuse: another local name)
    off_by_one           n - 1          -> n - 2
    negate_condition     if ok:         -> if not ok:
    drop_not             while not done -> while done     (also `not x` anywhere in an expression)
    and_or               a and b        -> a or b
    is_eq                x is None      -> x == None

Only the body is mutated (never the `def` line, decorators or the docstring), as a real slip
would be. Pure standard library: the server may import it too.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from dataclasses import dataclass

KINDS = ("swap_args", "binary_operator", "comparison_operator", "wrong_operand", "off_by_one",
         "negate_condition", "and_or", "is_eq", "drop_not")

_BINOP_SWAP = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*"),
               ast.FloorDiv: ("//", "/"), ast.Mod: ("%", "//"), ast.Pow: ("**", "*"),
               ast.LShift: ("<<", ">>"), ast.RShift: (">>", "<<"), ast.BitOr: ("|", "&"),
               ast.BitAnd: ("&", "|"), ast.BitXor: ("^", "|")}
_CMP_SWAP = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
             ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.In: ("in", "not in"),
             ast.NotIn: ("not in", "in")}
_IS_SWAP = {ast.Is: ("is", "=="), ast.IsNot: ("is not", "!="), ast.Eq: ("==", "is"), ast.NotEq: ("!=", "is not")}
_SIMPLE = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)


@dataclass(frozen=True)
class Mutation:
    """One applied mutation: the buggy text and where it is."""

    kind: str
    line: int  # 0-based line of the function text that changed
    original: str
    mutated: str
    description: str  # e.g. "'<' -> '<='"


@dataclass(frozen=True)
class _Site:
    kind: str
    line: int
    edits: tuple[tuple[int, int, bytes], ...]  # (start, end, replacement) byte offsets
    description: str


class _Text:
    """Byte offsets of (lineno, col_offset) positions, as `ast` reports them (UTF-8 columns)."""

    def __init__(self, text: str):
        self.data = text.encode("utf-8")
        self.starts = [0]
        for i, b in enumerate(self.data):
            if b == 0x0A:
                self.starts.append(i + 1)

    def at(self, lineno: int, col: int) -> int:
        return self.starts[lineno - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.at(node.lineno, node.col_offset), self.at(node.end_lineno, node.end_col_offset)

    def seg(self, node: ast.AST) -> bytes:
        a, b = self.span(node)
        return self.data[a:b]


def _find_keyword(gap: bytes, token: str) -> int | None:
    """Offset of `token` in the text between two operands (skipping parens, spaces, comments)."""
    pattern = rb"(?<![\w=<>!*/])" + re.escape(token.encode()).replace(rb"\ ", rb"\s+") + rb"(?![\w=*/<>])"
    matches = [m for m in re.finditer(pattern, gap) if b"#" not in gap[: m.start()].split(b"\n")[-1]]
    if len(matches) != 1:
        return None
    return matches[0].start()


def _names_in(func: ast.AST) -> list[str]:
    """Local names of a function: parameters and assigned names, in order of appearance."""
    seen: dict[str, None] = {}
    args = func.args  # type: ignore[attr-defined]
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None:
            seen.setdefault(a.arg, None)
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            seen.setdefault(node.id, None)
    return [n for n in seen if n not in ("self", "cls")]


def _sites(text: str, tree: ast.Module) -> list[_Site]:
    """Every place one mutation could go, in the body of the first function."""
    func = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None or not func.body:
        return []
    t = _Text(text)
    body = func.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    if not body:
        return []
    first_line = body[0].lineno
    names = _names_in(func)
    sites: list[_Site] = []

    def gap_edit(kind: str, left: ast.AST, right: ast.AST, old: str, new: str, line: int) -> None:
        a, b = t.span(left)[1], t.span(right)[0]
        off = _find_keyword(t.data[a:b], old)
        if off is None:
            return
        m = re.match(re.escape(old.encode()).replace(rb"\ ", rb"\s+"), t.data[a + off : b])
        if m is None:
            return
        sites.append(_Site(kind, line, ((a + off, a + off + m.end(), new.encode()),), f"{old!r} -> {new!r}"))

    for stmt in body:
        for node in ast.walk(stmt):
            line = getattr(node, "lineno", 0) - 1
            if line + 1 < first_line:
                continue
            if isinstance(node, ast.Call):
                args = node.args
                for i in range(len(args) - 1):
                    x, y = args[i], args[i + 1]
                    if isinstance(x, ast.Starred) or isinstance(y, ast.Starred):
                        continue
                    sx, sy = t.seg(x), t.seg(y)
                    if sx == sy:
                        continue
                    (xa, xb), (ya, yb) = t.span(x), t.span(y)
                    sites.append(_Site("swap_args", x.lineno - 1, ((xa, xb, sy), (ya, yb, sx)),
                                       f"swap {sx.decode()!r} and {sy.decode()!r}"))
            elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
                old, new = _BINOP_SWAP[type(node.op)]
                if isinstance(node.op, ast.Mod) and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
                    continue  # "%s" % x is formatting, not arithmetic
                gap_edit("binary_operator", node.left, node.right, old, new, node.right.lineno - 1)
            elif isinstance(node, ast.Compare) and len(node.ops) == 1:
                op = type(node.ops[0])
                if op in _CMP_SWAP:
                    old, new = _CMP_SWAP[op]
                    gap_edit("comparison_operator", node.left, node.comparators[0], old, new, node.lineno - 1)
                if op in _IS_SWAP:
                    old, new = _IS_SWAP[op]
                    if op in (ast.Eq, ast.NotEq) and not (
                        isinstance(node.comparators[0], ast.Constant) and node.comparators[0].value in (None, True, False)
                    ):
                        continue  # `x is 3` would be a SyntaxWarning, not a plausible slip
                    gap_edit("is_eq", node.left, node.comparators[0], old, new, node.lineno - 1)
            elif isinstance(node, ast.BoolOp):
                old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
                gap_edit("and_or", node.values[0], node.values[1], old, new, node.values[1].lineno - 1)
            elif isinstance(node, ast.Constant) and type(node.value) is int:
                seg = t.seg(node)
                if not seg.isdigit():
                    continue
                n = node.value
                new_n = n + 1 if n <= 1 or (n % 2 == 0) else n - 1
                a, b = t.span(node)
                sites.append(_Site("off_by_one", line, ((a, b, str(new_n).encode()),), f"{n} -> {new_n}"))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and node.lineno == node.end_lineno:
                a, b = t.span(node)
                new = t.seg(node.operand)
                if not isinstance(node.operand, _SIMPLE):
                    new = b"(" + new + b")"
                sites.append(_Site("drop_not", line, ((a, b, new),), "drop 'not'"))
            elif isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                test = node.test
                if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                    continue  # dropping it is `drop_not`, reached when the walk gets to the `not`
                a, b = t.span(test)
                seg = t.seg(test)
                new = b"not " + (seg if isinstance(test, _SIMPLE) else b"(" + seg + b")")
                sites.append(_Site("negate_condition", test.lineno - 1, ((a, b, new),), "add 'not'"))
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
                others = [n for n in names if n != node.id]
                if not others:
                    continue
                pick = others[hash_int(f"{node.id}:{node.lineno}:{node.col_offset}") % len(others)]
                a, b = t.span(node)
                sites.append(_Site("wrong_operand", line, ((a, b, pick.encode()),), f"{node.id!r} -> {pick!r}"))
    return sites


def hash_int(key: str) -> int:
    """A stable integer from a string (Python's hash() is salted per process)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:12], 16)


def _apply(data: bytes, edits: tuple[tuple[int, int, bytes], ...]) -> bytes:
    for a, b, rep in sorted(edits, reverse=True):
        data = data[:a] + rep + data[b:]
    return data


def candidate_kinds(text: str) -> list[str]:
    """The mutation kinds that have at least one site in this function."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    return sorted({s.kind for s in _sites(text, tree)}, key=KINDS.index)


def mutate(text: str, seed: int | str = 0, kind: str | None = None) -> Mutation | None:
    """A buggy twin of a function's (dedented) source with one mutation, or None if none applies.

    The kind is drawn uniformly among those available (or forced with `kind`), then the site;
    the choice is deterministic in `seed`. The result always parses and differs from the input.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    sites = _sites(text, tree)
    if kind is not None:
        sites = [s for s in sites if s.kind == kind]
    rng = random.Random(hash_int(str(seed)))
    original_dump = ast.dump(tree)
    by_kind: dict[str, list[_Site]] = {}
    for s in sites:
        by_kind.setdefault(s.kind, []).append(s)
    kinds = sorted(by_kind, key=KINDS.index)
    rng.shuffle(kinds)
    data = text.encode("utf-8")
    for k in kinds:
        options = by_kind[k]
        rng.shuffle(options)
        for site in options[:8]:
            try:
                new = _apply(data, site.edits).decode("utf-8")
                new_tree = ast.parse(new)
            except (SyntaxError, ValueError, UnicodeDecodeError):
                continue
            if ast.dump(new_tree) == original_dump:
                continue
            return Mutation(site.kind, site.line, text, new, site.description)
    return None
