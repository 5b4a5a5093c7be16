"""`devassist review FILE...`: the review diagnostics the editor shows, printed (or as JSON).

`devassist review calibrate ...` refits the review model on a code base (PyTorch side,
imported only then); `devassist review calibrate-findings ...` sets the likely-bug threshold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

EPILOG = """examples:
  devassist review mymodule.py
  devassist review src/*.py --threshold 95 --json
  devassist review calibrate --bundle models/default --source ~/src/myproject --out runs/mybundle
  devassist review calibrate-findings --bundle models/default --source runs/stdlib
"""


def main(argv: list[str] | None = None) -> int:
    """Review files, or dispatch `calibrate`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "calibrate":
        from devassist.training.review.calibrate import main as calibrate_main

        return calibrate_main(argv[1:])
    if argv and argv[0] == "calibrate-findings":
        from devassist.training.review.findings_calibrate import main as findings_main

        return findings_main(argv[1:])
    parser = argparse.ArgumentParser(prog="devassist review", description=__doc__.splitlines()[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="Python files to review")
    parser.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped one)")
    parser.add_argument("--threshold", type=float, default=None, help="percentile threshold (default 99)")
    parser.add_argument("--max-diagnostics", type=int, default=None, help="most findings per file")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of scoring per file (default 10)")
    parser.add_argument("--all", action="store_true", help="also list every scored function's percentile")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)

    from devassist.server.bundle import BundleError, default_bundle_path, load_bundle
    from devassist.server.features.review import ReviewFeature, is_python_document
    from devassist.server.runtime.lm import LanguageModel
    from devassist.server.settings import ReviewSettings

    try:
        bundle = load_bundle(args.bundle or default_bundle_path())
    except BundleError as exc:
        print(f"devassist review: {exc}", file=sys.stderr)
        return 2
    if not ReviewFeature.available(bundle):
        print(f"devassist review: {bundle.root} has no review component; add one with "
              "`devassist review calibrate --bundle B --source DIR --out B`", file=sys.stderr)
        return 2
    feature = ReviewFeature(bundle, LanguageModel(bundle, prefer_gpu=False))
    settings = ReviewSettings()
    if args.threshold is not None:
        settings.threshold = args.threshold
    if args.max_diagnostics is not None:
        settings.max_diagnostics = args.max_diagnostics
    results, status = [], 0
    for path in args.files:
        entry: dict = {"file": str(path)}
        if not is_python_document(str(path)):
            entry["skipped"] = "not a Python file"
        else:
            try:
                text = path.read_text(encoding="utf-8", errors="surrogateescape")
            except OSError as exc:
                entry["error"] = str(exc)
                status = 1
            else:
                report = feature.review(text, settings, budget_s=args.budget)
                entry.update({
                    "functions": report.functions, "scored": report.scored, "complete": report.complete,
                    "elapsed_s": round(report.elapsed_s, 3),
                    "findings": [dataclasses.asdict(f) for f in report.findings],
                })
                if args.all:
                    entry["percentiles"] = {k: round(v, 2) for k, v in report.percentiles.items()}
        results.append(entry)
    if args.json:
        print(json.dumps({"bundle": str(bundle.root), "threshold": settings.threshold, "files": results}, indent=2))
        return status
    for entry in results:
        if "skipped" in entry or "error" in entry:
            print(f"{entry['file']}: {entry.get('skipped') or entry.get('error')}")
            continue
        for f in entry["findings"]:
            (line, col), _ = f["range"]
            print(f"{entry['file']}:{line + 1}:{col + 1}: {f['code']}: {f['message']}" + (f" [{f['qualname']}]" if f["qualname"] else ""))
            if f["replacement"]:
                print(f"    fix: replace `{f['written']}` with `{f['replacement']}`")
        print(f"{entry['file']}: {len(entry['findings'])} finding(s), {entry['scored']}/{entry['functions']} functions scored "
              f"in {entry['elapsed_s']:.2f} s")
        if args.all:
            for q, p in sorted(entry["percentiles"].items(), key=lambda kv: -kv[1]):
                print(f"    {p:6.2f}  {q}")
    return status


if __name__ == "__main__":
    sys.exit(main())
