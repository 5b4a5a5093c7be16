"""The short version of `devassist evaluate robustness` (under 2 minutes on the tiny bundle)."""

import pytest

from devassist.evaluation.robustness import evaluate

pytestmark = pytest.mark.slow


def test_short_robustness_run_has_no_crash_wedge_or_unanswered_request(tiny_bundle, tmp_path):
    figures = evaluate(tiny_bundle, messages=1200, soak_s=10, load_requests=60, seed=7, use_strace=True,
                       keep=tmp_path / "run")
    assert figures["initialized"]
    assert sum(figures["fuzz"]["per_category"].values()) == 1200
    assert figures["crashes"] == 0
    assert figures["wedges"] == 0
    assert figures["requests_with_id"] > 900
    assert figures["unanswered"] == 0
    assert figures["answered_twice"] == 0
    assert figures["parse_errors_answered"] > 0  # the bad JSON and framing were answered -32700
    assert figures["network_syscalls"] in (0, None)  # None only where strace is missing
    assert figures["writes_outside_workspace"] == 0
    assert figures["exit_code"] == 0
    assert all(figures["lifecycle"].values()), figures["lifecycle"]
    assert figures["soak"]["keystrokes"] > 0
