"""Review diagnostics without a bundle: findings, diagnostics, suppression, bad input, scheduling."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from lsprotocol import types as lsp

from devassist.server.features.review import (
    CODE_INCOMPLETE, CODE_UNUSUAL, ReviewFeature, function_units, is_python_document, suppress_action,
    suppress_code_action, to_diagnostics,
)
from devassist.server.features.review.model import FEATURE_NAMES, Calibration, ReviewModel, line_scores, percentile_of
from devassist.server.features.review.scheduler import ReviewScheduler
from devassist.server.features.review.signals import FunctionSignal, ReviewCancelled, tokens_to_lines
from devassist.server.settings import ReviewSettings


class FakeSignals:
    """Deterministic signals: the word WEIRD makes a function unusual and its line surprising."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.calls = 0

    def analyze(self, texts, deadline=None, is_cancelled=None):
        self.calls += 1
        out = []
        for t in texts:
            if is_cancelled is not None and is_cancelled():
                raise ReviewCancelled()
            if deadline is not None and time.monotonic() >= deadline:
                out.append(None)
                continue
            if self.delay_s:
                time.sleep(self.delay_s)
            lines = t.split("\n")
            s = np.asarray([1.0 + 10.0 * ln.count("WEIRD") for ln in lines], dtype=np.float32)
            n = np.asarray([max(1, len(ln.split())) for ln in lines], dtype=np.int32)
            emb = np.asarray([t.count("WEIRD"), len(lines) / 10], dtype=np.float32)
            out.append(FunctionSignal(emb, s, n, int(n.sum())))
        return out


class FakeVAE:
    """Stands in for the onnxruntime session: neg_elbo = 5 * embedding[0]."""

    class _In:
        name = "embedding"

    def get_inputs(self):
        return [self._In()]

    def run(self, names, feeds):
        return [5.0 * feeds["embedding"][:, 0]]


def make_feature(delay_s: float = 0.0) -> ReviewFeature:
    k = len(FEATURE_NAMES)
    calib = Calibration(list(FEATURE_NAMES), np.eye(k)[FEATURE_NAMES.index("elbo")], 0.0, np.zeros(k), np.ones(k), 0.0, 1.0, 1.0, 1.0,
                        reference_scores=np.linspace(-1, 1, 1000), line_score="excess")
    return ReviewFeature(signals=FakeSignals(delay_s), model=ReviewModel(FakeVAE(), calib))


GOOD = '''import os


def plain(a, b):
    """Add."""
    return a + b


class Box:
    def odd(self, x):
        y = x * 2
        z = WEIRD(y)
        return z
'''


def test_unusual_function_is_flagged_with_its_most_surprising_line():
    findings = make_feature().findings(GOOD, ReviewSettings())
    assert [f.qualname for f in findings] == ["Box.odd"]
    f = findings[0]
    assert f.code == CODE_UNUSUAL and f.percentile > 99
    assert f.range == ((9, 8), (9, 11))  # the name `odd`
    assert f.top_lines[0].line == 11
    assert "more unusually than 100.0 % of reference code; line 12 is the least expected" in f.message


def test_threshold_max_diagnostics_and_disabled():
    text = GOOD + "\n\ndef other():\n    WEIRD()\n    WEIRD()\n"
    feature = make_feature()
    assert len(feature.findings(text, ReviewSettings())) == 2
    assert len(feature.findings(text, ReviewSettings(max_diagnostics=1))) == 1
    assert feature.findings(text, ReviewSettings(max_diagnostics=1))[0].qualname == "other"  # the most unusual one
    assert feature.findings(text, ReviewSettings(enabled=False)) == []
    report = feature.review(text, ReviewSettings(threshold=10.0))
    assert {f.qualname for f in report.findings} == {"plain", "Box.odd", "other"}  # 50th percentile > 10


def test_suppression_comment_on_the_def_line():
    text = GOOD.replace("def odd(self, x):", "def odd(self, x):  # devassist: ignore")
    assert make_feature().findings(text, ReviewSettings()) == []


