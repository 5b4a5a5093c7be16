"""Likely-bug findings: exact token ranges, plain messages, a fix that applies, nothing in strings or comments."""

from __future__ import annotations

import re

import numpy as np
import pytest
from lsprotocol import types as lsp

from devassist.server.features.review import CODE_BUG, ReviewFeature, fix_code_action, to_diagnostics
from devassist.server.features.review.findings import TokenCandidate, code_tokens, threshold_for_rate
from devassist.server.features.review.model import FEATURE_NAMES, Calibration, ReviewModel
from devassist.server.features.review.signals import FunctionSignal, tokens_to_lines
from devassist.server.settings import ReviewSettings

from tests.unit.test_review import FakeVAE

TOKEN = re.compile(r"\s*(\w+|[^\w\s]+)")


class WordTokenizer:
    """Words and operator runs as tokens, each id its position in a growing vocabulary."""

    def __init__(self):
        self.vocab: dict[str, int] = {}

    def id(self, word: str) -> int:
        return self.vocab.setdefault(word, len(self.vocab))

    def decode(self, ids: list[int]) -> str:
        words = {i: w for w, i in self.vocab.items()}
        return "".join(" " + words[i] for i in ids)


class LessEqualSignals:
    """A model that expects `<=` wherever `<` is written: `<` costs 10 nats, every other token 1."""

    def __init__(self):
        self.tokenizer = WordTokenizer()
        self.runs = 0

    def analyze(self, texts, deadline=None, is_cancelled=None):
        self.runs += len(texts)
        out = []
        for text in texts:
            matches = list(TOKEN.finditer(text))
            words = [m.group(1) for m in matches]
            offsets = [(m.start(), m.end()) for m in matches]
            surprisal = np.asarray([10.0 if w == "<" else 1.0 for w in words], np.float32)
            op = np.asarray([5.0 if w == "<" else np.nan for w in words], np.float32)
            best = np.asarray([self.tokenizer.id("<=") if w == "<" else -1 for w in words], np.int64)
            sums, counts, line_of = tokens_to_lines(text, offsets, surprisal)
            ids = np.asarray([self.tokenizer.id(w) for w in words], np.int64)
            sig = FunctionSignal(np.zeros(2, np.float32), sums, counts, len(words), surprisal, line_of, op,
                                 np.full(len(words), np.nan, np.float32), ids, best_alternative=best,
                                 token_offsets=offsets)
            sig.detector_logits = np.asarray([6.0 if w == "<" else 0.0 for w in words])  # a detector that agrees
            out.append(sig)
        return out


def make_feature() -> ReviewFeature:
    k = len(FEATURE_NAMES)
    calib = Calibration(list(FEATURE_NAMES), np.eye(k)[0], 0.0, np.zeros(k), np.ones(k), 0.0, 1.0, 1.0, 1.0,
                        reference_scores=np.linspace(-1e6, 1e6, 1000))
    return ReviewFeature(signals=LessEqualSignals(), model=ReviewModel(FakeVAE(), calib))


DOC = '''class Ring:
    def last(self, items, n):
        """Return i < n items."""
        # when i < n we stop
        label = "i < n"
        for i in range(n):
            if i < n:
                return items[i], label
'''


def test_code_tokens_leave_out_strings_and_comments():
    text = 'x = a < b  # a < c\ny = "a < d"\n'
    ops = [text[a:e] for a, (e, kind) in code_tokens(text).items() if kind == "OP"]
    assert ops == ["=", "<", "="]


def test_a_slip_is_flagged_on_its_token_with_a_plain_message_and_nothing_in_strings_or_comments():
    findings = [f for f in make_feature().findings(DOC, ReviewSettings()) if f.code == CODE_BUG]
    assert len(findings) == 1
    [f] = findings
    assert f.range == ((6, 17), (6, 18))  # the `<` of `if i < n:` in the document, not of the docstring
    assert DOC.split("\n")[6][17:18] == "<"
    assert f.message == "`<` here looks unusual; `<=` is what this code usually has"
    assert f.margin == pytest.approx(9.0)


