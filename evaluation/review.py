"""`devassist evaluate review`: does review find injected bugs, and rank buggy twins above their originals?

Each function under --source gets one buggy twin (`training/review/mutations.py`). Every scorer is
run on the same embeddings and the same cases: the shipped score, the VAE alone, a plain
autoencoder of the same size, an Isolation Forest and mean LM surprisal (and the bug detector
alone, when the bundle ships one). Reported per mutation
kind and overall, with counts: pairwise accuracy, AUROC, average precision; line localization
top-1/top-3 on the twins; the false-positive rate at the default threshold on unmodified code;
and the time to score a 2,000-line file. For the likely-bug findings, at the bundle's default
threshold: the share of twins flagged on the mutated line (per kind), the share of those whose
suggested fix restores the original, false alarms per 1,000 lines of the unmodified functions,
and the same twins through pylint and ruff (the `eval` extra): the share devassist flags that
neither linter flags on that line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from devassist.evaluation.review_benchmark import benchmark, describe
from devassist.training.review.data import mean_surprisal, pairwise_accuracy, separation

EPILOG = """examples:
  devassist evaluate review --bundle models/default --source runs/corpus --json      # the corpus test split
  devassist evaluate review --bundle models/default --source ~/src/myproject --max-functions 300
  devassist evaluate review --bundle models/default --source runs/heldout-clean --no-baselines --no-benchmark
  devassist evaluate review --bundle models/default --source runs/heldout-clean --benchmark-only --runs 5
"""
THRESHOLD = 99.0
SWEEP_SHIFTS = (-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0)  # finding-threshold shifts the report sweeps


def metrics(orig: np.ndarray, twin: np.ndarray, kinds: list[str]) -> dict:
    """Pairwise accuracy, AUROC and AP, overall and per mutation kind, with counts."""
    out = {"overall": {"pairs": int(len(orig)), "pairwise_accuracy": pairwise_accuracy(orig, twin), **separation(orig, twin)}}
    karr = np.asarray(kinds)
    for k in sorted(set(kinds)):
        m = karr == k
        out[k] = {"pairs": int(m.sum()), "pairwise_accuracy": pairwise_accuracy(orig[m], twin[m]), **separation(orig[m], twin[m])}
    return out


def localization(model, twins, lines: list[int], kinds: list[str], mask: np.ndarray | None = None) -> dict:
    """Top-1 / top-3 hit rates of the mutated line among the most surprising lines."""
    rows = []
    for i, (sig, line, kind) in enumerate(zip(twins, lines, kinds)):
        if mask is not None and not mask[i]:
            continue
        order = list(np.argsort(-model.line_scores(sig), kind="stable"))
        rows.append((kind, line == order[0], line in order[:3]))
    def summary(sel):
        return {"n": len(sel), "top1": float(np.mean([r[1] for r in sel])) if sel else float("nan"),
                "top3": float(np.mean([r[2] for r in sel])) if sel else float("nan")}
    out = {"overall": summary(rows)}
    for k in sorted({r[0] for r in rows}):
        out[k] = summary([r for r in rows if r[0] == k])
    return out


LINTERS = {  # module, arguments before the folder; both report (line, code) per file as JSON
    "pylint": ("pylint", ["--disable=C,R", "--output-format=json", "--score=n", "--recursive=y"]),
    "ruff": ("ruff", ["check", "--no-cache", "--select", "E,F,B,PL", "--output-format=json", "--exit-zero"]),
}


def lint(name: str, texts: list[str]) -> list[set[tuple[int, str]]] | None:
    """(1-based line, message code) pairs each linter reports per text; None if it is not installed."""
    import importlib.util

    module, args = LINTERS[name]
    if importlib.util.find_spec(module) is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(texts):
            Path(tmp, f"f{i}.py").write_text(text + "\n", encoding="utf-8")
        run = subprocess.run([sys.executable, "-m", module, *args, tmp], capture_output=True, text=True, timeout=1800)
    out: list[set[tuple[int, str]]] = [set() for _ in texts]
    for item in json.loads(run.stdout or "[]"):
        path = Path(item.get("path") or item.get("filename") or "")
        line = item.get("line") or (item.get("location") or {}).get("row")
        code = item.get("message-id") or item.get("code") or ""
        if path.stem.startswith("f") and path.stem[1:].isdigit() and line:
            out[int(path.stem[1:])].add((int(line), str(code)))
    return out


def linter_hits(name: str, originals: list[str], twins: list[str], lines: list[int]) -> np.ndarray | None:
    """Whether the linter reports, on each twin's mutated line, a message it does not report there on the original."""
    both = lint(name, originals + twins)
    if both is None:
        return None
    n = len(originals)
    return np.asarray([any(ln == lines[i] + 1 and (ln, c) not in both[i] for ln, c in both[n + i])
                       for i in range(n)], dtype=bool)


