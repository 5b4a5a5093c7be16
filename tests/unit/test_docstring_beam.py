"""Beam search for docstring summaries: a table-driven stand-in model, then the tiny ONNX bundle."""

from __future__ import annotations

import argparse
import math
import re
import time

import numpy as np
import pytest

from devassist.server.features.docstring.summary import FimSummarizer, SummaryRequest, default_summarizer
from devassist.server.runtime.beam import beam_search, normalized
from devassist.server.runtime.lm import LanguageModel

EOT = 0
WORDS = ["", "Read", "Write", " the", " file", " lines", " data", ".", " again", "x"]
FIM = {"fim_prefix": 10, "fim_suffix": 11, "fim_middle": 12, "eot": EOT}
A, B, C = 1, 2, 3  # "Read", "Write", " the"


def myopic(out: tuple) -> dict[int, float]:
    """First words: "Read" is likelier than "Write", but every continuation of "Read" is unsure."""
    table = {
        (): {1: 0.5, 2: 0.4, EOT: 0.1},
        (1,): {3: 0.28, 4: 0.26, 5: 0.24, 6: 0.22},
        (2,): {3: 0.95, 4: 0.05},
    }
    if out in table:
        return table[out]
    return {7: 1.0} if out[-1] != 7 else {EOT: 1.0}


class TableLM(LanguageModel):
    """The real greedy and beam code over a model whose next-token distribution is `dist(generated)`.

    The cache holds the token history, (B, 1, T, 1), so a wrong reordering of the beams'
    caches changes what the model says next.
    """

    has_fim = True
    context_length = 64

    def __init__(self, dist, step_seconds: float = 0.0):
        self.dist = dist
        self.step_seconds = step_seconds
        self.eot_id = EOT
        self.vocab_size = 13
        self.special_ids = dict(FIM)
        self.prompt_len = 0
        self.batches: list[int] = []

    def encode(self, text):
        return [9] * min(len(text), 8)

    def decode(self, ids):
        return "".join(WORDS[i] for i in ids if i < len(WORDS))

    def _logits(self, history: np.ndarray) -> np.ndarray:
        probs = np.full(self.vocab_size, 1e-12)
        for token, p in self.dist(tuple(int(t) for t in history[self.prompt_len:])).items():
            probs[token] = p
        return np.log(probs)

    def forward(self, ids, past=None):
        if past is None:
            self.prompt_len = len(ids)
            history = np.zeros((1, 1, 0, 1))
        else:
            history = past["h"]
        history = np.concatenate([history, np.asarray(ids, dtype=float).reshape(1, 1, -1, 1)], axis=2)
        logits = np.zeros((len(ids), self.vocab_size))
        logits[-1] = self._logits(history[0, 0, :, 0])
        return logits, {"h": history}

    def step(self, tokens, past):
        time.sleep(self.step_seconds)
        self.batches.append(len(tokens))
        history = np.concatenate([past["h"], np.asarray(tokens, dtype=float).reshape(-1, 1, 1, 1)], axis=2)
        return np.stack([self._logits(h[0, :, 0]) for h in history]), {"h": history}


def stop(lm):
    return lambda ids: (lambda t: '"""' in t or "\n" in t or bool(re.search(r"[.!?]\s", t)))(lm.decode(ids))


def test_one_beam_without_length_penalty_is_greedy():
    lm = TableLM(myopic)
    greedy = lm.generate([9, 9, 9], max_new_tokens=10, should_stop=stop(lm))
    beam = beam_search(lm, [9, 9, 9], beams=1, max_new_tokens=10, length_penalty=0.0, should_stop=stop(lm))
    assert greedy.ids == beam.ids == [A, C, 7] and greedy.stop_reason == beam.stop_reason == "eot"


def test_beams_find_the_likelier_sentence_that_greedy_misses():
    lm = TableLM(myopic)
    beam = beam_search(lm, [9, 9, 9], beams=2, max_new_tokens=10, length_penalty=1.0, should_stop=stop(lm))
    assert beam.ids == [B, C, 7] and beam.stop_reason == "eot"
    # The score the search maximises: log(0.4 * 0.95 * 1 * 1) vs greedy's log(0.5 * 0.28 * 1 * 1).
    assert normalized(math.log(0.38), 3, 1.0) > normalized(math.log(0.14), 3, 1.0)
    assert max(lm.batches) == 2  # the beams ran through the model as one batch


