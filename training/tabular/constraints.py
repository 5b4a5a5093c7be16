"""Find the rules a fixture keeps, and parse the ones a user states (`--constraint 'low <= high'`).

Detected, from the training rows:
  - `a <= b` between two numeric (or two date) columns when it holds in every row where both
    are present, the ranges overlap (otherwise the fixed ranges already imply it) and at least
    MIN_SUPPORT rows show it;
  - pairs of categories of two columns that never occur together although independence would
    expect at least MIN_EXPECTED of them;
  - a category column that is a function of another (each value of `of` always comes with the
    same value of `column`), e.g. a country code beside the country.
The checks and the enforcement live in `devassist.server.synth_constraints` (numpy only).
"""

from __future__ import annotations

import re
from itertools import combinations, permutations

import numpy as np

from devassist.server.synth_constraints import OPERATORS, numeric_label

MIN_SUPPORT = 20  # rows showing an inequality before it is taken as a rule
MIN_EXPECTED = 5.0  # expected co-occurrences under independence before a missing pair is a rule
MAX_CATEGORIES = 50  # category columns with more values are too sparse for pair rules
CONSTRAINT_RE = re.compile(r"^\s*([^<>=\s][^<>=]*?)\s*(<=|>=|<|>)\s*([^<>=]+?)\s*$")


class ConstraintError(ValueError):
    """A user-given constraint that cannot be understood or does not fit the fixture's columns."""


def parse_constraint(text: str, columns: list[dict]) -> dict:
    """`'low <= high'`, `'age >= 0'` -> a compare constraint; ConstraintError naming the problem."""
    match = CONSTRAINT_RE.match(text)
    if not match:
        raise ConstraintError(f"--constraint {text!r}: expected COLUMN OP COLUMN-or-NUMBER with OP one of "
                              f"{', '.join(OPERATORS)}, e.g. 'low <= high'")
    left, op, right = match.groups()
    by_name = {c["name"]: c for c in columns}
    for name in (left, right):
        if name in by_name and kind_of(by_name[name]) is None:
            raise ConstraintError(f"--constraint {text!r}: column {name!r} is {by_name[name]['kind']}, "
                                  "comparisons need numbers or dates")
    if left not in by_name:
        raise ConstraintError(f"--constraint {text!r}: no column {left!r} (columns: {', '.join(by_name)})")
    if right not in by_name:
        try:
            value = float(right)
        except ValueError:
            raise ConstraintError(f"--constraint {text!r}: {right!r} is neither a column nor a number") from None
        return {"kind": "compare", "left": left, "op": op, "right": value, "source": "user"}
    if kind_of(by_name[left]) != kind_of(by_name[right]):
        raise ConstraintError(f"--constraint {text!r}: {left!r} and {right!r} are not both numbers or both dates")
    return {"kind": "compare", "left": left, "op": op, "right": right, "source": "user"}


def kind_of(col: dict) -> str | None:
    """'number' or 'date' for columns that can be compared (categories that are all numbers count), else None."""
    if col["kind"] == "datetime":
        return "date"
    if col["kind"] == "numeric":
        return "number"
    if col["kind"] == "discrete" and all(numeric_label(c) for c in col["categories"] if c is not None):
        return "number"
    return None


def detect_constraints(columns: list[dict], arrays: dict[str, np.ndarray]) -> list[dict]:
    """The rules every training row keeps (see the module docstring), as constraint dicts."""
    found = _inequalities(columns, arrays)
    categories = [c for c in columns if c["kind"] == "discrete" and 2 <= len(c["categories"]) <= MAX_CATEGORIES]
    functions = set()
    for a, b in permutations(categories, 2):
        mapping = _function(arrays[a["name"]], arrays[b["name"]], len(a["categories"]))
        if mapping is not None and len(set(mapping) - {-1}) > 1:
            found.append({"kind": "function", "of": a["name"], "column": b["name"], "map": mapping,
                          "source": "detected"})
            functions.add(frozenset((a["name"], b["name"])))
    for a, b in combinations(categories, 2):
        if frozenset((a["name"], b["name"])) in functions:
            continue  # a function already forbids every other pair
        pairs = _missing_pairs(arrays[a["name"]], arrays[b["name"]], len(a["categories"]), len(b["categories"]))
        if pairs:
            found.append({"kind": "never_together", "a": a["name"], "b": b["name"], "pairs": pairs,
                          "source": "detected"})
    return found


def _inequalities(columns: list[dict], arrays: dict[str, np.ndarray]) -> list[dict]:
    """`a <= b` for pairs of same-kind numeric columns that keep it in every row and overlap in range."""
    found = []
    numeric = [c for c in columns if c["kind"] in ("numeric", "datetime")]
    for a, b in permutations(numeric, 2):
        if a["kind"] != b["kind"] or a["hi"] <= b["lo"]:
            continue  # different units, or the fixed ranges already imply it
        x, y = arrays[a["name"]], arrays[b["name"]]
        both = ~(np.isnan(x) | np.isnan(y))
        if both.sum() < MIN_SUPPORT or not (x[both] <= y[both]).all():
            continue
        if (x[both] == y[both]).all():
            continue  # a copy of another column is not an ordering
        found.append({"kind": "compare", "left": a["name"], "op": "<=", "right": b["name"], "source": "detected"})
    return found


def _function(a: np.ndarray, b: np.ndarray, k_a: int) -> list[int] | None:
    """code of a -> code of b when every value of a that repeats always has the same b, else None."""
    mapping = [-1] * k_a
    counts = np.bincount(a, minlength=k_a)
    if (counts >= 2).sum() < 2 or len(np.unique(a)) >= 0.5 * len(a):
        return None  # mostly unique values decide everything trivially
    for code in np.unique(a):
        values = np.unique(b[a == code])
        if len(values) > 1:
            return None
        mapping[int(code)] = int(values[0])
    return mapping


def _missing_pairs(a: np.ndarray, b: np.ndarray, k_a: int, k_b: int) -> list[list[int]]:
    """Category pairs with zero rows where independence expects at least MIN_EXPECTED."""
    joint = np.zeros((k_a, k_b))
    np.add.at(joint, (a, b), 1)
    expected = np.outer(joint.sum(1), joint.sum(0)) / max(1, len(a))
    return [[int(i), int(j)] for i, j in zip(*np.nonzero((joint == 0) & (expected >= MIN_EXPECTED)))]
