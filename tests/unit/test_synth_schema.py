"""Column kinds the profiler infers, and the mode-specific transform they feed."""

from __future__ import annotations

import numpy as np
import pytest

from devassist.training.tabular.schema import profile_column
from devassist.training.tabular.transforms import DataTransformer, fit_modes

CASES = {
    "integers": ([str(v) for v in range(0, 300, 7)] + ["5"], "numeric", {"dtype": "int"}),
    "floats": ([f"{v / 3:.2f}" for v in range(40)], "numeric", {"dtype": "float", "decimals": 2, "fixed": True}),
    "small_ints_are_categories": (["0", "1", "1", "0", "2"] * 5, "discrete", {}),
    "booleans": (["true", "false", "true"] * 5, "discrete", {"categories": ["true", "false"]}),
    "dates": ([f"2024-01-{d:02d}" for d in range(1, 29)], "datetime", {"format": "%Y-%m-%d", "resolution": 86400}),
    "day_first_dates": ([f"{d:02d}/03/2023" for d in range(13, 29)], "datetime", {"format": "%d/%m/%Y"}),
    "serial_ids": ([str(i) for i in range(1, 51)], "serial", {"start": 51, "step": 1}),
    "emails": ([f"user{i}@example.com" for i in range(30)], "pattern", {"unique": True}),
    "zero_padded_codes": ([f"{i:05d}" for i in range(30)], "pattern", {}),
    "all_empty": (["", "", ""], "empty", {}),
    "constant": (["x"] * 20, "discrete", {"categories": ["x"]}),
    "mixed_types": (["1", "two", "3", "four"] * 5, "discrete", {}),
    "empty_is_a_category": (["a", "", "b", "a"] * 5, "discrete", {"categories": ["a", "b", None]}),
}


@pytest.mark.parametrize("values,kind,fields", CASES.values(), ids=CASES.keys())
def test_profile_finds_the_column_kind(values, kind, fields):
    spec = profile_column("c", values, "csv")
    assert spec["kind"] == kind
    for key, value in fields.items():
        assert spec[key] == value


def test_json_values_keep_their_types():
    spec = profile_column("c", [True, False, None, True], "json")
    assert spec["kind"] == "discrete" and spec["categories"] == [True, False, None]
    assert spec["null_as"] == "null"
    spec = profile_column("n", [1, 2.5] * 10 + list(range(20)), "json")
    assert spec["kind"] == "numeric" and spec["json_number"] and spec["dtype"] == "float"


def test_pattern_spec_never_stores_singleton_tokens():
    values = [f"{name}.x{i}@corp.example" for i, name in enumerate(["ann", "bob", "cy", "dee"] * 8)]
    spec = profile_column("email", values, "csv")
    stored = str(spec["shapes"])
    assert "corp" in stored  # the shared domain is kept
    assert "x17" not in stored and "ann.x0" not in stored  # per-row parts are not


def test_fit_modes_finds_two_separated_modes():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 500), rng.normal(100, 1, 500)]
    means, stds, weights = fit_modes(x, seed=0)
    big = sorted(m for m, w in zip(means, weights) if w > 0.2)
    assert len(big) == 2 and abs(big[0]) < 1 and abs(big[1] - 100) < 1


def test_transform_layout_has_alpha_modes_and_empty_flag():
    specs = [{"name": "x", "kind": "numeric"}, {"name": "c", "kind": "discrete", "categories": ["a", "b", None]}]
    x = np.r_[np.linspace(0, 1, 50), [np.nan] * 10]
    arrays = {"x": x, "c": np.array([0, 1, 2] * 20)}
    transformer = DataTransformer(specs).fit(arrays)
    rows = transformer.transform(arrays, np.random.default_rng(0))
    assert rows.shape == (60, transformer.dim)
    kinds = [a for a, _, _ in specs[0]["spans"]]
    assert kinds == ["tanh", "softmax", "softmax"]
    _, empty_start, _ = specs[0]["spans"][2]
    assert rows[-10:, empty_start + 1].sum() == 10  # the empty flag is set exactly on NaN rows
    assert transformer.cond_spans == [(specs[1]["spans"][0][1], 3)]
    assert np.all(np.abs(rows[:, 0]) <= 0.99)


def test_transform_then_decode_gives_the_values_back():
    from devassist.server.synth_runtime import decode
    from devassist.training.tabular.schema import profile_table, to_arrays
    from devassist.training.tabular.table_io import Table

    rng = np.random.default_rng(0)
    rows = [[f"{rng.normal(50, 10):.2f}", "" if i % 7 == 0 else str(int(rng.integers(0, 90))),
             f"2021-03-{1 + i % 28:02d}", "ab"[i % 2]] for i in range(200)]
    table = Table(["x", "n", "d", "c"], rows, "csv")
    specs = profile_table(table)
    arrays = to_arrays(table, specs)
    transformer = DataTransformer(specs).fit(arrays)
    encoded = transformer.transform(arrays, rng)
    logits = np.where(encoded > 0.5, 20.0, -20.0)  # confident spans, as a trained model gives
    logits[:, transformer.tanh_columns()] = encoded[:, transformer.tanh_columns()]
    decoded = decode(specs, logits, rng, gumbel=False)
    for spec in specs:
        exact = np.ones(len(rows), bool)
        if spec["kind"] in ("numeric", "datetime"):  # alphas are clipped at ±0.99 (≈4σ from the mode), as CTGAN
            exact = np.abs(encoded[:, spec["spans"][0][1]]) < 0.99
            assert exact.mean() > 0.95
        np.testing.assert_allclose(decoded[spec["name"]][exact], arrays[spec["name"]][exact], atol=1e-9)


@pytest.mark.parametrize("name,values,kind", [
    ("email", ["a@x.io", "b@y.io", "c@z.io"], "pattern"),
    ("userName", ["Ann Lee", "Bo Kim"], "pattern"),
    ("customer_id", ["7", "8", "9"], "serial"),
    ("status", ["open", "closed", "stale"], "discrete"),  # unique but not identifying: a category
], ids=["email", "camel_name", "snake_id", "status"])
def test_small_identifying_columns_are_generated_not_copied(name, values, kind):
    assert profile_column(name, values, "csv")["kind"] == kind
