"""`evaluate review` helpers: a linter counts only for a new message on the mutated line."""

from __future__ import annotations

import pytest

from devassist.evaluation.review import linter_hits

ORIGINAL = "def f(a, b):\n    total = a\n    return total + b\n"
MISUSED = "def f(a, b):\n    total = a\n    return totl + b\n"  # an undefined name: every linter sees it
SWAPPED = "def f(a, b):\n    total = a\n    return total - b\n"  # a valid program: no linter can


def test_ruff_flags_an_undefined_name_on_its_line_but_not_a_wrong_operator():
    pytest.importorskip("ruff")
    hits = linter_hits("ruff", [ORIGINAL, ORIGINAL, ORIGINAL], [MISUSED, SWAPPED, MISUSED], [2, 2, 0])
    assert hits.tolist() == [True, False, False]  # the third is asked about the def line
