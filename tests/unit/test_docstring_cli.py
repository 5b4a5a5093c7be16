"""`devassist docstring` and `devassist evaluate docstring` on small files (no model)."""

from __future__ import annotations

import ast
import json

from devassist.evaluation import docstring as evaluate
from devassist.server import docstring_cli
from devassist.server.parsing import definitions

SOURCE = '''import json


def read_config(path):
    """Read the configuration file at path."""
    with open(path) as fh:
        return json.load(fh)


def load_settings(path, strict=False):
    if strict:
        raise ValueError(path)
    with open(path) as fh:
        return json.load(fh)


class Store:
    def get_item(self, key):
        return self.items[key]
'''


def test_cli_prints_one_docstring(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEVASSIST_BUNDLE", str(tmp_path / "no-bundle"))
    f = tmp_path / "m.py"
    f.write_text(SOURCE)
    assert docstring_cli.main([f"{f}:10", "--style", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "load_settings" in out and "Parameters\n    ----------" in out and "Raises" in out
    assert f.read_text() == SOURCE  # printing does not write


def test_cli_writes_every_missing_docstring_and_keeps_crlf(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVASSIST_BUNDLE", str(tmp_path / "no-bundle"))
    f = tmp_path / "m.py"
    f.write_bytes(SOURCE.replace("\n", "\r\n").encode())
    assert docstring_cli.main([str(f), "--write"]) == 0
    data = f.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    text = data.decode().replace("\r\n", "\n")
    assert all(d.docstring for d in definitions(text))
    ast.parse(text)


def test_cli_reports_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEVASSIST_BUNDLE", str(tmp_path / "no-bundle"))
    f = tmp_path / "m.py"
    f.write_text("x = lambda a: a\n")
    assert docstring_cli.main([f"{f}:1"]) == 1
    assert "lambda" in capsys.readouterr().err


def test_hide_docstring_and_expected_sections():
    (d,) = [d for d in definitions(SOURCE) if d.name == "read_config"]
    hidden = evaluate.hide_docstring(SOURCE, d)
    assert "configuration" not in hidden and "def read_config(path):\n    with open" in hidden
    only = 'def f(a):\n    """Doc."""\n'
    assert evaluate.hide_docstring(only, definitions(only)[0]) == "def f(a):\n    pass\n"
    fn = ast.parse("def f(self, a, *b, c, **d):\n    def g():\n        raise KeyError\n    raise X.Y()\n").body[0]
    assert evaluate.expected_sections(fn, True) == {"params": ["a", "*b", "c", "**d"], "returns": False, "raises": ["X.Y"]}


def test_evaluate_reports_all_numbers(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [{"path": "a.py", "split": "train", "text": SOURCE},
            {"path": "b.py", "split": "test", "text": SOURCE.replace("def read_config", "def read_conf")}]
    (corpus / "files.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert evaluate.main(["--source", str(corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_functions"] == 1
    assert report["retrieval"]["bleu"] == 100.0  # the same function is in the training split
    assert report["template"]["bleu"] < 100.0
    assert report["section_accuracy"] == {"params": 100.0, "returns": 100.0, "raises": 100.0, "all": 100.0}
    assert set(report["latency_ms"]) == {"p50", "p95", "max", "mean"}
    faith = report["faithfulness"]
    assert set(faith["hallucination_rate"]) == {"model", "unchecked", "template", "retrieval", "fallback"}
    assert faith["hallucination_rate"]["model"] == 0.0 and faith["empty_entry_rate"] == 0.0
    assert faith["entries"] == 2 and faith["returns_echo"] == 0  # read_conf(path): Args path, Returns


def test_entry_counts_find_empty_echoing_and_placeholder_entries():
    doc = ("Do it.\n\nArgs:\n    a:\n    b: TODO: describe ``b``.\n    c: Passed to ``open``.\n\n"
           "Returns:\n    ``ret``.")
    assert evaluate.entry_counts(doc, "google") == {"entries": 4, "empty": 1, "echo": 1, "placeholder": 1,
                                                    "returns": 1, "returns_echo": 1}
    assert evaluate.entry_counts("Do it.\n\nReturns:\n    The result.", "google")["echo"] == 1
