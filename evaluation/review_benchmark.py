"""The time to review a whole 2,000-line file, as the editor does it: median and p95 after a warm-up.

The file is real code concatenated from --source (its split, for a corpus), the per-function cache
is cleared before every run (a repeat would cost nothing), and the budget is large enough that
every function is scored; the result says how many were. The load average is written beside the
numbers, since on a shared machine it decides them.
"""

from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np


def concatenated(files: list[str], lines: int = 2000) -> str:
    """The first `lines` lines of `files` joined in order (whole files, the last one cut)."""
    text_lines: list[str] = []
    for t in files:
        text_lines.extend(t.split("\n"))
        if len(text_lines) >= lines:
            break
    return "\n".join(text_lines[:lines])


def _timed(feature, text: str, settings, runs: int) -> tuple[list[float], list[float], object]:
    """Wall and process-CPU seconds of `runs` cold reviews of `text`, and the last report."""
    walls, cpus, report = [], [], None
    for _ in range(runs):
        feature.forget()
        cpu = time.process_time()
        report = feature.review(text, settings, budget_s=600)
        cpus.append(time.process_time() - cpu)
        walls.append(report.elapsed_s)
    return walls, cpus, report


def benchmark(feature, files: list[str], lines: int = 2000, runs: int = 5, compare_without_findings: bool = True) -> dict:
    """Median / p95 wall time of a full cold review of a `lines`-line file, after one warm-up run;
    with `compare_without_findings`, the same without the likely-bug re-scoring (its cost)."""
    import onnxruntime

    from devassist.server.settings import ReviewSettings

    text = concatenated(files, lines)
    settings = ReviewSettings()
    load_before = os.getloadavg()
    feature.forget()
    feature.review(text, settings, budget_s=600)  # warm-up: sessions, allocator, caches
    walls, cpus, report = _timed(feature, text, settings, runs)
    out = {"lines": text.count("\n") + 1, "bytes": len(text.encode()), "functions": report.functions,
           "scored": report.scored, "complete": report.complete, "findings": len(report.findings),
           "runs": runs, "median_s": round(statistics.median(walls), 3),
           "p95_s": round(float(np.percentile(walls, 95)), 3), "min_s": round(min(walls), 3),
           "times_s": [round(t, 3) for t in walls], "cpu_median_s": round(statistics.median(cpus), 3)}
    if compare_without_findings and getattr(feature, "_decode", None) is not None:
        decode, feature._decode = feature._decode, None  # no candidates: score and detector only
        try:
            walls0, cpus0, _ = _timed(feature, text, settings, max(runs // 2, 1))
        finally:
            feature._decode = decode
        out["without_findings_median_s"] = round(statistics.median(walls0), 3)
        out["without_findings_cpu_median_s"] = round(statistics.median(cpus0), 3)
    out.update({"load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "onnxruntime": onnxruntime.__version__, "threads": os.environ.get("DEVASSIST_THREADS", "default"),
                "cpus": len(os.sched_getaffinity(0)), "machine": platform.processor() or platform.machine()})
    return out


def describe(b: dict) -> str:
    """One line for the text report."""
    extra = f", {b['without_findings_median_s']:.3f} s without the findings" if "without_findings_median_s" in b else ""
    return (f"{b['lines']}-line file: {b['median_s']:.3f} s median, p95 {b['p95_s']:.3f} s over {b['runs']} cold runs "
            f"after a warm-up ({b['scored']}/{b['functions']} functions reviewed{extra}); "
            f"load average {b['load_average_before'][0]:.2f} before, {b['load_average_after'][0]:.2f} after")