def test_the_summarizer_reads_beams_from_the_bundle_and_keeps_greedy_for_one():
    req = SummaryRequest("save", "function", "def save(path):", "    pass")
    assert FimSummarizer(TableLM(myopic), no_repeat_ngram=3).summarize(req).text == "Read the."
    fim = FimSummarizer(TableLM(myopic), no_repeat_ngram=3, beams=3, length_penalty=1.0)
    s = fim.summarize(req)
    assert (s.text, s.source) == ("Write the.", "model")

    class Shipped:
        def has(self, name):
            return name == "docstring"

        def component(self, name):
            return {"summarizer": "model", "beams": 4, "length_penalty": 0.6}

    chosen = default_summarizer(Shipped(), TableLM(myopic))
    assert (chosen.beams, chosen.length_penalty) == (4, 0.6)


def test_no_repeat_ngram_holds_in_every_beam():
    def loops(out):  # "Read the Read the ..." forever, unless banned
        if len(out) >= 8:
            return {7: 1.0}
        if out and out[-1] == 7:
            return {EOT: 1.0}
        nxt = C if out and out[-1] == A else A
        return {nxt: 0.6, 8: 0.2, 4: 0.2}

    lm = TableLM(loops)
    free = beam_search(lm, [9], beams=3, max_new_tokens=12, should_stop=stop(lm))
    assert free.ids[:4] == [A, C, A, C]  # the model alone repeats itself
    fim = FimSummarizer(lm, no_repeat_ngram=2)
    seen = []

    def constrain(logprobs, out):
        seen.append(list(out))
        return fim._constrain(logprobs, out)

    out = beam_search(lm, [9], beams=3, max_new_tokens=12, should_stop=stop(lm), logits_processor=constrain)
    bigrams = list(zip(out.ids, out.ids[1:]))
    assert len(bigrams) == len(set(bigrams)) and out.stop_reason == "eot"
    assert any(len(ids) >= 2 for ids in seen)  # checked per beam, on each beam's own tokens


def test_the_deadline_ends_the_search_with_the_best_finished_or_an_unfinished_result():
    def rambles(out):  # "." is possible only first; after that nothing ever ends
        return {7: 0.3, A: 0.7} if not out else {C: 0.9, 4: 0.1}

    lm = TableLM(rambles, step_seconds=0.02)
    t0 = time.monotonic()
    r = beam_search(lm, [9], beams=2, max_new_tokens=60, length_penalty=1.0, should_stop=lambda ids: ids[-1] == 7,
                    deadline=t0 + 0.1)
    assert time.monotonic() - t0 < 0.1 + 0.1  # at most one step past the deadline
    assert (r.ids, r.stop_reason) == ([7], "stop")  # the finished sentence, not the longer unfinished beam

    lm = TableLM(lambda out: {C: 0.9, 4: 0.1}, step_seconds=0.02)
    r = beam_search(lm, [9], beams=2, max_new_tokens=60, deadline=time.monotonic() + 0.1)
    assert r.stop_reason == "time" and 1 <= len(r.ids) < 12
    req = SummaryRequest("save", "function", "def save(path):", "    pass")
    fim = FimSummarizer(lm, no_repeat_ngram=0, beams=2)
    s = fim.summarize(req, deadline=time.monotonic() + 0.1)
    # unfinished: the fallback (the placeholder, as this request carries no parse facts)
    assert (s.text, s.source) == ("TODO: summarize what ``save`` does.", "placeholder")


def test_cancellation_stops_the_search():
    lm = TableLM(myopic)
    assert beam_search(lm, [9], beams=3, is_cancelled=lambda: True).stop_reason == "cancelled"
    calls = iter([False, False, True])
    r = beam_search(lm, [9], beams=3, is_cancelled=lambda: next(calls))
    assert r.stop_reason == "cancelled" and lm.batches == [3]


