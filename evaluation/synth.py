"""`devassist evaluate synth`: devassist's synthetic rows beside SDV's synthesizers, scored by SDMetrics itself.

The real table is split (seeded) into training rows (80 %) and validation rows (20 %). Each
synthesizer learns the same training CSV and samples as many rows:
  devassist             exactly `devassist synth TRAIN.csv --rows N --out OUT.csv --seed S` (CLI defaults)
  gaussian_copula, tvae, ctgan   SDV's GaussianCopulaSynthesizer, TVAESynthesizer, CTGANSynthesizer,
                        each with its defaults on metadata SDV detects from the training rows.
Every output is read back with pandas the same way and scored with the SDMetrics library:
QualityReport (column shapes + column pair trends), LogisticDetection, SVCDetection,
DCROverfittingProtection (privacy: synthetic rows should be no closer to the training rows than
the validation rows are), the share of synthetic rows equal to a training row, and the share
breaking a constraint that devassist detects on the training rows. Needs the `eval` extra.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from devassist.training.tabular import datasets

PEERS = ("gaussian_copula", "tvae", "ctgan")
TIMING_ROWS = 100_000
EPILOG = """examples:
  devassist evaluate synth --real statsmodels:anes96 --json
  devassist evaluate synth --real sklearn:iris --peers gaussian_copula --seed 1
  devassist evaluate synth --real users.csv --peers none

--real takes a CSV file, sklearn:NAME (iris, wine, breast_cancer, diabetes), statsmodels:NAME
(anes96, modechoice, grunfeld, fair, star98, ...) or demo:mixed. Needs: pip install "devassist[eval]".
"""


def split(path: Path, workdir: Path, seed: int) -> tuple[Path, Path]:
    """Training (80 %) and validation (20 %) CSVs cut from the real table's rows, shuffled with the seed.

    Rows are copied as text (csv module), so every synthesizer sees exactly what the file says.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = max(1, len(rows) // 5)
    parts = []
    for name, picked in (("train.csv", order[cut:]), ("valid.csv", order[:cut])):
        with open(workdir / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header, *(rows[i] for i in np.sort(picked))])
        parts.append(workdir / name)
    return parts[0], parts[1]


def run_devassist(train: Path, rows: int, seed: int, workdir: Path) -> dict:
    """The CLI with its defaults (plus --seed, and --save to time sampling); its output CSV and timings."""
    from devassist.server.synth_runtime import SynthRuntime
    from devassist.training.tabular import cli

    out, model = workdir / "devassist.csv", workdir / "devassist_model"
    start, cpu = time.perf_counter(), time.process_time()
    code = cli.main([str(train), "--rows", str(rows), "--out", str(out), "--seed", str(seed), "--save", str(model)])
    fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    if code != 0:
        raise RuntimeError(f"devassist synth exited with {code}")
    runtime = SynthRuntime(model)
    runtime.render(1000, seed)  # warm-up: the first run allocates
    big = workdir / "timing.csv"
    start, cpu = time.perf_counter(), time.process_time()
    runtime.write(big, TIMING_ROWS, seed + 1)
    sample_s, sample_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    spec = json.loads((model / "spec.json").read_text())
    return {"out": out, "fit_s": fit_s, "fit_cpu_s": fit_cpu_s, "sample_write_100k_s": sample_s,
            "sample_write_100k_cpu_s": sample_cpu_s, "model": spec["model"],
            "heldout_scores": spec.get("heldout_scores"), "steps": spec.get("train", {}).get("steps", 0)}


def run_peer(name: str, train: Path, rows: int, seed: int, workdir: Path, metadata) -> dict:
    """One SDV synthesizer with its defaults: fit on the training CSV, sample `rows`, write a CSV."""
    import pandas as pd
    from sdv import single_table

    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)
    cls = {"gaussian_copula": single_table.GaussianCopulaSynthesizer, "tvae": single_table.TVAESynthesizer,
           "ctgan": single_table.CTGANSynthesizer}[name]
    synthesizer = cls(metadata)
    frame = pd.read_csv(train)
    start, cpu = time.perf_counter(), time.process_time()
    synthesizer.fit({"table": frame})  # SDV 2 takes {table name: frame} even for one table
    fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    out = workdir / f"{name}.csv"
    sampled = synthesizer.sample(rows)
    (sampled["table"] if isinstance(sampled, dict) else sampled).to_csv(out, index=False)
    return {"out": out, "fit_s": fit_s, "fit_cpu_s": fit_cpu_s}


def constraint_rate(train: Path, synth: Path) -> tuple[float, int]:
    """Share of synthetic rows breaking a constraint devassist detects on the training rows (and how many rules)."""
    from devassist.server.synth_constraints import violations
    from devassist.training.tabular.constraints import detect_constraints
    from devassist.training.tabular.schema import profile_table, to_arrays
    from devassist.training.tabular.table_io import read_table

    real = read_table(train)
    columns = profile_table(real)
    rules = detect_constraints(columns, to_arrays(real, columns))
    table = read_table(synth)
    if table.columns != real.columns or not rules:
        return 0.0, len(rules)
    # category codes by the training categories; values the fixture never had get -1 (no rule matches them)
    arrays = {}
    for j, col in enumerate(columns):
        values = table.column(j)
        if col["kind"] == "discrete":
            index = {str(v): i for i, v in enumerate(col["categories"]) if v is not None}
            null = len(col["categories"]) - 1 if None in col["categories"] else -1
            arrays[col["name"]] = np.array([index.get(str(v), null if v in real.na_values else -1) for v in values])
        elif col["kind"] in ("numeric", "datetime"):
            arrays[col["name"]] = _floats(values, col, real.na_values)
    return float(violations(rules, columns, arrays, len(table.rows), ranges=False).mean()), len(rules)