def bug_findings(candidates: dict, originals: list[str], twins: list[str], lines: list[int],
                 kinds: list[str], threshold: float, detector_weight: float = 0.0, record: dict | None = None) -> dict:
    """Likely-bug findings at the bundle's thresholds (`threshold`, or per candidate kind in
    `record`; `candidates`: function text -> its re-scored candidates): twins flagged on the
    mutated line and with the right fix (per kind), false alarms per 1,000 lines of the
    originals, a sweep of `review.findingThresholdShift`, and the linters on the same twins."""
    from devassist.server.features.review.findings import kind_threshold

    def excess(c):  # how far a candidate is over its kind's threshold (a finding when > the shift, 0 by default)
        return c.score(detector_weight) - kind_threshold(record or {}, c.kind, threshold)

    clean_lines = sum(t.count("\n") + 1 for t in originals)
    clean = []  # the best excess of each original's line with a candidate (one finding a line)
    for text in originals:
        best: dict[int, float] = {}
        for c in candidates.get(text) or []:
            best[c.line(text)] = max(best.get(c.line(text), -np.inf), excess(c))
        clean.extend(best.values())
    on_line, right = [], []  # per twin: best excess on the mutated line, and of those that restore the original
    for orig, twin, line in zip(originals, twins, lines):
        hits = [c for c in candidates.get(twin) or [] if c.line(twin) == line]
        on_line.append(max((excess(c) for c in hits), default=-np.inf))
        right.append(max((excess(c) for c in hits if c.fixed(twin) == orig), default=-np.inf))
    clean_a, on_line_a, right_a, karr = np.asarray(clean), np.asarray(on_line), np.asarray(right), np.asarray(kinds)
    flagged_a, fixed_a = on_line_a > 0, right_a > 0
    false_alarms = int(np.sum(clean_a > 0))

    def rates(m):
        n = int(m.sum())
        return {"n": n, "flagged_on_line": float(flagged_a[m].mean()) if n else float("nan"),
                "right_fix": float(fixed_a[m].mean()) if n else float("nan")}

    sweep = [{"shift": t, "flagged_on_line": round(float(np.mean(on_line_a > t)), 4),
              "right_fix": round(float(np.mean(right_a > t)), 4),
              "false_alarms_per_kloc": round(1000.0 * float(np.sum(clean_a > t)) / max(clean_lines, 1), 2)}
             for t in SWEEP_SHIFTS]
    out = {"threshold": threshold, "thresholds": (record or {}).get("thresholds", {}), "detector_weight": detector_weight,
           "overall": rates(np.ones(len(kinds), bool)),
           "per_kind": {k: rates(karr == k) for k in sorted(set(kinds))},
           "right_fix_of_flagged": float(fixed_a[flagged_a].mean()) if flagged_a.any() else float("nan"),
           "clean_lines": clean_lines, "false_alarms": false_alarms,
           "false_alarms_per_kloc": 1000.0 * false_alarms / max(clean_lines, 1), "sweep": sweep, "linters": {}}
    either = np.zeros(len(kinds), bool)
    for name in LINTERS:
        hits = linter_hits(name, originals, twins, lines)
        if hits is None:
            out["linters"][name] = "not installed (pip install 'devassist[eval]')"
            continue
        either |= hits
        out["linters"][name] = {"flagged_on_line": float(hits.mean()),
                                "per_kind": {k: float(hits[karr == k].mean()) for k in sorted(set(kinds))}}
    out["flagged_by_either_linter"] = float(either.mean())
    out["devassist_only"] = float((flagged_a & ~either).mean())
    return out


def benchmark_source(bundle, lm, source: Path, split: str = "test", runs: int = 5) -> dict:
    """The 2,000-line timing on files of `source` (its `split` for a corpus), with the review
    feature built as the server builds it (background sessions, one per worker thread)."""
    from devassist.server.features.review import ReviewFeature
    from devassist.training.review.data import is_corpus, iter_files

    corpus = is_corpus(source)
    texts = [t for _, s, t in iter_files(source) if (s == split or not corpus)]
    return benchmark(ReviewFeature(bundle, lm, background=True), texts, runs=runs)


