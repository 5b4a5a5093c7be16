"""`devassist finetune`: adapt a bundle's model to your own repository, within a time budget.

The repository is mined and split by file (the same hash split as `devassist corpus`), the
model trains on the train files only, and next-token accuracy on the held-out files is measured
before and after, so the gain is honest. The result is a new bundle that serves unchanged.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

EPILOG = """examples:
  devassist finetune --bundle models/default --source ~/src/myproject --out ~/bundles/myproject
  devassist finetune --bundle models/default --source . --out /tmp/mine --time-budget 120
  devassist serve --bundle ~/bundles/myproject

The new bundle is built in OUT.partial (and the work in OUT.work.partial) and renamed to OUT only
when complete; Ctrl-C or SIGTERM removes both and leaves OUT as it was.
"""

LM_COMPONENTS = {"lm", "lm_int8", "embed", "checkpoint", "lm_fp32_parity"}


def checkpoint_dir(bundle, dst: Path) -> Path:
    """The bundle's PyTorch weights as an fp32 transformers folder."""
    from safetensors.torch import load_file, save_file

    weights_path, config_path = find_checkpoint(bundle)
    weights = load_file(str(weights_path))
    dst.mkdir(parents=True, exist_ok=True)
    save_file({k: v.float().contiguous() for k, v in weights.items()}, str(dst / "model.safetensors"),
              metadata={"format": "pt"})
    shutil.copy(config_path, dst / "config.json")
    return dst


def find_checkpoint(bundle) -> tuple[Path, Path]:
    """(weights, config) of a bundle's PyTorch checkpoint: its `checkpoint` component, or the
    folder `<bundle>-checkpoint` beside it (kept outside so the served bundle stays small)."""
    if bundle.has("checkpoint"):
        weights_file, config_file = bundle.component("checkpoint")["files"]
        return bundle.path(weights_file), bundle.path(config_file)
    beside = Path(str(bundle.root.resolve()) + "-checkpoint")
    if (beside / "model.safetensors").is_file() and (beside / "config.json").is_file():
        return beside / "model.safetensors", beside / "config.json"
    raise SystemExit(f"{bundle.root}: this bundle ships no PyTorch checkpoint (and there is no {beside.name} "
                     "beside it), so it cannot be fine-tuned")


