"""`devassist export`: a training run -> a parity-checked ONNX bundle the server can load."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from devassist.export.bundle import seal, write_model_card
from devassist.export.onnx import export_embedder, export_lm, quantize_int8
from devassist.export.parity import ParityError, check_embedder, check_lm
from devassist.export.staging import UnsafeOutput, staged_folder

EPILOG = """The bundle is written into OUT.partial and renamed to OUT only when complete; an interrupted
export (Ctrl-C, SIGTERM) removes it and leaves OUT as it was. OUT, if it exists, must be a bundle.

examples:
  devassist export runs/tiny --out /tmp/tiny-bundle
  devassist export runs/default --out models/default --quantize int8 --embed int8 --drop-fp32 --checkpoint
  devassist export --triton /srv/triton-repo --bundle models/default            # a Triton model repository
  devassist export --triton /srv/triton-repo --bundle models/default --device gpu --instances 2
"""


def lm_description(run_dir: Path, file: str, precision: str) -> dict:
    """The manifest entry of an LM component, from the run's config.json."""
    cfg = json.loads((run_dir / "config.json").read_text())
    rec = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    return {
        "file": file, "kind": "causal-lm", "architecture": cfg.get("model_type", "gpt2"), "precision": precision,
        "n_layer": cfg["n_layer"], "n_head": cfg["n_head"], "n_embd": cfg["n_embd"],
        "head_dim": cfg["n_embd"] // cfg["n_head"], "vocab_size": cfg["vocab_size"],
        "context_length": cfg["n_positions"], "n_params": rec.get("n_params"),
        "inputs": ["input_ids", "attention_mask", "position_ids", "past_key_values.{i}.{key,value}"],
        "outputs": ["logits", "present.{i}.{key,value}"],
    }


def export_bundle(run_dir: Path, out: Path, quantize: str | None = "int8", embed: str | None = "fp32",
                  name: str | None = None, drop_fp32: bool = False, checkpoint: bool = False,
                  cache_mix: float = 0.0, fim: bool = True, log=print) -> dict:
    """Export, parity-check and seal a bundle into `OUT.partial`, then publish it as `out`.

    Returns its manifest. Raises ParityError. An exception, SIGINT or SIGTERM on the way leaves
    `out` as it was and no partial folder (`devassist.export.staging`).
    """
    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / "model.safetensors").exists():
        raise FileNotFoundError(f"{run_dir}: no model.safetensors (is this a `devassist train` run folder?)")
    if drop_fp32 and quantize != "int8":
        raise ValueError("--drop-fp32 needs --quantize int8: the bundle must keep one LM")
    t0 = time.perf_counter()
    with staged_folder(out) as staging:
        manifest = build_bundle(run_dir, staging, quantize, embed, name or out.name, drop_fp32, checkpoint,
                                cache_mix, fim, log)
        log(f"publishing {out}")
    size = sum(f["size"] for f in manifest["files"].values())
    log(f"bundle {out}: {len(manifest['files'])} files, {size / 1e6:.1f} MB, exported in {time.perf_counter() - t0:.1f} s")
    return manifest


def build_bundle(run_dir: Path, staging: Path, quantize: str | None, embed: str | None, name: str,
                 drop_fp32: bool, checkpoint: bool, cache_mix: float, fim: bool, log=print) -> dict:
    """Write and seal a complete bundle into the (empty) folder `staging`; returns its manifest."""
    from devassist.training.tokenizer import SPECIAL_TOKENS

    shutil.copy(run_dir / "tokenizer.json", staging / "tokenizer.json")
    record = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    manifest: dict = {
        "name": name,
        "tokenizer": {"file": "tokenizer.json", "special_tokens": dict(SPECIAL_TOKENS)},
        "components": {},
        "training": {k: record[k] for k in ("config", "step", "tokens_seen", "train_loss", "valid_loss",
                                             "wall_time_s", "hardware", "corpus", "corpus_sha256",
                                             "corpus_files", "n_params") if k in record},
        "defaults": {"completion_component": "lm", "cache_mix": cache_mix, "fim": fim},
    }
    log("exporting lm.onnx")
    export_lm(run_dir, staging / "lm.onnx")
    components = manifest["components"]
    components["lm"] = lm_description(run_dir, "lm.onnx", "fp32")
    seal(staging, manifest)
    parity = check_lm(run_dir, staging, "lm", "fp32")
    components["lm"]["parity"] = parity
    log(f"lm.onnx: fp32 parity max rel logit diff {parity['max_rel_logit_diff']:.2e}, "
        f"top-1 agreement {parity['top1_agreement']:.3f}, greedy identical {parity['greedy_identical']}")
    if quantize == "int8":
        quantize_int8(staging / "lm.onnx", staging / "lm_int8.onnx")
        components["lm_int8"] = lm_description(run_dir, "lm_int8.onnx", "int8")
        seal(staging, manifest)
        parity8 = check_lm(run_dir, staging, "lm_int8", "int8")
        components["lm_int8"]["parity"] = parity8
        log(f"lm_int8.onnx: int8 parity max rel logit diff {parity8['max_rel_logit_diff']:.2e}, "
            f"top-1 agreement {parity8['top1_agreement']:.3f}, greedy identical {parity8['greedy_identical']}")
    if embed:
        export_embedder(run_dir, staging / "embed.onnx")
        if embed == "int8":
            quantize_int8(staging / "embed.onnx", staging / "embed_int8.onnx")
            (staging / "embed.onnx").unlink()
            (staging / "embed_int8.onnx").rename(staging / "embed.onnx")
        p = check_embedder(run_dir, staging / "embed.onnx", staging / "tokenizer.json", embed)
        components["embed"] = {
            "file": "embed.onnx", "kind": "encoder", "precision": embed, "dim": components["lm"]["n_embd"],
            "context_length": components["lm"]["context_length"],
            "inputs": ["input_ids", "attention_mask", "position_ids"], "outputs": ["last_hidden_state"], "parity": p,
        }
        log(f"embed.onnx ({embed}): parity max abs hidden-state diff {p['max_abs_diff']:.2e}, "
            f"pooled cosine {p['min_pooled_cosine']:.4f}")
    if drop_fp32:
        (staging / "lm.onnx").unlink()
        components["lm_fp32_parity"] = {"kind": "record", "parity": components.pop("lm")["parity"]}
        components["lm"] = dict(components.pop("lm_int8"))
    elif quantize == "int8":
        manifest["defaults"]["completion_component"] = "lm_int8"
    if checkpoint:
        save_checkpoint_fp16(run_dir, staging / "checkpoint")
        components["checkpoint"] = {"kind": "pytorch-checkpoint", "precision": "fp16",
                                    "files": ["checkpoint/model.safetensors", "checkpoint/config.json"]}
        log("checkpoint: fp16 weights written")
    write_model_card(staging, manifest)
    log("sealing manifest.json")
    return seal(staging, manifest)


