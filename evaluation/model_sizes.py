"""What a bigger model costs to serve on this machine: int8 ONNX size and per-token latency by shape.

Weights are random (latency and file size do not depend on them), so this says which shapes fit
the typing budget before any GPU time is spent training them; accuracy needs the trained model.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

# name -> (n_layer, n_head, n_embd); the vocabulary and context are the shipped model's.
SHAPES = {"7M (shipped shape)": (6, 4, 256), "21M": (10, 6, 384), "42M": (12, 8, 512)}
VOCAB, CONTEXT = 8192, 512

EPILOG = """examples:
  devassist evaluate sizes                   # the three shapes, 2 threads
  devassist evaluate sizes --json --steps 100
"""


def build(shape: tuple[int, int, int], out: Path) -> tuple[Path, int]:
    """A random-init GPT-2 of `shape` exported as the server's int8 LM graph; (path, parameters)."""
    import torch
    from transformers import GPT2LMHeadModel

    from devassist.export.onnx import export_lm, quantize_int8
    from devassist.training.lm import ModelConfig, hf_config

    n_layer, n_head, n_embd = shape
    torch.manual_seed(0)
    model = GPT2LMHeadModel(hf_config(ModelConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                                                  context_length=CONTEXT), VOCAB, 0))
    run = out / "run"
    model.save_pretrained(run)
    fp32, int8 = out / "lm.onnx", out / "lm_int8.onnx"
    export_lm(run, fp32)
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # the quantizer warns once per untyped tensor
    try:
        quantize_int8(fp32, int8)
    finally:
        root.setLevel(level)
    return int8, sum(p.numel() for p in model.parameters())


def measure(path: Path, shape: tuple[int, int, int], steps: int, prompt: int, threads: int) -> dict:
    """Median/p95 ms of one decoding step after `prompt` tokens, and of the prompt's prefill."""
    from devassist.server.runtime.session import create_session

    n_layer, n_head, n_embd = shape
    session = create_session(path, threads=threads, prefer_gpu=False)
    names = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(0)

    def run(ids: np.ndarray, past_len: int, past: dict | None):
        feeds = dict(past) if past else {f"past_key_values.{i}.{kv}": np.zeros((1, n_head, 0, n_embd // n_head), np.float32)
                                         for i in range(n_layer) for kv in ("key", "value")}
        feeds["input_ids"] = ids[None, :]
        feeds["attention_mask"] = np.ones((1, past_len + len(ids)), np.int64)
        feeds["position_ids"] = np.arange(past_len, past_len + len(ids), dtype=np.int64)[None, :]
        outputs = session.run(names, {k: v for k, v in feeds.items() if k in {i.name for i in session.get_inputs()}})
        return {n.replace("present", "past_key_values"): v for n, v in zip(names[1:], outputs[1:])}

    ids = rng.integers(0, VOCAB, prompt, dtype=np.int64)
    prefill = []
    for _ in range(6):
        started = time.perf_counter()
        past = run(ids, 0, None)
        prefill.append((time.perf_counter() - started) * 1000)
    step = []
    for n in range(steps + 5):  # the first five are warm-up
        started = time.perf_counter()
        run(rng.integers(0, VOCAB, 1, dtype=np.int64), prompt, past)  # same past: a fixed context length
        if n >= 5:
            step.append((time.perf_counter() - started) * 1000)
    step.sort()
    return {"prefill_ms_median": round(statistics.median(prefill[1:]), 1),
            "step_ms_median": round(statistics.median(step), 2), "step_ms_p95": round(step[int(0.95 * (len(step) - 1))], 2)}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist evaluate sizes", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="timed decoding steps per shape (default 60)")
    parser.add_argument("--prompt", type=int, default=256, help="prompt tokens before the steps (default 256)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads (default 2)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    for name, shape in SHAPES.items():
        with tempfile.TemporaryDirectory(prefix="devassist-sizes-") as tmp:
            path, params = build(shape, Path(tmp))
            row = {"model": name, "layers x width": f"{shape[0]}x{shape[2]}", "parameters_m": round(params / 1e6, 1),
                   "int8_mb": round(path.stat().st_size / 1e6, 1)}
            row.update(measure(path, shape, args.steps, args.prompt, args.threads))
        rows.append(row)
        if not args.json:
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"rows": rows, "load_average_1m": round(load, 2)}, indent=2))
    else:
        print(f"load average (1 min): {load:.2f}")
    return 0
