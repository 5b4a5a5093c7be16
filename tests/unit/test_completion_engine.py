"""The completion engine on a real (tiny) bundle: prompt reuse, forward cache, budgets, n-gram mix."""

from __future__ import annotations

import time

import numpy as np

from devassist.server.bundle import load_bundle
from devassist.server.features.completion import CompletionEngine, ForwardCache, Suggestion
from devassist.server.runtime.lm import LanguageModel, PromptCache
from devassist.server.runtime.ngram import NgramCache, mix_argmax, mix_probs
from devassist.server.settings import CompletionSettings

TEXT = "def add(a, b):\n    return a + b\n\n\ndef mean(values):\n    return sum(values) / len(values)\n\n\ndef sub(a, b):\n    return a"


def test_kv_reuse_gives_the_same_tokens_as_a_fresh_prompt(tiny_bundle):
    lm = LanguageModel(load_bundle(tiny_bundle), component="lm")
    ids = lm.encode(TEXT)
    fresh = lm.generate(ids, max_new_tokens=12, ignore_eot=True).ids
    reuse = PromptCache()
    lm.generate(ids[:-3], max_new_tokens=5, reuse=reuse)  # an earlier keystroke
    assert reuse.common_prefix(ids) >= len(ids) - 3
    again = lm.generate(ids, max_new_tokens=12, reuse=reuse, ignore_eot=True).ids
    assert again == fresh


def test_forward_cache_serves_the_rest_of_a_shown_suggestion():
    cache = ForwardCache()
    prefix, suffix = "x = compute(", ")\n"
    cache.put("u", prefix, suffix, Suggestion("alpha, beta", "line", "stop", 1.0, 3))
    assert cache.get("u", prefix + "alp", suffix) == ("ha, beta", "line")
    assert cache.get("u", prefix + "xyz", suffix) is None  # typed something else
    assert cache.get("other", prefix + "alp", suffix) is None
    assert cache.get("u", prefix + "alp", "changed") is None


def test_engine_uses_the_forward_cache_and_respects_the_time_budget(tiny_bundle):
    engine = CompletionEngine(LanguageModel(load_bundle(tiny_bundle), component="lm_int8"))
    first = engine.complete(TEXT, len(TEXT), CompletionSettings(), uri="file:///a.py")
    if first is not None and len(first.text) > 1:
        typed = TEXT + first.text[0]
        again = engine.complete(typed, len(typed), CompletionSettings(), uri="file:///a.py")
        assert again is not None and again.cached and again.text == first.text[1:]
    start = time.monotonic()
    fast = engine.complete(TEXT + "\n", len(TEXT) + 1, CompletionSettings(time_budget_ms=10, max_tokens=200), uri="b",
                           started=start - 0.011)
    assert fast is None or fast.stop_reason in ("time", "eot", "stop")


def test_cancelled_request_returns_nothing(tiny_bundle):
    engine = CompletionEngine(LanguageModel(load_bundle(tiny_bundle), component="lm_int8"))
    assert engine.complete(TEXT, len(TEXT), CompletionSettings(), is_cancelled=lambda: True) is None


def test_fim_prompt_layout(tiny_bundle):
    lm = LanguageModel(load_bundle(tiny_bundle), component="lm")
    engine = CompletionEngine(lm)
    sp = lm.special_ids
    prompt = engine.build_prompt("def f(x):\n    return ", "\n\nprint(f(2))\n", budget=64)
    assert prompt[0] == sp["fim_prefix"] and prompt[-1] == sp["fim_middle"] and sp["fim_suffix"] in prompt
    assert len(prompt) <= 64
    plain = engine.build_prompt("def f(x):\n    return ", "   \n", budget=64)
    assert sp["fim_prefix"] not in plain  # no code after the cursor: the prefix alone


def test_ngram_cache_mixing():
    cache = NgramCache([5, 6, 7, 5, 6, 7, 5, 6])
    dist = cache.distribution()
    assert max(dist, key=dist.get) == 7 and abs(sum(dist.values()) - 1) < 1e-9
    logits = np.zeros(10, dtype=np.float32)
    logits[3] = 2.0
    assert mix_argmax(logits, dist, 0.0) == 3
    assert mix_argmax(logits, dist, 0.9) == 7
    assert abs(mix_probs(logits, dist, 0.5).sum() - 1) < 1e-6


def _ids(lm, *pieces):
    """Token ids whose texts are exactly `pieces`."""
    ids = [lm.tokenizer.token_to_id(p.replace(" ", "\u0120")) for p in pieces]
    assert None not in ids, pieces
    return ids


def test_confidence_cut_drops_the_unsure_tail_but_never_ends_inside_a_word(tiny_bundle):
    from devassist.server.runtime.lm import GenerationResult

    engine = CompletionEngine(LanguageModel(load_bundle(tiny_bundle), component="lm_int8"))
    ids = _ids(engine.lm, " s", "e", ".", "d", "a")  # " se" typed, then ".", then a word of two tokens
    sure, unsure = np.log(0.9), np.log(0.2)
    result = GenerationResult(ids, "stop", 1.0, 10, [np.log(0.01), sure, sure, sure, unsure])
    text, reason = engine.shown_part(result, " se", 0.5)
    assert (text, reason) == (".", "confidence")  # "d" alone would be half of the word "da"
    text, _ = engine.shown_part(GenerationResult(ids, "stop", 1.0, 10, [unsure] * 2 + [sure] * 3), " se", 0.5)
    assert text == ".da"  # the typed characters' own probabilities do not count
    assert engine.shown_part(GenerationResult(ids[:1], "time", 1.0, 10, [sure]), " se", 0.5)[0] is None


def test_alternatives_start_with_the_typed_characters_and_are_distinct(tiny_bundle):
    engine = CompletionEngine(LanguageModel(load_bundle(tiny_bundle), component="lm_int8"))
    text = "def area(width, height):\n    return wi"
    words = engine.alternatives(text, len(text), CompletionSettings(), "u", k=5)
    assert 1 <= len(words) <= 5 and len({w for w, _ in words}) == len(words)
    scores = [s for _, s in words]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)
    # each continues the typed "wi" (no new word after a space) and stops where its word ends
    assert all(not w.startswith(" ") and " " not in w.strip() for w, _ in words), words


def test_past_the_first_word_something_new_needs_more_confidence(tiny_bundle):
    from devassist.server.features.completion import LATER_MIN_PROB
    from devassist.server.runtime.lm import GenerationResult

    engine = CompletionEngine(LanguageModel(load_bundle(tiny_bundle), component="lm_int8"))
    ids = _ids(engine.lm, "a", "(", "b", ")")
    between = np.log((0.5 + LATER_MIN_PROB) / 2)  # enough for a first word, not for what follows it
    text, reason = engine.shown_part(GenerationResult(ids, "stop", 1.0, 10, [between] * 4), "", 0.5)
    assert (text, reason) == ("a", "confidence")
    sure = np.log(0.95)
    text, _ = engine.shown_part(GenerationResult(ids, "stop", 1.0, 10, [between, sure, between, sure]), "", 0.5)
    assert text == "a(b)"  # only what starts something new ("(", ")") needs the higher bar
