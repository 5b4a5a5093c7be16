"""`devassist synth`: learn a CSV/JSON/JSONL fixture and write synthetic rows; `synth sample` reuses a model.

Training imports torch lazily, so `devassist synth sample` runs with onnxruntime and numpy only.
With `--progress-json` every line on stdout is one JSON event (progress, note, done, error):
that is what the language server reads when it runs this command in a subprocess. Every bad
input is refused with one line and exit code 2 before any training; no file is replaced
without `--force`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from pathlib import Path

EXIT_BAD_INPUT, EXIT_NO_EXTRA = 2, 3
TRAINING_MODULES = ("torch", "sklearn", "safetensors", "onnx", "tqdm", "scipy")
EXTRA_HINT = 'the training extra is not installed: pip install "devassist[cpu,train]"'
SHOWN_CONSTRAINTS = 8  # detected rules printed one per line; the rest are counted

TRAIN_EPILOG = """examples:
  devassist synth tests/fixtures/users.csv --rows 1000 --out users.synthetic.csv
  devassist synth orders.jsonl --rows 500 --out fake.jsonl --model vae --time-budget 30 --seed 1
  devassist synth weather.csv --rows 200 --constraint 'tmin <= tmax' --where station=north
  devassist synth survey.csv --rows 100 --na 'NA,-,?,' --force          # own missing-value spellings
  devassist synth people.json --rows 50 --out p.json --save models/people   # keep the synthesizer
  devassist synth sample models/people --rows 100000 --out big.json         # reuse it, no torch needed

Defaults: --model auto fits a Gaussian copula, a TVAE and a GAN (the copula alone under 50 rows)
on 85% of the rows and keeps the one that scores best on the other 15%; each network trains for
2 steps a row (1,000 to 4,000), stopping early when the held-out score stops improving. With
--seed the run is reproducible byte for byte: a --time-budget then caps steps (40 GAN / 200 TVAE
steps a second), never wall-clock time. Missing values: empty, NA, N/A, n/a, NaN, nan, null,
NULL, None, -, ?, #N/A (written back with the fixture's own spellings).
"""
SAMPLE_EPILOG = """examples:
  devassist synth sample models/people --rows 100000 --out big.json
  devassist synth sample models/people --rows 5 --seed 3 --where plan=pro     # to stdout
