"""Large open documents kept as a list of lines, so a keystroke costs O(lines touched), not O(size).

pygls keeps a document as one string and rebuilds it on every incremental edit (2.5 s per
keystroke at 50 MB); `LineDocument` splices its line list instead and joins the text only when
someone asks for `source`. Lines are split as pygls splits them (`str.splitlines(True)`), so
positions and edits mean exactly what they mean to pygls (tests compare the two edit by edit).
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import TextDocument

LINE_DOCUMENT_CHARS = 100_000  # open documents above this are kept as a `LineDocument`


class LineDocument(TextDocument):
    """A pygls text document stored as lines; `source` is joined on demand and cached."""

    @classmethod
    def of(cls, doc: TextDocument) -> "LineDocument":
        """The same document (uri, version, language, sync kind, codec), stored as lines."""
        new = cls.__new__(cls)
        new.__dict__.update(doc.__dict__)  # pygls's attributes; `_source` is re-set below
        new.__dict__.pop("_source", None)
        new._source = doc.source
        return new

    # pygls reads and writes `_source` (full changes, appends); the property keeps the lines in step.
    @property
    def _source(self) -> str:
        if self._joined is None:
            self._joined = "".join(self._lines)
        return self._joined

    @_source.setter
    def _source(self, text: str) -> None:
        self._lines = text.splitlines(True)
        self._chars = len(text)
        self._joined = text

    @property
    def source(self) -> str:
        """The whole text (joined once after each edit: O(size), so hot paths use `lines`)."""
        return self._source

    @property
    def lines(self) -> list[str]:
        """The lines with their endings, as `str.splitlines(True)` gives them (do not modify)."""
        return self._lines

    @property
    def char_count(self) -> int:
        """len(source), without joining."""
        return self._chars

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        """pygls's incremental edit, as a splice of the lines it touches."""
        lines = self._lines
        span = self._position_codec.range_from_client_units(lines, change.range)
        start, start_col = span.start.line, span.start.character
        end, end_col = span.end.line, span.end.character
        if start >= len(lines):  # an edit at the very end of the document (or an empty one)
            self._source = self.source + change.text
            return
        if end < start:  # a reversed range across lines: pygls's edit leaves the document as it was
            return
        new = lines[start][:start_col] + change.text + lines[end][end_col:]
        # Re-split with one neighbour on each side: "\r" + "\n" may join across the splice's edges.
        first, last = max(0, start - 1), min(len(lines), end + 2)
        old = lines[first:last]
        chunk = "".join(lines[first:start]) + new + "".join(lines[end + 1:last])
        lines[first:last] = chunk.splitlines(True)
        self._chars += len(chunk) - sum(map(len, old))
        self._joined = None
