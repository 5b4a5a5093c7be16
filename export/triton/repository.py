"""`devassist export --triton REPO --bundle B`: a Triton model repository made from a bundle.

    REPO/
      manifest.json, MODEL_CARD.md    the bundle's, unchanged (what the served model is)
      triton.json                     what was exported: bundle, LM file and its sha256, models
      lm/config.pbtxt, lm/1/model.onnx                    ONNX Runtime backend: the LM itself
      generate/config.pbtxt, generate/1/model.py (+ devassist_runtime/, token_strings.json)
                                                          Python backend: a whole completion per request

`generate` loads `lm/1/model.onnx` in its own onnxruntime session (the same file, not a copy).
The repository is written into `REPO.partial` and renamed into place when complete, like a bundle.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from tokenizers import Tokenizer

import devassist.server.runtime
from devassist.export.staging import staged_folder
from devassist.export.triton.config import generate_config, lm_config, parse_config
from devassist.server.bundle import MANIFEST, load_bundle

RUNTIME_FILES = ("decode.py", "constrain.py", "ngram.py")  # the server's decoding loop, copied unchanged
RECORD = "triton.json"


def completion_component(bundle) -> str:
    """The component the editor's server completes with (the manifest's default, else `lm`)."""
    name = bundle.manifest.get("defaults", {}).get("completion_component", "lm")
    return name if bundle.has(name) else "lm"


def token_strings(bundle, vocab_size: int) -> list[str]:
    """Each token's text, exactly as the server's `TokenTable` decodes it."""
    tokenizer = Tokenizer.from_file(str(bundle.tokenizer_path))
    return [tokenizer.decode([i]) for i in range(vocab_size)]


def export_triton(bundle_dir: Path, out: Path, device: str = "cpu", instances: int = 1, max_batch: int = 8,
                  threads: int = 0, log=print) -> dict:
    """Write the repository for `bundle_dir` to `out` (staged); returns the `triton.json` record."""
    import onnxruntime as ort

    bundle = load_bundle(bundle_dir)
    component = completion_component(bundle)
    meta = bundle.component(component)
    specials = bundle.special_tokens
    t0 = time.perf_counter()
    with staged_folder(out) as staging:
        for name in (MANIFEST, "MODEL_CARD.md"):
            if (bundle.root / name).is_file():
                shutil.copy2(bundle.root / name, staging / name)
        (staging / "lm" / "1").mkdir(parents=True)
        shutil.copy2(bundle.path(meta["file"]), staging / "lm" / "1" / "model.onnx")
        session = ort.InferenceSession(str(staging / "lm" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
        lm_text = lm_config(session, device=device, instances=instances, max_batch=max_batch)
        parse_config(lm_text)
        (staging / "lm" / "config.pbtxt").write_text(lm_text, encoding="utf-8")

        strings = token_strings(bundle, int(meta["vocab_size"]))
        eot = specials.get("eot")
        eot_id = Tokenizer.from_file(str(bundle.tokenizer_path)).token_to_id(eot) if eot else None
        lm_sha = bundle.manifest["files"][meta["file"]]["sha256"]
        params = {"lm_path": "../../lm/1/model.onnx", "intra_op_threads": threads, "bundle": bundle.name,
                  "lm_file": meta["file"], "lm_sha256": lm_sha, "eot_id": "" if eot_id is None else eot_id,
                  **{k: meta[k] for k in ("n_layer", "n_head", "head_dim", "vocab_size", "context_length")}}
        gen = staging / "generate" / "1"
        (gen / "devassist_runtime").mkdir(parents=True)
        gen_text = generate_config(params, device=device, instances=instances, max_batch=max_batch)
        parse_config(gen_text)
        (staging / "generate" / "config.pbtxt").write_text(gen_text, encoding="utf-8")
        shutil.copy2(Path(__file__).with_name("generate_model.py"), gen / "model.py")
        runtime = Path(devassist.server.runtime.__file__).parent
        for name in RUNTIME_FILES:
            shutil.copy2(runtime / name, gen / "devassist_runtime" / name)
        (gen / "devassist_runtime" / "__init__.py").write_text('"""The devassist server\'s decoding loop."""\n')
        (gen / "token_strings.json").write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")
        record = {"created_by": "devassist export --triton", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "bundle": bundle.name, "component": component, "lm_file": meta["file"], "lm_sha256": lm_sha,
                  "models": {"lm": "onnxruntime", "generate": "python"}, "device": device, "instances": instances,
                  "max_batch_size": max_batch}
        (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        log(f"publishing {out}")
    log(f"triton repository {out}: models lm (onnxruntime) and generate (python) for {bundle.name}/{component}, "
        f"{time.perf_counter() - t0:.1f} s")
    return record