"""


def bad(events: "Events", message: str) -> int:
    """Report one bad-input line and return the exit code."""
    events.emit("error", message=message, code="bad_input")
    return EXIT_BAD_INPUT


def parse_where(items: list[str] | None) -> dict[str, str]:
    """["plan=pro", "active=true"] -> {"plan": "pro", "active": "true"}; ValueError for a malformed item."""
    where = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--where {item!r}: expected COLUMN=VALUE, e.g. --where status=active")
        where[name.strip()] = value
    return where


def check_output(out: Path, force: bool) -> str | None:
    """Why `out` cannot be written (missing folder, a folder, a symlink, exists without --force), or None."""
    from devassist.server.safe_io import UnsafeWrite, check_target

    try:
        check_target(out, overwrite=force)
    except UnsafeWrite as exc:
        return f"--out {exc}"
    return None


class Events:
    """Reports progress as a tqdm bar for people or as JSON lines for the language server."""

    def __init__(self, as_json: bool):
        """Choose the output style."""
        self.as_json, self.bar = as_json, None

    def emit(self, event: str, **fields) -> None:
        """One machine-readable event (JSON mode) or a line on stderr."""
        if self.as_json:
            print(json.dumps({"event": event, **fields}), flush=True)
        elif event in ("note", "error"):
            print(("error: " if event == "error" else "") + fields["message"], file=sys.stderr)

    def progress(self, percent: float, message: str) -> None:
        """Overall progress 0..100 with a short status."""
        if self.as_json:
            self.emit("progress", percent=int(percent), message=message)
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=100, unit="%", desc="training", file=sys.stderr, leave=False)
        self.bar.n = int(percent)
        self.bar.set_postfix_str(message, refresh=True)

    def close(self) -> None:
        """Close the bar, if one was shown."""
        if self.bar is not None:
            self.bar.close()


def sample_main(argv: list[str]) -> int:
    """`devassist synth sample MODEL_DIR --rows N [--out FILE] [--seed K] [--where C=V]`."""
    parser = argparse.ArgumentParser(prog="devassist synth sample", epilog=SAMPLE_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Sample rows from a saved synthesizer (onnxruntime only).")
    parser.add_argument("model_dir", type=Path, help="directory written by `devassist synth ... --save`")
    parser.add_argument("--rows", type=int, required=True, help="number of rows to write (0 or more)")
    parser.add_argument("--out", type=Path, help="output file (default: stdout)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--where", action="append", metavar="COLUMN=VALUE", help="only rows with this category")
    args = parser.parse_args(argv)
    events = Events(False)
    if args.rows < 0:
        return bad(events, "--rows must be 0 or more")
    if args.out is not None and (problem := check_output(args.out, args.force)):
        return bad(events, problem)
    from devassist.server.synth_runtime import SynthRuntime

    try:
        runtime = SynthRuntime(args.model_dir)
        where = parse_where(args.where)
        runtime.where_codes(where)
        text = runtime.render(args.rows, args.seed, where)
    except ValueError as exc:
        return bad(events, str(exc))
    if args.out is None:
        sys.stdout.write(text)
        return 0
    from devassist.server.safe_io import UnsafeWrite, write_atomic

    try:
        write_atomic(args.out, text, overwrite=args.force)
    except UnsafeWrite as exc:
        return bad(events, f"--out {exc}")
    print(f"wrote {args.rows:,} rows to {args.out}", file=sys.stderr)
    return 0


def default_output(fixture: Path) -> Path:
    """NAME.synthetic.EXT beside the fixture."""
    return fixture.with_name(f"{fixture.stem}.synthetic{fixture.suffix or '.csv'}")


def build_parser() -> argparse.ArgumentParser:
    """The training command's parser."""
    parser = argparse.ArgumentParser(prog="devassist synth", epilog=TRAIN_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Learn a CSV / JSON / JSON Lines fixture; write realistic new rows.")
    parser.add_argument("fixture", type=Path, help="CSV, JSON (array of flat objects) or JSON Lines file")
    parser.add_argument("--rows", type=int, required=True, help="number of rows to write (0 or more)")
    parser.add_argument("--out", type=Path, help="output file (default: NAME.synthetic.EXT beside the fixture)")
    parser.add_argument("--force", action="store_true", help="replace --out / --save if they exist")
    parser.add_argument("--model", choices=("auto", "gan", "vae", "copula"), default="auto",
                        help="auto (default): the best of copula, TVAE and GAN on held-out rows")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="optimizer steps per network (default: 2 a row, 1,000-4,000)")
    budget.add_argument("--epochs", type=int, help="passes over the training rows (an epoch: rows/500 steps)")
    parser.add_argument("--time-budget", type=float, metavar="S",
                        help="fit within S seconds (with --seed: a step cap, so the result stays reproducible)")
    parser.add_argument("--seed", type=int, help="random seed: the same seed gives the same bytes")
    parser.add_argument("--save", type=Path, metavar="MODEL_DIR", help="keep the trained synthesizer here")
    parser.add_argument("--max-train-rows", type=int, default=50_000, help="subsample bigger fixtures to this")
    parser.add_argument("--where", action="append", metavar="COLUMN=VALUE", help="only rows with this category")
    parser.add_argument("--constraint", action="append", metavar="RULE",
                        help="a rule every row keeps, e.g. 'low <= high' or 'age >= 0' (repeatable)")
    parser.add_argument("--na", metavar="LIST", help="comma-separated spellings of a missing value "
                        "(default: ,NA,N/A,n/a,NaN,nan,null,NULL,None,-,?,#N/A)")
    parser.add_argument("--progress-json", action="store_true", help="JSON events on stdout (for the LSP server)")
    return parser


def check_numbers(args: argparse.Namespace) -> str | None:
    """Why a numeric option is out of range, or None."""
    for name, value, low in (("--rows", args.rows, 0), ("--steps", args.steps, 1), ("--epochs", args.epochs, 1),
                             ("--max-train-rows", args.max_train_rows, 2)):
        if value is not None and value < low:
            return f"{name} must be {low} or more (got {value})"
    if args.time_budget is not None and not args.time_budget > 0:
        return f"--time-budget must be more than 0 seconds (got {args.time_budget})"
    return None


def check_save(save: Path | None, force: bool) -> str | None:
    """Why --save cannot be used (a file, or a folder with other things in it), or None."""
    if save is None:
        return None
    if save.is_symlink() or (save.exists() and not save.is_dir()):
        return f"--save {save} exists and is not a folder; choose a new folder name"
    if save.is_dir() and any(save.iterdir()) and not force:
        return f"--save {save} is not empty; pass --force to replace the model there"
    if not save.parent.is_dir():
        return f"--save {save}: folder {save.parent} does not exist"
    return None


