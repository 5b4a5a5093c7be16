"""Text generated to a column's token templates (ids, emails, names): unique when the fixture was,
never a fixture value (only 32-bit digests of those are stored), pronounceable letters for words.
"""

from __future__ import annotations

import zlib

import numpy as np

VOWELS, CONSONANTS = np.array(list("aeiou")), np.array(list("bcdfghjklmnprstvwyz"))
DIGITS = np.array(list("0123456789"))
UNIQUE_RETRIES = 20  # regeneration rounds for duplicates / copies before falling back to a suffix


def value_hash(value) -> int:
    """The 32-bit digest stored for each fixture text value, so copies are refused without storing values.

    A collision only makes the sampler redraw a fresh value; 32 bits also keep the digest from
    identifying a value on its own.
    """
    return zlib.crc32(str(value).encode())


def pattern_values(col: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Text to the column's token templates; unique if the fixture was, never a fixture value."""
    seen, unique = set(col["seen"]), col["unique"]
    values = _pattern_draw(col, n, rng).astype(object)  # object: redrawn values may be longer
    kept: set[str] = set()
    check = range(n)  # only new values need checking; kept values stay
    for _ in range(UNIQUE_RETRIES):
        bad = []
        for i in check:
            v = values[i]
            if value_hash(v) in seen or (unique and v in kept):
                bad.append(i)
            elif unique:
                kept.add(v)
        if not bad:
            break
        check = bad
        values[bad] = _pattern_draw(col, len(bad), rng)
    else:  # a narrow pattern ran out of fresh values: a suffix keeps rows unique and unseen
        values[bad] = [f"{values[i]}-{k}" for k, i in enumerate(bad)]
    result = values.astype(object)
    result[rng.random(n) < col["null_rate"]] = None
    return result

def _pattern_draw(col: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """n strings, each from a template chosen by its weight in the fixture."""
    shapes = col["shapes"]
    weights = np.array([s["weight"] for s in shapes], dtype=float)
    which = rng.choice(len(shapes), size=n, p=weights / weights.sum())
    values = np.empty(n, dtype=object)
    for i, shape in enumerate(shapes):
        rows = np.nonzero(which == i)[0]
        if len(rows):
            text = np.full(len(rows), "", dtype="<U1")
            for part in shape["parts"]:
                text = np.char.add(text, _part(part, len(rows), rng))
            values[rows] = text
    return values.astype(str)


def _part(part: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """One token position of a template for n rows: a literal, a known token, or fresh letters/digits."""
    if "literal" in part:
        return np.full(n, part["literal"])
    if "choice" in part:
        w = np.asarray(part["weights"], dtype=float)
        return np.asarray(part["choice"])[rng.choice(len(w), size=n, p=w / w.sum())]
    w = np.asarray(part["length_weights"], dtype=float)
    lengths = np.asarray(part["lengths"])[rng.choice(len(w), size=n, p=w / w.sum())]
    width = int(lengths.max())
    if part["chars"] == "digits":
        chars = DIGITS[rng.integers(10, size=(n, width))]
    else:  # alternate consonants and vowels so generated names are pronounceable
        cons = CONSONANTS[rng.integers(len(CONSONANTS), size=(n, width))]
        vows = VOWELS[rng.integers(len(VOWELS), size=(n, width))]
        odd = (np.arange(width)[None, :] + rng.integers(2, size=(n, 1))) % 2 == 1
        chars = np.where(odd, vows, cons)
    chars = np.where(np.arange(width)[None, :] < lengths[:, None], chars, "")
    text = chars.astype("<U1").view(f"<U{width}").ravel()  # trailing "" (NUL) cells drop out of the string
    case = part.get("case")
    if case == "upper":
        return np.char.upper(text)
    return np.char.capitalize(text) if case == "title" else text


