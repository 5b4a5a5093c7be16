"""Where the typing benchmark types: seeded spots of several kinds in real Python files.

Kinds (each spot is a place in a real file and the characters the user types to reach it):
- `start+K`: a statement start, the line's indentation there, then K characters of the real
  statement typed (`start+0` types only the indentation, as an editor's auto-indent does);
- `operator`: mid-line right after an operator or an opening bracket (and the space after it);
- `dot`: right after a `.` of an attribute access.
Mid-line kinds type the two characters before the cursor. Each spot's document holds the file
with the rest of the spot's line not yet written; the lines after it are there.
"""

from __future__ import annotations

import io
import random
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

KINDS = ("start+0", "start+1", "start+2", "start+3", "operator", "dot")
OPERATORS = {"=", "(", "[", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "<=", ">=", "+=", "-=", ",", "{", ":"}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Spot:
    """One place to type at: the document before typing and the keystrokes that reach the cursor."""

    kind: str
    path: str
    line: int  # 0-based line of the cursor
    before: str  # the document before the keystrokes (the rest of the line not yet written)
    keystrokes: list[str]  # text inserted one edit at a time at the end of the line's prefix
    col_before: int  # column where the first keystroke is inserted
    rest: str  # the real rest of the line after the cursor (what a perfect suggestion shows)

    @property
    def cursor_col(self) -> int:
        """Column of the cursor after all keystrokes."""
        return self.col_before + sum(len(k) for k in self.keystrokes)

    @property
    def typed_word(self) -> str:
        """The identifier characters right before the cursor (the half-typed word)."""
        line = self.before.split("\n")[self.line][: self.col_before] + "".join(self.keystrokes)
        m = re.search(r"[A-Za-z0-9_]*$", line)
        return m.group(0) if m else ""

    @property
    def next_identifier(self) -> str | None:
        """The identifier the completion list should offer: the typed word finished, or the
        identifier that starts the rest of the line; None when the rest starts otherwise."""
        word = self.typed_word
        m = IDENT.match(word + self.rest) if word else IDENT.match(self.rest)
        return m.group(0) if m else None


def _lines_with_offsets(text: str) -> list[str]:
    return text.split("\n")


def _replace_line(lines: list[str], index: int, new: str) -> str:
    return "\n".join(lines[:index] + [new] + lines[index + 1:])


def candidate_spots(path: str, text: str) -> dict[str, list[tuple[int, int]]]:
    """(line, column) candidates per kind family: 'start', 'operator', 'dot'."""
    out: dict[str, list[tuple[int, int]]] = {"start": [], "operator": [], "dot": []}
    lines = _lines_with_offsets(text)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return out
    at_statement_start = True
    for i, tok in enumerate(tokens):
        kind, string, (row, col), (erow, ecol), _ = tok
        if kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            at_statement_start = True
            continue
        if kind in (tokenize.NL, tokenize.COMMENT):
            continue
        line = lines[row - 1] if row - 1 < len(lines) else ""
        if at_statement_start and kind == tokenize.NAME and line[:col].strip() == "":
            rest = line[col:].rstrip()
            if len(rest) >= 5:  # start+3 still leaves something to complete
                out["start"].append((row - 1, col))
        at_statement_start = False
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if nxt is None or nxt.start[0] != row or nxt.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            continue
        if kind == tokenize.OP and string == "." and nxt.type == tokenize.NAME and col >= 2:
            if len(line[ecol:].rstrip()) >= 4:
                out["dot"].append((row - 1, ecol))
        elif kind == tokenize.OP and string in OPERATORS and ecol >= 2:
            cursor = ecol + 1 if line[ecol:ecol + 1] == " " else ecol
            if len(line[cursor:].rstrip()) >= 4 and line[cursor - 2:cursor].strip():
                out["operator"].append((row - 1, cursor))
    return out


def make_spot(kind: str, path: str, text: str, line: int, col: int) -> Spot:
    """The spot of `kind` whose cursor ends at (line, col) or, for statement starts, at the
    statement's K-th character."""
    lines = _lines_with_offsets(text)
    full = lines[line]
    if kind.startswith("start+"):
        k = int(kind.split("+")[1])
        indent = full[:col]
        if k == 0:
            before = _replace_line(lines, line, "")
            return Spot(kind, path, line, before, [indent] if indent else [""], 0, full[col:].rstrip())
        before = _replace_line(lines, line, indent)
        typed = full[col:col + k]
        return Spot(kind, path, line, before, list(typed), col, full[col + k:].rstrip())
    before = _replace_line(lines, line, full[:col - 2])
    return Spot(kind, path, line, before, list(full[col - 2:col]), col - 2, full[col:].rstrip())


def collect_files(source: Path, max_chars: int = 200_000) -> list[tuple[str, str]]:
    """(path, text) of the readable Python files under `source` (sorted, for a fixed seed)."""
    files = []
    for path in sorted(source.rglob("*.py")) if source.is_dir() else [source]:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if 0 < len(text) <= max_chars:
            files.append((str(path), text))
    return files


def sample_spots(files: list[tuple[str, str]], per_kind: int, seed: int, kinds=KINDS) -> list[Spot]:
    """`per_kind` seeded spots of each kind; the statement-start kinds share the same lines."""
    rng = random.Random(seed)
    families: dict[str, list[tuple[str, str, int, int]]] = {"start": [], "operator": [], "dot": []}
    for path, text in files:
        for family, places in candidate_spots(path, text).items():
            families[family].extend((path, text, line, col) for line, col in places)
    chosen = {f: rng.sample(c, min(per_kind, len(c))) for f, c in families.items()}
    spots = []
    for kind in kinds:
        family = "start" if kind.startswith("start+") else kind
        spots.extend(make_spot(kind, path, text, line, col) for path, text, line, col in chosen[family])
    return spots
