"""Completion stop rules and post-processing filters: small pure functions, golden-tested.

Each filter takes the raw completion and the cursor context and returns the cleaned text
(possibly empty, which means "show nothing").
"""

from __future__ import annotations

from dataclasses import dataclass

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
BLOCK_OPENER_ENDS = (":",)
MAX_BLOCK_LINES = 12


@dataclass
class CursorContext:
    """What the filters need to know about where the cursor is."""

    line_prefix: str  # text of the cursor's line before the cursor
    line_suffix: str  # text of the cursor's line after the cursor
    next_lines: list[str]  # the following lines of the document (a few)
    mode: str  # "line" (finish the line) or "block" (a block after an opener)
    block_indent: int = 0  # indentation of the block's lines in "block" mode


def indent_of(line: str) -> int:
    """Width of a line's leading whitespace (a tab counts as 4)."""
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4
        else:
            break
    return width


def decide_mode(line_prefix: str, line_suffix: str, previous_lines: list[str], multiline: bool) -> tuple[str, int]:
    """Single line or a block, decided before generating.

    Mid-line (text before or after the cursor on its line) -> finish the line. On an empty
    line right after a block opener (`def f():`, `if x:`) -> the block, indented deeper than
    the opener.
    """
    if not multiline or line_prefix.strip() or line_suffix.strip():
        return "line", 0
    prev = next((p for p in reversed(previous_lines) if p.strip()), "")
    code = prev.split("#", 1)[0].rstrip()
    if code.endswith(BLOCK_OPENER_ENDS):
        return "block", max(indent_of(line_prefix), indent_of(prev) + 1)
    return "line", 0


def stop_reached(text: str, ctx: CursorContext) -> bool:
    """Whether generation can stop: the line is done, or the block has ended."""
    if ctx.mode == "line":
        return "\n" in text
    lines = text.split("\n")
    if len(lines) > MAX_BLOCK_LINES:
        return True
    # A finished line that dedents below the block ends it.
    return any(line.strip() and indent_of(line) < ctx.block_indent for line in lines[1:-1])


def cut_to_scope(text: str, ctx: CursorContext) -> str:
    """Keep one line in line mode; in block mode, the lines that stay inside the block."""
    if ctx.mode == "line":
        return text.split("\n", 1)[0]
    lines = text.split("\n")
    kept = [lines[0]]
    for line in lines[1:MAX_BLOCK_LINES]:
        if line.strip() and indent_of(line) < ctx.block_indent:
            break
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def strip_leading_indent(text: str, ctx: CursorContext) -> str:
    """On an indented empty line the cursor already stands after the indentation: drop any
    the model repeats, so the document's indentation is kept."""
    if ctx.line_prefix and not ctx.line_prefix.strip():
        return text.lstrip(" \t") if text[:1] in (" ", "\t") else text
    return text


def cut_at_suffix(text: str, ctx: CursorContext) -> str:
    """Stop where the completion runs into the text already right of the cursor."""
    tail = ctx.line_suffix.strip()
    if not tail:
        return text
    first, sep, rest = text.partition("\n")
    if first.rstrip().endswith(tail):
        first = first.rstrip()[: -len(tail)]
    else:
        idx = first.find(tail)
        if idx > 0:
            first = first[:idx]
    if ctx.line_suffix[:1].isspace():  # the suffix brings its own leading space
        first = first.rstrip()
    return first if ctx.mode == "line" else first + sep + rest


def drop_duplicate_lines(text: str, ctx: CursorContext) -> str:
    """Cut at a line that repeats the document's next line, or the completion's own last line."""
    following = next((line.strip() for line in ctx.next_lines if line.strip()), None)
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        s = line.strip()
        if i > 0 and s and following is not None and s == following:
            break
        if kept and s and s == kept[-1].strip():
            break
        kept.append(line)
    if len(kept) == 1 and kept[0].strip() and following and ctx.line_prefix.strip() == "" and kept[0].strip() == following:
        return ""
    return "\n".join(kept)


def balance_closers(text: str, ctx: CursorContext) -> str:
    """Only close brackets the completion opened, or ones the prefix opened that the suffix
    does not close already: drop trailing closers that the text after the cursor supplies."""
    opened: list[str] = []
    extra: list[int] = []  # positions of closers matching nothing in the completion
    for i, ch in enumerate(text):
        if ch in OPENERS:
            opened.append(ch)
        elif ch in CLOSERS:
            if opened and opened[-1] == CLOSERS[ch]:
                opened.pop()
            else:
                extra.append(i)
    if not extra:
        return text
    suffix_closers = [c for c in ctx.line_suffix if c in CLOSERS]
    cut = len(text)
    for pos in reversed(extra):
        if text[pos] in suffix_closers and text[pos + 1:cut].strip(" ,;:") == "":
            cut = pos
            suffix_closers.remove(text[pos])
        else:
            break
    return text[:cut]


def drop_repetition(text: str) -> str:
    """Cut a completion that loops: the same chunk of 8+ characters three times in a row."""
    for size in range(8, len(text) // 3 + 1):
        for start in range(0, len(text) - 3 * size + 1):
            chunk = text[start:start + size]
            if text[start + size:start + 2 * size] == chunk and text[start + 2 * size:start + 3 * size] == chunk:
                return text[:start + size].rstrip()
    return text


def is_trivial(text: str) -> bool:
    """Nothing worth showing: empty or only whitespace."""
    return not text.strip()


def postprocess(text: str, ctx: CursorContext) -> str:
    """All filters in order; returns "" when nothing should be shown."""
    text = text.replace("\r", "")
    text = cut_to_scope(text, ctx)
    text = strip_leading_indent(text, ctx)
    text = cut_at_suffix(text, ctx)
    text = drop_duplicate_lines(text, ctx)
    text = balance_closers(text, ctx)
    text = drop_repetition(text)
    text = text.rstrip() if ctx.mode == "block" or not ctx.line_suffix.strip() else text
    return "" if is_trivial(text) else text
