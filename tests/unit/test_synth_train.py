"""`devassist synth` end to end on tiny fixtures made here: formats, ids, privacy, reuse, big files."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
import re
import subprocess
import sys

import numpy as np
import pytest

from devassist.server.synth_runtime import SynthRuntime
from devassist.training.tabular import cli

pytestmark = pytest.mark.slow
NAMES = ["Ann", "Bob", "Cy", "Dee", "Eli", "Fay"]


def write_mixed(path, rows=120, seed=0):
    """A CSV with an id, email, date, boolean, category, int with empties, float and an empty column."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "email", "joined", "active", "plan", "age", "score", "note"])
        for i in range(1, rows + 1):
            name = NAMES[i % len(NAMES)]
            email = f"{name.lower()}{rng.integers(1000, 9999)}@mail.test"
            w.writerow([i, email, f"2023-{1 + i % 12:02d}-{1 + i % 27:02d}",
                        "yes" if rng.random() < 0.6 else "no", rng.choice(["basic", "plus"]),
                        "" if i % 5 == 0 else int(rng.integers(18, 70)), f"{rng.normal(50, 10):.1f}", ""])
    return path


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A trained GAN on the mixed fixture: (fixture, output, model dir)."""
    tmp = tmp_path_factory.mktemp("mixed")
    fixture = write_mixed(tmp / "people.csv")
    before = hashlib.sha256(fixture.read_bytes()).hexdigest()
    out, model = tmp / "people.synthetic.csv", tmp / "model"
    assert cli.main([str(fixture), "--rows", "400", "--epochs", "60", "--save", str(model), "--seed", "1", "--model", "gan"]) == 0
    assert hashlib.sha256(fixture.read_bytes()).hexdigest() == before  # never modified
    return fixture, out, model


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_output_keeps_columns_and_value_formats(mixed):
    fixture, out, _ = mixed
    real, synth = read_csv(fixture), read_csv(out)
    assert synth[0] == real[0] and len(synth) == 401
    cols = {name: [r[j] for r in synth[1:]] for j, name in enumerate(synth[0])}
    assert all(re.fullmatch(r"\d+", v) for v in cols["id"])
    assert all(re.fullmatch(r"2023-\d\d-\d\d", v) for v in cols["joined"])
    assert set(cols["active"]) <= {"yes", "no"} and set(cols["plan"]) <= {"basic", "plus"}
    assert all(v == "" or re.fullmatch(r"\d+", v) for v in cols["age"])  # integers stay integers
    assert all(re.fullmatch(r"-?\d+\.\d", v) for v in cols["score"])  # one decimal, as written
    assert set(cols["note"]) == {""}
    assert 0.0 < cols["age"].count("") / 400 < 0.5  # empty at a real-ish rate (20% in the fixture)


def test_ids_and_emails_are_unique_and_never_copied(mixed):
    fixture, out, _ = mixed
    real, synth = read_csv(fixture), read_csv(out)
    real_ids, real_emails = {r[0] for r in real[1:]}, {r[1] for r in real[1:]}
    ids, emails = [r[0] for r in synth[1:]], [r[1] for r in synth[1:]]
    assert len(set(ids)) == len(ids) and not set(ids) & real_ids
    assert len(set(emails)) == len(emails) and not set(emails) & real_emails
    assert all(re.fullmatch(r"[a-z]+\d{4}@mail\.test", e) for e in emails)


def test_no_synthetic_row_equals_a_training_row(mixed):
    fixture, out, _ = mixed
    learned = slice(2, 7)  # the modelled columns; ids and emails are never copied by construction
    real = {tuple(r[learned]) for r in read_csv(fixture)[1:]}
    assert not [r for r in read_csv(out)[1:] if tuple(r[learned]) in real]


def test_saved_model_samples_without_torch(mixed, tmp_path):
    _, _, model = mixed
    out = tmp_path / "again.csv"
    code = ("import sys; from devassist.training.tabular.cli import main; "
            f"rc = main(['sample', {str(model)!r}, '--rows', '50', '--out', {str(out)!r}]); "
            "assert 'torch' not in sys.modules, 'sampling imported torch'; sys.exit(rc)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert len(read_csv(out)) == 51
    spec = json.loads((model / "spec.json").read_text())
    assert spec["export"]["max_abs_diff"] < 1e-3 and (model / "weights.safetensors").is_file()


def test_same_seed_same_rows(mixed):
    _, _, model = mixed
    runtime = SynthRuntime(model)
    assert runtime.sample_records(20, seed=3) == runtime.sample_records(20, seed=3)
    assert runtime.sample_records(20, seed=3) != runtime.sample_records(20, seed=4)


def test_json_fixture_round_trips_types_and_empties(tmp_path):
    rng = np.random.default_rng(0)
    records = [{"n": int(rng.integers(0, 500)), "ok": bool(rng.random() < 0.5),
                "when": f"2022-05-{1 + i % 28:02d}T10:00:00",
                "x": None if i % 4 == 0 else round(float(rng.normal()), 3)} for i in range(60)]
    for r in records[::3]:
        del r["ok"]  # an absent key: must stay absent, not become null
    fixture = tmp_path / "f.json"
    fixture.write_text(json.dumps(records))
    out = tmp_path / "o.json"
    assert cli.main([str(fixture), "--rows", "200", "--out", str(out), "--epochs", "20"]) == 0
    synth = json.loads(out.read_text())
    assert len(synth) == 200 and list(synth[0])[0] == "n"
    assert all(isinstance(r["n"], int) and not isinstance(r["n"], bool) for r in synth)
    assert all(isinstance(r["ok"], bool) for r in synth if "ok" in r)
    assert all(re.fullmatch(r"2022-\d\d-\d\dT\d\d:\d\d:\d\d", r["when"]) for r in synth)
    assert all(r["x"] is None or isinstance(r["x"], float) for r in synth)
    assert all(r.get("ok", 0) is not None for r in synth)  # absent, never null


def test_vae_on_jsonl(tmp_path):
    fixture = tmp_path / "f.jsonl"
    fixture.write_text("".join(json.dumps({"a": i % 3, "b": i * 1.5}) + "\n" for i in range(40)))
    out = tmp_path / "o.jsonl"
    assert cli.main([str(fixture), "--rows", "30", "--out", str(out), "--model", "vae", "--epochs", "30"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 30 and all(set(r) == {"a", "b"} and r["a"] in (0, 1, 2) for r in lines)


@pytest.mark.parametrize("content", [
    "only\n" + "".join(f"{v}\n" for v in np.round(np.linspace(0, 9, 30), 2)),
    "a,empty,const\n" + "".join(f"{i % 4},,k\n" for i in range(30)),
    "v,w\n" + "".join(f"{x},{i % 3}\n" for i, x in enumerate(["1", "two", "3.5", "four"] * 8)),
], ids=["single_column", "all_empty_and_constant", "mixed_types"])
def test_degenerate_tables_give_correct_results(tmp_path, content):
    fixture = tmp_path / "f.csv"
    fixture.write_text(content)
    out = tmp_path / "o.csv"
    assert cli.main([str(fixture), "--rows", "25", "--out", str(out), "--epochs", "5"]) == 0
    rows = read_csv(out)
    assert rows[0] == content.splitlines()[0].split(",") and len(rows) == 26
    if "const" in rows[0]:
        assert {r[1] for r in rows[1:]} == {""} and {r[2] for r in rows[1:]} == {"k"}
    if rows[0] == ["v", "w"]:  # numbers and words in one column: its values, as categories
        assert {r[0] for r in rows[1:]} <= {"1", "two", "3.5", "four"}


def test_time_budget_bounds_the_fit(tmp_path):
    fixture = write_mixed(tmp_path / "p.csv", rows=60)
    model = tmp_path / "m"
    assert cli.main([str(fixture), "--rows", "5", "--out", str(tmp_path / "o.csv"), "--time-budget", "2",
                     "--save", str(model), "--model", "gan"]) == 0
    spec = json.loads((model / "spec.json").read_text())
    assert spec["fit_s"] < 4 and spec["train"]["steps"] >= 1


def test_a_million_rows_are_subsampled_and_said_so(tmp_path, capsys):
    fixture = tmp_path / "big.csv"
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 1000, 1_000_000), rng.integers(0, 3, 1_000_000)
    fixture.write_text("a,b\n" + "\n".join(f"{x},{y}" for x, y in zip(a.tolist(), b.tolist())) + "\n")
    out = tmp_path / "o.csv"
    assert cli.main([str(fixture), "--rows", "10", "--out", str(out), "--epochs", "1"]) == 0
    assert "subsampled 1,000,000 rows to 50,000 for training" in capsys.readouterr().err
    assert len(read_csv(out)) == 11


def test_rows_equal_to_training_rows_are_redrawn(tmp_path):
    rng = np.random.default_rng(0)
    fixture = tmp_path / "small.csv"
    # 150 rows over ~600 possible (x, flag) pairs: an unchecked sampler repeats training rows often
    fixture.write_text("x,flag\n" + "".join(f"{rng.integers(0, 300) / 10:.1f},{'yn'[i % 2]}\n" for i in range(150)))
    model = tmp_path / "m"
    assert cli.main([str(fixture), "--rows", "1", "--out", str(tmp_path / "o.csv"), "--epochs", "30",
                     "--save", str(model)]) == 0
    counts = Counter(tuple(r) for r in read_csv(fixture)[1:])
    training = {row for row, count in counts.items() if count == 1}  # a row the fixture repeats identifies nobody
    runtime = SynthRuntime(model)
    assert not [r for r in runtime.sample_records(500, seed=2) if tuple(r) in training]
    runtime.spec["row_digests"] = []  # the same model without the check does copy rows
    assert [r for r in runtime.sample_records(500, seed=2) if tuple(r) in training]