def test_the_diagnostic_is_a_warning_and_its_quick_fix_applies_the_replacement():
    findings = make_feature().findings(DOC, ReviewSettings())
    [d] = [d for d in to_diagnostics(findings, "file:///r.py") if d.code == CODE_BUG]
    assert d.severity == lsp.DiagnosticSeverity.Warning and d.source == "devassist"
    action = fix_code_action("file:///r.py", DOC, d)
    [edit] = action.edit.changes["file:///r.py"]
    lines = DOC.split("\n")
    line = lines[edit.range.start.line]
    lines[edit.range.start.line] = line[: edit.range.start.character] + edit.new_text + line[edit.range.end.character :]
    assert lines[6] == "            if i <= n:"
    assert action.is_preferred and action.title == "Replace `<` with `<=`"
    assert fix_code_action("file:///r.py", DOC.replace("if i < n", "if i > n"), d) is None  # stale: no blind edit


def test_threshold_shift_and_line_suppression_silence_findings():
    feature = make_feature()
    quiet = ReviewSettings(finding_threshold_shift=10.0)
    assert not [f for f in feature.findings(DOC, quiet) if f.code == CODE_BUG]
    ignored = DOC.replace("if i < n:", "if i < n:  # devassist: ignore")
    assert not [f for f in feature.findings(ignored, ReviewSettings()) if f.code == CODE_BUG]


def test_rescored_candidates_are_cached_with_the_function():
    feature = make_feature()
    feature.findings(DOC, ReviewSettings())
    runs = feature.signals.runs
    again = feature.findings(DOC, ReviewSettings())
    assert feature.signals.runs == runs and [f.code for f in again].count(CODE_BUG) == 1


@pytest.mark.parametrize("lines,per_kloc,expected_above", [(2000, 1.0, 2), (1000, 1.0, 1), (100, 1.0, 0)])
def test_threshold_for_rate_allows_the_asked_false_alarms(lines, per_kloc, expected_above):
    margins = np.asarray([5.0, 4.0, 3.0, 2.0, 1.0])
    threshold = threshold_for_rate(margins, lines, per_kloc)
    assert int(np.sum(margins > threshold)) == expected_above


def test_bindings_and_keyword_arguments_are_no_name_candidates():
    from devassist.server.features.review.findings import _binds

    text = "for item in rows:\n    total = f(key=item)\n    use(total, item)\n"
    tokens = code_tokens(text)
    starts = sorted(tokens)
    at = {w: [m.start() for m in re.finditer(rf"\b{w}\b", text)] for w in ("item", "total", "key")}
    assert _binds(text, tokens, starts, at["item"][0])  # for item in
    assert _binds(text, tokens, starts, at["total"][0]) and _binds(text, tokens, starts, at["key"][0])
    assert not _binds(text, tokens, starts, at["item"][1]) and not _binds(text, tokens, starts, at["total"][1])


def test_the_detector_logit_adds_to_the_margin_with_the_calibrated_weight():
    feature = make_feature()
    feature.finding_threshold = 20.0  # above the margin of 9 alone
    assert not [f for f in feature.findings(DOC, ReviewSettings()) if f.code == CODE_BUG]
    feature = make_feature()
    feature.finding_threshold, feature.detector_weight = 20.0, 2.0  # 9 + 2 * 6 = 21
    assert [f.written for f in feature.findings(DOC, ReviewSettings()) if f.code == CODE_BUG] == ["<"]


