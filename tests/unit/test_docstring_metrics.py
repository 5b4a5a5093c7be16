"""BLEU-4 (CodeXGLUE's smoothing) and ROUGE-L against values computed by hand."""

from __future__ import annotations

import math

import pytest

from devassist.evaluation.metrics_text import corpus_bleu, corpus_rouge_l, rouge_l, sentence_bleu, tokenize


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("Return the user's Name.") == ["return", "the", "user", "'", "s", "name", "."]


def test_identical_sentences_score_one():
    assert sentence_bleu("Get user name.", "Get user name.") == pytest.approx(1.0)


def test_bleu_by_hand():
    # ref: return the user name (4), hyp: get the name (3)
    # p1 = 2/3 (unsmoothed); p2 = (0+1)/(2+1); p3 = (0+1)/(1+1); p4 = (0+1)/(0+1)
    # brevity: min(0, 1 - (4+1)/(3+1)) = -0.25
    expected = math.exp((math.log(2 / 3) + math.log(1 / 3) + math.log(1 / 2) + 0) / 4 - 0.25)
    assert expected == pytest.approx(0.44964, abs=1e-5)
    assert sentence_bleu("return the user name", "get the name") == pytest.approx(expected)


def test_no_unigram_match_is_zero_and_longer_hypothesis_has_no_penalty():
    assert sentence_bleu("alpha beta", "gamma delta") < 1e-50
    # ref: a b (2), hyp: a b c (3): p1 = 2/3, p2 = (1+1)/(2+1), p3 = (0+1)/(1+1), p4 = 1/1, no penalty
    expected = math.exp((math.log(2 / 3) + math.log(2 / 3) + math.log(1 / 2)) / 4)
    assert sentence_bleu("a b", "a b c") == pytest.approx(expected)


def test_corpus_bleu_is_the_mean_times_100():
    refs, hyps = ["Get user name.", "alpha beta"], ["Get user name.", "gamma delta"]
    assert corpus_bleu(refs, hyps) == pytest.approx(50.0)


def test_rouge_l_by_hand():
    # LCS("return the user name", "get the name") = 2 -> P = 2/3, R = 2/4, F1 = 4/7
    assert rouge_l("return the user name", "get the name") == pytest.approx(4 / 7)
    assert rouge_l("a", "b") == 0.0
    assert corpus_rouge_l(["a b", "a"], ["a b", "b"]) == pytest.approx(50.0)
