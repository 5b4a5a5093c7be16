"""Completion stop rules and post-processing filters: small pure functions, golden-tested.

Each filter takes the raw completion and the cursor context and returns the cleaned text
(possibly empty, which means "show nothing").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    previous_lines: list[str] = field(default_factory=list)  # the lines above the cursor's (nearest last)
    confident: bool = False  # the model was sure of the suggestion (set after generation)


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


def drop_comment_lines(text: str, ctx: CursorContext) -> str:
    """At a code position, never suggest a comment: nothing when the suggestion starts with one,
    and a trailing comment on the cursor's line is dropped (the code before it stays)."""
    if ctx.line_prefix.lstrip().startswith("#"):
        return text
    lines = text.split("\n")
    first = lines[0]
    if (ctx.line_prefix + first).strip().startswith("#"):
        return ""  # a block that starts with a comment is not shown either
    code = _code_part(first)
    if code != first:
        lines[0] = code.rstrip()
        return lines[0] if ctx.mode == "line" or not lines[0].strip() else "\n".join(lines)
    return text


def _code_part(line: str) -> str:
    """The line without a trailing `# comment` (a `#` inside a string literal is kept)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def drop_copied_line(text: str, ctx: CursorContext) -> str:
    """A suggestion that makes the cursor's line a verbatim copy of one of the lines above is
    shown only when the model was confident (copies were mostly wrong)."""
    if ctx.confident:
        return text
    line = (ctx.line_prefix + text.split("\n", 1)[0]).strip()
    if line and any(line == p.strip() for p in ctx.previous_lines):
        return ""
    return text


def keep_block_indentation(text: str, ctx: CursorContext) -> str:
    """In a block, cut at a line whose indentation does not fit the block: not a whole number of
    indent steps from the block's (e.g. 9 spaces under an 8-space `if`), outside brackets."""
    if ctx.mode != "block":
        return text
    step = 4 if ctx.block_indent % 4 == 0 else 2
    lines = text.split("\n")
    kept = [lines[0]]
    depth = _depth(lines[0])
    for line in lines[1:]:
        if line.strip() and depth <= 0:
            extra = indent_of(line) - ctx.block_indent
            if extra < 0 or extra % step:
                break
        kept.append(line)
        depth += _depth(line)
    return "\n".join(kept).rstrip()


def _depth(line: str) -> int:
    """Brackets opened minus closed on a line's code."""
    code = _code_part(line)
    return sum(code.count(o) for o in OPENERS) - sum(code.count(c) for c in CLOSERS)


def clean_prefix(text: str) -> str:
    """What to show of a suggestion the time budget cut short: the longest prefix that ends at a
    boundary known to be whole (a closing bracket, or a word followed by something other than a
    comma), with its brackets closed and no string open; else nothing. The last word is never
    trusted (the next token might have continued it), and never a fragment such as `self, k,`."""
    best, depth, quote = 0, 0, None
    for i, ch in enumerate(text):
        if ch == "\n":
            break
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
            continue
        depth += ch in OPENERS
        depth -= ch in CLOSERS
        nxt = text[i + 1:i + 2]
        word_end = (ch.isalnum() or ch == "_") and nxt != "" and not (nxt.isalnum() or nxt in "_,")
        if depth <= 0 and (word_end or (ch in CLOSERS and nxt != ",")):
            best = i + 1
    return text[:best]


def trim_open_end(text: str) -> str:
    """A suggestion cut short must not end by opening something it does not fill: drop trailing
    opening brackets and quotes, with a string prefix before a quote (`f"{` -> nothing)."""
    while True:
        trimmed = text.rstrip("([{")
        if trimmed.endswith(('"', "'")):
            trimmed = re.sub(r"(?<![A-Za-z0-9_])[fFrRbBuU]{0,2}$", "", trimmed[:-1])
        if trimmed == text:
            return text
        text = trimmed


def is_trivial(text: str) -> bool:
    """Nothing worth showing: empty or only whitespace."""
    return not text.strip()


def postprocess(text: str, ctx: CursorContext) -> str:
    """All filters in order; returns "" when nothing should be shown."""
    text = text.replace("\r", "")
    text = cut_to_scope(text, ctx)
    text = keep_block_indentation(text, ctx)
    text = strip_leading_indent(text, ctx)
    text = drop_comment_lines(text, ctx)
    text = cut_at_suffix(text, ctx)
    text = drop_duplicate_lines(text, ctx)
    text = balance_closers(text, ctx)
    text = drop_repetition(text)
    text = drop_copied_line(text, ctx)
    text = text.rstrip() if ctx.mode == "block" or not ctx.line_suffix.strip() else text
    return "" if is_trivial(text) else text