def evaluate(bundle_dir: Path, source: Path, split: str = "test", max_functions: int = 1000, max_train: int = 3000,
             seed: int = 0, bench: bool = True, baselines: bool = True) -> dict:
    """Run the whole evaluation; returns the JSON-ready result."""
    from devassist.server.bundle import load_bundle
    from devassist.server.features.review.findings import RescoreGate, bundle_threshold, function_candidates
    from devassist.server.features.review.model import ReviewModel
    from devassist.server.features.review.signals import BundleSignals
    from devassist.server.runtime.lm import LanguageModel
    from devassist.training.review.mutations import mutate
    from devassist.training.review.data import compute_signals, is_corpus, load_functions

    start = time.time()
    bundle = load_bundle(bundle_dir)
    lm = LanguageModel(bundle, prefer_gpu=False)
    signals = BundleSignals(bundle, lm)
    model = ReviewModel.from_bundle(bundle)
    corpus = is_corpus(source)
    funcs = load_functions(source, (split,) if corpus else None, max_functions, seed)
    muts = [mutate(f.text, f.key) for f in funcs]
    cases = [(f, m) for f, m in zip(funcs, muts) if m is not None]
    if not cases:
        raise SystemExit(f"{source}: no function could be mutated")
    kinds = [m.kind for _, m in cases]
    candidates: dict[str, list] = {}

    threshold, record = bundle_threshold(bundle)
    # as the server skips re-scoring what could not pass, here at the lowest threshold the sweep reads
    gate = RescoreGate(record, threshold, shift=min(SWEEP_SHIFTS)) if record else None

    def find(texts, sigs):  # right after each chunk, as the server does per function (KV caches still there)
        if model.detector is not None:  # token logits on the signals, as the server's score leaves them
            model.detect(sigs)
        for text, sig in zip(texts, sigs):
            candidates[text] = function_candidates(signals, sig, text, lambda i: lm.tokenizer.decode([i]),
                                                   gate=gate) or []

    signals.keep_past = bool(signals.present_names)
    orig_sig = compute_signals(signals, [f.text for f, _ in cases], "originals", each=find)
    twin_sig = compute_signals(signals, [m.mutated for _, m in cases], "twins", each=find)
    signals.keep_past = False
    lines = [m.line for _, m in cases]
    findings = bug_findings(candidates, [f.text for f, _ in cases], [m.mutated for _, m in cases], lines, kinds,
                            threshold, float(record.get("detector_weight", 0.0)), record)
    out = {
        "bundle": str(bundle_dir), "source": str(source), "split": split if corpus else "all",
        "functions": len(funcs), "pairs": len(cases),
        "mutation_counts": {k: kinds.count(k) for k in sorted(set(kinds))},
        "findings": findings,
    }
    if baselines:
        out.update(_ranking(model, signals, source, corpus, split, max_train, seed, orig_sig, twin_sig, kinds, lines))
    if bench:
        out["benchmark_2000_lines"] = benchmark_source(bundle, lm, source, split)
    out["wall_time_s"] = round(time.time() - start, 1)
    return out


def benchmark_only(bundle_dir: Path, source: Path, split: str = "test", runs: int = 5) -> dict:
    """Just the 2,000-line timing, with the bundle's own sessions as the server builds them."""
    from devassist.server.bundle import load_bundle
    from devassist.server.runtime.lm import LanguageModel

    bundle = load_bundle(bundle_dir)
    lm = LanguageModel(bundle, prefer_gpu=False)
    return {"bundle": str(bundle_dir), "source": str(source),
            "benchmark_2000_lines": benchmark_source(bundle, lm, source, split, runs)}


def _ranking(model, signals, source, corpus, split, max_train, seed, orig_sig, twin_sig, kinds, lines) -> dict:
    """Function-level ranking: pairwise accuracy and AUROC of every scorer, localization, percentile false positives."""
    from sklearn.ensemble import IsolationForest

    from devassist.training.review.data import compute_signals, embeddings_of, load_functions
    from devassist.training.review.vae import VAEConfig, score, train_model

    if corpus:
        train = load_functions(source, ("train",), max_train, seed + 7)
        train_sig = compute_signals(signals, [f.text for f in train], "baseline training")
        fit_on = f"{len(train)} functions of the corpus train split"
    else:
        train_sig, fit_on = orig_sig, "the unmodified functions under --source (transductive)"
    x_train = embeddings_of(train_sig)
    x_orig, x_twin = embeddings_of(orig_sig), embeddings_of(twin_sig)

    cfg_dict = model.calibration.extra.get("fit", {}).get("vae", {}).get("config", {})
    cfg = VAEConfig(**{k: v for k, v in cfg_dict.items() if k in VAEConfig.__dataclass_fields__})
    ae, _ = train_model(x_train, cfg, "ae")
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(x_train)
    scorers = {
        "shipped": (model.scores(orig_sig), model.scores(twin_sig)),
        "vae": (model.neg_elbo(x_orig), model.neg_elbo(x_twin)),
        "ae": (score(ae, x_orig), score(ae, x_twin)),
        "isolation_forest": (-forest.score_samples(x_orig), -forest.score_samples(x_twin)),
        "mean_surprisal": (mean_surprisal(orig_sig), mean_surprisal(twin_sig)),
        "sum_surprisal": (np.asarray([s.total_surprisal for s in orig_sig]), np.asarray([s.total_surprisal for s in twin_sig])),
    }
    if model.detector is not None:  # the detector on its own (it is also inside "shipped" when weighted in)
        scorers["detector"] = (model.detect(orig_sig), model.detect(twin_sig))
    results = {name: metrics(o, t, kinds) for name, (o, t) in scorers.items()}
    pct_orig = model.percentiles(scorers["shipped"][0])
    pct_twin = model.percentiles(scorers["shipped"][1])
    return {
        "baselines_fit_on": fit_on,
        "scores": results,
        "localization_all_twins": localization(model, twin_sig, lines, kinds),
        "localization_flagged_twins": localization(model, twin_sig, lines, kinds, pct_twin > THRESHOLD),
        "line_score": model.calibration.line_score,
        "default_threshold": THRESHOLD,
        "false_positive_rate": float(np.mean(pct_orig > THRESHOLD)),
        "false_positives": int(np.sum(pct_orig > THRESHOLD)),
        "twins_flagged_rate": float(np.mean(pct_twin > THRESHOLD)),
    }


