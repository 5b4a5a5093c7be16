"""`devassist learn`: adapt the served bundle to one workspace, kept in the user's cache.

The workspace's Python files are split by file (a fixed hash of each path; 20 % held out, at
least one file); the model fine-tunes on the others within a time budget that covers the whole
run. Before and after, the same held-out measure runs: ghost text at seeded typing spots of the
held-out files through the server's own completion engine (the `useful` share of
`devassist evaluate typing`, without the editor round trips), with next-token accuracy as the
tie-break. The adapted bundle is published only when it is better, in
`$XDG_CACHE_HOME/devassist/workspaces/<hash>/bundle` with `record.json` beside it (see
`server/workspace_cache.py`); the base bundle is never touched. The language server runs this
module as a subprocess for `devassist.learnWorkspace` (`--progress-json`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

EPILOG = """examples:
  devassist learn                          # the current folder, with the shipped bundle, 10 minutes
  devassist learn ~/src/myproject --time-budget 300
  devassist learn . --bundle ~/bundles/base --spots 120
  devassist learn runs/flask --keep        # keep the result even if worse, to measure it yourself
  devassist learn runs/flask --max-steps 60 --keep   # stop after 60 steps, to compare recipes at equal work
  devassist serve                          # started in ~/src/myproject, it uses the adapted bundle

The adapted bundle is kept in ~/.cache/devassist/workspaces/<hash>/ (or under $XDG_CACHE_HOME)
only when it measured better on the held-out files; the server started on that workspace picks
it up as long as it serves the same base bundle.
"""

EXIT_NO_EXTRA = 3  # the training extra is missing (the server turns this into an install hint)
EXTRA_HINT = "learning a workspace needs the training extra: pip install 'devassist[train]'"
TRAINING_MODULES = ("torch", "transformers", "safetensors", "onnx", "optimum", "tqdm", "onnxscript")
EXPORT_S_PER_MPARAM = 6.0  # measured ONNX export + int8 + parity time per million parameters (2 cores)
MEASURE_BUDGET_MS = 5000  # per spot: the measure must not depend on the machine's load


class Progress:
    """Overall progress as a share of the time budget: a tqdm bar, or JSON lines for the server.

    Every part of the run is bounded by the budget, so elapsed/budget is honest progress; a
    ticker thread keeps it moving while training runs.
    """

    def __init__(self, budget_s: float, as_json: bool):
        """Start the clock."""
        from devassist.training.tabular.cli import Events

        self.events, self.budget_s, self.start = Events(as_json), budget_s, time.monotonic()
        self.message, self.lock, self.stopped = "starting", threading.Lock(), threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def stage(self, message: str) -> None:
        """A new stage of the run."""
        self.message = message
        self._emit()

    def emit(self, event: str, **fields) -> None:
        """A note, error or the final result."""
        with self.lock:
            self.events.emit(event, **fields)

    def _emit(self) -> None:
        with self.lock:
            self.events.progress(min(99, 100 * self.elapsed / self.budget_s), self.message)

    def _tick(self) -> None:
        while not self.stopped.wait(1.0):
            self._emit()

    def close(self) -> None:
        """Stop the ticker and the bar."""
        self.stopped.set()
        self.ticker.join()
        self.events.close()


def missing_training_module() -> str | None:
    """The first training dependency that cannot be imported, or None."""
    for name in ("torch", "transformers", "safetensors", "onnx"):
        try:
            __import__(name)
        except ModuleNotFoundError as exc:
            return exc.name or name
    return None


def busy_threads() -> int | None:
    """1 when the machine already runs more work than it has cores, else None (the default).

    Two threads then wait on each other at every operation: on a 2-core machine at load 15,
    a training step took 4.0 s with 2 threads and 0.15 s with 1 (tiny model), 69 s and 35 s (7M).
    """
    try:
        return 1 if os.getloadavg()[0] >= (os.cpu_count() or 1) else None
    except OSError:
        return None


def spot_document(spot) -> tuple[str, int]:
    """The document after a spot's keystrokes, and the cursor offset in it."""
    lines = spot.before.split("\n")
    line = lines[spot.line]
    lines[spot.line] = line[:spot.col_before] + "".join(spot.keystrokes) + line[spot.col_before:]
    offset = sum(len(text) + 1 for text in lines[:spot.line]) + spot.cursor_col
    return "\n".join(lines), offset


