"""Summarizers: the name template, BM25 retrieval, and fill-in-the-middle on a stand-in model."""

from __future__ import annotations

import ast
import json

import pytest

from devassist.server.features.docstring import DocstringFeature
from devassist.server.features.docstring.retrieval import (
    BM25Index, build_index, code_tokens, documented_functions, first_sentence)
from devassist.server.features.docstring.summary import (
    FimSummarizer, RetrievalSummarizer, SummaryRequest, TemplateSummarizer, name_sentence)


@pytest.mark.parametrize("name,sentence", [
    ("get_user_name", "Get user name."), ("getUserName", "Get user name."), ("__init__", "Init."),
    ("HTTPServer", "HTTP server."), ("_private2go", "Private 2 go."),
])
def test_name_sentence(name, sentence):
    assert name_sentence(name) == sentence


def test_first_sentence():
    assert first_sentence("Return x. More text.\n\nArgs: ...") == "Return x."
    assert first_sentence("Split the\n    line on e.g. commas\n\n    More.") == "Split the line on e.g. commas"
    assert first_sentence("\n  Leading blank.\n") == "Leading blank."


def test_code_tokens_split_identifiers():
    assert code_tokens("def getUser(user_id): pass") == ["def", "getuser", "get", "user", "user_id", "user", "id", "pass"]


SOURCE = '''
def read_config(path):
    """Read the configuration file at path.

    More.
    """
    with open(path) as fh:
        return json.load(fh)


def add_numbers(a, b):
    """Add two numbers together."""
    return a + b


def tiny():
    """Hi."""
'''


def test_documented_functions_hide_the_docstring():
    rows = documented_functions("m.py", SOURCE)
    assert [r["name"] for r in rows] == ["read_config", "add_numbers", "tiny"]
    assert "configuration" not in rows[0]["body"] and "json.load" in rows[0]["body"]


def test_retrieval_finds_the_most_similar_function_and_round_trips_json():
    index, docs = build_index(documented_functions("m.py", SOURCE))
    assert index.n == 2  # "Hi." is shorter than three words
    again = BM25Index.from_json(json.loads(json.dumps(index.to_json(docs))))
    summarizer = RetrievalSummarizer(again)
    req = SummaryRequest("load_settings", "function", "def load_settings(path):", "    return json.load(open(path))")
    assert summarizer.summarize(req).text == "Read the configuration file at path."
    req = SummaryRequest("zzz", "function", "", "")
    # nothing shared: the parse's fallback (a marked placeholder, as this request carries no facts)
    assert summarizer.summarize(req).text == "TODO: summarize what ``zzz`` does."


class FakeLM:
    """Character-level stand-in for LanguageModel that 'writes' a fixed middle."""

    has_fim = True
    context_length = 128
    special_ids = {"fim_prefix": 1000, "fim_suffix": 1001, "fim_middle": 1002, "eot": 1003}

    def __init__(self, middle: str):
        self.middle = middle
        self.prompts = []

    def encode(self, text):
        return [ord(c) for c in text]

    def decode(self, ids):
        return "".join(chr(i) for i in ids if i < 1000)

    def generate(self, prompt_ids, max_new_tokens, should_stop=None, deadline=None, is_cancelled=None):
        self.prompts.append(prompt_ids)
        out = []
        for ch in self.middle[:max_new_tokens]:
            out.append(ord(ch))
            if should_stop and should_stop(out):
                break

        class R:
            ids, stop_reason, elapsed_ms = out, "stop", 1.0
        return R()


def test_fim_prompt_is_psm_and_output_is_the_first_sentence():
    lm = FakeLM("Load the settings. And more")
    fim = FimSummarizer(lm, max_new_tokens=30)
    req = SummaryRequest("load", "function", "def load(path):", "    return x\n", indent="    ", before="import x\n")
    s = fim.summarize(req)
    assert (s.text, s.source) == ("Load the settings.", "model")
    prompt = lm.prompts[0]
    assert prompt[0] == 1000 and prompt[-1] == 1002 and 1001 in prompt
    text = lm.decode(prompt)
    assert text.endswith('def load(path):\n    """"""\n    return x\n')
    assert len(prompt) <= lm.context_length


def test_fim_falls_back_when_the_model_writes_nothing_useful():
    fim = FimSummarizer(FakeLM('"""'), fallback=TemplateSummarizer())
    req = SummaryRequest("get_name", "function", "def get_name():", "    pass")
    assert fim.summarize(req).text == "Get name."
    no_fim = FakeLM("x")
    no_fim.has_fim = False
    assert FimSummarizer(no_fim).summarize(req).source == "placeholder"


def test_feature_uses_the_model_summary_and_escapes_it():
    feature = DocstringFeature(summarizer=FimSummarizer(FakeLM('Compute the "total" of a\\b.\n'), max_new_tokens=60))
    src = "def total(xs):\n    return sum(xs)\n"
    edit = feature.edit_for(src, 0, 0)
    assert edit.summary_source == "model"
    out = edit.apply(src)
    assert ast.get_docstring(ast.parse(out).body[0]).startswith('Compute the "total" of a\\b.')


def test_fim_falls_back_when_time_runs_out_mid_sentence():
    class Slow(FakeLM):
        def generate(self, prompt_ids, max_new_tokens, should_stop=None, deadline=None, is_cancelled=None):
            class R:
                ids, stop_reason, elapsed_ms = [ord(c) for c in "Compute the"], "time", 250.0
            return R()

    req = SummaryRequest("get_name", "function", "def get_name():", "    pass")
    s = FimSummarizer(Slow("")).summarize(req)
    assert (s.text, s.source) == ("TODO: summarize what ``get_name`` does.", "placeholder") and s.elapsed_ms >= 250.0


def test_hints_go_into_the_prompt():
    index, _ = build_index(documented_functions("m.py", SOURCE))
    lm = FakeLM("Read it.")
    fim = FimSummarizer(lm, hints=RetrievalSummarizer(index), max_new_tokens=8)
    req = SummaryRequest("load_settings", "function", "def load_settings(path):", "    return json.load(open(path))")
    assert fim.summarize(req).text == "Read it."
    assert "# Read the configuration file at path.\ndef load_settings(path):" in lm.decode(lm.prompts[0])


def test_cancelled_generation_gives_a_message_and_no_edit():
    from devassist.server.features.docstring import DocstringError

    class Cancelled(FakeLM):
        def generate(self, prompt_ids, max_new_tokens, should_stop=None, deadline=None, is_cancelled=None):
            assert is_cancelled is not None and is_cancelled()

            class R:
                ids, stop_reason, elapsed_ms = [], "cancelled", 1.0
            return R()

    feature = DocstringFeature(summarizer=FimSummarizer(Cancelled("")))
    with pytest.raises(DocstringError, match="cancelled"):
        feature.edit_for("def f():\n    pass\n", 0, 0, is_cancelled=lambda: True)


def test_near_duplicates_take_the_retrieved_sentence_without_the_model():
    index, _ = build_index(documented_functions("m.py", SOURCE))
    lm = FakeLM("Model text here.")
    req = SummaryRequest("read_config", "function", "def read_config(path):", "    with open(path) as fh:\n        return json.load(fh)")
    fim = FimSummarizer(lm, hints=RetrievalSummarizer(index), max_new_tokens=20, retrieval_threshold=1.0)
    assert fim.summarize(req).source == "retrieval" and lm.prompts == []
    fim.retrieval_threshold = 1e9
    assert fim.summarize(req).text == "Model text here."
