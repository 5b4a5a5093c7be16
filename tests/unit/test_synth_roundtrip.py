"""Formats survive a round trip through `devassist synth`: missing-value spellings, int/float/decimal
precision, date formats and granularity, booleans and null rates (one test per case)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter

import numpy as np
import pytest

from devassist.training.tabular import cli

ROWS = 400


def synth_csv(tmp_path, header: list[str], rows: list[list[str]], *extra: str) -> list[dict]:
    """Write a CSV fixture, synthesize ROWS rows with the copula (fast, seeded), read them back."""
    fixture, out = tmp_path / "f.csv", tmp_path / "o.csv"
    with open(fixture, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    assert cli.main([str(fixture), "--rows", str(ROWS), "--out", str(out), "--seed", "1", "--model", "copula",
                     *extra]) == 0
    return list(csv.DictReader(open(out, newline="")))


def test_missing_value_spellings_and_their_rate_survive(tmp_path):
    rng = np.random.default_rng(0)
    spellings = ["NA", "N/A", "-", "?"]
    rows = [[spellings[i % 4] if rng.random() < 0.2 else f"{rng.normal(45, 5):.1f}", "x"] for i in range(300)]
    out = [r["t"] for r in synth_csv(tmp_path, ["t", "c"], rows)]
    numbers = [v for v in out if v not in spellings]
    assert all(re.fullmatch(r"\d+\.\d", v) for v in numbers)  # still numbers, not categories or digits
    real = [float(r[0]) for r in rows if r[0] not in spellings]
    assert min(real) <= min(map(float, numbers)) and max(map(float, numbers)) <= max(real)
    missing = Counter(v for v in out if v in spellings)
    assert set(missing) == set(spellings)
    assert abs(sum(missing.values()) / ROWS - 0.2) < 0.07


def test_custom_missing_spellings_are_configurable(tmp_path):
    rows = [["unknown" if i % 5 == 0 else str(20 + i % 37)] for i in range(200)]
    out = [r["n"] for r in synth_csv(tmp_path, ["n"], rows, "--na", "unknown")]
    assert {v for v in out if not v.isdigit()} == {"unknown"}


def test_integers_with_one_float_stay_mostly_integers(tmp_path):
    # a second, continuous column: otherwise most integer rows would equal a fixture row and be redrawn
    rows = [[str(30 + (i * 7) % 41), f"{i * 0.013:.3f}"] for i in range(199)] + [["97.5", "0.5"]]
    out = [r["n"] for r in synth_csv(tmp_path, ["n", "w"], rows)]
    bare = sum(bool(re.fullmatch(r"\d+", v)) for v in out)
    assert bare / ROWS > 0.95 and all(re.fullmatch(r"\d+(\.\d)?", v) for v in out)


def test_fixed_decimals_keep_their_width(tmp_path):
    rows = [[f"{1 + i * 0.25:.2f}"] for i in range(120)]  # 1.00, 1.25, 1.50 ...
    out = [r["price"] for r in synth_csv(tmp_path, ["price"], rows)]
    assert all(re.fullmatch(r"\d+\.\d\d", v) for v in out)


@pytest.mark.parametrize("values,pattern", [
    ([f"{2000 + i % 24}-01-01" for i in range(100)], r"20\d\d-01-01"),
    ([f"2023-{1 + i % 12:02d}-01" for i in range(100)], r"2023-\d\d-01"),
    ([f"2024-03-{1 + i % 28:02d} {i % 24:02d}:00" for i in range(100)], r"2024-0[2-4]-\d\d \d\d:00"),
    ([f"{1 + i % 28:02d}/05/2022" for i in range(100)], r"\d\d/05/2022"),
], ids=["year_only", "month_start", "hourly", "day_first"])
def test_dates_keep_format_and_granularity(tmp_path, values, pattern):
    out = [r["d"] for r in synth_csv(tmp_path, ["d", "c"], [[v, "x"] for v in values])]
    assert all(re.fullmatch(pattern, v) for v in out), [v for v in out if not re.fullmatch(pattern, v)][:3]
    assert len(set(out)) > 5  # not collapsed onto the first and last day of the range


def test_booleans_keep_their_spelling(tmp_path):
    rows = [["Yes" if i % 3 else "No", f"{i * 0.37:.2f}"] for i in range(150)]
    out = synth_csv(tmp_path, ["ok", "n"], rows)
    assert {r["ok"] for r in out} == {"Yes", "No"}


def test_json_types_and_null_kinds_survive(tmp_path):
    records = [{"n": i % 40, "x": round(i * 0.37, 2), "flag": i % 2 == 0, "note": None if i % 4 else "hi"}
               for i in range(160)]
    for r in records[::5]:
        del r["x"]  # absent keys stay absent
    fixture, out = tmp_path / "f.json", tmp_path / "o.json"
    fixture.write_text(json.dumps(records))
    assert cli.main([str(fixture), "--rows", "200", "--out", str(out), "--seed", "2", "--model", "copula"]) == 0
    synth = json.loads(out.read_text())
    assert all(isinstance(r["n"], int) and isinstance(r["flag"], bool) for r in synth)
    assert all(isinstance(r["x"], (int, float)) for r in synth if "x" in r)
    absent = sum("x" not in r for r in synth) / len(synth)
    assert 0.08 < absent < 0.35 and all(r["note"] in (None, "hi") for r in synth)


def test_seed_gives_identical_bytes_with_and_without_a_time_budget(tmp_path):
    fixture = tmp_path / "f.csv"
    fixture.write_text("a,b,c\n" + "".join(f"{i * 0.5:.1f},{(i * 7) % 13},{'xyz'[i % 3]}\n" for i in range(120)))
    outputs = []
    for extra in ([], ["--time-budget", "3600"], []):
        out = tmp_path / f"o{len(outputs)}.csv"
        assert cli.main([str(fixture), "--rows", "300", "--out", str(out), "--seed", "5", "--steps", "60",
                         *extra]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    small = []
    for i in range(2):  # a budget that cuts training short is still counted in steps: reproducible
        out = tmp_path / f"s{i}.csv"
        assert cli.main([str(fixture), "--rows", "300", "--out", str(out), "--seed", "5", "--model", "gan",
                         "--time-budget", "0.5"]) == 0
        small.append(out.read_bytes())
    assert small[0] == small[1]
