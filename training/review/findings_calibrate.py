"""`devassist review calibrate-findings`: set the likely-bug threshold by false alarms on clean code.

Every function of the validation split is scored as the server scores it (left-context
margins, the best candidates re-scored with the whole function; `findings.py`); the
threshold is the smallest score (re-scored margin + w * the bug detector's token logit, w chosen
among DETECTOR_WEIGHTS for the most synthetic bugs found) that leaves at most `--per-kloc`
findings per 1,000 clean lines (one finding per line at most, as the editor shows them). Synthetic bugs of
some of the same functions then say what that threshold finds. The result ships as
`review_findings.json` in the bundle's `review` component, sealed in the manifest. The test
split is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EPILOG = """examples:
  devassist review calibrate-findings --bundle models/default --source runs/stdlib
  devassist review calibrate-findings --bundle models/default --source runs/stdlib --per-kloc 2 --out runs/noisier
  devassist review calibrate-findings --bundle models/default --source runs/stdlib --clean-source runs/tune/werkzeug
"""
FINDINGS_FILE = "review_findings.json"


def log(msg: str) -> None:
    """Progress to stderr."""
    print(msg, file=sys.stderr, flush=True)


class FindingScorer:
    """The server's bug candidates for plain function texts, outside any editor."""

    def __init__(self, bundle):
        from devassist.server.features.review.signals import BundleSignals
        from devassist.server.runtime.lm import LanguageModel

        from devassist.server.features.review.model import ReviewModel

        lm = LanguageModel(bundle, prefer_gpu=False)
        self.signals = BundleSignals(bundle, lm, keep_past=True)
        self.model = ReviewModel.from_bundle(bundle)
        self.tokenizer = lm.tokenizer

    def candidates(self, texts: list[str], desc: str = "functions"):
        """Re-scored candidates of each text (a list per text, best first)."""
        from devassist.server.features.review.findings import function_candidates

        out, start = [], time.time()
        for k, text in enumerate(texts):
            [sig] = self.signals.analyze([text])
            if self.model.detector is not None:
                self.model.detect([sig])  # token logits, as the server's score computes them
            found = function_candidates(self.signals, sig, text, lambda i: self.tokenizer.decode([i])) or []
            out.append(found)
            if (k + 1) % 100 == 0:
                log(f"  {desc}: {k + 1}/{len(texts)} ({time.time() - start:.0f} s)")
        return out


DETECTOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # tried on the validation split; the most bugs found wins


def line_margins(texts: list[str], found: list[list], detector_weight: float = 0.0) -> np.ndarray:
    """The best candidate score of each line that has a candidate (one finding per line)."""
    out = []
    for text, cands in zip(texts, found):
        best: dict[int, float] = {}
        for c in cands:
            line = c.line(text)
            best[line] = max(best.get(line, -np.inf), c.score(detector_weight))
        out.extend(best.values())
    return np.asarray(out, dtype=np.float64)


def kind_matrix(texts: list[str], found: list[list], kinds: list[str], detector_weight: float,
                lines_of: list[int] | None = None) -> np.ndarray:
    """(items, kinds) best candidate score per kind: one row per clean line that has a candidate
    (`lines_of` None), or one row per twin over the candidates on its mutated line; -inf for none."""
    col = {k: i for i, k in enumerate(kinds)}
    rows = []
    for n, (text, cands) in enumerate(zip(texts, found)):
        per_line: dict[int, np.ndarray] = {}
        for c in cands:
            line = c.line(text)
            if lines_of is not None and line != lines_of[n]:
                continue
            row = per_line.setdefault(0 if lines_of is not None else line, np.full(len(kinds), -np.inf))
            row[col[c.kind]] = max(row[col[c.kind]], c.score(detector_weight))
        if lines_of is not None:
            rows.append(per_line.get(0, np.full(len(kinds), -np.inf)))
        else:
            rows.extend(per_line.values())
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(kinds))