@pytest.mark.slow
def test_beams_on_the_tiny_onnx_model(tiny_bundle):
    from devassist.server.bundle import load_bundle

    lm = LanguageModel(load_bundle(tiny_bundle), component="lm")
    a, b = lm.encode("def add(a, b):\n    return a"), lm.encode("def mean(values):\n    return s")
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    _, past_a = lm.forward(a[:-1])
    _, past_b = lm.forward(b[:-1])
    both = {k: np.concatenate([past_a[k], past_b[k]]) for k in past_a}
    batched, _ = lm.step([a[-1], b[-1]], both)  # one batch, the same logits as one sequence at a time
    np.testing.assert_allclose(batched[0], lm.forward(a)[0][-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(batched[1], lm.forward(b)[0][-1], rtol=1e-4, atol=1e-4)

    ids = lm.encode("def count_lines(text):\n    ")
    greedy = lm.generate(ids, max_new_tokens=12)
    beam = lm.beam_search(ids, beams=1, max_new_tokens=12, length_penalty=0.0)
    assert beam.ids == greedy.ids and beam.stop_reason == greedy.stop_reason
    wide = lm.beam_search(ids, beams=4, max_new_tokens=12, length_penalty=0.0)
    assert wide.stop_reason in ("eot", "max_tokens") and len(wide.ids) <= 12


@pytest.mark.slow
def test_export_options_put_beams_in_the_bundle_and_the_feature_uses_them(bundle_copy):
    from devassist.export.docstring_index import add_decoding_arguments, set_docstring_options
    from devassist.server.bundle import load_bundle
    from devassist.server.features.docstring import DocstringFeature

    p = argparse.ArgumentParser()
    add_decoding_arguments(p)
    args = p.parse_args(["--beams", "3", "--length-penalty", "0.6", "--no-repeat-ngram", "3"])
    desc = set_docstring_options(bundle_copy, beams=args.beams, length_penalty=args.length_penalty,
                                 no_repeat_ngram=args.no_repeat_ngram, summarizer="model", lm="lm")
    assert (desc["beams"], desc["length_penalty"]) == (3, 0.6)
    feature = DocstringFeature(load_bundle(bundle_copy), budget_ms=5000)
    fim = feature.summarizer
    assert isinstance(fim, FimSummarizer) and (fim.beams, fim.length_penalty, fim.no_repeat_ngram) == (3, 0.6, 3)
    edit = feature.edit_for("def count_lines(text):\n    return len(text.splitlines())\n", 0, 0)
    # the tiny model's sentence is shown only when faithful; else the parse's own summary
    assert edit.docstring and edit.summary_source in ("model", "fallback")


def test_beam_search_lists_its_finished_sentences_best_first_with_their_mean_log_probability():
    lm = TableLM(myopic)
    beam = beam_search(lm, [9, 9, 9], beams=2, max_new_tokens=10, length_penalty=1.0, should_stop=stop(lm))
    texts = [lm.decode(ids) for ids, _ in beam.alternatives]
    assert texts[0] == "Write the." and "Read the." in texts
    means = {lm.decode(ids): mean for ids, mean in beam.alternatives}
    assert means["Write the."] == pytest.approx(math.log(0.38) / 4)  # three tokens and the end-of-text


def test_when_the_greedy_sentence_is_not_about_the_function_the_likeliest_faithful_beam_is_shown():
    from devassist.server.features.docstring.faithful import vocabulary

    # `write`, not `write_file`: "Write the." names no file, and a verb-first name's object must be named
    code = "def write(path):\n    pass\n"
    req = SummaryRequest("write", "function", "def write(path):", "    pass",
                         allowed=vocabulary(code), own=vocabulary(code))
    plain = FimSummarizer(TableLM(myopic), no_repeat_ngram=3, alternatives=0).summarize(req)
    assert plain.source in ("fallback", "placeholder") and plain.draft == "Read the."  # "Read": not this function
    s = FimSummarizer(TableLM(myopic), no_repeat_ngram=3, alternatives=3, faithful_retries=0).summarize(req)
    assert (s.text, s.source, s.draft) == ("Write the.", "model", "Read the.")
    assert s.confidence == pytest.approx(math.log(0.38) / 4)