def _floats(values: list, col: dict, na: tuple) -> np.ndarray:
    """Parsed numbers or dates of one column; NaN for missing or unparsable values."""
    from devassist.training.tabular.schema import parse_date

    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v in na:
            continue
        try:
            out[i] = parse_date(v, col["format"]) if col["kind"] == "datetime" else float(v)
        except ValueError:
            pass
    return out


def score(train: Path, valid: Path, synth: Path, metadata: dict, seed: int) -> dict:
    """SDMetrics' scores of one synthetic CSV, plus copies and constraint violations."""
    import pandas as pd
    from sdmetrics.reports.single_table import QualityReport
    from sdmetrics.single_table import DCROverfittingProtection, LogisticDetection, SVCDetection

    real, holdout, fake = pd.read_csv(train), pd.read_csv(valid), pd.read_csv(synth)
    fake = fake[real.columns]
    report = QualityReport()
    report.generate(real, fake, metadata, verbose=False)
    properties = report.get_properties().set_index("Property")["Score"].to_dict()
    np.random.seed(seed)
    result = {"quality": report.get_score(), "column_shapes": properties.get("Column Shapes"),
              "column_pair_trends": properties.get("Column Pair Trends"),
              "logistic_detection": LogisticDetection.compute(real, fake, metadata),
              "svc_detection": SVCDetection.compute(real, fake, metadata),
              "dcr_overfitting_protection": DCROverfittingProtection.compute(real, fake, holdout, metadata, None)}
    as_text = lambda f: f.astype(str).agg("\x1f".join, axis=1)  # noqa: E731
    result["copied_rows"] = int(as_text(fake).isin(set(as_text(real))).sum())
    result["constraint_violations"], result["constraints"] = constraint_rate(train, synth)
    return result


def evaluate(real: str, seed: int, peers: tuple[str, ...], workdir: Path) -> dict:
    """Fit devassist and the peers on the same training rows; score each; the report as a dict."""
    from sdv.metadata import Metadata

    import pandas as pd

    path = datasets.resolve(real, workdir)
    train, valid = split(path, workdir, seed)
    rows = sum(1 for _ in open(train, encoding="utf-8")) - 1
    metadata = Metadata.detect_from_dataframes({"table": pd.read_csv(train)})
    metadata_dict = metadata.to_dict()["tables"]["table"]
    result = {"real": real, "train_rows": rows, "validation_rows": sum(1 for _ in open(valid)) - 1, "seed": seed,
              "synthesizers": {}}
    runs = {"devassist": run_devassist(train, rows, seed, workdir)}
    for peer in peers:
        runs[peer] = run_peer(peer, train, rows, seed, workdir, metadata)
    for name, run in runs.items():
        scores = score(train, valid, run.pop("out"), metadata_dict, seed)
        result["synthesizers"][name] = {**scores, **run}
    return result


def summary(result: dict) -> str:
    """The report as a small side-by-side table."""
    keys = ["quality", "column_shapes", "column_pair_trends", "logistic_detection", "svc_detection",
            "dcr_overfitting_protection", "copied_rows", "constraint_violations", "fit_cpu_s", "fit_s"]
    names = list(result["synthesizers"])
    lines = [f"{result['real']}: {result['train_rows']} training rows, {result['validation_rows']} validation rows, "
             f"seed {result['seed']}", f"{'metric':<28}" + "".join(f"{n:>16}" for n in names)]
    for k in keys:
        cells = [result["synthesizers"][n].get(k) for n in names]
        lines.append(f"{k:<28}" + "".join(f"{c:>16.4f}" if isinstance(c, float) else f"{c!s:>16}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the synthetic-data benchmark and print the report."""
    parser = argparse.ArgumentParser(prog="devassist evaluate synth", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="devassist beside SDV's synthesizers, scored by SDMetrics.")
    parser.add_argument("--real", required=True, help="real rows: a CSV file or a built-in table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated SDV synthesizers to compare ({', '.join(PEERS)}) or 'none'")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args(argv)
    peers = () if args.peers == "none" else tuple(p.strip() for p in args.peers.split(",") if p.strip())
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        print(f"error: unknown --peers {unknown}; choose from {', '.join(PEERS)} or 'none'", file=sys.stderr)
        return 2
    try:
        datasets.check(args.real)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        import sdmetrics  # noqa: F401
        import sdv  # noqa: F401
    except ModuleNotFoundError as exc:
        print(f'error: evaluate synth needs {exc.name}: pip install "devassist[eval]"', file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(args.real, args.seed, peers, Path(tmp))
    print(json.dumps(result, indent=1) if args.json else summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
