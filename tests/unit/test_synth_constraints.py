"""Constraints: detected from the fixture, parsed from the user, enforced when sampling, violations counted."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from devassist.server.synth_constraints import apply_functions, describe, violations
from devassist.training.tabular import cli
from devassist.training.tabular.constraints import ConstraintError, detect_constraints, parse_constraint
from devassist.training.tabular.schema import profile_table, to_arrays
from devassist.training.tabular.table_io import read_table


@pytest.fixture
def weather(tmp_path):
    """Daily readings: tmin <= tmax always, 'snow' never in the 'south', each station in one region."""
    rng = np.random.default_rng(0)
    path = tmp_path / "weather.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["station", "region", "sky", "tmin", "tmax"])
        for _ in range(300):
            station = rng.choice(["A", "B", "C", "D"])
            region = "north" if station in "AB" else "south"
            sky = rng.choice(["sun", "rain", "snow"] if region == "north" else ["sun", "rain"])
            tmin = rng.normal(0 if region == "north" else 15, 4)
            writer.writerow([station, region, sky, f"{tmin:.1f}", f"{tmin + abs(rng.normal(8, 3)):.1f}"])
    return path


def detected(path):
    """Columns, arrays and the constraints found in a fixture."""
    table = read_table(path)
    columns = profile_table(table)
    arrays = to_arrays(table, columns)
    return columns, arrays, detect_constraints(columns, arrays)


def test_rules_the_fixture_keeps_are_detected(weather):
    columns, _, rules = detected(weather)
    by_name = {c["name"]: c for c in columns}
    lines = {describe(r, by_name) for r in rules}
    assert "tmin <= tmax" in lines and "tmax <= tmin" not in lines
    assert "region is determined by station" in lines
    never = [r for r in rules if r["kind"] == "never_together" and {r["a"], r["b"]} == {"region", "sky"}]
    code = {name: {v: i for i, v in enumerate(by_name[name]["categories"])} for name in ("region", "sky")}
    pair = {"region": code["region"]["south"], "sky": code["sky"]["snow"]}
    assert never and [pair[never[0]["a"]], pair[never[0]["b"]]] in never[0]["pairs"]


def test_violations_and_functions_on_arrays(weather):
    columns, arrays, rules = detected(weather)
    assert not violations(rules, columns, arrays, len(arrays["tmin"])).any()  # the fixture keeps its own rules
    broken = {k: v.copy() for k, v in arrays.items()}
    broken["tmin"][:10] = broken["tmax"][:10] + 1
    station = next(c for c in columns if c["name"] == "station")
    region = next(c for c in columns if c["name"] == "region")
    broken["region"][:] = region["categories"].index("north")  # C and D are in the south
    bad = violations(rules, columns, broken, len(broken["tmin"]))
    assert bad[:10].all()
    apply_functions(rules, broken)
    south = [station["categories"].index(s) for s in ("C", "D")]
    assert (broken["region"][np.isin(broken["station"], south)] == region["categories"].index("south")).all()


@pytest.mark.parametrize("text,expected", [
    ("tmin <= tmax", {"left": "tmin", "op": "<=", "right": "tmax"}),
    ("tmax>-40", {"left": "tmax", "op": ">", "right": -40.0}),
], ids=["columns", "number"])
def test_user_constraints_parse(weather, text, expected):
    columns, _, _ = detected(weather)
    rule = parse_constraint(text, columns)
    assert {k: rule[k] for k in expected} == expected and rule["source"] == "user"


def test_user_constraint_on_unknown_column(weather):
    columns, _, _ = detected(weather)
    with pytest.raises(ConstraintError, match="no column 'tavg'"):
        parse_constraint("tavg <= tmax", columns)


@pytest.mark.parametrize("model", ["copula", "vae"])
def test_output_keeps_detected_and_user_rules_and_where(weather, tmp_path, capsys, model):
    out = tmp_path / "o.csv"
    assert cli.main([str(weather), "--rows", "500", "--out", str(out), "--seed", "3", "--model", model,
                     "--steps", "300", "--constraint", "tmax <= 30", "--where", "region=north"]) == 0
    err = capsys.readouterr().err
    assert "constraint (detected): tmin <= tmax" in err and "constraint (user): tmax <= 30.0" in err
    assert "constraint violations 0.00%" in err
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 500 and {r["region"] for r in rows} == {"north"}
    assert {r["station"] for r in rows} <= {"A", "B"}
    assert all(float(r["tmin"]) <= float(r["tmax"]) <= 30 for r in rows)