def resplit(corpus: Path, held_out_percent: int) -> list[dict]:
    """Re-split a corpus by file hash with a larger held-out share (a repository is small);
    at least one file is held out when there are two or more."""
    import hashlib

    from devassist.training.corpus import load_files

    rows = load_files(corpus)
    buckets = [int(hashlib.sha1(r["path"].encode("utf-8")).hexdigest(), 16) % 100 for r in rows]
    for r, bucket in zip(rows, buckets):
        r["split"] = "valid" if bucket >= 100 - held_out_percent else "train"
    if len(rows) > 1 and all(r["split"] == "train" for r in rows):  # a small repository: hold out one file
        rows[max(range(len(rows)), key=lambda i: (buckets[i], rows[i]["path"]))]["split"] = "valid"
    with open(corpus / "files.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return rows


def held_out_accuracy(model_dir: Path, tokenizer_path: Path, texts: list[str], max_tokens: int) -> float:
    """Next-token accuracy (%) of a PyTorch checkpoint on held-out texts."""
    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    tok = Tokenizer.from_file(str(tokenizer_path))
    ctx = model.config.n_positions
    hits = total = 0
    with torch.inference_mode():
        for text in texts:
            ids = tok.encode(text, add_special_tokens=False).ids[: max_tokens - total + 1]
            for start in range(0, max(1, len(ids) - 1), ctx):
                chunk = ids[start:start + ctx + 1]
                if len(chunk) < 2:
                    break
                x = torch.tensor([chunk])
                pred = model(input_ids=x[:, :-1]).logits[0].argmax(-1)
                hits += int((pred == x[0, 1:]).sum())
                total += len(chunk) - 1
            if total >= max_tokens:
                break
    return round(100.0 * hits / max(total, 1), 2)


def finetune_config(bundle, time_budget: float, max_steps: int = 100000):
    """The RunConfig that continues a bundle's model: its own model and data settings, a small lr."""
    from devassist.training.lm import RunConfig

    cfg = RunConfig()
    saved = bundle.manifest.get("training", {}).get("config", {})
    for section in ("model", "data"):
        for key, value in saved.get(section, {}).items():
            setattr(getattr(cfg, section), key, value)
    cfg.train.lr, cfg.train.min_lr, cfg.train.warmup_steps = 3e-4, 3e-5, 20
    cfg.train.batch_size, cfg.train.max_steps, cfg.train.time_budget_s = 8, max_steps, time_budget
    cfg.train.eval_interval, cfg.train.eval_batches = max(50, max_steps // 4), 4
    return cfg


def export_like(bundle, run: Path, staging: Path, name: str, log) -> None:
    """Export a fine-tuned run into `staging` as `bundle` was built (precisions, defaults), and
    carry the features' components (review, docstrings) over unchanged."""
    from devassist.export.bundle import add_component
    from devassist.export.cli import build_bundle

    comps = bundle.components
    build_bundle(run, staging, quantize="int8", embed=comps["embed"].get("precision") if "embed" in comps else None,
                 name=name, drop_fp32="lm_fp32_parity" in comps, checkpoint=True,
                 cache_mix=float(bundle.manifest.get("defaults", {}).get("cache_mix", 0.0)),
                 fim=bool(bundle.manifest.get("defaults", {}).get("fim", True)), log=log)
    # Review keeps its own signals graph, so its calibration stays consistent;
    # `devassist review calibrate` refits it on the new model.
    # A component named by another one (docstring -> docstring_lm) goes first: every re-seal checks references.
    named = {v for desc in comps.values() for v in desc.values() if isinstance(v, str) and v in comps}
    for comp_name, desc in sorted(comps.items(), key=lambda item: item[0] not in named):
        if comp_name not in LM_COMPONENTS:
            listed = bundle.manifest["files"]
            refs = [v for v in desc.values() if isinstance(v, str) and v in listed]
            refs += [r for v in desc.values() if isinstance(v, list) for r in v if isinstance(r, str) and r in listed]
            add_component(staging, comp_name, desc, {r: bundle.path(r) for r in refs})


def finetune(bundle_dir: Path, source: Path, out: Path, time_budget: float, max_steps: int,
             eval_tokens: int, quiet: bool = False) -> dict:
    """Fine-tune, export and report; returns the report (also in the new manifest)."""
    from devassist.export.bundle import add_component
    from devassist.export.staging import scratch_folder, staged_folder
    from devassist.server.bundle import load_bundle
    from devassist.server.safe_io import write_atomic
    from devassist.training.corpus import build_corpus
    from devassist.training.train import train

    bundle = load_bundle(bundle_dir)
    out = Path(out)
    log = (lambda *_: None) if quiet else (lambda line: print(line, flush=True))
    # The new bundle is built in OUT.partial and the work (corpus, run) in OUT.work.partial; an
    # exception, SIGINT or SIGTERM removes both and leaves OUT as it was.
    with staged_folder(out) as staging, scratch_folder(out, "work") as work:
        base = checkpoint_dir(bundle, work / "base")
        summary = build_corpus([source], work / "corpus", progress=not quiet)
        rows = resplit(work / "corpus", held_out_percent=20)
        train_files = [r for r in rows if r["split"] == "train"]
        held_out = [r["text"] for r in rows if r["split"] != "train"]
        if not train_files or not held_out:
            raise SystemExit(f"{source}: need Python files in both the train and held-out splits "
                             f"(found {len(train_files)} train, {len(held_out)} held out)")
        cfg = finetune_config(bundle, time_budget, max_steps)
        before = held_out_accuracy(base, bundle.tokenizer_path, held_out, eval_tokens)
        run = work / "run"
        shutil.copy(bundle.tokenizer_path, work / "tokenizer.json")
        record = train(cfg, run, corpus=work / "corpus", tokenizer=work / "tokenizer.json", quiet=quiet, init_dir=base)
        after = held_out_accuracy(run, bundle.tokenizer_path, held_out, eval_tokens)
        export_like(bundle, run, staging, out.name, log)
        report = {"source": str(source), "train_files": len(train_files), "held_out_files": len(held_out),
                  "steps": record["step"], "tokens_seen": record["tokens_seen"], "wall_time_s": record["wall_time_s"],
                  "held_out_next_token_accuracy": {"before": before, "after": after, "gain": round(after - before, 2)},
                  "corpus_files": summary["files"]}
        write_atomic(staging / "finetune.json", json.dumps(report, indent=2) + "\n")
        add_component(staging, "finetune_report", {"kind": "record", "file": "finetune.json"})
        log(f"publishing {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist finetune", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="the bundle to start from (needs its checkpoint)")
    parser.add_argument("--source", type=Path, required=True, help="your repository (Python files)")
    parser.add_argument("--out", type=Path, required=True, help="the new bundle folder")
    parser.add_argument("--time-budget", type=float, default=600.0, help="training seconds (default %(default)s)")
    parser.add_argument("--max-steps", type=int, default=100000, help="stop after this many steps")
    parser.add_argument("--eval-tokens", type=int, default=20000, help="held-out tokens scored before/after")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.source.exists():
        print(f"devassist finetune: {args.source} does not exist", file=sys.stderr)
        return 2
    from devassist.export.staging import UnsafeOutput
    from devassist.server.bundle import BundleError

    try:
        report = finetune(args.bundle, args.source, args.out, args.time_budget, args.max_steps, args.eval_tokens, args.quiet)
    except (BundleError, UnsafeOutput) as exc:
        print(f"devassist finetune: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM while the bundle was staged
        print(f"devassist finetune: {exc or 'interrupted'}; no partial bundle or work folder was left", file=sys.stderr)
        return 130
    acc = report["held_out_next_token_accuracy"]
    print(f"fine-tuned on {report['train_files']} files for {report['steps']} steps ({report['wall_time_s']:.0f} s): "
          f"held-out next-token accuracy {acc['before']:.1f}% -> {acc['after']:.1f}% ({acc['gain']:+.1f}) -> {args.out}")
    return 0