def test_suppress_action_adds_the_comment_once():
    diag = to_diagnostics(make_feature().findings(GOOD, ReviewSettings()), "file:///a.py")[0]
    edit = suppress_action(GOOD, diag)
    lines = GOOD.split("\n")
    start = edit.range.start
    line = lines[start.line]
    new = line[: start.character] + edit.new_text
    assert new == "    def odd(self, x):  # devassist: ignore"
    patched = "\n".join(lines[: start.line] + [new] + lines[start.line + 1 :])
    assert suppress_action(patched, diag) is None
    action = suppress_code_action("file:///a.py", GOOD, diag)
    assert action.kind == lsp.CodeActionKind.QuickFix and action.edit.changes["file:///a.py"] == [edit]
    other = lsp.Diagnostic(range=diag.range, message="x", source="pyflakes", code=CODE_UNUSUAL)
    assert suppress_action(GOOD, other) is None


def test_diagnostics_carry_source_code_severity_and_related_lines():
    findings = make_feature().findings(GOOD, ReviewSettings())
    [d] = to_diagnostics(findings, "file:///a.py", "warning")
    assert d.source == "devassist" and d.code == CODE_UNUSUAL
    assert d.severity == lsp.DiagnosticSeverity.Warning
    assert d.range.start == lsp.Position(9, 8)
    rel = d.related_information[0]
    assert rel.location.uri == "file:///a.py" and rel.location.range.start == lsp.Position(11, 8)
    assert rel.location.range.end == lsp.Position(11, 20)
    [d] = to_diagnostics(findings, "file:///a.py")
    assert d.severity == lsp.DiagnosticSeverity.Hint  # the unusual-function note stays out of the way by default


def test_syntax_errors_score_the_functions_that_parse():
    text = "def ok():\n    x = WEIRD(1)\n    return x\n\n\ndef broken(:\n    return (\n\n\ndef fine():\n    return 2\n"
    units, _ = function_units(text)
    assert [u.qualname for u in units] == ["ok", "fine"]
    assert [f.qualname for f in make_feature().findings(text, ReviewSettings())] == ["ok"]


@pytest.mark.parametrize("text", ["", "\n\n", "   ", "x = 1\n", "class A:\n    pass\n"], ids=["empty", "newlines", "spaces", "no-functions", "class-only"])
def test_files_without_functions_have_no_findings(text):
    assert make_feature().findings(text, ReviewSettings()) == []


def test_utf16_name_range_after_astral_characters():
    text = 'x = "😀"; y = 1\ndef f():\n    return 1\n\n\nclass 𝒞:\n    def ö(self):\n        return WEIRD\n'
    units, _ = function_units(text)
    assert units[-1].name_range == ((6, 8), (6, 9))
    [f] = make_feature().findings(text, ReviewSettings())
    assert f.qualname == "𝒞.ö"


def test_ten_megabyte_file_is_bounded_and_says_so():
    chunk = "def f{i}(a):\n    b = a + {i}\n    return WEIRD(b)\n\n\n"
    text = "".join(chunk.format(i=i) for i in range(200_000))
    assert len(text.encode()) > 10_000_000
    start = time.monotonic()
    report = make_feature().review(text, ReviewSettings(), budget_s=0.2)
    elapsed = time.monotonic() - start
    assert not report.complete and report.scored < 200_000
    note = report.findings[-1]
    assert note.code == CODE_INCOMPLETE and "within its 0.2 s budget" in note.message
    assert "the first 1 MB of this file" in note.message and report.scored > 0
    assert elapsed < 10, elapsed  # parsing the first 1 MB plus the budget, never the whole file
    assert len([f for f in report.findings if f.code == CODE_UNUSUAL]) == ReviewSettings().max_diagnostics


def test_non_python_documents_are_not_reviewed():
    assert is_python_document("file:///a.py") and is_python_document("file:///a.txt", "python")
    assert not is_python_document("file:///README.md") and not is_python_document("file:///a.py", "markdown")


def test_cancellation_stops_scoring():
    with pytest.raises(ReviewCancelled):
        make_feature().review(GOOD, ReviewSettings(), is_cancelled=lambda: True)


