"""Fine-tuning a bundle on a repository gives a new bundle that serves unchanged."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_finetune_produces_a_serving_bundle_with_an_honest_report(tmp_path, tiny_bundle):
    from devassist.server.bundle import load_bundle
    from devassist.server.features.completion import CompletionEngine
    from devassist.server.runtime.lm import LanguageModel
    from devassist.server.settings import CompletionSettings
    from devassist.training.finetune import finetune
    from tests.conftest import write_sources

    repo = write_sources(tmp_path / "repo", copies=10)  # 30 files: both sides of the 80/20 split
    report = finetune(tiny_bundle, repo, tmp_path / "mine", time_budget=20, max_steps=15,
                      eval_tokens=400, quiet=True)
    assert report["steps"] == 15 and report["train_files"] > 0 and report["held_out_files"] > 0
    acc = report["held_out_next_token_accuracy"]
    assert 0 <= acc["before"] <= 100 and 0 <= acc["after"] <= 100
    bundle = load_bundle(tmp_path / "mine")
    assert {"lm", "lm_int8", "checkpoint", "finetune_report"} <= set(bundle.components)
    engine = CompletionEngine(LanguageModel(bundle, component="lm_int8"))
    text = "def add(a, b):\n    return a"
    engine.complete(text, len(text), CompletionSettings())  # serves without error


def test_finetune_refuses_a_bundle_without_checkpoint(tmp_path, tiny_run, tiny_sources):
    from devassist.export.cli import export_bundle
    from devassist.training.finetune import finetune

    export_bundle(tiny_run, tmp_path / "b", quantize=None, embed=None, log=lambda *_: None)
    with pytest.raises(SystemExit, match="no PyTorch checkpoint"):
        finetune(tmp_path / "b", tiny_sources, tmp_path / "out", 5, 5, 100, quiet=True)