def joint_thresholds(clean: np.ndarray, twins: np.ndarray, allowed: int) -> np.ndarray:
    """Per-kind thresholds (columns) that flag the most twins while at most `allowed` clean rows
    have any score over its kind's threshold. Greedy: from "flag nothing", repeatedly lower one
    kind's threshold to a lower clean score, taking the step with the most twins gained per false
    alarm spent (a step that costs none first), until no step gains a twin within the budget."""
    k = clean.shape[1]
    values = [np.unique(clean[:, j][np.isfinite(clean[:, j])])[::-1] for j in range(k)]  # descending
    pos = [-1] * k  # -1: +inf (nothing of that kind flagged); i: values[j][i]

    def at(p):
        return np.asarray([np.inf if p[j] < 0 else values[j][p[j]] for j in range(k)])

    def counts(t):
        return int(np.any(clean > t, axis=1).sum()), int(np.any(twins > t, axis=1).sum())

    fa, hits = counts(at(pos))
    while True:
        best = None
        for j in range(k):
            for i in range(pos[j] + 1, len(values[j])):
                trial = list(pos)
                trial[j] = i
                f, h = counts(at(trial))
                if f > allowed:
                    break
                if h > hits:
                    gain = (h - hits) / max(f - fa, 0.5)
                    if best is None or gain > best[0]:
                        best = (gain, trial, f, h)
        if best is None:
            return at(pos)
        _, pos, fa, hits = best


def twin_rates(muts, twin_found, thresholds: dict[str, float], detector_weight: float) -> tuple[float, float]:
    """Shares of twins flagged on the mutated line, and with the fix that restores the original."""
    flagged = fixed = 0
    for m, cands in zip(muts, twin_found):
        hits = [c for c in cands if c.score(detector_weight) > thresholds[c.kind] and c.line(m.mutated) == m.line]
        flagged += bool(hits)
        fixed += any(c.fixed(m.mutated) == m.original for c in hits)
    return flagged / max(len(muts), 1), fixed / max(len(muts), 1)


def _keep_kv_cache(bundle, bundle_dir: Path, out: Path | None) -> bool:
    """Give an older bundle's signals graph its KV-cache outputs (weights and other outputs
    unchanged; `export/review.py: expose_present`), written to `out` or in place and sealed."""
    from devassist.export.bundle import add_component
    from devassist.export.review import expose_present

    name = bundle.component("review").get("signals")
    if not name:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        upgraded = Path(tmp) / Path(name).name
        if not expose_present(Path(bundle.path(name)), upgraded):
            return False
        log(f"{name}: KV-cache outputs added (weights unchanged)")
        add_component(Path(bundle_dir), "review", dict(bundle.component("review")), files={name: upgraded}, out_dir=out)
    return True


KINDS = ("operator", "number", "name", "drop_not", "add_not", "swap_args")  # TokenCandidate.kind values


