"""`LineDocument` gives the same document as pygls's own edits, edit after edit."""

import random

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from devassist.server.line_document import LineDocument

TEXT = "def f(x):\n    return x + 1\r\n\n# héllo 😀 wörld\rnext\nlast line without newline"


def edit(line0, char0, line1, char1, text):
    return types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(line0, char0), types.Position(line1, char1)), text=text)


def random_edit(rng: random.Random):
    l0, l1 = rng.randrange(0, 9), rng.randrange(0, 9)
    c0, c1 = rng.randrange(0, 30), rng.randrange(0, 30)
    if rng.random() < 0.9:  # mostly well-ordered ranges, sometimes reversed ones
        (l0, c0), (l1, c1) = sorted([(l0, c0), (l1, c1)])
    return edit(l0, c0, l1, c1, rng.choice(["", "x", "new\nlines\n", "😀", "\r\n", "\r", "\n", "a\rb"]))


@pytest.mark.parametrize("change", [
    edit(0, 0, 0, 0, "# top\n"), edit(1, 4, 1, 10, "yield"), edit(3, 9, 3, 11, "X"),  # after an astral char
    edit(0, 5, 4, 3, ""), edit(5, 25, 5, 25, "!"), edit(6, 0, 6, 0, "\nappended"), edit(2, 0, 9, 0, "cut"),
    edit(1, 14, 2, 0, "\r"), edit(0, 9, 0, 9, "\r"),  # a new "\r" meeting the next line's "\n"
], ids=["insert_top", "replace_word", "utf16_columns", "delete_lines", "end_of_last_line", "past_the_end",
        "range_beyond_end", "cr_meets_lf", "cr_before_lf"])
def test_same_result_as_pygls(change):
    ours, theirs = LineDocument.of(TextDocument("file:///a.py", TEXT)), TextDocument("file:///a.py", TEXT)
    ours.apply_change(change)
    theirs.apply_change(change)
    assert ours.source == theirs.source
    assert ours.char_count == len(theirs.source) and list(ours.lines) == list(theirs.lines)


def test_same_result_as_pygls_over_long_random_edit_sequences():
    rng = random.Random(3)
    for start in ("", TEXT, "x"):
        ours, theirs = LineDocument.of(TextDocument("file:///a.py", start)), TextDocument("file:///a.py", start)
        for _ in range(400):
            change = random_edit(rng)
            ours.apply_change(change)
            theirs.apply_change(change)
            assert ours.lines == list(theirs.lines), change
            assert ours.char_count == len(theirs.source)
        assert ours.source == theirs.source


def test_a_full_change_replaces_the_lines():
    doc = LineDocument.of(TextDocument("file:///a.py", TEXT))
    doc.apply_change(types.TextDocumentContentChangeWholeDocument(text="a\nb"))
    assert doc.lines == ["a\n", "b"] and doc.char_count == 3 and doc.source == "a\nb"
