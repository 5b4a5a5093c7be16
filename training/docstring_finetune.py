"""Fine-tune the completion model on docstring fill-in-the-middle examples.

Starts from a `devassist train` run folder (GPT-2 + tokenizer) and trains on the examples of
`training/docstring_data.py` with the loss on the middle (the first sentence and end-of-text)
only. Writes a run folder of the same shape, so `export/docstring_export.py` (and the lead's
export and parity tools) take it as is.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

EPILOG = """examples:
  python -m devassist.training.docstring_finetune --run runs/default --examples runs/docstring/examples.npz \\
      --out runs/docstring --epochs 3                    # a GPU takes about a minute
  python -m devassist.training.docstring_finetune --run runs/tiny --examples ex.npz --out /tmp/ds --max-steps 5
"""


def load_examples(path: Path) -> list[tuple[np.ndarray, int]]:
    """(token ids, prompt length) per example."""
    data = np.load(path, allow_pickle=False)
    tokens, pl, tl = data["tokens"].astype(np.int64), data["prompt_len"], data["target_len"]
    out, at = [], 0
    for p, t in zip(pl, tl):
        out.append((tokens[at : at + p + t], int(p)))
        at += p + t
    return out


def batches(examples, batch_size: int, pad_id: int, rng: np.random.Generator):
    """Shuffled (input_ids, labels, attention_mask) batches; similar lengths batched together."""
    order = rng.permutation(len(examples))
    # sort within chunks of 50 batches by length: less padding, still random
    chunk = batch_size * 50
    for c in range(0, len(order), chunk):
        part = sorted(order[c : c + chunk], key=lambda i: len(examples[i][0]))
        groups = [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
        rng.shuffle(groups)
        for g in groups:
            width = max(len(examples[i][0]) for i in g)
            ids = np.full((len(g), width), pad_id, dtype=np.int64)
            labels = np.full((len(g), width), -100, dtype=np.int64)
            mask = np.zeros((len(g), width), dtype=np.int64)
            for r, i in enumerate(g):
                seq, p = examples[i]
                ids[r, : len(seq)] = seq
                labels[r, p : len(seq)] = seq[p:]  # predict the middle and <eot> only
                mask[r, : len(seq)] = 1
            yield ids, labels, mask


def finetune(run: Path, examples_file: Path, out: Path, epochs: float = 3.0, batch_size: int = 32,
             lr: float = 5e-4, time_budget_s: float = 0.0, max_steps: int = 0, device: str | None = None,
             valid_share: float = 0.02, seed: int = 0, quiet: bool = False, init: dict | None = None,
             threads: int = 0, bf16: bool | None = None) -> dict:
    """Train and save; returns the record written to run.json."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if init is not None:  # a fresh docstring model of its own size, with the run's tokenizer
        from devassist.training.lm import ModelConfig, hf_config
        from devassist.training.tokenizer import special_ids
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(run / "tokenizer.json"))
        model = GPT2LMHeadModel(hf_config(ModelConfig(**init), tok.get_vocab_size(), special_ids(tok)["eot"]))
    else:
        model = GPT2LMHeadModel.from_pretrained(str(run))
    model = model.to(device).train()
    if threads:
        torch.set_num_threads(threads)
    examples = load_examples(examples_file)
    if len(examples) < 2:  # an empty epoch would loop for ever
        raise ValueError(f"{examples_file} holds {len(examples)} examples; at least 2 are needed")
    with np.load(examples_file, allow_pickle=False) as meta:
        prompt_cfg = {k: int(meta[k][0]) for k in ("max_prompt_tokens", "max_new_tokens", "hints") if k in meta}
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(examples))
    n_valid = max(1, int(len(examples) * valid_share))
    valid = [examples[i] for i in idx[:n_valid]]
    train = [examples[i] for i in idx[n_valid:]]
    pad = int(model.config.eos_token_id or 0)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total = max_steps or max(1, int(steps_per_epoch * epochs))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    use_bf16 = device == "cuda" if bf16 is None else bf16

    def loss_of(ids, labels, mask):
        ids, labels, mask = (torch.from_numpy(a).to(device) for a in (ids, labels, mask))
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=use_bf16):
            hidden = model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, d)
            target = labels[:, 1:]
            keep = target != -100  # the head only where a target token is predicted: most of the
            logits = model.lm_head(hidden[:, :-1][keep])  # sequence is prompt   # (N, V)
        return F.cross_entropy(logits.float(), target[keep])

    def valid_loss() -> float:
        model.eval()
        losses = []
        with torch.no_grad():
            for b in batches(valid, batch_size, pad, np.random.default_rng(0)):
                losses.append(loss_of(*b).item())
        model.train()
        return float(np.mean(losses))

    before = valid_loss()
    start, step, ema = time.perf_counter(), 0, None
    bar = tqdm(total=total, desc="docstring finetune", unit="step", disable=quiet, file=sys.stderr)
    done = False
    while not done:
        for b in batches(train, batch_size, pad, rng):
            warm = min(1.0, (step + 1) / 50)
            frac = step / total if not time_budget_s else max(step / total, (time.perf_counter() - start) / time_budget_s)
            for g in opt.param_groups:
                g["lr"] = lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
            loss = loss_of(*b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.3f}")
            if step >= total or (time_budget_s and time.perf_counter() - start >= time_budget_s):
                done = True
                break
    bar.close()
    after = valid_loss()
    out.mkdir(parents=True, exist_ok=True)
    model.to("cpu").save_pretrained(str(out), safe_serialization=True)
    shutil.copy(run / "tokenizer.json", out / "tokenizer.json")
    base = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() and init is None else {}
    if init is not None:
        base = {"config": {"model": init}, "n_params": sum(p.numel() for p in model.parameters())}
    record = {
        **{k: base[k] for k in ("config", "n_params", "corpus", "corpus_sha256") if k in base},
        "base_run": "none (trained from scratch)" if init is not None else str(run), "base_step": base.get("step"),
        "docstring_finetune": {
            **prompt_cfg, "examples": len(train), "valid_examples": len(valid), "steps": step, "batch_size": batch_size,
            "lr": lr, "epochs": round(step / steps_per_epoch, 2), "middle_loss_before": round(before, 4),
            "middle_loss_after": round(after, 4), "wall_time_s": round(time.perf_counter() - start, 1),
            "hardware": f"{device}: {torch.cuda.get_device_name() if device == 'cuda' else platform.machine()}, torch {torch.__version__}",
        },
        "step": step, "train_loss": round(ema or float("nan"), 4), "valid_loss": round(after, 4),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if not quiet:
        print(f"docstring finetune: {step} steps, middle loss {before:.3f} -> {after:.3f} -> {out}")
    return record


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(prog="python -m devassist.training.docstring_finetune", description=__doc__.splitlines()[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="base run folder (model.safetensors, config.json, tokenizer.json)")
    p.add_argument("--examples", type=Path, required=True, help="npz from training/docstring_data.py")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--time-budget", type=float, default=0.0, help="seconds; 0 = no limit")
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--device", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0, help="shuffling seed (a new one when continuing a run)")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="default: on CUDA only")
    p.add_argument("--init", metavar="LAYERS,HEADS,EMBD,CONTEXT",
                   help="train a fresh model of this shape (only --run's tokenizer is used)")
    args = p.parse_args(argv)
    init = None
    if args.init:
        n_layer, n_head, n_embd, ctx = (int(x) for x in args.init.split(","))
        init = {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd, "context_length": ctx}
    try:
        finetune(args.run, args.examples, args.out, args.epochs, args.batch_size, args.lr, args.time_budget,
                 args.max_steps, args.device, seed=args.seed, init=init, threads=args.threads, bf16=args.bf16)
    except ValueError as exc:
        print(f"docstring finetune: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
