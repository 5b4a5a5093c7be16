"""`devassist synth`: learn a CSV/JSON/JSONL fixture and write synthetic rows; `synth sample` reuses a model.

Training imports torch lazily, so `devassist synth sample` runs with onnxruntime and numpy only.
With `--progress-json` every line on stdout is one JSON event (progress, note, done, error):
that is what the language server reads when it runs this command in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

EXIT_BAD_INPUT, EXIT_NO_EXTRA = 2, 3
TRAINING_MODULES = ("torch", "sklearn", "safetensors", "onnx", "tqdm")
EXTRA_HINT = 'the training extra is not installed: pip install "devassist[cpu,train]"'
DEFAULT_EPOCHS, DEFAULT_BUDGET_S = 300, 120.0

TRAIN_EPILOG = """examples:
  devassist synth tests/fixtures/users.csv --rows 1000 --out users.synthetic.csv
  devassist synth orders.jsonl --rows 500 --out fake.jsonl --model vae --time-budget 30 --seed 1
  devassist synth people.json --rows 50 --out p.json --save models/people   # keep the synthesizer
  devassist synth sample models/people --rows 100000 --out big.json         # reuse it, no torch needed

Without --epochs or --time-budget: 300 epochs (as CTGAN), stopped after 120 s.
"""
SAMPLE_EPILOG = """examples:
  devassist synth sample models/people --rows 100000 --out big.json
  devassist synth sample models/people --rows 5 --seed 3            # to stdout
"""


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
    """`devassist synth sample MODEL_DIR --rows N [--out FILE] [--seed K]`."""
    parser = argparse.ArgumentParser(prog="devassist synth sample", epilog=SAMPLE_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Sample rows from a saved synthesizer (onnxruntime only).")
    parser.add_argument("model_dir", type=Path, help="directory written by `devassist synth ... --save`")
    parser.add_argument("--rows", type=int, required=True, help="number of rows to write (0 or more)")
    parser.add_argument("--out", type=Path, help="output file (default: stdout)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be 0 or more")
    from devassist.server.synth_runtime import SynthRuntime

    try:
        runtime = SynthRuntime(args.model_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out is not None:
        runtime.write(args.out, args.rows, args.seed)
        print(f"wrote {args.rows:,} rows to {args.out}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = runtime.write(Path(tmp) / "out", args.rows, args.seed)
        sys.stdout.write(path.read_text(encoding="utf-8"))
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
    parser.add_argument("--model", choices=("gan", "vae"), default="gan", help="conditional GAN (default) or TVAE")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="passes over the training rows")
    budget.add_argument("--time-budget", type=float, metavar="S",
                        help="fit (profile, train, export) within S seconds of wall-clock time")
    parser.add_argument("--seed", type=int, default=0, help="random seed for training and sampling")
    parser.add_argument("--save", type=Path, metavar="MODEL_DIR", help="keep the trained synthesizer here")
    parser.add_argument("--max-train-rows", type=int, default=50_000, help="subsample bigger fixtures to this")
    parser.add_argument("--progress-json", action="store_true", help="JSON events on stdout (for the LSP server)")
    return parser


def train_main(argv: list[str]) -> int:
    """Train on FIXTURE and write --rows synthetic rows."""
    args = build_parser().parse_args(argv)
    events = Events(args.progress_json)
    if args.rows < 0:
        events.emit("error", message="--rows must be 0 or more", code="bad_input")
        return EXIT_BAD_INPUT
    out = args.out or default_output(args.fixture)
    if out.resolve() == args.fixture.resolve():
        events.emit("error", message=f"--out {out} is the fixture itself; it is never overwritten", code="bad_input")
        return EXIT_BAD_INPUT
    from devassist.training.tabular.table_io import FixtureError, read_table

    try:
        table = read_table(args.fixture)
    except FixtureError as exc:
        events.emit("error", message=str(exc), code="bad_input")
        return EXIT_BAD_INPUT
    if args.rows == 0:
        write_empty(out, table)
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
    epochs, budget = args.epochs, args.time_budget
    if epochs is None and budget is None:
        epochs, budget = DEFAULT_EPOCHS, DEFAULT_BUDGET_S
    events.progress(2, f"read {len(table.rows):,} rows")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.save or Path(tmp)
        spec = fit_synthesizer(table, model_dir, args.model, epochs, budget, args.seed, args.max_train_rows,
                               progress=lambda f, m: events.progress(5 + 85 * f, m),
                               log=lambda m: events.emit("note", message=m))
        events.progress(95, "sampling")
        from devassist.server.synth_runtime import SynthRuntime

        SynthRuntime(model_dir).write(out, args.rows, args.seed)
    events.progress(100, "done")
    events.close()
    train = spec.get("train", {})
    events.emit("note", message=f"trained {args.model} for {train.get('steps', 0)} steps in {spec['fit_s']:.1f} s; "
                                f"wrote {args.rows:,} rows to {out}")
    events.emit("done", out=str(out), rows=args.rows, fit_s=spec["fit_s"])
    return 0


def write_empty(out: Path, table) -> None:
    """The output for --rows 0: a CSV header, an empty JSON array or an empty JSON Lines file."""
    if table.fmt == "csv":
        import csv

        with open(out, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, **table.csv_options).writerow(table.columns)
    else:
        out.write_text("[]\n" if table.fmt == "json" else "", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point: `synth sample ...` samples a saved model, anything else trains."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sample":
        return sample_main(argv[1:])
    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