def test_rewrites_drop_or_add_a_not_and_swap_arguments_within_one_line():
    from devassist.server.features.review.rewrites import structural_rewrites

    text = ('def f(a, b):\n    """Not here: f(a, b) if not a."""\n    if not a.ok and b:\n        g(a, b)\n'
            '    while x < 3:\n        g(a,\n          b)\n')
    got = {(k, text[a:e], r) for k, a, e, r in structural_rewrites(text)}
    assert ("drop_not", "not a.ok", "a.ok") in got
    assert ("add_not", "x < 3", "not (x < 3)") in got and ("add_not", "b", "not b") in got
    assert ("swap_args", "a, b", "b, a") in got
    assert not any("Not here" in w for _, w, _ in got)  # never in the docstring
    assert sum(k == "swap_args" for k, _, _ in got) == 1  # the call over two lines is left alone
    assert structural_rewrites("def broken(:\n") == []


def test_joint_thresholds_spend_the_false_alarm_budget_where_it_finds_bugs():
    from devassist.training.review.findings_calibrate import joint_thresholds

    inf = -np.inf
    # two kinds: clean lines of kind 0 score high (noisy), kind 1 low; twins are found by kind 1
    clean = np.asarray([[9.0, inf], [8.0, inf], [inf, 2.0], [inf, 1.0], [inf, 0.5]])
    twins = np.asarray([[inf, 3.0], [inf, 2.5], [inf, 1.5], [5.0, inf]])
    t = joint_thresholds(clean, twins, allowed=1)
    assert np.sum(np.any(clean > t, axis=1)) <= 1
    assert np.sum(np.any(twins > t, axis=1)) == 3  # kind 1 lowered to 1.0 (one clean line), kind 0 kept shut
    assert t[1] == 1.0 and t[0] >= 8.0


def test_per_kind_thresholds_decide_which_candidates_become_findings():
    from devassist.server.features.review.feature import FunctionUnit, ScoredUnit

    text = "def f(a, b):\n    return g(a, b) + 1\n"
    unit = FunctionUnit("f", text, 0, 0, ((0, 4), (0, 5)))
    swap = TokenCandidate(text.index("a, b)"), text.index("a, b)") + 4, "a, b", "b, a", "swap_args", float("nan"), 3.0)
    plus = TokenCandidate(text.index("+"), text.index("+") + 1, "+", "-", "operator", 1.0, 3.0)
    scored = [(unit, ScoredUnit(0.0, np.zeros(2), np.zeros(2), [swap, plus]))]
    record = {"threshold": 5.0, "thresholds": {"swap_args": 2.0, "operator": 4.0}}
    got = ReviewFeature._bug_findings(scored, text.split("\n"), 5.0, 0.0, record)
    assert [f.replacement for f in got] == ["b, a"] and "look swapped" in got[0].message
    assert not ReviewFeature._bug_findings(scored, text.split("\n"), 6.5, 0.0, record)  # a shift of 1.5 moves every kind
    # a bundle calibrated before the rewrites existed never shows one (their margins need their own threshold)
    old = ReviewFeature._bug_findings(scored, text.split("\n"), 1.0, 0.0, {"threshold": 1.0})
    assert [f.replacement for f in old] == ["-"]


