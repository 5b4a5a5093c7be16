"""`devassist train`: train the completion model from a TOML config into a run folder.

A run folder describes itself: `model.safetensors` + `config.json` (transformers GPT-2),
`tokenizer.json`, `run.json` (the full config, step, losses, wall time, corpus hash, hardware)
and `optimizer.safetensors` (AdamW state, so `--resume` continues exactly). They are written to
temp names and renamed into place, run.json last, so a run interrupted while saving keeps the
previous checkpoint whole.

Under `torchrun --nproc_per_node K` the loop runs in K processes (DDP, `training/distributed.py`):
the config's batch_size stays the global batch, split K ways; rank 0 logs and saves.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from devassist.training.distributed import ProcessGroup, join_from_env
from devassist.training.lm import RunConfig, SampleMaker, fixed_windows, hf_config, token_stream

EPILOG = """examples:
  devassist train --config training/configs/tiny.toml --out runs/tiny        # seconds
  torchrun --standalone --nproc_per_node 2 -m devassist.training.train --config training/configs/tiny.toml \\
      --out runs/tiny2 --loss-log runs/tiny2/losses.tsv                      # 2 processes (DDP), one global batch
  devassist train --config training/configs/default.toml --out runs/default  # the shipped recipe
  devassist train --config training/configs/default.toml --out runs/default --resume --time-budget 600
"""


def prepare_data(cfg: RunConfig, out: Path, corpus: Path | None, tokenizer_path: Path | None, quiet: bool):
    """Corpus, tokenizer and token streams (train, valid) for a run; cached in the run folder."""
    from tokenizers import Tokenizer

    from devassist.training.corpus import build_corpus, load_files, stdlib_root
    from devassist.training.tokenizer import special_ids, train_tokenizer

    corpus = corpus or (Path(cfg.data.corpus) if cfg.data.corpus else None)
    if corpus is None:
        corpus = out / "corpus"
        if not (corpus / "summary.json").exists():
            build_corpus([stdlib_root()], corpus, progress=not quiet)
    summary = json.loads((corpus / "summary.json").read_text())
    train_texts = [r["text"] for r in load_files(corpus, "train")]
    valid_texts = [r["text"] for r in load_files(corpus, "valid")] or train_texts[-1:]
    tok_file = out / "tokenizer.json"
    if tokenizer_path:
        tok = Tokenizer.from_file(str(tokenizer_path))
    elif tok_file.exists():
        tok = Tokenizer.from_file(str(tok_file))
    else:
        tok = train_tokenizer(train_texts, cfg.data.vocab_size)
    tok.save(str(tok_file))
    special = special_ids(tok)
    streams = {}
    for split, texts in (("train", train_texts), ("valid", valid_texts)):
        cache = out / f"tokens_{split}.npy"
        if cache.exists():
            streams[split] = np.load(cache, allow_pickle=False)
        else:
            streams[split] = token_stream(texts, tok, special["eot"])
            np.save(cache, streams[split], allow_pickle=False)
    return tok, special, streams, summary


def lr_at(step: int, cfg, time_frac: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to min_lr.

    Progress is the larger of steps done / max_steps and time spent / time budget, so a run
    stopped by its time budget still ends its schedule at min_lr.
    """
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, max((step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps), time_frac))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def save_optimizer(opt, model, path: Path) -> None:
    """AdamW state as safetensors (no pickle), keyed by parameter name."""
    from safetensors.torch import save_file

    names = {id(p): n for n, p in model.named_parameters()}
    tensors = {}
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p)
            if not state:
                continue
            n = names[id(p)]
            tensors[f"{n}.exp_avg"] = state["exp_avg"].contiguous()
            tensors[f"{n}.exp_avg_sq"] = state["exp_avg_sq"].contiguous()
            tensors[f"{n}.step"] = state["step"].reshape(1).float()
    save_file(tensors, str(path))


