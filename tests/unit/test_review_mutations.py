"""Synthetic bugs: every kind applies, parses, changes exactly the recorded line, deterministically."""

from __future__ import annotations

import ast

import pytest

from devassist.training.review.mutations import KINDS, candidate_kinds, mutate

SOURCE = '''def f(a, b, items):
    """Sum 3 things."""
    total = 0
    for x in items:
        if x < a and b is not None:
            total += g(x, a) * 2
    while not done(total):
        total = total % 7
    return total - 1
'''


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_one_body_line_and_parses(kind):
    m = mutate(SOURCE, seed=1, kind=kind)
    assert m is not None and m.kind == kind
    ast.parse(m.mutated)
    before, after = SOURCE.split("\n"), m.mutated.split("\n")
    changed = [i for i, (x, y) in enumerate(zip(before, after)) if x != y]
    assert changed == [m.line] and m.line >= 2  # never the def line or the docstring


def test_expected_edits():
    assert "g(a, x)" in mutate(SOURCE, 1, "swap_args").mutated
    assert "if x < a or b is not None" in mutate(SOURCE, 1, "and_or").mutated
    assert "b != None" in mutate(SOURCE, 1, "is_eq").mutated
    assert "if not (x < a and b is not None):" in mutate(SOURCE, 3, "negate_condition").mutated
    assert "while done(total):" in mutate(SOURCE, 3, "drop_not").mutated


def test_deterministic_and_seeded():
    assert mutate(SOURCE, "k") == mutate(SOURCE, "k")
    assert len({mutate(SOURCE, s).mutated for s in range(20)}) > 3


@pytest.mark.parametrize("text", ["def f():\n    pass\n", "def f(:\n  x\n", "x = 1\n", ""],
                         ids=["no-sites", "syntax-error", "no-function", "empty"])
def test_nothing_to_mutate(text):
    assert mutate(text, 0) is None and candidate_kinds(text) == [] or text.startswith("def f():")


def test_formatting_and_strings_are_kept():
    text = 'def f(s):\n    return "%s-%d" % (s, 10)   # keep me\n'
    m = mutate(text, 0, "off_by_one")
    assert m.mutated == 'def f(s):\n    return "%s-%d" % (s, 11)   # keep me\n'
    assert mutate(text, 0, "binary_operator") is None  # string formatting is not arithmetic
