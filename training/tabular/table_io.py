"""Read a CSV, JSON (array of flat objects) or JSON Lines fixture into raw rows, with clear errors.

Values stay as the file spelled them (CSV: strings; JSON: str/int/float/bool/None), so the
writer can give them back in the same format. Nothing here writes to the fixture.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

# A JSON object that lacks a key: kept apart from an explicit null so "empty stays empty" in
# the same way the fixture spelled it.
MISSING = "\x00missing"

FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# How people spell a missing value in CSV exports (pandas, R, spreadsheets, SQL dumps); `--na` replaces it.
DEFAULT_NA = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "-", "?", "#N/A")


class FixtureError(ValueError):
    """A fixture that cannot be learned from; the message says why and what to do."""


@dataclass
class Table:
    """Raw rows of one fixture, column order as in the file."""

    columns: list[str]
    rows: list[list]  # (n_rows, n_columns) raw values
    fmt: str  # csv | json | jsonl
    csv_options: dict = field(default_factory=dict)  # delimiter and line terminator of a CSV
    na_values: tuple = DEFAULT_NA  # text values that mean "missing" in this fixture

    def column(self, j: int) -> list:
        """The raw values of column j."""
        return [r[j] for r in self.rows]


def detect_format(path: Path, text: str) -> str:
    """The fixture's format from its extension, else from its first character."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt:
        return fmt
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head == "{":
        return "jsonl"
    return "csv"


def decode_utf8(data: bytes, name: str) -> str:
    """The file's text, or a FixtureError that points at the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1].hex()
        line = data[:exc.start].count(b"\n") + 1
        raise FixtureError(
            f"{name} is not UTF-8 text (byte 0x{bad} at offset {exc.start}, line {line}); "
            "re-save it as UTF-8") from None


def read_table(path: str | Path, na_values: tuple = DEFAULT_NA) -> Table:
    """Parse a fixture file; raise FixtureError for empty, header-only, ragged, nested or non-table input."""
    path = Path(path)
    if path.is_dir():
        raise FixtureError(f"{path} is a folder; give a CSV, JSON or JSON Lines file")
    if not path.is_file():
        raise FixtureError(f"{path}: no such file")
    if path.suffix.lower() not in FORMATS and path.suffix:
        raise FixtureError(f"{path.name}: unknown fixture type {path.suffix!r}; "
                           f"expected one of {', '.join(sorted(FORMATS))}")
    text = decode_utf8(path.read_bytes(), path.name)
    if not text.strip():
        raise FixtureError(f"{path.name} is empty: there are no rows to learn from")
    fmt = detect_format(path, text)
    table = _read_csv(text, path) if fmt == "csv" else _read_json(text, path, fmt)
    if not table.rows:
        raise FixtureError(f"{path.name} has a header but no rows: there is nothing to learn from")
    table.na_values = tuple(na_values)
    return table


def _read_csv(text: str, path: Path) -> Table:
    sample = text[:8192]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    terminator = "\r\n" if "\r\n" in sample else "\n"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FixtureError(f"{path.name} is empty: there are no rows to learn from") from None
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise FixtureError(f"{path.name}: duplicate column names {dupes}")
    rows = []
    for row in reader:
        if not row:  # a blank line: csv gives [], skip it rather than call it ragged
            continue
        if len(row) != len(header):
            raise FixtureError(
                f"{path.name}: line {reader.line_num} has {len(row)} fields but the header has "
                f"{len(header)} (ragged rows); fix the row or quote fields that contain {delimiter!r}")
        rows.append(row)
    return Table(header, rows, "csv", {"delimiter": delimiter, "lineterminator": terminator})


def _read_json(text: str, path: Path, fmt: str) -> Table:
    if fmt == "json":
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FixtureError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(records, list):
            raise FixtureError(f"{path.name}: expected a JSON array of objects, found {type(records).__name__}")
    else:
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise FixtureError(f"{path.name}: line {number} is not valid JSON ({exc.msg})") from None
    columns: dict[str, None] = {}
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise FixtureError(f"{path.name}: record {number} is {type(record).__name__}, expected an object")
        for key, value in record.items():
            if isinstance(value, (dict, list)):
                raise FixtureError(
                    f"{path.name}: record {number} has a nested value in {key!r}; only flat objects are supported")
            columns.setdefault(key)
    names = list(columns)
    if not names and records:
        raise FixtureError(f"{path.name}: the objects have no keys, so there are no columns")
    rows = [[record.get(name, MISSING) for name in names] for record in records]
    return Table(names, rows, fmt)
