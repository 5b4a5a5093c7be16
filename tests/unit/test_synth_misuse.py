"""Every misuse listed in issue 18: one line on stderr, exit code 2, before any training, nothing overwritten."""

from __future__ import annotations

import pytest

from devassist.evaluation import synth as evaluate_synth
from devassist.training.tabular import cli, synthesizer

FIXTURE = "low,high,kind\n" + "".join(f"{i * 0.7:.1f},{i * 0.7 + 3:.1f},{'ab'[i % 2]}\n" for i in range(30))


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A good fixture, and a fit_synthesizer that fails the test if training starts."""
    fixture = tmp_path / "data.csv"
    fixture.write_text(FIXTURE)

    def no_training(*args, **kwargs):
        raise AssertionError("training started although the input was bad")

    monkeypatch.setattr(synthesizer, "fit_synthesizer", no_training)
    return tmp_path, fixture


def refused(capsys, argv: list[str], message: str) -> None:
    """The command exits 2 with exactly one stderr line containing `message`."""
    assert cli.main(argv) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("extra,message", [
    (["--epochs", "-3"], "--epochs must be 1 or more"),
    (["--epochs", "0"], "--epochs must be 1 or more"),
    (["--steps", "0"], "--steps must be 1 or more"),
    (["--time-budget", "0"], "--time-budget must be more than 0"),
    (["--time-budget", "nan"], "--time-budget must be more than 0"),
    (["--rows", "-1"], "--rows must be 0 or more"),
    (["--where", "kind"], "expected COLUMN=VALUE"),
    (["--where", "kind=c"], "'c' never occurs in 'kind'"),
    (["--where", "nope=a"], "no column 'nope'"),
    (["--where", "low=3"], "conditions work on category columns"),
    (["--constraint", "low <=> high"], "expected COLUMN OP"),
    (["--constraint", "low <= kind"], "column 'kind' is discrete"),
    (["--constraint", "low <= width"], "neither a column nor a number"),
], ids=["epochs_negative", "epochs_zero", "steps_zero", "budget_zero", "budget_nan", "rows_negative",
        "where_form", "where_value", "where_column", "where_numeric", "constraint_form", "constraint_kind",
        "constraint_column"])
def test_bad_options_are_refused_before_training(setup, capsys, extra, message):
    tmp, fixture = setup
    out = tmp / "out.csv"
    argv = [str(fixture), "--rows", "5", "--out", str(out), *extra]
    if "--rows" in extra:
        argv = [str(fixture), "--out", str(out), *extra]
    refused(capsys, argv, message)
    assert not out.exists()


def test_out_into_a_missing_folder(setup, capsys):
    tmp, fixture = setup
    refused(capsys, [str(fixture), "--rows", "5", "--out", str(tmp / "nope" / "o.csv")], "does not exist")


def test_out_onto_a_folder(setup, capsys):
    tmp, fixture = setup
    (tmp / "dir").mkdir()
    refused(capsys, [str(fixture), "--rows", "5", "--out", str(tmp / "dir")], "is a folder")


def test_out_onto_an_existing_file_needs_force(setup, capsys):
    tmp, fixture = setup
    out = tmp / "o.csv"
    out.write_text("keep\n")
    refused(capsys, [str(fixture), "--rows", "5", "--out", str(out)], "pass --force")
    assert out.read_text() == "keep\n"


def test_out_through_a_symlink_is_refused_even_with_force(setup, capsys):
    tmp, fixture = setup
    target = tmp / "bashrc"
    target.write_text("keep\n")
    (tmp / "o.csv").symlink_to(target)
    refused(capsys, [str(fixture), "--rows", "5", "--out", str(tmp / "o.csv"), "--force"], "symbolic link")
    assert target.read_text() == "keep\n"


def test_save_onto_an_existing_file(setup, capsys):
    tmp, fixture = setup
    (tmp / "model").write_text("keep\n")
    refused(capsys, [str(fixture), "--rows", "5", "--out", str(tmp / "o.csv"), "--save", str(tmp / "model")],
            "is not a folder")
    assert (tmp / "model").read_text() == "keep\n"


@pytest.mark.parametrize("name,content,message", [
    ("notes.txt", "just some notes, not a table\n", "unknown fixture type '.txt'"),
    ("one.csv", "a,b\n1,2\n", "has 1 row: at least 2 are needed"),
], ids=["notes_txt", "one_row"])
def test_inputs_that_are_not_a_learnable_table(setup, capsys, name, content, message):
    tmp, _ = setup
    fixture = tmp / name
    fixture.write_text(content)
    refused(capsys, [str(fixture), "--rows", "10", "--out", str(tmp / "o.csv")], message)
    assert fixture.read_text() == content and not (tmp / "o.csv").exists()


@pytest.mark.parametrize("spec,message", [
    ("{", "is damaged"),
    ('{"columns": [], "dim": 3, "model": "gan"}', "cannot be loaded"),
], ids=["bad_json", "missing_onnx"])
def test_broken_saved_model(tmp_path, capsys, spec, message):
    model = tmp_path / "model"
    model.mkdir()
    (model / "spec.json").write_text(spec)
    refused(capsys, ["sample", str(model), "--rows", "5", "--out", str(tmp_path / "o.csv")], message)
    assert not (tmp_path / "o.csv").exists()


def test_sample_out_onto_an_existing_file_needs_force(tmp_path, capsys):
    out = tmp_path / "o.csv"
    out.write_text("keep\n")
    refused(capsys, ["sample", str(tmp_path), "--rows", "5", "--out", str(out)], "pass --force")
    assert out.read_text() == "keep\n"


@pytest.mark.parametrize("real,message", [
    ("sklearn:nope", "unknown table; sklearn tables: iris"),
    ("missing.csv", "no such file"),
    ("data.json", "reads CSV files"),
], ids=["unknown_table", "missing_file", "json_file"])
def test_evaluate_refuses_unknown_tables(tmp_path, monkeypatch, capsys, real, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.json").write_text("[]")
    assert evaluate_synth.main(["--real", real]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
