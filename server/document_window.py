"""Large documents: the window of lines around the cursor that is analysed instead of the whole.

`DevassistServer.text_of` (server/lsp.py) uses it for documents over MAX_DOCUMENT_CHARS.
"""

from __future__ import annotations

WINDOW_LINES_BEFORE, WINDOW_LINES_AFTER = 200, 50  # the window, in lines around the cursor's line
MAX_WINDOW_CHARS = 200_000  # a window longer than this (giant lines) is not analysed at all
# Above this not even a window: keeping line numbers costs one newline per line, and the
# position codec walks every line (about 4 s per keystroke at 50 MB, measured).
MAX_WINDOWED_DOCUMENT_CHARS = 8_000_000


def window_of(source: str, line: int) -> str | None:
    """`source` with every line outside the window around `line` emptied, or None.

    Line numbers stay valid (positions need no translation) while the text to analyse shrinks
    to the window plus one newline per emptied line.
    """
    lines = source.split("\n")
    if not 0 <= line < len(lines):
        return None
    start, end = max(0, line - WINDOW_LINES_BEFORE), min(len(lines), line + WINDOW_LINES_AFTER + 1)
    kept = "\n".join(lines[start:end])
    if len(kept) > MAX_WINDOW_CHARS:
        return None
    return "\n" * start + kept + "\n" * (len(lines) - end)
