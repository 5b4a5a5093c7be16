"""The completion benchmark's pieces: the 4-gram baseline, line cases and metrics."""

import numpy as np
import pytest

from devassist.evaluation.completion import edit_similarity, pick_lines, score_lines
from devassist.evaluation.ngram import NgramModel


def test_ngram_counts_and_backs_off():
    stream = np.array([1, 2, 3, 4, 1, 2, 3, 5, 1, 2, 3, 4], dtype=np.int32)
    model = NgramModel(stream, vocab_size=8)
    assert model.predict([1, 2, 3]) == 4  # 4 follows (1, 2, 3) twice, 5 once
    dist = model.distribution([1, 2, 3])
    assert abs(sum(dist.values()) - 1) < 1e-9 and dist[4] > dist[5]
    assert model.predict([7, 7, 2]) == 3  # unseen context: backs off to (2,) -> 3


def test_edit_similarity_and_exact_match():
    assert edit_similarity("abc", "abc") == 100.0
    assert edit_similarity("", "abc") == 0.0
    assert round(edit_similarity("kitten", "sitting"), 2) == round(100 * (1 - 3 / 7), 2)
    cases = [("x = ", "foo(a,  b)"), ("y = ", "bar")]
    scores = score_lines(["foo(a, b)", "baz"], cases)
    assert scores["line_exact_match"] == 50.0


def test_line_cases_are_deterministic_and_cut_after_indentation():
    files = [("a.py", "def f():\n    return compute(value)\n\nx = 1 + 2 + 3\n")]
    a, b = pick_lines(files, 5, seed=1), pick_lines(files, 5, seed=1)
    assert a == b and a
    for prefix, target in a:
        assert target.strip() and not prefix.endswith("\n")


def test_no_python_files_or_no_bundle_is_a_clear_error(tmp_path, tiny_bundle, capsys):
    from devassist.evaluation.completion import load_eval_files, main

    (tmp_path / "notes.txt").write_text("no code here\n")
    with pytest.raises(ValueError, match="no Python files"):
        load_eval_files(tmp_path, None, seed=0)
    assert main(["--bundle", str(tiny_bundle), "--source", str(tmp_path)]) == 2
    assert "no Python files" in capsys.readouterr().err
    assert main(["--bundle", str(tmp_path), "--source", str(tmp_path)]) == 2
    assert "manifest.json" in capsys.readouterr().err
