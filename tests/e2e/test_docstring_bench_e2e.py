"""`devassist evaluate docstring --lsp`: the latency benchmark drives a real server and reports median and p95."""

from __future__ import annotations

import json

import pytest

from devassist.evaluation import docstring as evaluate
from tests.unit.test_docstring_cli import SOURCE  # one documented function, `read_config`

pytestmark = pytest.mark.slow


def test_the_lsp_benchmark_times_each_command_after_a_warm_up(tiny_bundle, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [{"path": f"{name}.py", "split": split, "text": SOURCE} for name, split in
            (("a", "train"), ("b", "test"), ("c", "test"))]
    (corpus / "files.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert evaluate.main(["--bundle", str(tiny_bundle), "--source", str(corpus), "--lsp", "2", "--lsp-warmup", "1",
                          "--json"]) == 0
    lsp = json.loads(capsys.readouterr().out)["lsp"]
    assert lsp["n"] == 2 and lsp["not_applied"] == 0 and lsp["warmup"] == 1
    assert 0 < lsp["median"] <= lsp["p95"] <= lsp["max"]
    assert 0 < lsp["edit_in_server"]["median"] <= lsp["median"]  # the protocol's share is what is left
    assert sum(lsp["summary_sources"].values()) == 2 and len(lsp["load_average"]) == 3