def load_optimizer(opt, model, path: Path) -> None:
    """Restore AdamW state written by `save_optimizer`."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    params = dict(model.named_parameters())
    for n, p in params.items():
        if f"{n}.exp_avg" in tensors:
            opt.state[p] = {
                "exp_avg": tensors[f"{n}.exp_avg"], "exp_avg_sq": tensors[f"{n}.exp_avg_sq"],
                "step": tensors[f"{n}.step"].reshape(()),
            }


def evaluate(model, windows: np.ndarray, batch_size: int, autocast) -> float:
    """Mean validation loss over fixed windows."""
    import torch

    model.eval()
    losses = []
    with torch.no_grad(), autocast():
        for i in range(0, len(windows), batch_size):
            x = torch.from_numpy(windows[i:i + batch_size].astype(np.int64)).to(next(model.parameters()).device)
            losses.append(_shifted_loss(model, x))
    model.train()
    return float(np.mean(losses)) if losses else float("nan")


def _shifted_loss(model, x):
    """Cross-entropy of predicting x[:, 1:] from x[:, :-1] (labels already shifted)."""
    import torch.nn.functional as F

    logits = model(input_ids=x[:, :-1]).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1)).item()


def train(cfg: RunConfig, out: Path, corpus: Path | None = None, tokenizer: Path | None = None,
          resume: bool = False, quiet: bool = False, device: str | None = None, init_dir: Path | None = None,
          loss_log: Path | None = None) -> dict:
    """Train (or resume) a run; returns the run record also written to run.json.

    `init_dir` (a folder with model.safetensors + config.json) starts from those weights
    instead of a random initialisation: that is fine-tuning. `loss_log` gets one line per step,
    `step<TAB>loss` (the global batch's loss, full precision). Under torchrun every process
    trains its share of each batch (`training/distributed.py`).
    """
    device = device or _default_device()
    group = join_from_env(device)
    try:
        return _train(cfg, out, corpus, tokenizer, resume, quiet or not group.is_main, device, init_dir, loss_log, group)
    finally:
        group.close()


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _train(cfg: RunConfig, out: Path, corpus: Path | None, tokenizer: Path | None, resume: bool, quiet: bool,
           device: str, init_dir: Path | None, loss_log: Path | None, group: ProcessGroup) -> dict:
    """The training loop of `train`, in one process of `group`."""
    import contextlib

    import torch
    import torch.nn.functional as F
    from tqdm import tqdm
    from transformers import GPT2LMHeadModel

    out.mkdir(parents=True, exist_ok=True)
    tc = cfg.train
    if tc.batch_size % group.world_size:
        raise ValueError(f"batch_size {tc.batch_size} does not split over {group.world_size} processes")
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    if group.active and device.startswith("cuda"):
        device = f"cuda:{group.local_rank}"
    if not group.is_main:  # rank 0 tokenizes and caches first; the others read its files
        group.barrier()
    tok, special, streams, summary = prepare_data(cfg, out, corpus, tokenizer, quiet)
    if group.is_main:
        group.barrier()
    record = json.loads((out / "run.json").read_text()) if resume and (out / "run.json").exists() else {}
    if resume and (out / "model.safetensors").exists():
        model = GPT2LMHeadModel.from_pretrained(str(out))
    elif init_dir is not None:
        # The run's dropout, not the checkpoint's: a fine-tune on a few files may want some.
        drop = cfg.model.dropout
        model = GPT2LMHeadModel.from_pretrained(str(init_dir), dtype=torch.float32, resid_pdrop=drop,
                                                embd_pdrop=drop, attn_pdrop=drop)
        record = {}
    else:
        model = GPT2LMHeadModel(hf_config(cfg.model, tok.get_vocab_size(), special["eot"]))
        record = {}
    model.to(device).train()
    # The same seed gives every rank the same initial weights; DDP also broadcasts rank 0's.
    trained = model
    if group.active:
        trained = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[group.local_rank] if device.startswith("cuda") else None)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tc.lr, betas=(0.9, 0.95))
    if resume and (out / "optimizer.safetensors").exists() and record:
        load_optimizer(opt, model, out / "optimizer.safetensors")
    step = int(record.get("step", 0))
    wall_before = float(record.get("wall_time_s", 0.0))
    tokens_seen = int(record.get("tokens_seen", 0))
    tokens_before = tokens_seen
    maker = SampleMaker(streams["train"], cfg.model.context_length, special, cfg.data.fim_rate,
                        cfg.data.spm_rate, tc.seed + step)
    valid = fixed_windows(streams["valid"], cfg.model.context_length, tc.eval_batches * tc.batch_size)
    use_bf16 = tc.bf16 and (device.startswith("cuda") or torch.backends.mkldnn.is_available())
    autocast = (lambda: torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext
    n_params = sum(p.numel() for p in model.parameters())
    history = record.get("history", [])
    start = time.perf_counter()
    bar = tqdm(total=tc.max_steps, initial=step, desc="train", unit="step", disable=quiet, file=sys.stderr)
    loss_ema = None
    valid_loss = record.get("valid_loss")
    loss_file = open(loss_log, "a" if resume else "w", encoding="utf-8") if loss_log and group.is_main else None
    while step < tc.max_steps:
        # Rank 0's clock decides for all ranks: they must stop together and share the schedule.
        time_frac = group.from_main((time.perf_counter() - start) / tc.time_budget_s) if tc.time_budget_s else 0.0
        if time_frac >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc, time_frac)
        batch = maker.batch(tc.batch_size)  # the global batch, the same on every rank
        x = torch.from_numpy(group.shard(batch).astype(np.int64)).to(device)
        with autocast():
            logits = trained(input_ids=x[:, :-1]).logits  # (B / world_size, T, V)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over ranks: the global batch's mean
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        step += 1
        tokens_seen += batch[:, :-1].size
        step_loss = group.mean(loss.item())
        if loss_file:
            loss_file.write(f"{step}\t{step_loss!r}\n")
        loss_ema = step_loss if loss_ema is None else 0.95 * loss_ema + 0.05 * step_loss
        elapsed = time.perf_counter() - start
        bar.update(1)
        bar.set_postfix(loss=f"{loss_ema:.3f}", tok_s=f"{(tokens_seen - tokens_before) / max(elapsed, 1e-9):.0f}")
        if group.is_main and (step % tc.eval_interval == 0 or step == tc.max_steps):
            valid_loss = evaluate(model, valid, tc.batch_size, autocast)
            history.append({"step": step, "train_loss": round(loss_ema, 4), "valid_loss": round(valid_loss, 4),
                            "wall_time_s": round(wall_before + elapsed, 1)})
            bar.write(f"step {step}: train loss {loss_ema:.3f}, valid loss {valid_loss:.3f}")
    bar.close()
    if loss_file:
        loss_file.close()
    elapsed = time.perf_counter() - start
    if not group.is_main:
        group.barrier()  # rank 0 is saving
        return {"step": step, "tokens_seen": tokens_seen, "rank": group.rank}
    if not history or history[-1]["step"] != step:
        valid_loss = evaluate(model, valid, tc.batch_size, autocast)
        history.append({"step": step, "train_loss": round(loss_ema or float("nan"), 4),
                        "valid_loss": round(valid_loss, 4), "wall_time_s": round(wall_before + elapsed, 1)})
    record = {
        "config": cfg.to_dict(), "step": step, "tokens_seen": tokens_seen,
        "train_loss": history[-1]["train_loss"], "valid_loss": history[-1]["valid_loss"],
        "wall_time_s": round(wall_before + elapsed, 1), "n_params": n_params,
        "corpus": summary.get("sources"), "corpus_sha256": summary.get("corpus_sha256"),
        "corpus_files": summary.get("files"), "train_tokens": int(len(streams["train"])),
        "hardware": f"{device}: {torch.cuda.get_device_name() if device.startswith('cuda') else platform.processor() or platform.machine()}, "
                    f"{torch.get_num_threads()} threads, torch {torch.__version__}"
                    + (f", {group.world_size} processes (DDP)" if group.active else ""),
        "history": history,
    }
    save_checkpoint(model, opt, record, out)
    group.barrier()
    return record


def save_checkpoint(model, opt, record: dict, out: Path) -> None:
    """Weights, optimizer state and run.json, each written beside its place and renamed in.

    run.json goes last, with SIGINT/SIGTERM held back during the renames: a run interrupted
    while saving keeps its previous checkpoint files, not half-written ones.
    """
    import shutil

    from devassist.export.staging import signals_held
    from devassist.server.safe_io import write_atomic

    tmp = out / ".checkpoint.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.to("cpu").save_pretrained(str(tmp), safe_serialization=True)
        save_optimizer(opt, model, tmp / "optimizer.safetensors")
        with signals_held():
            for path in sorted(tmp.iterdir()):
                path.replace(out / path.name)
            write_atomic(out / "run.json", json.dumps(record, indent=2) + "\n", overwrite=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist train", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="a TOML config (training/configs/*.toml)")
    parser.add_argument("--out", type=Path, required=True, help="the run folder")
    parser.add_argument("--corpus", type=Path, help="a `devassist corpus` folder (overrides the config)")
    parser.add_argument("--tokenizer", type=Path, help="reuse this tokenizer.json instead of training one")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    parser.add_argument("--max-steps", type=int, help="override [train] max_steps")
    parser.add_argument("--time-budget", type=float, help="override [train] time_budget_s (seconds)")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--loss-log", type=Path, help="write each step's loss here (step<TAB>loss)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = RunConfig.from_toml(args.config)
    except (OSError, ValueError) as exc:
        print(f"devassist train: {exc}", file=sys.stderr)
        return 2
    if args.max_steps:
        cfg.train.max_steps = args.max_steps
    if args.time_budget is not None:
        cfg.train.time_budget_s = args.time_budget
    rec = train(cfg, args.out, args.corpus, args.tokenizer, args.resume, args.quiet, args.device, loss_log=args.loss_log)
    if "rank" in rec:  # another process of a torchrun group: rank 0 reports
        return 0
    print(f"trained {rec['n_params']:,} parameters for {rec['step']} steps ({rec['tokens_seen']:,} tokens) "
          f"in {rec['wall_time_s']:.0f} s: train loss {rec['train_loss']:.3f}, valid loss {rec['valid_loss']:.3f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
