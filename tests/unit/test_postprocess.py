"""Golden tests of the completion filters: raw model text in, what the editor shows out."""

from __future__ import annotations

import pytest

from devassist.server.features.postprocess import (CursorContext, clean_prefix, decide_mode, postprocess, stop_reached,
                                                   trim_open_end)


def ctx(line_prefix="x = ", line_suffix="", next_lines=(), mode="line", indent=0, previous=(), confident=False):
    return CursorContext(line_prefix, line_suffix, list(next_lines), mode, indent, list(previous), confident)


GOLDEN = [
    # (id, raw, context, expected)
    ("line-cut-at-newline", "foo(bar)\nbaz()", ctx(), "foo(bar)"),
    ("suffix-closer-not-repeated", 'open(path)', ctx("with ", line_suffix=")"), "open(path"),
    ("suffix-text-cut", "name, value in items:", ctx("for ", line_suffix=" in items:"), "name, value"),
    ("keep-own-brackets", "len(items))", ctx("n = max(", line_suffix=")"), "len(items)"),
    ("closes-prefix-bracket-when-suffix-empty", "1, 2)", ctx("f(", line_suffix=""), "1, 2)"),
    ("empty-dropped", "   \n", ctx(), ""),
    ("repetition-cut", "abcdefgh" * 4, ctx(), "abcdefgh"),
    ("duplicate-of-next-line", "    return x\n    return y", ctx("", next_lines=["    return y"], mode="block", indent=4),
     "    return x"),
    ("block-stops-at-dedent", "    a = 1\n    b = 2\nc = 3", ctx("    ", mode="block", indent=4), "a = 1\n    b = 2"),
    ("block-indent-kept", "if x:\n        y()\n    z()", ctx("    ", mode="block", indent=4), "if x:\n        y()\n    z()"),
    ("block-trailing-blank-lines", "pass\n\n\n", ctx("    ", mode="block", indent=4), "pass"),
    ("line-same-as-next-line-on-blank", "return total", ctx("    ", next_lines=["    return total"]), ""),
    ("crlf-normalized", "a\r\nb", ctx(), "a"),
    # no comment at a code position; a comment line is completed as a comment
    ("comment-at-statement-start-dropped", "# TODO: handle the rest", ctx("    "), ""),
    ("comment-after-half-word-dropped", "# what", ctx("    x  "), ""),
    ("block-starting-with-comment-dropped", "# set up\n    y = 2", ctx("    ", mode="block", indent=4), ""),
    ("trailing-comment-cut", "compute(a)  # noqa: E501", ctx(), "compute(a)"),
    ("hash-in-string-kept", 'f"#{n}"', ctx(), 'f"#{n}"'),
    ("comment-line-completed", "the loop below", ctx("    # explain "), "the loop below"),
    # a copy of a line above needs the model's confidence
    ("copy-of-line-above-dropped", "self.x = x", ctx("        ", previous=["        self.x = x"]), ""),
    ("copy-of-line-above-kept-when-confident", "self.x = x",
     ctx("        ", previous=["        self.x = x"], confident=True), "self.x = x"),
    ("not-a-copy-kept", "self.y = y", ctx("        ", previous=["        self.x = x"]), "self.y = y"),
    # block lines keep the block's indentation (9 spaces under an 8-space block is cut)
    ("block-odd-indent-cut", "a = 1\n         b = 2\n        c = 3", ctx("        ", mode="block", indent=8), "a = 1"),
    ("block-bracket-continuation-kept", "f(a,\n          b)\n        c = 3", ctx("        ", mode="block", indent=8),
     "f(a,\n          b)\n        c = 3"),
]


@pytest.mark.parametrize("raw,context,expected", [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN])
def test_golden(raw, context, expected):
    assert postprocess(raw, context) == expected


@pytest.mark.parametrize("line_prefix,line_suffix,previous,multiline,expected", [
    ("    x = ", "", ["def f():"], True, ("line", 0)),
    ("    ", "", ["def f():"], True, ("block", 4)),
    ("", "", ["    if ok:  # comment"], True, ("block", 5)),
    ("    ", "", ["def f():"], False, ("line", 0)),
    ("    ", "", ["x = 1"], True, ("line", 0)),
    ("", ")", ["f("], True, ("line", 0)),
], ids=["mid-line", "after-def", "after-if-with-comment", "multiline-off", "no-opener", "text-after-cursor"])
def test_mode_is_decided_before_generating(line_prefix, line_suffix, previous, multiline, expected):
    assert decide_mode(line_prefix, line_suffix, previous, multiline) == expected


def test_stop_rules():
    assert stop_reached("abc\n", ctx())
    assert not stop_reached("abc", ctx())
    block = ctx("    ", mode="block", indent=4)
    assert not stop_reached("a = 1\n    b = 2\n", block)
    assert stop_reached("a = 1\n    b = 2\nc = 3\n", block)


@pytest.mark.parametrize("raw,expected", [
    ("self, k,", ""),  # cut inside a list of arguments: nothing, never a fragment
    ("foo(a, b) + ba", "foo(a, b)"),  # the last word may be cut in the middle
    ("foo(a, b) + ", "foo(a, b)"),
    ("items[0].na", "items[0]"),
    ('open("data', "open"),  # a string left open
    ("x.y(", "x.y"),
    ("return value", "return"),
], ids=["inside-call", "after-word", "after-operator", "attribute", "open-string", "open-paren", "whole"])
def test_clean_prefix_when_the_budget_ends(raw, expected):
    assert clean_prefix(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ('"', ""), ('f"{', ""), ("ast.", "ast."), ("foo(", "foo"), ("x[", "x"), ('rb"', ""), ('elif"', 'elif'),
    ("value)", "value)"),
], ids=["quote", "f-string", "dot-kept", "paren", "bracket", "bytes-prefix", "word-before-quote", "closed"])
def test_a_suggestion_cut_for_confidence_does_not_end_by_opening(raw, expected):
    assert trim_open_end(raw) == expected