def ghost_text_measure(bundle, files: list[tuple[str, str]], spots: int, seed: int) -> dict:
    """useful / exact share (%) of the engine's suggestions at seeded typing spots of `files`,
    judged as `devassist evaluate typing` judges what an editor shows."""
    from devassist.evaluation.typing import judge
    from devassist.evaluation.typing_spots import KINDS, sample_spots
    from devassist.server.features.completion import CompletionEngine
    from devassist.server.runtime.lm import LanguageModel
    from devassist.server.settings import CompletionSettings

    defaults = bundle.manifest.get("defaults", {})
    component = defaults.get("completion_component", "lm")
    lm = LanguageModel(bundle, component=component if bundle.has(component) else "lm", threads=busy_threads())
    engine = CompletionEngine(lm, use_fim=bool(defaults.get("fim", True)))
    settings = CompletionSettings(time_budget_ms=MEASURE_BUDGET_MS, cache_mix=float(defaults.get("cache_mix", 0.0)))
    chosen = sample_spots(files, max(1, math.ceil(spots / len(KINDS))), seed)
    useful = exact = 0
    for i, spot in enumerate(chosen):
        text, offset = spot_document(spot)
        suggestion = engine.complete(text, offset, settings, uri=f"spot:{i}")
        verdict = judge(suggestion.text if suggestion else "", spot.rest)
        useful, exact = useful + verdict["useful"], exact + verdict["exact"]
    share = lambda n: round(100.0 * n / max(len(chosen), 1), 1)  # noqa: E731
    return {"spots": len(chosen), "useful_pct": share(useful), "exact_pct": share(exact)}


NOISE_SPOTS = 5  # a change of this many spots' verdicts is noise, not a verdict of its own


def is_better(before: dict, after: dict) -> bool:
    """Clearly more useful suggestions; within the measure's noise, a higher next-token accuracy.

    The spots are few (60 by default) and judge only the finished keystrokes, so up to
    NOISE_SPOTS of them decide nothing: on flask they said 1, 1, 3 and 4 spots fewer where
    `evaluate typing`'s 180 typed spots said +4.4, +6.1, +7.8 and +6.1 points, and next-token
    accuracy (+4.4, +2.9, +3.9, +4.6) agreed with the latter each time.
    """
    noise = 100.0 * NOISE_SPOTS / max(int(before.get("spots", 60)), 1)
    gain = after["useful_pct"] - before["useful_pct"]
    if abs(gain) > noise + 1e-9:
        return gain > 0
    return after["next_token_accuracy"] > before["next_token_accuracy"]


EPOCHS = 8.0  # passes over the workspace's own tokens; more only memorises them (EXPERIMENTS.md)


def learn_config(base, train_s: float, max_steps: int = 100000, train_tokens: int = 0):
    """The fine-tuning recipe for a workspace: `finetune_config`, with samples shaped like the
    prompts the bundle is served with, for at most EPOCHS passes over `train_tokens` (see
    training/EXPERIMENTS.md, "Learning a workspace")."""
    from devassist.training.finetune import finetune_config

    cfg = finetune_config(base, train_s, max_steps)
    cfg.train.lr, cfg.train.min_lr = 1e-4, 1e-5  # a gentler step memorises the few files later (EXPERIMENTS.md)
    if not base.manifest.get("defaults", {}).get("fim", True):
        cfg.data.fim_rate = 0.0  # the server never sends this bundle a FIM prompt
    if train_tokens:
        # A workspace is small: at lr 3e-4 flask's held-out loss was lowest after ~3.4 passes and
        # rose from there; at 1e-4 it was lower still and flat from 5 to 10 passes.
        per_step = cfg.train.batch_size * cfg.model.context_length
        steps = math.ceil(EPOCHS * train_tokens / per_step)
        cfg.train.max_steps = min(max_steps, max(cfg.train.warmup_steps + 1, steps))
    return cfg


