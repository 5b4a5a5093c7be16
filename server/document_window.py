"""Large documents: the window of lines around the cursor that is analysed instead of the whole.

`DevassistServer.text_of` (server/lsp.py) uses it for documents over MAX_DOCUMENT_CHARS, which
the server keeps as a `LineDocument` (a list of lines), so a window costs O(window), not O(size).
"""

from __future__ import annotations

from typing import Sequence

WINDOW_LINES_BEFORE, WINDOW_LINES_AFTER = 200, 50  # the window, in lines around the cursor's line
MAX_WINDOW_CHARS = 200_000  # a window longer than this (giant lines) is not analysed at all


def window_of(lines: Sequence[str], line: int) -> str | None:
    """The document of `lines` (with their endings, as `str.splitlines(True)` gives them) with
    every line outside the window around `line` emptied, or None.

    Line numbers stay valid (positions need no translation) while the text to analyse shrinks
    to the window plus one newline per emptied line (`PositionCodec` skips such runs for free).
    """
    count = len(lines)
    ends_open = count > 0 and lines[-1].splitlines() == [lines[-1]]  # the last line has no line break
    if not 0 <= line < count + (0 if ends_open or count == 0 else 1):
        return None
    start, end = max(0, line - WINDOW_LINES_BEFORE), min(count, line + WINDOW_LINES_AFTER + 1)
    kept = "".join(lines[start:end])
    if len(kept) > MAX_WINDOW_CHARS:
        return None
    after = count - end - (1 if ends_open and end < count else 0)  # the line breaks of the emptied lines after it
    return "\n" * start + kept + "\n" * after
