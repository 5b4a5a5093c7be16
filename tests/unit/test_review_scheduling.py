"""Review scheduling around completions: the gate, pulled diagnostics from the last result, caching."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from devassist.server.features.review.scheduler import ReviewScheduler
from devassist.server.lsp import ForegroundGate
from devassist.server.settings import ReviewSettings
from tests.unit.test_review import GOOD, make_feature

URI = "file:///a.py"


def test_review_waits_while_a_completion_is_in_flight():
    async def scenario():
        gate = ForegroundGate()
        feature = make_feature()
        sched = ReviewScheduler(feature, gate=gate)
        gate.enter()  # a completion is queued
        task = asyncio.ensure_future(sched.diagnose(URI, 1, GOOD, ReviewSettings(debounce_ms=0)))
        await asyncio.wait({task}, timeout=0.3)
        blocked = not task.done() and feature.signals.calls == 0  # stopped at its first check
        gate.leave()
        diagnostics = await task
        return blocked, diagnostics, feature.signals.calls

    blocked, diagnostics, calls = asyncio.run(scenario())
    assert blocked and len(diagnostics) == 1 and calls >= 1


def test_gate_counts_overlapping_completions():
    gate = ForegroundGate(quiet_s=0.0)
    gate.enter()
    gate.enter()
    gate.leave()
    assert gate.busy and not gate.wait_idle(timeout=0.01)
    gate.leave()
    assert not gate.busy and gate.wait_idle(timeout=0.01)
    done = threading.Event()
    gate.enter()
    waiter = threading.Thread(target=lambda: (gate.wait_idle(), done.set()))
    waiter.start()
    assert not done.wait(0.05)
    gate.leave()
    waiter.join(5)
    assert done.is_set()


def test_gate_defers_background_work_until_typing_pauses():
    gate = ForegroundGate(quiet_s=0.3)
    gate.enter()
    gate.leave()  # a completion just finished: the person is typing
    assert not gate.busy and not gate.wait_idle(timeout=0.05)
    started = time.monotonic()
    assert gate.wait_idle(timeout=5)
    assert time.monotonic() - started >= 0.2  # released only after the quiet period


def test_pull_answers_from_the_last_review_and_refreshes_when_a_new_one_is_done():
    async def scenario():
        sched = ReviewScheduler(make_feature())
        settings = ReviewSettings(debounce_ms=0)
        refreshed = asyncio.Event()
        first = await sched.pull(URI, 1, GOOD, settings, refreshed.set)  # nothing reviewed yet
        await refreshed.wait()
        again = await sched.pull(URI, 1, GOOD, settings, refreshed.set)  # the finished review
        refreshed.clear()
        edited = GOOD.replace("WEIRD", "normal")
        stale = await sched.pull(URI, 2, edited, settings, refreshed.set)  # answers at once, old result
        await refreshed.wait()
        fresh = await sched.pull(URI, 2, edited, settings, refreshed.set)
        return first, again, stale, fresh

    first, again, stale, fresh = asyncio.run(scenario())
    assert first is None
    assert again.version == 1 and len(again.diagnostics) == 1
    assert stale is again  # the pull for version 2 did not wait for scoring
    assert fresh.version == 2 and fresh.diagnostics == [] and fresh.result_id != again.result_id


def test_pull_without_refresh_support_waits_for_the_review():
    async def scenario():
        sched = ReviewScheduler(make_feature())
        return await sched.pull(URI, 1, GOOD, ReviewSettings(debounce_ms=0), None)

    stored = asyncio.run(scenario())
    assert stored.version == 1 and len(stored.diagnostics) == 1


def test_unchanged_functions_are_not_scored_again():
    feature = make_feature()
    text = GOOD + "\n\ndef other(a):\n    return a + 1\n"
    feature.review(text, ReviewSettings())
    calls = feature.signals.calls
    edited = text.replace("return a + 1", "return a + 2")
    report = feature.review(edited, ReviewSettings())
    assert feature.signals.calls == calls + 1  # only the edited function
    assert report.scored == report.functions == 3


def test_a_review_cut_short_continues_until_every_function_is_scored():
    async def scenario():
        feature = make_feature(delay_s=0.02)
        sched = ReviewScheduler(feature, budget_s=0.05)
        text = "".join(f"def f{i}(a):\n    return a + {i}\n\n\n" for i in range(12))
        published = []
        task = sched.schedule(URI, 1, text, ReviewSettings(debounce_ms=0), lambda u, v, d: published.append(v))
        await task
        return sched.result(URI), len(published)

    stored, runs = asyncio.run(scenario())
    assert stored.scored == stored.functions == 12 and runs >= 2


def test_functions_on_screen_and_just_edited_are_scored_first():
    text = "".join(f"def f{i}(a):\n    return a + {i}\n\n\n" for i in range(12))  # f{i} starts at line 4 * i
    feature = make_feature(delay_s=0.02)
    feature.workers, feature._pool = 1, None  # one at a time: the order is what is checked
    report = feature.review(text, ReviewSettings(), budget_s=0.01, focus=[(40, 41)])
    assert list(report.percentiles) == ["f10"]  # not f0, the first of the equally short ones
    sched = ReviewScheduler(feature)
    sched.visible(URI, [(8, 9)])
    sched.edited(URI, [(20, 20)])
    assert sched.focus(URI) == [(20, 20), (8, 9)]
    feature.forget()
    report = feature.review(text, ReviewSettings(), 0.01, None, sched.focus(URI))
    assert list(report.percentiles) == ["f5"]  # the edit's function first, the visible ones next
    sched.close(URI)
    assert sched.focus(URI) == []


def test_the_review_budget_is_a_setting():
    async def scenario(budget_ms):
        feature = make_feature(delay_s=0.02)
        feature.workers, feature._pool = 1, None
        sched = ReviewScheduler(feature)
        text = "".join(f"def f{i}(a):\n    return a + {i}\n\n\n" for i in range(6))
        return await sched._review(URI, 1, text, ReviewSettings(debounce_ms=0, budget_ms=budget_ms), 0.0)

    short, long = asyncio.run(scenario(50)), asyncio.run(scenario(5000))
    assert short.scored < short.functions and long.scored == long.functions == 6


def test_while_a_person_types_one_worker_goes_on_and_the_review_still_ends():
    from concurrent.futures import ThreadPoolExecutor

    text = "".join(f"def f{i}(a):\n    return a + {i}\n\n\n" for i in range(8))
    feature = make_feature(delay_s=0.01)
    feature.workers, feature._pool = 2, ThreadPoolExecutor(2, thread_name_prefix="w")
    seen = set()
    analyze = feature.signals.analyze

    def recording(texts, **kw):
        seen.add(threading.current_thread().name)
        return analyze(texts, **kw)

    feature.signals.analyze = recording
    typing = feature.review(text, ReviewSettings(), budget_s=60, calm=lambda: time.sleep(0.005) or False)
    assert typing.scored == typing.functions == 8 and len(seen) == 1  # the second worker never started one
    feature.forget()
    seen.clear()
    idle = feature.review(text, ReviewSettings(), budget_s=60, calm=lambda: True)
    assert idle.scored == 8 and len(seen) == 2


def test_the_gate_waits_for_a_longer_pause_when_asked():
    gate = ForegroundGate(quiet_s=0.0)
    gate.enter()
    gate.leave()
    assert gate.wait_idle(timeout=0.01)  # its own quiet time: none
    assert not gate.wait_idle(timeout=0.01, quiet_s=5.0)  # a completion finished just now


def test_a_model_run_stopped_by_interrupt_raises_run_interrupted(tiny_bundle, monkeypatch):
    import onnxruntime

    from devassist.server.bundle import load_bundle
    from devassist.server.features.review.signals import BundleSignals, RunInterrupted
    from devassist.server.runtime.lm import LanguageModel

    bundle = load_bundle(tiny_bundle)
    signals = BundleSignals(bundle, LanguageModel(bundle, prefer_gpu=False), threads=1)
    text = "def f(a):\n    return a + 1\n"
    assert signals.analyze([text])[0] is not None
    made = []

    class Stopped(onnxruntime.RunOptions):  # the flag as `interrupt` leaves it, set before the run begins
        def __init__(self):
            super().__init__()
            self.terminate = True
            made.append(self)

    monkeypatch.setattr(onnxruntime, "RunOptions", Stopped)
    with pytest.raises(RunInterrupted):
        signals.analyze([text])
    assert made and not signals._inflight  # the run was ONNX Runtime's own, and nothing is left registered


def test_a_function_whose_run_was_interrupted_is_scored_again_after_the_completion():
    from devassist.server.features.review.signals import RunInterrupted

    feature = make_feature()
    feature.workers, feature._pool = 1, None
    analyze, calls = feature.signals.analyze, []

    def once_interrupted(texts, **kw):
        calls.append(texts[0])
        if len(calls) == 1:
            raise RunInterrupted()
        return analyze(texts, **kw)

    feature.signals.analyze = once_interrupted
    report = feature.review(GOOD, ReviewSettings(), budget_s=60)
    assert report.scored == report.functions and len(calls) == report.functions + 1


def test_a_queued_completion_interrupts_review_runs():
    gate, stopped, feature = ForegroundGate(), [], make_feature()
    feature.interrupt = lambda: stopped.append(True)
    ReviewScheduler(feature, gate=gate)
    gate.enter()
    gate.leave()
    assert stopped == [True]


def test_no_review_run_starts_while_a_completion_is_in_flight(tiny_bundle):
    from devassist.server.bundle import load_bundle
    from devassist.server.features.review.signals import BundleSignals
    from devassist.server.runtime.lm import LanguageModel

    bundle = load_bundle(tiny_bundle)
    signals = BundleSignals(bundle, LanguageModel(bundle, prefer_gpu=False), threads=1)
    events, session = [], signals.signals_session

    class Recorded:  # the session as the signals see it, logging each run
        def run(self, *args):
            events.append("run")
            return session.run(*args)

        def __getattr__(self, name):
            return getattr(session, name)

    signals.signals_session = Recorded()
    gate = ForegroundGate(quiet_s=0.0)
    gate.enter()  # a completion is in flight when review wants to run

    def hold():
        events.append("hold")
        if gate.busy:  # the completion finishes while review waits
            events.append("completion done")
            gate.leave()

    signals.hold, signals.busy = hold, lambda: gate.busy
    assert signals.analyze(["def f(a):\n    return a + 1\n"])[0] is not None
    assert events[:3] == ["hold", "completion done", "run"]

    # A completion queued between the wait and the run's start: wait again, then run.
    events.clear()
    queued = iter([True, False])
    signals.hold, signals.busy = lambda: events.append("hold"), lambda: next(queued)
    assert signals.analyze(["def g(b):\n    return b * 2\n"])[0] is not None
    assert events == ["hold", "hold", "run"] and not signals._inflight