def count_tokens(tokenizer_path: Path, texts: list[str]) -> int:
    """How many tokens the texts make (the training stream, less its end-of-text separators)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    return sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))


class NotBetter(Exception):
    """The adapted model measured no better; its staging folder is discarded."""


def learn(bundle_dir: Path, workspace: Path, budget_s: float, progress: Progress, spots: int = 60,
          held_out_percent: int = 20, seed: int = 0, eval_tokens: int = 20000, keep: bool = False,
          max_steps: int = 100000) -> dict:
    """Fine-tune on `workspace`, measure before/after, publish to the cache when better (or with
    `keep`, always, marked not adopted so no server uses it); the record. Training stops at the
    time budget or after `max_steps`, whichever comes first."""
    from devassist.export.staging import scratch_folder, staged_folder
    from devassist.server.bundle import load_bundle
    from devassist.server.safe_io import write_atomic
    from devassist.server.workspace_cache import BUNDLE, RECORD, bundle_sha, workspace_dir
    from devassist.training.corpus import build_corpus
    from devassist.training.finetune import checkpoint_dir, export_like, held_out_accuracy, resplit
    from devassist.training.train import train

    import torch

    if busy_threads():
        torch.set_num_threads(1)  # for the held-out accuracy too (the training sets its own)
    base = load_bundle(bundle_dir)
    cache = workspace_dir(workspace)
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / BUNDLE
    record = {"workspace": str(workspace), "base_bundle": {"name": base.name, "root": str(base.root.resolve()),
                                                           "sha256": bundle_sha(base.root)}}
    quiet = lambda *_: None  # noqa: E731 - the progress bar speaks for the stages
    # Built in bundle.partial, worked in bundle.work.partial: an error, a signal or a worse
    # result removes both and leaves any earlier adapted bundle as it was.
    with staged_folder(out) as staging, scratch_folder(out, "work") as work:
        progress.stage("reading the workspace")
        base_ckpt = checkpoint_dir(base, work / "base")
        build_corpus([workspace], work / "corpus", progress=False)
        rows = resplit(work / "corpus", held_out_percent)
        train_rows = [r for r in rows if r["split"] == "train"]
        held = [(r["path"], r["text"]) for r in rows if r["split"] != "train"]
        if not train_rows or not held:
            raise SystemExit(f"{workspace}: needs at least two Python files (found {len(rows)})")
        record.update(train_files=len(train_rows), held_out_files=sorted(p for p, _ in held))
        progress.stage(f"measuring the current model on {len(held)} held-out files")
        measure_start = time.monotonic()
        before = ghost_text_measure(base, held, spots, seed)
        before["next_token_accuracy"] = held_out_accuracy(base_ckpt, base.tokenizer_path, [t for _, t in held], eval_tokens)
        measure_s = time.monotonic() - measure_start
        params_m = (base_ckpt / "model.safetensors").stat().st_size / 4e6  # fp32 weights
        reserve = measure_s + 5 + EXPORT_S_PER_MPARAM * params_m
        # At least a quarter of the budget trains, even when a loaded machine made measuring slow.
        train_s = max(0.25 * budget_s, budget_s - progress.elapsed - reserve)
        progress.stage(f"training on {len(train_rows)} files for {train_s:.0f} s")
        cfg = learn_config(base, train_s, max_steps, count_tokens(base.tokenizer_path, [r["text"] for r in train_rows]))
        cfg.train.threads = busy_threads() or cfg.train.threads
        (work / "tokenizer.json").write_bytes(base.tokenizer_path.read_bytes())
        run = train(cfg, work / "run", corpus=work / "corpus", tokenizer=work / "tokenizer.json", quiet=True,
                    init_dir=base_ckpt)
        progress.stage("exporting the adapted model")
        export_start = time.monotonic()
        export_like(base, work / "run", staging, f"{base.name}+{workspace.name}", quiet)
        export_s = time.monotonic() - export_start
        progress.stage("measuring the adapted model")
        after = ghost_text_measure(load_bundle(staging, partial_ok=True), held, spots, seed)
        after["next_token_accuracy"] = held_out_accuracy(work / "run", base.tokenizer_path, [t for _, t in held], eval_tokens)
        record.update(metrics={"before": before, "after": after}, steps=run["step"], train_s=run["wall_time_s"],
                      wall_s=round(progress.elapsed, 1), measure_s=round(measure_s, 1), export_s=round(export_s, 1),
                      spots=spots, seed=seed,
                      date=datetime.now(timezone.utc).isoformat(timespec="seconds"), bundle=BUNDLE)
        record["adopted"] = is_better(before, after)
        if not record["adopted"] and not keep:
            raise NotBetter(json.dumps(record))
        progress.stage("switching to the adapted model")
    write_atomic(cache / RECORD, json.dumps(record, indent=2) + "\n", overwrite=True)
    record["bundle"] = str(out)
    return record


def summary(record: dict) -> str:
    """One line for people: before -> after, and what happened."""
    b, a = record["metrics"]["before"], record["metrics"]["after"]
    verdict = (f"now serving {record['bundle']}" if record["adopted"]
               else "not better, so the current model stays" + (f" (kept in {record['bundle']})" if "/" in record["bundle"] else ""))
    return (f"learnt {Path(record['workspace']).name} in {record['wall_s']:.0f} s ({record['steps']} steps): "
            f"useful ghost text on {len(record['held_out_files'])} held-out files {b['useful_pct']:.1f}% -> "
            f"{a['useful_pct']:.1f}% ({a['spots']} spots), next-token accuracy {b['next_token_accuracy']:.1f}% -> "
            f"{a['next_token_accuracy']:.1f}%; {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist learn", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", nargs="?", type=Path, default=Path("."), help="the workspace folder (default: .)")
    parser.add_argument("--bundle", type=Path, help="the bundle to adapt (default: the shipped one)")
    parser.add_argument("--time-budget", type=float, default=600.0,
                        help="seconds for the whole run, measuring and export included (default %(default)s)")
    parser.add_argument("--spots", type=int, default=60, help="typing spots measured on the held-out files")
    parser.add_argument("--held-out-percent", type=int, default=20, help="share of the files held out (by file)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the typing spots")
    parser.add_argument("--max-steps", type=int, default=100000,
                        help="stop training after this many steps (to compare recipes at equal work)")
    parser.add_argument("--keep", action="store_true", help="keep the adapted bundle even when it is not better "
                        "(the server still does not use it; for measuring it with `devassist evaluate typing`)")
    parser.add_argument("--progress-json", action="store_true", help="JSON lines on stdout (for the language server)")
    args = parser.parse_args(argv)
    progress = Progress(max(args.time_budget, 1.0), args.progress_json)
    try:
        return _run(args, progress)
    finally:
        progress.close()


def _run(args: argparse.Namespace, progress: Progress) -> int:
    """`main` after parsing: checks, the run, one result event or line."""
    from devassist.server.bundle import BundleError, default_bundle_path

    def fail(code: str, message: str, status: int) -> int:
        progress.emit("error", code=code, message=message)  # on stderr without --progress-json
        return status

    missing = missing_training_module()
    if missing:
        return fail("missing_extra", f"{EXTRA_HINT} ({missing} is missing)", EXIT_NO_EXTRA)
    workspace = args.workspace.resolve()
    if not workspace.is_dir():
        return fail("bad_workspace", f"{args.workspace} is not a folder", 2)
    from devassist.export.staging import UnsafeOutput

    try:
        record = learn(args.bundle or default_bundle_path(), workspace, args.time_budget, progress, args.spots,
                       args.held_out_percent, args.seed, keep=args.keep, max_steps=args.max_steps)
    except NotBetter as exc:
        record = json.loads(str(exc))
    except (BundleError, UnsafeOutput) as exc:
        return fail("error", str(exc), 1)
    except SystemExit as exc:
        if isinstance(exc.code, str):  # e.g. too few files, or a bundle without its checkpoint
            return fail("error", exc.code, 2)
        raise
    except KeyboardInterrupt as exc:
        return fail("interrupted", f"{exc or 'interrupted'}; nothing was kept", 130)
    progress.emit("done", record=record)
    if not args.progress_json:
        print(summary(record))
    return 0