def prepare(args: argparse.Namespace, events: "Events"):
    """Every check that needs no training: (table, out, constraints, where) or an exit code."""
    from devassist.training.tabular.table_io import DEFAULT_NA, FixtureError, read_table

    problem = check_numbers(args)
    out = args.out or default_output(args.fixture)
    if problem is None and args.fixture.exists() and out.resolve() == args.fixture.resolve():
        problem = f"--out {out} is the fixture itself; it is never overwritten"
    problem = problem or check_output(out, args.force) or check_save(args.save, args.force)
    if problem:
        return bad(events, problem)
    na = tuple(args.na.split(",")) if args.na is not None else DEFAULT_NA
    try:
        table = read_table(args.fixture, na)
        where = parse_where(args.where)
    except (FixtureError, ValueError) as exc:
        return bad(events, str(exc))
    if len(table.rows) < 2 and args.rows > 0:
        return bad(events, f"{args.fixture.name} has {len(table.rows)} row: at least 2 are needed, or every "
                           "synthetic row would be a copy of it")
    from devassist.server.synth_runtime import where_codes
    from devassist.training.tabular.constraints import ConstraintError, parse_constraint
    from devassist.training.tabular.schema import profile_table

    columns = profile_table(table)
    try:
        constraints = [parse_constraint(text, columns) for text in args.constraint or []]
        where_codes(columns, where)
    except (ConstraintError, ValueError) as exc:
        return bad(events, str(exc))
    return table, out, constraints, where


def train_main(argv: list[str]) -> int:
    """Train on FIXTURE and write --rows synthetic rows."""
    args = build_parser().parse_args(argv)
    events = Events(args.progress_json)
    prepared = prepare(args, events)
    if isinstance(prepared, int):
        return prepared
    table, out, constraints, where = prepared
    from devassist.server.safe_io import write_atomic

    if args.rows == 0:
        write_atomic(out, empty_output(table), overwrite=args.force)
        events.emit("note", message="--rows 0: wrote the column header only, nothing was trained")
        events.emit("done", out=str(out), rows=0)
        return 0
    try:
        from devassist.training.tabular.synthesizer import fit_synthesizer
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in TRAINING_MODULES:
            events.emit("error", message=f"{EXTRA_HINT} ({exc.name} is missing)", code="missing_extra")
            return EXIT_NO_EXTRA
        raise
    seeded, seed = args.seed is not None, args.seed
    if not seeded:
        seed = secrets.randbelow(2**31)
        events.emit("note", message=f"seed {seed} (pass --seed {seed} to repeat this run exactly)")
    steps = args.steps
    if args.epochs is not None:
        steps = args.epochs * max(1, min(len(table.rows), args.max_train_rows) // 500)
    events.progress(2, f"read {len(table.rows):,} rows")
    from devassist.server.synth_constraints import describe
    from devassist.server.synth_runtime import SynthRuntime

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.save or Path(tmp)
        spec = fit_synthesizer(table, model_dir, args.model, steps, args.time_budget, seed, args.max_train_rows,
                               progress=lambda f, m: events.progress(5 + 85 * f, m),
                               log=lambda m: events.emit("note", message=m), seeded=seeded,
                               user_constraints=constraints)
        by_name = {c["name"]: c for c in spec["columns"]}
        rules = spec["constraints"]
        for rule in rules[:SHOWN_CONSTRAINTS]:
            events.emit("note", message=f"constraint ({rule['source']}): {describe(rule, by_name)}")
        if len(rules) > SHOWN_CONSTRAINTS:
            events.emit("note", message=f"... and {len(rules) - SHOWN_CONSTRAINTS} more constraints (see spec.json)")
        events.progress(95, "sampling")
        runtime = SynthRuntime(model_dir)
        runtime.write(out, args.rows, seed, where, overwrite=args.force)
    events.progress(100, "done")
    events.close()
    steps_done = spec.get("train", {}).get("steps", 0)
    events.emit("note", message=f"model {spec['model']} ({steps_done} steps, {spec['fit_s']:.1f} s); "
                                f"constraint violations {runtime.violation_rate:.2%}; wrote {args.rows:,} rows to {out}")
    events.emit("done", out=str(out), rows=args.rows, fit_s=spec["fit_s"], model=spec["model"], seed=seed,
                violation_rate=runtime.violation_rate)
    return 0


def empty_output(table) -> str:
    """The output for --rows 0: a CSV header, an empty JSON array or an empty JSON Lines file."""
    if table.fmt == "csv":
        import csv
        import io

        buffer = io.StringIO(newline="")
        csv.writer(buffer, **table.csv_options).writerow(table.columns)
        return buffer.getvalue()
    return "[]\n" if table.fmt == "json" else ""


def main(argv: list[str] | None = None) -> int:
    """Entry point: `synth sample ...` samples a saved model, anything else trains."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sample":
        return sample_main(argv[1:])
    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
