"""Reranking docstring summaries: a word-level stand-in model, then the tiny ONNX bundle."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

from devassist.server.features.docstring.rerank import Candidate, RerankRule, target_ids
from devassist.server.features.docstring.summary import FimSummarizer, SummaryRequest, default_summarizer
from devassist.server.runtime.lm import LanguageModel, PromptCache
from devassist.server.runtime.scoring import continuation_logprobs

EOT = 0
WORDS = ["", "Read", "Write", " the", " file", " lines", ".", "x"]
FIM = {"fim_prefix": 8, "fim_suffix": 9, "fim_middle": 10, "eot": EOT}
REQ = SummaryRequest("save", "function", "def save(path):", "    pass")


def sure_of_write(out: tuple) -> dict[int, float]:
    """Greedy says "Read the file." (Read 0.5 > Write 0.4), but "Write the file." is likelier as a whole."""
    table = {
        (): {1: 0.5, 2: 0.4, 7: 0.1},
        (1,): {3: 0.3, 4: 0.25, 5: 0.25, 6: 0.2},
        (1, 3): {4: 0.5, 5: 0.5},
        (2,): {3: 0.98, 4: 0.02},
        (2, 3): {4: 0.98, 5: 0.02},
    }
    if out in table:
        return table[out]
    return {6: 0.9, 5: 0.1} if out[-1] != 6 else {EOT: 1.0}


class WordLM(LanguageModel):
    """The real greedy code over `dist(generated)`; the cache holds the token history (B, 1, T, 1)."""

    has_fim = True
    context_length = 64

    def __init__(self, dist, step_seconds: float = 0.0):
        self.dist = dist
        self.step_seconds = step_seconds
        self.eot_id = EOT
        self.vocab_size = 11
        self.special_ids = dict(FIM)
        self.forwards = 0
        self.batches: list[tuple[int, int]] = []

    def encode(self, text):
        ids = []
        while text:  # longest word first; any other character is "x"
            match = max((i for i, w in enumerate(WORDS) if w and text.startswith(w)), key=lambda i: len(WORDS[i]),
                        default=None)
            ids.append(7 if match is None else match)
            text = text[1 if match is None else len(WORDS[match]):]
        return ids

    def decode(self, ids):
        return "".join(WORDS[i] for i in ids if i < len(WORDS))

    def _logits(self, history) -> np.ndarray:
        tokens = [int(t) for t in history]
        if FIM["fim_middle"] not in tokens:  # inside the prompt: never looked at
            return np.zeros(self.vocab_size)
        middle = len(tokens) - tokens[::-1].index(FIM["fim_middle"])  # what follows the FIM prompt
        probs = np.full(self.vocab_size, 1e-9)
        for token, p in self.dist(tuple(tokens[middle:])).items():
            probs[token] = p
        return np.log(probs)

    def forward(self, ids, past=None):
        self.forwards += 1
        if past is not None:
            time.sleep(self.step_seconds)
        history = past["h"] if past is not None else np.zeros((1, 1, 0, 1))
        history = np.concatenate([history, np.asarray(ids, dtype=float).reshape(1, 1, -1, 1)], axis=2)
        n = history.shape[2]
        logits = np.stack([self._logits(history[0, 0, : n - len(ids) + j + 1, 0]) for j in range(len(ids))])
        return logits, {"h": history}

    def _empty_past(self):
        return {"h": np.zeros((1, 1, 0, 1))}

    def forward_batch(self, rows, past):
        rows = np.asarray(rows)
        self.batches.append(rows.shape)
        history = np.concatenate([past["h"], rows.astype(float)[:, None, :, None]], axis=2)
        t0 = past["h"].shape[2]
        logits = np.stack([[self._logits(h[0, : t0 + j + 1, 0]) for j in range(rows.shape[1])] for h in history])
        return logits, {"h": history}


class Neighbours:
    """A retrieval stand-in: fixed (sentence, BM25) pairs; remembers how many were asked for."""

    def __init__(self, pairs):
        self.pairs = pairs
        self.asked: list[int] = []

    def candidates(self, request, k=5):
        self.asked.append(k)
        return self.pairs[:k]

    def summarize(self, request, deadline=None, is_cancelled=None):
        from devassist.server.features.docstring.summary import Summary

        return Summary(self.pairs[0][0], source="retrieval")


def test_the_rule_scores_mean_logprob_margin_and_bm25():
    own = Candidate("Read the file.", "model", logprob=-4.0, tokens=4)
    near = Candidate("Write the file.", "retrieval", bm25=50.0, logprob=-3.0, tokens=4)
    far = Candidate("Read the lines of the file.", "retrieval", bm25=10.0, logprob=-5.0, tokens=8)
    assert RerankRule(k=2).choose([own, near, far]) is far  # -0.625 per token beats -0.75 and -1.0
    assert RerankRule(k=2, length_penalty=0.0).choose([own, near, far]) is near  # the sum: -3 beats -4 and -5
    assert RerankRule(k=2, margin=0.5).choose([own, near, far]) is own  # -1.0 + 0.5 = -0.5 is best
    assert RerankRule(k=2, margin=0.5, bm25_weight=0.01).choose([own, near, far]) is near  # -0.75 + 0.5
    tie = Candidate("Read the file.", "retrieval", logprob=-4.0, tokens=4)
    assert RerankRule(k=1).choose([own, tie]) is own  # ties go to the model's own sentence


def test_the_reranker_picks_the_sentence_the_model_scores_highest():
    pairs = [("Read the lines.", 12.0), ("Write the file.", 10.0)]
    lm = WordLM(sure_of_write)
    fim = FimSummarizer(lm, hints=Neighbours(pairs), no_repeat_ngram=3, rerank=2, rerank_margin=0.0)
    s = fim.summarize(REQ)
    assert (s.text, s.source) == ("Write the file.", "retrieval")
    assert len(lm.batches) == 1 and lm.batches[0][0] == 3  # model's own + 2 neighbours, one batched pass
    # The scores it compared: the target the model was trained on, sentence then end-of-text.
    assert target_ids(lm, "Write the file.", 32) == [2, 3, 4, 6, EOT]
    # A margin for the model's own sentence: "Read the file." (p = .5*.3*.5*.9) stands.
    fim = FimSummarizer(WordLM(sure_of_write), hints=Neighbours(pairs), no_repeat_ngram=3, rerank=2,
                        rerank_margin=1.0)
    assert fim.summarize(REQ).text == "Read the file." and fim.summarize(REQ).source == "model"
    # Only the first neighbour offered: it is unlikely, the model's own sentence wins.
    fim = FimSummarizer(WordLM(sure_of_write), hints=Neighbours(pairs), no_repeat_ngram=3, rerank=1)
    assert fim.summarize(REQ).text == "Read the file."


def test_without_rerank_keys_the_summarizer_is_unchanged():
    class Shipped:
        def __init__(self, extra):
            self.extra = extra

        def has(self, name):
            return name == "docstring"

        def component(self, name):
            return {"summarizer": "model", "no_repeat_ngram": 3, "retrieval_threshold": 40.0, **self.extra}

    lm = WordLM(sure_of_write)
    fim = default_summarizer(Shipped({}), lm)
    assert (fim.rerank, fim.rule) == (0, RerankRule())
    neighbours = Neighbours([("Write the file.", 12.0)])
    fim.hints = fim.fallback = neighbours
    assert fim.summarize(REQ).text == "Read the file."  # greedy, as before
    assert neighbours.asked == [1] and lm.batches == []  # no scoring pass, only the hint looked up

    chosen = default_summarizer(Shipped({"rerank": 5, "rerank_length": 0.5, "rerank_margin": 0.3,
                                         "rerank_bm25": 0.01}), WordLM(sure_of_write))
    assert chosen.rule == RerankRule(5, 0.5, 0.3, 0.01)
    # The near-duplicate rule still comes first when the bundle keeps it.
    chosen.hints = Neighbours([("Write the lines.", 45.0)])
    assert chosen.summarize(REQ).text == "Write the lines."


def test_the_deadline_skips_scoring_and_keeps_the_old_fallback():
    pairs = [("Write the file.", 10.0)]
    lm = WordLM(sure_of_write, step_seconds=0.03)
    fim = FimSummarizer(lm, fallback=Neighbours(pairs), hints=Neighbours(pairs), no_repeat_ngram=3, rerank=1)
    t0 = time.monotonic()
    s = fim.summarize(REQ, deadline=t0 + 0.04)
    assert time.monotonic() - t0 < 0.04 + 0.1 and lm.batches == []  # out of time: no scoring pass
    assert (s.text, s.source) == ("Write the file.", "retrieval")  # the unfinished sentence fell back
    lm = WordLM(sure_of_write, step_seconds=0.0)
    fim = FimSummarizer(lm, fallback=Neighbours(pairs), hints=Neighbours(pairs), no_repeat_ngram=3, rerank=1)
    assert fim.summarize(REQ, deadline=time.monotonic() + 5).source == "retrieval" and len(lm.batches) == 1


def test_an_unusable_model_sentence_leaves_the_choice_to_the_neighbours():
    def mumbles(out):  # "x." : one word, below min_words
        return {7: 1.0} if not out else ({6: 1.0} if out[-1] == 7 else {EOT: 1.0})

    pairs = [("Read the lines.", 12.0), ("Write the file.", 10.0)]
    lm = WordLM(mumbles)
    fim = FimSummarizer(lm, hints=Neighbours(pairs), rerank=2)
    s = fim.summarize(REQ)
    assert s.source == "retrieval" and lm.batches[0][0] == 2  # only the two neighbours were scored


def test_scoring_with_the_cache_of_generation_equals_scoring_from_scratch():
    lm = WordLM(sure_of_write)
    prompt = [8, 7, 7, 9, 7, 10]
    conts = [target_ids(lm, t, 32) for t in ("Write the file.", "Read the lines.", "Read.")]
    reuse = PromptCache()
    lm.generate(prompt, 8, reuse=reuse)
    forwards = lm.forwards
    cached = continuation_logprobs(lm, prompt, conts, reuse)
    assert lm.forwards == forwards  # the prompt was not run again
    fresh = continuation_logprobs(lm, prompt, conts)
    for a, b, c in zip(cached, fresh, conts):
        np.testing.assert_allclose(a, b)
        assert a.shape == (len(c),)
    np.testing.assert_allclose(cached[0].sum(), np.log(0.4 * 0.98 * 0.98 * 0.9 * 1.0), rtol=1e-6)


@pytest.mark.slow
def test_batched_scoring_on_the_tiny_onnx_model(tiny_bundle):
    from devassist.server.bundle import load_bundle

    lm = LanguageModel(load_bundle(tiny_bundle), component="lm")  # fp32: exact up to float rounding
    prompt = lm.encode("def count_lines(text):\n    return len(text.splitlines())\n\ndef add(a, b):\n    ")
    conts = [lm.encode(t) + [lm.eot_id] for t in ("return a + b", "pass", "x = a\n    return x * b")]
    reuse = PromptCache()
    lm.generate(prompt, 6, reuse=reuse)
    assert reuse.common_prefix(prompt) == len(prompt)
    for got in (continuation_logprobs(lm, prompt, conts, reuse), continuation_logprobs(lm, prompt, conts)):
        for logp, cont in zip(got, conts):
            logits = lm.forward(prompt + cont)[0][len(prompt) - 1 : len(prompt) - 1 + len(cont)].astype(np.float64)
            m = logits.max(-1)
            want = logits[np.arange(len(cont)), cont] - (np.log(np.exp(logits - m[:, None]).sum(-1)) + m)
            np.testing.assert_allclose(logp, want, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_export_options_put_rerank_in_the_bundle_and_the_feature_uses_them(bundle_copy, tiny_run):
    from devassist.export.docstring_index import add_decoding_arguments
    from devassist.export.docstring_index import main as index_main
    from devassist.server.bundle import load_bundle
    from devassist.server.features.docstring import DocstringFeature

    p = argparse.ArgumentParser()
    add_decoding_arguments(p)
    args = p.parse_args(["--rerank", "3", "--rerank-length", "1.0", "--rerank-margin", "0.25", "--rerank-bm25", "0"])
    assert (args.rerank, args.rerank_length, args.rerank_margin, args.rerank_bm25) == (3, 1.0, 0.25, 0.0)
    corpus = tiny_run.parent / "corpus"
    assert index_main(["--corpus", str(corpus), "--bundle", str(bundle_copy), "--summarizer", "model",
                       "--rerank", "3", "--rerank-margin", "0.25"]) == 0
    feature = DocstringFeature(load_bundle(bundle_copy), budget_ms=5000)
    fim = feature.summarizer
    assert isinstance(fim, FimSummarizer) and fim.rule == RerankRule(3, 1.0, 0.25, 0.0)
    edit = feature.edit_for("def count_lines(text):\n    return len(text.splitlines())\n", 0, 0)
    assert edit.docstring and edit.summary_source in ("model", "retrieval", "fallback")
