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


def twin_rates(muts, twin_found, threshold: float, detector_weight: float) -> tuple[float, float]:
    """Shares of twins flagged on the mutated line, and with the fix that restores the original."""
    flagged = fixed = 0
    for m, cands in zip(muts, twin_found):
        hits = [c for c in cands if c.score(detector_weight) > threshold and c.line(m.mutated) == m.line]
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


def calibrate_findings(bundle_dir: Path, source: Path, out: Path | None = None, per_kloc: float = 1.0,
                       max_functions: int | None = None, max_twins: int = 300, seed: int = 0) -> dict:
    """Choose the threshold on the validation split, measure it on synthetic bugs, ship it."""
    from devassist.export.bundle import add_component
    from devassist.server.bundle import load_bundle
    from devassist.server.features.review.findings import PREFILTER_MARGIN, RESCORED_PER_FUNCTION, threshold_for_rate
    from devassist.training.review.mutations import mutate
    from devassist.training.review.data import load_functions

    start = time.time()
    bundle = load_bundle(bundle_dir)
    if _keep_kv_cache(bundle, bundle_dir, out):  # the re-scoring reads the KV cache; the calibration must see it
        bundle_dir, out = (out or bundle_dir), None
        bundle = load_bundle(bundle_dir)
    scorer = FindingScorer(bundle)
    valid = load_functions(source, ("valid",), max_functions, seed)
    texts = [f.text for f in valid]
    lines = sum(t.count("\n") + 1 for t in texts)
    log(f"validation: {len(valid)} functions, {lines} lines")
    clean_found = scorer.candidates(texts, "clean")
    muts = [m for m in (mutate(f.text, f.key) for f in valid[:max_twins]) if m is not None]
    twin_found = scorer.candidates([m.mutated for m in muts], "twins")
    weights = DETECTOR_WEIGHTS if scorer.model.detector is not None else (0.0,)
    grid = {}
    for w in weights:
        t = threshold_for_rate(line_margins(texts, clean_found, w), lines, per_kloc)
        grid[w] = (t, *twin_rates(muts, twin_found, t, w))
    weight = max(weights, key=lambda w: (grid[w][1], grid[w][2], -w))
    threshold, flagged, fixed = grid[weight]
    margins = line_margins(texts, clean_found, weight)
    false_alarms = int(np.sum(margins > threshold))
    record = {
        "threshold": round(threshold, 4), "detector_weight": weight, "per_kloc_target": per_kloc, "source": str(source), "split": "valid",
        "valid_functions": len(valid), "valid_lines": lines, "candidate_lines": int(len(margins)),
        "false_alarms": false_alarms, "false_alarms_per_kloc": round(1000.0 * false_alarms / max(lines, 1), 3),
        "prefilter_margin": PREFILTER_MARGIN, "rescored_per_function": RESCORED_PER_FUNCTION,
        "margin_quantiles": {str(q): round(float(np.quantile(margins, q)), 3) for q in (0.5, 0.9, 0.99)}
        if len(margins) else {},
        "valid_twins": {"n": len(muts), "flagged_on_line": round(flagged, 4), "right_fix": round(fixed, 4)},
        "detector_weight_grid": {f"{w:g}": {"threshold": round(t, 3), "flagged_on_line": round(f, 4), "right_fix": round(x, 4)}
                                 for w, (t, f, x) in grid.items()},
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
    parser.add_argument("--max-twins", type=int, default=300, help="synthetic bugs to measure the threshold on")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from devassist.training.review.data import is_corpus

    if not is_corpus(args.source):
        print(f"devassist review calibrate-findings: {args.source} is not a corpus folder; build one with "
              "`devassist corpus --out DIR`", file=sys.stderr)
        return 2
    print(json.dumps(calibrate_findings(args.bundle, args.source, args.out, args.per_kloc, args.max_functions,
                                        args.max_twins, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
