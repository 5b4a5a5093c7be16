"""`apply_edit_fast` gives the same document as pygls's own incremental edit."""

import random

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from devassist.server.protocol import apply_edit_fast

TEXT = "def f(x):\n    return x + 1\r\n\n# héllo 😀 wörld\nlast line without newline"


def edit(line0, char0, line1, char1, text):
    return types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(line0, char0), types.Position(line1, char1)), text=text)


def both(change):
    ours, theirs = TextDocument("file:///a.py", TEXT), TextDocument("file:///a.py", TEXT)
    apply_edit_fast(ours, change)
    theirs.apply_change(change)
    return ours.source, theirs.source


def random_edits(count: int):
    rng = random.Random(3)
    for _ in range(count):
        l0, l1 = sorted(rng.randrange(0, 7) for _ in range(2))
        c0, c1 = rng.randrange(0, 30), rng.randrange(0, 30)
        if l0 == l1:
            c0, c1 = sorted((c0, c1))
        yield edit(l0, c0, l1, c1, rng.choice(["", "x", "new\nlines\n", "😀", "\r\n"]))


@pytest.mark.parametrize("change", [
    edit(0, 0, 0, 0, "# top\n"), edit(1, 4, 1, 10, "yield"), edit(3, 9, 3, 11, "X"),  # after an astral char
    edit(0, 5, 4, 3, ""), edit(4, 25, 4, 25, "!"), edit(5, 0, 5, 0, "\nappended"), edit(2, 0, 9, 0, "cut"),
], ids=["insert_top", "replace_word", "utf16_columns", "delete_lines", "end_of_last_line", "past_the_end",
        "range_beyond_end"])
def test_same_result_as_pygls(change):
    ours, theirs = both(change)
    assert ours == theirs


def test_same_result_as_pygls_on_random_edits():
    for change in random_edits(300):
        ours, theirs = both(change)
        assert ours == theirs, change