def _findings_table(f: dict) -> list[str]:
    """The likely-bug part of the report."""
    o = f["overall"]
    rows = [f"likely bugs at threshold {f['threshold']:g}: {o['flagged_on_line']:.3f} of {o['n']} twins flagged on the "
            f"mutated line, right fix {o['right_fix']:.3f} ({f['right_fix_of_flagged']:.3f} of those flagged); "
            f"false alarms {f['false_alarms_per_kloc']:.2f} per 1,000 clean lines ({f['false_alarms']}/{f['clean_lines']})"]
    for k, v in f["per_kind"].items():
        rows.append(f"  {k:<20} flagged {v['flagged_on_line']:.3f}  right fix {v['right_fix']:.3f}  (n={v['n']})")
    rows.append("findingThresholdShift sweep (flagged on line / right fix / false alarms per 1,000 lines): " + "; ".join(
        f"{r['shift']:g}: {r['flagged_on_line']:.3f}/{r['right_fix']:.3f}/{r['false_alarms_per_kloc']:.1f}" for r in f["sweep"]))
    for name, v in f["linters"].items():
        rows.append(f"{name}: " + (v if isinstance(v, str) else f"{v['flagged_on_line']:.3f} flagged on the mutated line"))
    rows.append(f"either linter: {f['flagged_by_either_linter']:.3f}; devassist and neither linter: {f['devassist_only']:.3f}")
    return rows


def _table(out: dict) -> str:
    rows = _findings_table(out["findings"]) if "findings" in out else []
    if "benchmark_2000_lines" in out:
        rows.append(describe(out["benchmark_2000_lines"]))
    if "scores" not in out:
        return "\n".join(rows)
    rows.append("\nscorer              pairwise  AUROC   AP      (overall, n=%d pairs)" % out["pairs"])
    for name, res in out["scores"].items():
        o = res["overall"]
        rows.append(f"{name:<19} {o['pairwise_accuracy']:.3f}     {o['auroc']:.3f}   {o['ap']:.3f}")
    rows.append("\nshipped score per mutation kind: pairwise / AUROC / AP (n)")
    for k, v in out["scores"]["shipped"].items():
        if k != "overall":
            rows.append(f"  {k:<20} {v['pairwise_accuracy']:.3f} / {v['auroc']:.3f} / {v['ap']:.3f} ({v['pairs']})")
    loc = out["localization_all_twins"]["overall"]
    rows.append(f"\nline localization (all twins, {loc['n']}): top-1 {loc['top1']:.3f}, top-3 {loc['top3']:.3f}")
    rows.append(f"false positives at p>{out['default_threshold']:g}: {out['false_positive_rate']:.4f} "
                f"({out['false_positives']}/{out['pairs']})")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the review evaluation."""
    parser = argparse.ArgumentParser(prog="devassist evaluate review", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True, help="a corpus folder (its --split) or a source tree")
    parser.add_argument("--split", default="test", help="corpus split to evaluate (default test)")
    parser.add_argument("--max-functions", type=int, default=1000, help="sample at most this many functions")
    parser.add_argument("--max-train", type=int, default=3000, help="training functions for the baselines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-benchmark", action="store_true", help="skip the 2,000-line timing")
    parser.add_argument("--benchmark-only", action="store_true",
                        help="only the 2,000-line timing (median, p95, coverage, load average)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the 2,000-line file after one warm-up")
    parser.add_argument("--no-baselines", action="store_true", help="likely-bug findings only (no ranking baselines)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.benchmark_only:
        out = benchmark_only(args.bundle, args.source, args.split, args.runs)
        print(json.dumps(out, indent=2) if args.json else _table(out))
        return 0
    out = evaluate(args.bundle, args.source, args.split, args.max_functions, args.max_train, args.seed, not args.no_benchmark,
                   not args.no_baselines)
    print(json.dumps(out, indent=2) if args.json else _table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
