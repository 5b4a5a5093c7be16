"""The synthetic-data metrics on tables with known answers, and the server-side import boundary."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from devassist.training.tabular import quality

LABELS = np.array(["a", "a", "b", "b"], dtype=object)


def test_tv_complement_is_one_minus_total_variation():
    assert quality.column_shape(LABELS, np.array(["a", "a", "a", "b"], dtype=object)) == pytest.approx(0.75)


def test_ks_complement_on_shifted_numbers():
    x = np.arange(100, dtype=float)
    assert quality.column_shape(x, x.copy()) == 1.0
    assert quality.column_shape(x, x + 50) == pytest.approx(0.5)
    assert quality.column_shape(x, np.r_[x[:50], [np.nan] * 50]) == pytest.approx(0.5)  # empties are dropped


def test_correlation_similarity_of_opposite_trends_is_zero():
    x = np.arange(50, dtype=float)
    kind, value = quality.pair_trend({"x": x, "y": x}, {"x": x, "y": -x}, "x", "y")
    assert kind == "correlation" and value == pytest.approx(0.0)


def test_contingency_bins_numbers_against_categories():
    x = np.r_[np.zeros(50), np.ones(50)]
    c = np.array(["lo"] * 50 + ["hi"] * 50, dtype=object)
    kind, same = quality.pair_trend({"x": x, "c": c}, {"x": x, "c": c}, "x", "c")
    _, swapped = quality.pair_trend({"x": x, "c": c}, {"x": x, "c": c[::-1]}, "x", "c")
    assert kind == "contingency" and same == 1.0 and swapped == pytest.approx(0.0)


def test_quality_is_the_mean_of_shapes_and_trends():
    rng = np.random.default_rng(0)
    real = {"x": rng.normal(size=200), "c": rng.choice(["p", "q"], 200).astype(object)}
    report = quality.quality_report(real, {k: v.copy() for k, v in real.items()})
    assert report["quality"] == 1.0
    fake = {"x": rng.normal(3, 1, 200), "c": np.array(["p"] * 200, dtype=object)}
    report = quality.quality_report(real, fake)
    assert report["quality"] == pytest.approx((report["column_shapes"] + report["column_pair_trends"]) / 2)
    assert report["quality"] < 0.6


def test_detection_separates_an_obvious_fake():
    rng = np.random.default_rng(0)
    real = {"x": rng.normal(size=300)}
    same = quality.detection_score(real, {"x": rng.normal(size=300)})
    fake = quality.detection_score(real, {"x": rng.normal(5, 1, 300)})
    assert same["detection"] > 0.8 and fake["detection"] < 0.05


def test_privacy_counts_copies_and_compares_distances_with_holdout():
    rng = np.random.default_rng(0)
    train = {"x": rng.random(200), "c": rng.choice(["a", "b"], 200).astype(object)}
    holdout = {"x": rng.random(50), "c": rng.choice(["a", "b"], 50).astype(object)}
    copies = quality.privacy_report(train, {k: v[:100].copy() for k, v in train.items()}, holdout)
    assert copies["identical_share"] == 1.0 and copies["dcr_synthetic_median"] == 0.0
    assert copies["dcr_holdout_median"] > 0


def test_server_side_synthesis_modules_do_not_import_training_libraries():
    code = ("import sys; import devassist.server.synth_runtime, devassist.server.features.synth; "
            "bad = [m for m in ('torch', 'sklearn', 'transformers', 'optimum') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
def test_benchmark_split_is_seeded_and_keeps_rows_as_written(tmp_path):
    from devassist.evaluation.synth import split

    real = tmp_path / "real.csv"
    lines = ["x,k"] + [f"{i}.50,{'ab'[i % 2]}" for i in range(50)]
    real.write_text("\n".join(lines) + "\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = [p.read_text() for p in split(real, tmp_path / "a", 3)]
    again = [p.read_text() for p in split(real, tmp_path / "b", 3)]
    assert first == again
    train, valid = (t.splitlines() for t in first)
    assert train[0] == valid[0] == "x,k" and len(train) - 1 == 40 and len(valid) - 1 == 10
    assert sorted(train[1:] + valid[1:]) == sorted(lines[1:])


def test_benchmark_counts_constraint_violations(tmp_path):
    from devassist.evaluation.synth import constraint_rate

    train = tmp_path / "train.csv"
    train.write_text("low,high\n" + "".join(f"{i * 0.5:.1f},{i * 0.5 + 2:.1f}\n" for i in range(40)))
    synth = tmp_path / "synth.csv"
    synth.write_text("low,high\n" + "".join(f"{v:.1f},{v + (-1 if i < 5 else 1):.1f}\n"
                                             for i, v in enumerate(np.linspace(0, 19, 20))))
    rate, rules = constraint_rate(train, synth)
    assert rules == 1 and rate == 5 / 20
