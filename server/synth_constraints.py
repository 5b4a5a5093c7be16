"""Rules a synthetic table must keep, checked and enforced with numpy only (no torch).

A constraint is a plain dict stored in the model's spec.json:
  {"kind": "compare", "left": "low", "op": "<=", "right": "high"}   right: a column or a number
  {"kind": "never_together", "a": "plan", "b": "tier", "pairs": [[i, j], ...]}   category codes
  {"kind": "function", "of": "country", "column": "code", "map": [j0, j1, ...]}   code of `of` -> code of `column`
Fixed ranges are the columns' own `lo`/`hi`. Rows that break a rule are redrawn by the sampler
(rejection); a `function` column is set from its determinant (reparametrization); what still
breaks a rule after the redraws is counted and reported as the violation rate.
"""

from __future__ import annotations

import operator

import numpy as np

OPERATORS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


def describe(constraint: dict, columns: dict[str, dict]) -> str:
    """One readable line for a constraint, as the CLI prints it."""
    kind = constraint["kind"]
    if kind == "compare":
        return f"{constraint['left']} {constraint['op']} {constraint['right']}"
    if kind == "never_together":
        a, b = columns[constraint["a"]], columns[constraint["b"]]
        shown = [f"{a['name']}={a['categories'][i]!s} with {b['name']}={b['categories'][j]!s}"
                 for i, j in constraint["pairs"][:2]]
        more = len(constraint["pairs"]) - len(shown)
        return "never together: " + "; ".join(shown) + (f" (+{more} more)" if more > 0 else "")
    if kind == "function":
        return f"{constraint['column']} is determined by {constraint['of']}"
    return kind


def as_numbers(col: dict, values: np.ndarray) -> np.ndarray:
    """A column as floats: numbers and dates as they are, category codes through their numeric labels."""
    if col["kind"] != "discrete":
        return values
    labels = np.array([float(c) if numeric_label(c) else np.nan for c in col["categories"]] + [np.nan])
    return labels[np.where(values < 0, len(labels) - 1, values)]


def numeric_label(category) -> bool:
    """Whether a category is a number (1, 2.5, "3"): such columns can be compared like numbers."""
    if category is None or isinstance(category, bool):
        return False
    try:
        float(category)
    except (TypeError, ValueError):
        return False
    return True


def _compare(constraint: dict, arrays: dict[str, np.ndarray], by_name: dict[str, dict]) -> np.ndarray:
    """Rows where a comparison fails; a missing value on either side is no violation."""
    left = as_numbers(by_name[constraint["left"]], arrays[constraint["left"]])
    right = constraint["right"]
    if isinstance(right, str):
        right = as_numbers(by_name[right], arrays[right])
    else:
        right = np.full(len(left), float(right))
    known = ~(np.isnan(left) | np.isnan(right))
    with np.errstate(invalid="ignore"):
        holds = OPERATORS[constraint["op"]](left, right)
    return known & ~holds


def violations(constraints: list[dict], columns: list[dict], arrays: dict[str, np.ndarray],
               n: int, ranges: bool = True) -> np.ndarray:
    """A boolean mask of the rows that break a constraint or (with `ranges`) a column's fixed range.

    `arrays` holds the learned columns as the sampler decodes them: floats (NaN = empty) for
    numbers and dates, integer codes for categories.
    """
    bad = np.zeros(n, dtype=bool)
    by_name = {c["name"]: c for c in columns}
    if ranges:
        for col in columns:
            if col["kind"] in ("numeric", "datetime") and col["name"] in arrays:
                x = arrays[col["name"]]
                with np.errstate(invalid="ignore"):
                    bad |= (x < col["lo"]) | (x > col["hi"])
    for constraint in constraints:
        if constraint["kind"] == "compare":
            bad |= _compare(constraint, arrays, by_name)
        elif constraint["kind"] == "never_together":
            a, b = arrays[constraint["a"]], arrays[constraint["b"]]
            width = int(max(b.max(initial=0), max((j for _, j in constraint["pairs"]), default=0))) + 1
            forbidden = np.array([i * width + j for i, j in constraint["pairs"]], dtype=np.int64)
            bad |= np.isin(a.astype(np.int64) * width + b.astype(np.int64), forbidden)
        elif constraint["kind"] == "function":
            mapping = np.asarray(constraint["map"], dtype=np.int64)
            expected = mapping[arrays[constraint["of"]]]
            bad |= (expected >= 0) & (arrays[constraint["column"]] != expected)
    return bad


def apply_functions(constraints: list[dict], arrays: dict[str, np.ndarray]) -> None:
    """Set every determined column from its determinant, in place (codes the fixture never mapped stay)."""
    for constraint in constraints:
        if constraint["kind"] == "function":
            mapping = np.asarray(constraint["map"], dtype=np.int64)
            expected = mapping[arrays[constraint["of"]]]
            column = arrays[constraint["column"]]
            arrays[constraint["column"]] = np.where(expected >= 0, expected, column)


def clip_ranges(columns: list[dict], arrays: dict[str, np.ndarray]) -> None:
    """Last resort after the redraws: clip numbers and dates into the fixture's range, in place."""
    for col in columns:
        if col["kind"] in ("numeric", "datetime") and col["name"] in arrays:
            arrays[col["name"]] = np.clip(arrays[col["name"]], col["lo"], col["hi"])
