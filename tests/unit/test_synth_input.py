"""Bad fixtures for `devassist synth`: each gets a clear message or a correct result, never a changed fixture."""

from __future__ import annotations

import hashlib
import json

import pytest

from devassist.training.tabular import cli
from devassist.training.tabular.table_io import FixtureError, read_table

BAD = {
    "empty": (b"", "is empty"),
    "blank": (b"\n\n  \n", "is empty"),
    "header_only": (b"a,b,c\n", "header but no rows"),
    "ragged": (b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields but the header has 3"),
    "not_utf8": (b"name\nJos\xe9\n", "not UTF-8"),
    "duplicate_header": (b"a,a\n1,2\n", "duplicate column names"),
}


def digest(path) -> str:
    """Content hash, to prove the fixture was not touched."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("content,message", BAD.values(), ids=BAD.keys())
def test_bad_csv_is_refused_with_a_clear_message(tmp_path, capsys, content, message):
    fixture = tmp_path / "data.csv"
    fixture.write_bytes(content)
    before = digest(fixture)
    with pytest.raises(FixtureError, match=message):
        read_table(fixture)
    assert cli.main([str(fixture), "--rows", "5", "--out", str(tmp_path / "o.csv")]) == cli.EXIT_BAD_INPUT
    assert message.split()[0] in capsys.readouterr().err
    assert digest(fixture) == before
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("text,message", [
    ('{"a": 1}', "expected a JSON array"),
    ('[{"a": {"b": 1}}]', "nested value in 'a'"),
    ('[1, 2]', "record 1 is int"),
    ('[{"a": 1},', "not valid JSON"),
    ("[]", "is empty|no rows"),
], ids=["object", "nested", "not_objects", "truncated", "empty_array"])
def test_bad_json_is_refused(tmp_path, text, message):
    fixture = tmp_path / "data.json"
    fixture.write_text(text)
    with pytest.raises(FixtureError, match=message):
        read_table(fixture)


def test_bad_jsonl_line_is_reported_by_number(tmp_path):
    fixture = tmp_path / "data.jsonl"
    fixture.write_text('{"a": 1}\n{"a": 2\n')
    with pytest.raises(FixtureError, match="line 2 is not valid JSON"):
        read_table(fixture)


def test_json_keeps_raw_types_and_missing_keys(tmp_path):
    fixture = tmp_path / "data.json"
    fixture.write_text(json.dumps([{"a": 1, "b": True}, {"a": 2.5, "c": None}]))
    table = read_table(fixture)
    assert table.columns == ["a", "b", "c"]
    assert table.rows[0][:2] == [1, True] and table.rows[1][2] is None
    assert table.rows[1][1] == "\x00missing"


def test_semicolon_csv_keeps_its_delimiter(tmp_path):
    fixture = tmp_path / "data.csv"
    fixture.write_text("a;b\n1;x\n2;y\n")
    table = read_table(fixture)
    assert table.columns == ["a", "b"] and table.csv_options["delimiter"] == ";"


@pytest.mark.parametrize("suffix,content,expected", [
    (".csv", "a,b\n1,2\n", "a,b\r\n"),
    (".json", '[{"a": 1}]', "[]\n"),
    (".jsonl", '{"a": 1}\n', ""),
], ids=["csv", "json", "jsonl"])
def test_rows_zero_writes_an_empty_table_without_training(tmp_path, suffix, content, expected):
    fixture = tmp_path / f"data{suffix}"
    fixture.write_text(content)
    out = tmp_path / f"out{suffix}"
    assert cli.main([str(fixture), "--rows", "0", "--out", str(out)]) == 0
    assert out.read_text().replace("\r\n", "\n") == expected.replace("\r\n", "\n")


def test_negative_rows_and_overwriting_the_fixture_are_refused(tmp_path, capsys):
    fixture = tmp_path / "data.csv"
    fixture.write_text("a\n1\n2\n")
    before = digest(fixture)
    assert cli.main([str(fixture), "--rows", "-1"]) == cli.EXIT_BAD_INPUT
    assert cli.main([str(fixture), "--rows", "3", "--out", str(fixture)]) == cli.EXIT_BAD_INPUT
    assert "never overwritten" in capsys.readouterr().err
    assert digest(fixture) == before


def test_progress_json_reports_errors_as_events(tmp_path, capsys):
    fixture = tmp_path / "data.csv"
    fixture.write_text("a,b\n")
    assert cli.main([str(fixture), "--rows", "3", "--progress-json"]) == cli.EXIT_BAD_INPUT
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events == [{"event": "error", "code": "bad_input",
                       "message": "data.csv has a header but no rows: there is nothing to learn from"}]
