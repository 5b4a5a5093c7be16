"""`devassist evaluate latency`: what an editor feels, and PyTorch vs ONNX Runtime on one checkpoint.

Part 1 drives the real server over stdio as an editor does while typing: at random mid-line
spots in real files the user types three characters of the real line (the rest of the line not
yet there); each keystroke sends didChange and a completion request, and the second keystroke's
request is cancelled by the third. Percentiles cover every answered request, and separately the
first keystroke at each new spot (no KV reuse, no cached suggestion).
It reports end-to-end latency percentiles of the answered requests, cold start to
`initialize`'s answer, and the server's peak RSS. Part 2 times greedy generation of the same
prompts with PyTorch eager, ONNX Runtime fp32 and ONNX Runtime int8, after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from lsprotocol import types

EPILOG = """examples:
  devassist evaluate latency --bundle models/default --json
  devassist evaluate latency --bundle models/default --requests 200 --no-pytorch
"""


def percentiles(values: list[float]) -> dict:
    """p50, p95, max and count, in ms."""
    if not values:
        return {"n": 0}
    arr = np.asarray(values)
    return {"p50_ms": round(float(np.percentile(arr, 50)), 1), "p95_ms": round(float(np.percentile(arr, 95)), 1),
            "max_ms": round(float(arr.max()), 1), "n": len(values)}


def typing_positions(files: list[tuple[str, str]], n: int, seed: int, keystrokes: int = 3) -> list[tuple[str, int, int]]:
    """(document text, cursor offset, keystroke index) as while typing: at n/keystrokes random
    mid-line spots in real code, the user types `keystrokes` characters of the real line."""
    rng = random.Random(seed)
    spots = []
    for _, text in files:
        offset = 0
        for line in text.split("\n"):
            s = line.strip()
            if len(s) >= 8 and not s.startswith("#"):
                lo = len(line) - len(line.lstrip()) + 1
                hi = len(line.rstrip()) - keystrokes
                if hi > lo:
                    spots.append((text, offset + rng.randint(lo, hi)))
            offset += len(line) + 1
    out = []
    for text, start in rng.sample(spots, min(max(1, n // keystrokes), len(spots))):
        for k in range(keystrokes):
            out.append((text, start + k, k))
    return out


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of a process, in MB (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def lsp_latency(bundle: Path, positions: list[tuple[str, int]]) -> dict:
    """Drive `devassist serve` like an editor; time every answered completion."""
    from pygls.lsp.client import LanguageClient

    from devassist.server.parsing import PositionCodec

    client = LanguageClient("devassist-bench", "1")
    t0 = time.perf_counter()
    await client.start_io(sys.executable, "-m", "devassist.server", "serve", "--bundle", str(bundle))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    cold_ms = (time.perf_counter() - t0) * 1000
    client.initialized(types.InitializedParams())
    pid = client._server.pid
    uri = Path(tempfile.gettempdir(), "bench.py").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text="")))
    latencies, first_latencies, tokens, times, cancelled, empty = [], [], [], [], 0, 0
    version = 1
    for i, (text, offset, keystroke) in enumerate(positions):
        version += 1
        doc = text[:offset] + text[text.find("\n", offset) if "\n" in text[offset:] else len(text):]  # the line ends at the cursor
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=doc)]))
        pos = types.Position(*PositionCodec(doc).position(offset))
        params = types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos)
        if keystroke == 1:  # the next keystroke arrives before the answer: the editor cancels
            fut = client.protocol.send_request(types.TEXT_DOCUMENT_COMPLETION, params, msg_id=f"c{i}")
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"c{i}"))
            try:
                await asyncio.wrap_future(fut)
            except Exception:
                pass
            cancelled += 1
            continue
        start = time.perf_counter()
        result = await client.text_document_completion_async(params)
        ms = (time.perf_counter() - start) * 1000
        latencies.append(ms)
        if keystroke == 0:
            first_latencies.append(ms)
        if result and result.items:
            data = result.items[0].data or {}
            if data.get("tokens") and not data.get("cached"):
                tokens.append(data["tokens"])
                times.append(data["generation_ms"])
        else:
            empty += 1
    rss = peak_rss_mb(pid)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {
        "end_to_end": percentiles(latencies), "first_keystroke_at_a_new_spot": percentiles(first_latencies),
        "cancelled_requests": cancelled, "empty_results": empty,
        "tokens_per_s": round(sum(tokens) / (sum(times) / 1000), 1) if times else None,
        "cold_start_to_initialize_ms": round(cold_ms, 1), "server_peak_rss_mb": rss,
    }


def generation_benchmark(bundle_dir: Path, prompts: list[list[int]], new_tokens: int, repeats: int) -> dict:
    """Median/p95 ms per greedy generation: PyTorch eager vs ONNX Runtime fp32 vs int8."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file
    from transformers import GPT2LMHeadModel

    from devassist.export.onnx import export_lm
    from devassist.export.parity import torch_greedy
    from devassist.server.bundle import load_bundle
    from devassist.server.runtime.lm import LanguageModel
    from devassist.training.finetune import find_checkpoint

    bundle = load_bundle(bundle_dir)
    tmp = Path(tempfile.mkdtemp(prefix="devassist-bench-"))
    weights_path, config_path = find_checkpoint(bundle)
    weights = load_file(str(weights_path))
    save_file({k: v.float().contiguous() for k, v in weights.items()}, str(tmp / "model.safetensors"))
    shutil.copy(config_path, tmp / "config.json")
    model = GPT2LMHeadModel.from_pretrained(str(tmp)).eval()
    export_lm(tmp, tmp / "lm_fp32.onnx")
    runners = {"pytorch_eager": lambda ids: torch_greedy(model, ids, new_tokens, None)}
    threads = torch.get_num_threads()
    fp32 = LanguageModel.from_onnx(bundle, tmp / "lm_fp32.onnx", prefer_gpu=False)
    runners["onnxruntime_fp32"] = lambda ids: fp32.generate(ids, max_new_tokens=new_tokens, ignore_eot=True).ids
    int8_name = next((c for c in ("lm_int8", "lm") if bundle.has(c) and bundle.component(c).get("precision") == "int8"), None)
    if int8_name:
        int8 = LanguageModel(bundle, component=int8_name, prefer_gpu=False)
        runners["onnxruntime_int8"] = lambda ids: int8.generate(ids, max_new_tokens=new_tokens, ignore_eot=True).ids
    results = {}
    with torch.inference_mode():
        for name, run in runners.items():
            for ids in prompts[:3]:  # warm-up
                run(ids)
            times = []
            for _ in range(repeats):
                for ids in prompts:
                    t = time.perf_counter()
                    run(ids)
                    times.append((time.perf_counter() - t) * 1000)
            results[name] = percentiles(times)
    base = results["pytorch_eager"]["p50_ms"]
    for name in results:
        results[name]["speedup_vs_pytorch"] = round(base / results[name]["p50_ms"], 2)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"new_tokens": new_tokens, "prompt_tokens": int(np.mean([len(p) for p in prompts])),
            "prompts": len(prompts), "repeats": repeats, "torch_threads": threads,
            "ort_threads": fp32.session.get_session_options().intra_op_num_threads, "results": results}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    import onnxruntime

    from devassist.evaluation.completion import load_eval_files

    parser = argparse.ArgumentParser(prog="devassist evaluate latency", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--source", type=Path, help="files to type in (default: the stdlib test split)")
    parser.add_argument("--corpus", type=Path, help="a corpus folder whose test split to use")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--prompt-tokens", type=int, default=200)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pytorch", action="store_true", help="skip part 2 (needs the train extra)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    files = load_eval_files(args.source, args.corpus, args.seed)
    positions = typing_positions(files, args.requests, args.seed)
    report = {"bundle": str(args.bundle), "lsp": asyncio.run(lsp_latency(args.bundle, positions)),
              "versions": {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                           "providers": onnxruntime.get_available_providers(), "machine": platform.machine()}}
    if not args.no_pytorch:
        from tokenizers import Tokenizer

        from devassist.server.bundle import load_bundle

        tok = Tokenizer.from_file(str(load_bundle(args.bundle).tokenizer_path))
        prompts = []
        for _, text in files:
            ids = tok.encode(text, add_special_tokens=False).ids
            if len(ids) >= args.prompt_tokens:
                prompts.append(ids[: args.prompt_tokens])
            if len(prompts) == 10:
                break
        report["generation"] = generation_benchmark(args.bundle, prompts, args.new_tokens, args.repeats)
        import torch

        report["versions"]["torch"] = torch.__version__
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text if args.json else text)
    return 0