def calibrate_findings(bundle_dir: Path, source: Path, out: Path | None = None, per_kloc: float = 1.0,
                       max_functions: int | None = None, max_twins: int = 300, seed: int = 0,
                       clean_sources: tuple[Path, ...] = (), max_clean_functions: int = 600) -> dict:
    """Choose per-kind thresholds on the validation split (and `clean_sources`), measure them on
    synthetic bugs of the same code, ship them."""
    from devassist.export.bundle import add_component
    from devassist.server.bundle import load_bundle
    from devassist.server.features.review.findings import (PREFILTER_MARGIN, RESCORE_SLACK, RESCORED_PER_FUNCTION,
                                                            STRUCTURAL_PER_FUNCTION, rescore_bounds,
                                                            threshold_for_rate)
    from devassist.training.review.data import load_functions
    from devassist.training.review.mutations import mutate

    start = time.time()
    bundle = load_bundle(bundle_dir)
    if _keep_kv_cache(bundle, bundle_dir, out):  # the re-scoring reads the KV cache; the calibration must see it
        bundle_dir, out = (out or bundle_dir), None
        bundle = load_bundle(bundle_dir)
    scorer = FindingScorer(bundle)
    parts = [(str(source) + " (valid)", load_functions(source, ("valid",), max_functions, seed))]
    parts += [(str(c), load_functions(c, None, max_clean_functions, seed)) for c in clean_sources]
    texts, muts, sizes = [], [], {}
    for name, funcs in parts:
        texts += [f.text for f in funcs]
        muts += [m for m in (mutate(f.text, f.key) for f in funcs[:max_twins]) if m is not None]
        sizes[name] = {"functions": len(funcs), "lines": sum(f.text.count("\n") + 1 for f in funcs)}
    lines = sum(t.count("\n") + 1 for t in texts)
    log(f"clean code: {sizes}; {len(muts)} synthetic bugs")
    clean_found = scorer.candidates(texts, "clean")
    twin_found = scorer.candidates([m.mutated for m in muts], "twins")
    allowed = int(np.floor(per_kloc * lines / 1000.0))
    weights = DETECTOR_WEIGHTS if scorer.model.detector is not None else (0.0,)
    grid = {}
    for w in weights:
        base = threshold_for_rate(line_margins(texts, clean_found, w), lines, per_kloc)
        clean_m = kind_matrix(texts, clean_found, list(KINDS), w)
        joint = joint_thresholds(clean_m, kind_matrix([m.mutated for m in muts], twin_found, list(KINDS), w,
                                                      [m.line for m in muts]), allowed)
        per_kind = {}
        for j, k in enumerate(KINDS):  # a kind never lowered: only over every clean score of it
            seen = clean_m[:, j][np.isfinite(clean_m[:, j])]
            per_kind[k] = float(joint[j]) if np.isfinite(joint[j]) else (float(seen.max()) if len(seen) else base)
        grid[w] = (base, per_kind, *twin_rates(muts, twin_found, per_kind, w),
                   *twin_rates(muts, twin_found, dict.fromkeys(KINDS, base), w))
    weight = max(weights, key=lambda w: (grid[w][2], grid[w][3], -w))
    base, per_kind, flagged, fixed, flagged_one, fixed_one = grid[weight]
    clean_m = kind_matrix(texts, clean_found, list(KINDS), weight)
    false_alarms = int(np.any(clean_m > np.asarray([per_kind[k] for k in KINDS]), axis=1).sum())
    margins = line_margins(texts, clean_found, weight)
    record = {
        "threshold": round(base, 4), "thresholds": {k: round(v, 4) for k, v in per_kind.items()},
        "detector_weight": weight, "per_kloc_target": per_kloc, "source": str(source), "split": "valid",
        "clean_sources": sizes, "clean_lines": lines, "candidate_lines": int(len(margins)),
        "false_alarms": false_alarms, "false_alarms_per_kloc": round(1000.0 * false_alarms / max(lines, 1), 3),
        "prefilter_margin": PREFILTER_MARGIN, "rescored_per_function": RESCORED_PER_FUNCTION,
        "rewrites_per_function": STRUCTURAL_PER_FUNCTION,
        # the server skips re-scoring what could not pass (`RescoreGate`); calibration itself gates nothing
        "rescore_bounds": rescore_bounds(clean_found + twin_found), "rescore_slack": RESCORE_SLACK,
        "margin_quantiles": {str(q): round(float(np.quantile(margins, q)), 3) for q in (0.5, 0.9, 0.99)}
        if len(margins) else {},
        "twins": {"n": len(muts), "flagged_on_line": round(flagged, 4), "right_fix": round(fixed, 4),
                  "one_threshold": {"flagged_on_line": round(flagged_one, 4), "right_fix": round(fixed_one, 4)}},
        "detector_weight_grid": {f"{w:g}": {"threshold": round(g[0], 3), "flagged_on_line": round(g[2], 4),
                                            "right_fix": round(g[3], 4), "one_threshold_flagged": round(g[4], 4)}
                                 for w, g in grid.items()},
    }
    description = dict(bundle.component("review"))
    description["findings"] = FINDINGS_FILE
    description["files"] = sorted(set(description.get("files", [])) | {FINDINGS_FILE})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FINDINGS_FILE
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        add_component(Path(bundle_dir), "review", description, files={FINDINGS_FILE: path}, out_dir=out)
    record["bundle"] = str(out or bundle_dir)
    record["wall_time_s"] = round(time.time() - start, 1)
    return record


def main(argv: list[str] | None = None) -> int:
    """Calibrate the likely-bug threshold of a bundle."""
    parser = argparse.ArgumentParser(prog="devassist review calibrate-findings", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="bundle with a review component")
    parser.add_argument("--source", type=Path, required=True, help="a corpus folder (`devassist corpus`); its valid split is read")
    parser.add_argument("--out", type=Path, default=None, help="write a copy of the bundle here (default: in place)")
    parser.add_argument("--per-kloc", type=float, default=1.0, help="false alarms allowed per 1,000 clean lines (default 1)")
    parser.add_argument("--max-functions", type=int, default=None, help="validation functions to read (default all)")
    parser.add_argument("--max-twins", type=int, default=300, help="synthetic bugs per source to choose the thresholds on")
    parser.add_argument("--clean-source", type=Path, action="append", default=[],
                        help="more clean code (a source tree, every function), repeatable; never the code you report on")
    parser.add_argument("--max-clean-functions", type=int, default=600, help="functions read from each --clean-source")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from devassist.training.review.data import is_corpus

    if not is_corpus(args.source):
        print(f"devassist review calibrate-findings: {args.source} is not a corpus folder; build one with "
              "`devassist corpus --out DIR`", file=sys.stderr)
        return 2
    print(json.dumps(calibrate_findings(args.bundle, args.source, args.out, args.per_kloc, args.max_functions,
                                        args.max_twins, args.seed, tuple(args.clean_source),
                                        args.max_clean_functions), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
