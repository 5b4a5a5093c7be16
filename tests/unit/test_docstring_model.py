"""The docstring model path on the tiny bundle: index component, FIM summaries, fine-tune + export."""

from __future__ import annotations

import json

import pytest

from devassist.server.bundle import load_bundle
from devassist.server.features.docstring import DocstringFeature
from devassist.server.features.docstring.summary import FimSummarizer, RetrievalSummarizer

# The index holds "Count the words in a text.": for `count_lines` that sentence would be refused (it
# names no lines), so the retrieval path is checked on a function it is true of.
SRC = "def count_words(text):\n    return len(text.split())\n"


@pytest.mark.slow
def test_index_component_and_model_summaries_on_the_tiny_bundle(bundle_copy, tiny_run):
    from devassist.export.docstring_index import main as index_main

    corpus = tiny_run.parent / "corpus"
    assert index_main(["--corpus", str(corpus), "--bundle", str(bundle_copy), "--summarizer", "retrieval"]) == 0
    bundle = load_bundle(bundle_copy)
    assert bundle.component("docstring")["summarizer"] == "retrieval"
    feature = DocstringFeature(bundle)
    assert isinstance(feature.summarizer, RetrievalSummarizer)
    edit = feature.edit_for(SRC, 0, 0)
    assert edit.summary_source == "retrieval" and edit.docstring.split("\n")[0].endswith(".")

    assert index_main(["--corpus", str(corpus), "--bundle", str(bundle_copy), "--summarizer", "model"]) == 0
    feature = DocstringFeature(load_bundle(bundle_copy))
    assert isinstance(feature.summarizer, FimSummarizer)  # the completion model, with the parse behind it
    edit = feature.edit_for(SRC, 0, 0)
    assert edit.summary_source in ("model", "fallback") and edit.elapsed_ms < 5000


@pytest.mark.slow
def test_finetune_and_export_a_docstring_model(tmp_path, bundle_copy, tiny_run):
    from devassist.export.docstring_export import main as export_main
    from devassist.training.docstring_data import main as data_main
    from devassist.training.docstring_finetune import main as finetune_main

    corpus = tiny_run.parent / "corpus"
    examples = tmp_path / "ex.npz"
    assert data_main(["--corpus", str(corpus), "--split", "train", "--tokenizer", str(tiny_run / "tokenizer.json"),
                      "--context-length", "64", "--max-new-tokens", "12", "--max-prompt-tokens", "48",
                      "--out", str(examples)]) == 0
    out = tmp_path / "ft"
    assert finetune_main(["--run", str(tiny_run), "--examples", str(examples), "--out", str(out),
                          "--max-steps", "3", "--batch-size", "4", "--device", "cpu"]) == 0
    record = json.loads((out / "run.json").read_text())["docstring_finetune"]
    assert record["steps"] == 3 and record["max_prompt_tokens"] == 48
    assert export_main([str(out), "--bundle", str(bundle_copy)]) == 0
    bundle = load_bundle(bundle_copy)
    comp = bundle.component("docstring_lm")
    assert comp["precision"] == "int8" and comp["parity"]["top1_agreement"] >= 0.85
    assert comp["parity_fp32"]["greedy_identical"] == "4/4"
    assert bundle.component("docstring") == {"summarizer": "model", "lm": "docstring_lm",
                                             "max_prompt_tokens": 48, "max_new_tokens": 12}
    feature = DocstringFeature(bundle)
    assert isinstance(feature.summarizer, FimSummarizer)
    assert feature.summarizer.lm.component == "docstring_lm" and feature.summarizer.max_prompt_tokens == 48
    assert feature.edit_for(SRC, 0, 0).docstring