def test_line_aggregation_and_percentiles():
    text = "def f():\n    return  1\n"
    offsets = [(0, 3), (3, 5), (5, 6), (6, 7), (7, 8), (8, 13), (13, 19), (19, 22), (22, 23)]
    sums, counts, line_of = tokens_to_lines(text, offsets, np.arange(9, dtype=np.float32))
    # "\n    " (8..13) leads into line 1, where it ends; the final "\n" stays on line 1
    assert line_of.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert counts.tolist() == [5, 4, 0] and sums.tolist() == [0 + 1 + 2 + 3 + 4, 5 + 6 + 7 + 8, 0]
    sig = FunctionSignal(np.zeros(2, np.float32), np.asarray([4.0, 9.0, 0.0]), np.asarray([2, 3, 0]), 5)
    ex = line_scores(sig, 1.0, 1.0, "excess")
    assert ex[0] == 2.0 and ex[1] == 6.0 and ex[2] == -np.inf
    ref = np.arange(100.0)
    assert percentile_of(np.asarray([-1.0, 49.5, 1000.0]), ref).tolist() == [0.0, 50.0, 100.0]


def _run(coro):
    return asyncio.run(coro)


def test_rapid_edits_publish_only_the_latest_version():
    async def scenario():
        sched = ReviewScheduler(make_feature(delay_s=0.01))
        published = []
        settings = ReviewSettings(debounce_ms=50)
        tasks = [sched.schedule("file:///a.py", v, GOOD + "\n" * v, settings, lambda u, v, d: published.append((v, len(d))))
                 for v in range(1, 6)]
        await asyncio.gather(*tasks, return_exceptions=True)
        return published

    assert _run(scenario()) == [(5, 1)]


def test_a_newer_version_cancels_scoring_in_flight():
    async def scenario():
        feature = make_feature(delay_s=0.05)
        sched = ReviewScheduler(feature)
        settings = ReviewSettings(debounce_ms=0)
        many = "".join(f"def f{i}():\n    return WEIRD\n\n" for i in range(40))  # 2 s of fake scoring
        old = asyncio.ensure_future(sched.diagnose("file:///a.py", 1, many, settings))
        await asyncio.sleep(0.15)
        new = await sched.diagnose("file:///a.py", 2, GOOD, settings)
        start = time.monotonic()
        stale = await old
        return stale, new, time.monotonic() - start

    stale, new, waited = _run(scenario())
    assert stale is None and len(new) == 1 and waited < 1.0


def test_pull_for_a_superseded_version_returns_none():
    async def scenario():
        sched = ReviewScheduler(make_feature())
        sched.seen("file:///a.py", 7)
        return await sched.diagnose("file:///a.py", 6, GOOD, ReviewSettings())

    assert _run(scenario()) is None


def test_scoring_runs_off_the_event_loop():
    async def scenario():
        sched = ReviewScheduler(make_feature(delay_s=0.1))
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        await sched.diagnose("file:///a.py", 1, GOOD, ReviewSettings())
        t.cancel()
        return ticks, threading.active_count()

    ticks, _ = _run(scenario())
    assert ticks >= 5  # the loop kept running while 0.2 s of scoring happened in a worker


def test_server_side_review_modules_do_not_import_torch():
    code = ("import sys; import devassist.server.features.review, devassist.server.features.review.scheduler, "
            "devassist.server.review_cli; assert 'torch' not in sys.modules and 'sklearn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cache_mixed_surprisal_matches_a_plain_counting_loop():
    from collections import Counter, defaultdict

    from devassist.server.features.review.model import CACHE_ORDERS, cache_mixed_surprisal

    def reference(ids, s, lam):
        counts = {n: defaultdict(Counter) for n in CACHE_ORDERS}
        out = []
        for t, x in enumerate(ids):
            pc = wsum = 0.0
            for n, w in CACHE_ORDERS.items():
                seen = counts[n].get(tuple(ids[t - n : t])) if t >= n else None
                if seen:
                    pc += w * seen[x] / sum(seen.values())
                    wsum += w
            out.append(-np.log((1 - lam) * np.exp(-s[t]) + lam * pc / wsum) if wsum else s[t])
            for n in CACHE_ORDERS:
                if t >= n:
                    counts[n][tuple(ids[t - n : t])][x] += 1
        return np.asarray(out)

    rng = np.random.default_rng(0)
    ids, s = rng.integers(0, 5, 200), rng.random(200) * 6
    assert np.allclose(cache_mixed_surprisal(ids, s, 0.3), reference(list(ids), s, 0.3))
    assert np.array_equal(cache_mixed_surprisal(ids, s, 0.0), s)
    repeated = np.asarray([1, 2, 3, 1, 2, 3, 1, 2, 3])
    assert cache_mixed_surprisal(repeated, np.full(9, 5.0), 0.5)[-1] < 1.0  # a repeat becomes predictable