def save_checkpoint_fp16(run_dir: Path, dst: Path) -> None:
    """The run's weights in fp16 safetensors plus its config.json (half the size of fp32)."""
    from safetensors.torch import load_file, save_file

    dst.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(run_dir / "model.safetensors"))
    save_file({k: v.half().contiguous() for k, v in weights.items()}, str(dst / "model.safetensors"),
              metadata={"format": "pt"})
    shutil.copy(run_dir / "config.json", dst / "config.json")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist export", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, nargs="?", help="a folder written by `devassist train`")
    parser.add_argument("--out", type=Path, help="the bundle folder to write")
    parser.add_argument("--quantize", choices=["none", "int8"], default="int8",
                        help="also ship an int8 copy of the LM (default %(default)s)")
    parser.add_argument("--embed", choices=["none", "fp32", "int8"], default="fp32",
                        help="precision of the encoder used by review diagnostics (default %(default)s)")
    parser.add_argument("--drop-fp32", action="store_true", help="ship only the int8 LM (smaller bundle)")
    parser.add_argument("--checkpoint", action="store_true", help="ship the PyTorch weights (fp16) for fine-tuning")
    parser.add_argument("--cache-mix", type=float, default=0.0,
                        help="default weight of the in-file n-gram cache at serve time (default %(default)s)")
    parser.add_argument("--no-fim", action="store_true",
                        help="serve with prefix-only prompts (for a model whose FIM measured worse)")
    parser.add_argument("--name", help="the bundle's name in its manifest (default: the folder name)")
    triton = parser.add_argument_group("Triton model repository (instead of a bundle; docs/SCALE.md)")
    triton.add_argument("--triton", type=Path, metavar="REPO", help="write a Triton model repository from --bundle")
    triton.add_argument("--bundle", type=Path, help="the bundle to serve (default: the shipped models/default)")
    triton.add_argument("--device", choices=["cpu", "gpu"], default="cpu", help="instance kind (default %(default)s)")
    triton.add_argument("--instances", type=int, default=1, help="model instances per device (default %(default)s)")
    triton.add_argument("--max-batch", type=int, default=8, help="largest dynamic batch (default %(default)s)")
    triton.add_argument("--threads", type=int, default=0,
                        help="onnxruntime threads per `generate` instance (default: onnxruntime's choice)")
    args = parser.parse_args(argv)
    if args.triton is not None:
        return _export_triton(args)
    if args.run_dir is None or args.out is None:
        parser.error("give a run folder and --out (or --triton REPO)")
    try:
        export_bundle(args.run_dir, args.out, None if args.quantize == "none" else args.quantize,
                      None if args.embed == "none" else args.embed, args.name, args.drop_fp32, args.checkpoint, args.cache_mix,
                      not args.no_fim, log=lambda line: print(line, flush=True))
    except (ParityError, FileNotFoundError, ValueError, UnsafeOutput) as exc:
        print(f"devassist export: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM while the bundle was staged
        print(f"devassist export: {exc or 'interrupted'}; no partial bundle was left", file=sys.stderr)
        return 130
    return 0


def _export_triton(args) -> int:
    """`devassist export --triton REPO`: the repository, or one line saying why not."""
    from devassist.export.triton.repository import export_triton
    from devassist.server.bundle import BundleError, default_bundle_path

    if args.instances < 1 or args.max_batch < 1:
        print("devassist export: --instances and --max-batch must be at least 1", file=sys.stderr)
        return 2
    try:
        export_triton(args.bundle or default_bundle_path(), args.triton, args.device, args.instances, args.max_batch,
                      args.threads, log=lambda line: print(line, flush=True))
    except (BundleError, UnsafeOutput, ImportError) as exc:
        print(f"devassist export: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"devassist export: {exc or 'interrupted'}; no partial repository was left", file=sys.stderr)
        return 130
    return 0