def test_the_rescore_gate_skips_only_candidates_that_could_not_pass():
    from devassist.server.features.review.findings import RESCORE_SLACK, RescoreGate, rescore_bounds

    # calibration saw right context add at most 2 nats to an operator's margin, and a swap reach 3
    seen = TokenCandidate(0, 1, "<", "<=", "operator", 4.0, 6.0)
    swap = TokenCandidate(0, 4, "a, b", "b, a", "swap_args", float("nan"), 3.0)
    assert rescore_bounds([[seen], [swap]]) == {"operator": pytest.approx(2.0 + RESCORE_SLACK),
                                                "swap_args": pytest.approx(3.0 + RESCORE_SLACK)}
    bounds = {"operator": 7.0, "swap_args": 8.0}
    record = {"threshold": 10.0, "thresholds": {"operator": 10.0, "swap_args": 9.0}, "detector_weight": 1.0,
              "rescore_bounds": bounds}
    gate = RescoreGate(record, 10.0)
    low = TokenCandidate(0, 1, "<", "<=", "operator", 1.0)
    assert not gate.worth(low, detector=1.0)  # 1 + 7 + 1 = 9 < 10: no re-scoring could make it a finding
    assert gate.worth(low, detector=3.0)  # 1 + 7 + 3 = 11
    assert RescoreGate(record, 10.0, shift=-1.5).worth(low, 1.0)  # 9 > 8.5: a user's lower threshold gates less
    assert gate.any_rewrite(0.5)  # `not` rewrites have no bound recorded: they could pass
    record["rescore_bounds"].update({"drop_not": 1.0, "add_not": 1.0})  # ... and no threshold: they never do
    assert gate.any_rewrite(1.5) and not gate.any_rewrite(0.5)  # 8 + 1.5 > 9; 8 + 0.5 < 9
    assert RescoreGate({"threshold": 10.0}, 10.0).worth(low, -100.0)  # no bounds recorded: everything is scored


def test_a_gated_review_gives_the_same_findings_and_rescores_less():
    feature = make_feature()
    feature.finding_threshold, feature.detector_weight = 8.0, 0.0
    feature.finding_record = {"threshold": 8.0, "thresholds": {"operator": 8.0}, "rescore_bounds": {"operator": 5.0}}
    # the `<` has a left margin of 5 and detector logit 6 (weight 0): 5 + 5 = 10 > 8, worth re-scoring
    assert [f.written for f in feature.findings(DOC, ReviewSettings()) if f.code == CODE_BUG] == ["<"]
    quiet = make_feature()
    bounds = {"operator": 5.0, "add_not": 1.0, "drop_not": 1.0, "swap_args": 1.0}  # rewrites: no threshold, never
    quiet.finding_record = {"threshold": 20.0, "thresholds": {"operator": 20.0}, "rescore_bounds": bounds}
    quiet.finding_threshold = 20.0
    runs = quiet.signals.runs
    assert not [f for f in quiet.findings(DOC, ReviewSettings()) if f.code == CODE_BUG]
    assert quiet.signals.runs == runs + 1  # the function's own pass only: the candidate was never re-scored
    # lowering the threshold by a shift re-scores the function (its cached candidates were gated higher)
    found = quiet.findings(DOC, ReviewSettings(finding_threshold_shift=-12.0))
    assert [f.written for f in found if f.code == CODE_BUG] == ["<"]


def test_functions_are_scored_on_several_workers_with_the_same_result():
    doc = "\n".join(DOC.replace("def last", f"def last{k}") for k in range(6))
    one, two = make_feature(), make_feature()
    one.workers, one._pool = 1, None
    assert two.workers >= 1
    from concurrent.futures import ThreadPoolExecutor

    two.workers, two._pool = 2, ThreadPoolExecutor(2)
    a, b = one.review(doc, ReviewSettings()), two.review(doc, ReviewSettings())
    assert a.scored == b.scored == 6
    assert [(f.code, f.range, f.message) for f in a.findings] == [(f.code, f.range, f.message) for f in b.findings]


def test_token_anchors_match_the_first_non_space_character_of_each_token():
    import random

    from devassist.server.features.review.signals import _anchors

    def reference(text, offsets):
        out = []
        for a, b in offsets:
            piece = text[a:b]
            stripped = len(piece) - len(piece.lstrip())
            out.append(a + stripped if stripped < len(piece) else max(a, b - 1))
        return out

    rng = random.Random(0)
    alphabet = "ab \t\n\r\x0b\x0c\x1c\u00a0\u2003xé\x85"  # ASCII and Unicode spaces str.lstrip strips
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        cuts = sorted(rng.randint(0, len(text)) for _ in range(rng.randint(0, 8)))
        offsets = [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)] + [(len(text), len(text))]
        assert list(_anchors(text, offsets)) == reference(text, offsets), (text, offsets)
