#!/usr/bin/env bash
# Train completion models on a lent GPU machine (no network there, PyTorch preinstalled), several
# configs side by side on the one GPU, then fine-tune each into a docstring model.
# Carried in: .gpu/files.jsonl.xz (the corpus's train+valid files), .gpu/summary.json,
# .gpu/tokenizer.json and, for the docstring models, .gpu/docstring_examples.npz
# (training/docstring_data.py). Writes fp16 weights (<16 MB each, the transfer's limit) and one
# meta.tar.gz (run records, logs) to $OUT.
# Prepare here (the tree that travels is at most 64 MiB, carried paths included):
#   mkdir -p .gpu && cp runs/big/summary.json .gpu/ && cp runs/tok8k/tokenizer.json .gpu/
#   grep -v '"split": "test"' runs/big/files.jsonl | xz -6 > .gpu/files.jsonl.xz      # 24 MB
#   python -m devassist.training.docstring_data ... --out .gpu/docstring_examples.npz  # docs/DOCSTRINGS.md
# and carry .gpu; the shipped bundle's two larger ONNX files and the checkpoint can be left out of
# the transfer for the call (git rm --cached + .git/info/exclude, restored with git reset after).
# With several GPUs each config trains on all of them, one config after another, under torchrun
# (DDP over NCCL, the config's batch_size split across the GPUs; docs/SCALE.md); with one GPU
# the configs share it side by side.
# Usage (from the repo root): bash training/gpu_train.sh [CONFIG ...]
#   env: TIME_BUDGET (s, overrides the configs'), DS_BUDGET (s, docstring fine-tune; 0 skips it),
#        ORT_CHECK (1: time the shipped LM on onnxruntime's providers there), DEVICE (cuda), DATA (.gpu),
#        OUT (/tmp/gpu-out), NGPU (GPUs to train on; default: all that nvidia-smi lists)
set -uo pipefail
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(training/configs/gpu-long.toml)
data=${DATA:-.gpu}
out=${OUT:-/tmp/gpu-out}
work=${WORK:-/tmp/gpu-work}
device=${DEVICE:-cuda}
ds_budget=${DS_BUDGET:-90}
mkdir -p "$out" "$work/pkg/devassist" "$work/corpus" "$work/logs"
# Map the folders under the devassist namespace without pip (nothing can be fetched there).
for d in server training export evaluation; do ln -sfn "$PWD/$d" "$work/pkg/devassist/$d"; done
export PYTHONPATH=$work/pkg PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
t0=$(date +%s)
xz -dc "$data/files.jsonl.xz" > "$work/corpus/files.jsonl" && cp "$data/summary.json" "$work/corpus/summary.json" || exit 1
# Tokenize once; every run folder starts from the cached token streams.
python3 - "${configs[0]}" "$work/tokens" "$work/corpus" "$data/tokenizer.json" <<'PY' || exit 1
import sys
from pathlib import Path
from devassist.training.lm import RunConfig
from devassist.training.train import prepare_data
cfg, out, corpus, tok = sys.argv[1:]
Path(out).mkdir(parents=True, exist_ok=True)
_, _, streams, _ = prepare_data(RunConfig.from_toml(Path(cfg)), Path(out), Path(corpus), Path(tok), quiet=True)
print({k: len(v) for k, v in streams.items()}, "tokens")
PY
echo "data ready in $(( $(date +%s) - t0 )) s"

ngpu=${NGPU:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')}
if [ "$device" = cuda ] && [ "${ngpu:-0}" -gt 1 ]; then
  train_cmd=(python3 -m torch.distributed.run --standalone --nproc_per_node "$ngpu" -m devassist.training.train)
  one_at_a_time=1  # each run takes every GPU
  echo "training on $ngpu GPUs with torchrun, one config at a time"
else
  train_cmd=(python3 -m devassist.server.cli train)
  one_at_a_time=0  # the runs share the one GPU side by side
fi
names=()
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .toml); names+=("$name")
  mkdir -p "$work/$name" && cp "$work/tokens/"* "$work/$name/"
  ( "${train_cmd[@]}" --config "$cfg" --corpus "$work/corpus" --tokenizer "$data/tokenizer.json" \
      --out "$work/$name" --device "$device" ${TIME_BUDGET:+--time-budget $TIME_BUDGET} 2>&1 | tr '\r' '\n' \
      | grep -v '^train:' > "$work/logs/$name-train.log"
    if [ "$ds_budget" != 0 ] && [ -f "$data/docstring_examples.npz" ] && [ -f "$work/$name/model.safetensors" ]; then
      python3 -m devassist.training.docstring_finetune --run "$work/$name" --examples "$data/docstring_examples.npz" \
        --out "$work/$name-ds" --device "$device" --batch-size 64 --lr 5e-4 --epochs 3 --time-budget "$ds_budget" \
        2>&1 | tr '\r' '\n' | grep -v '^docstring finetune:.*%' > "$work/logs/$name-ds.log"
    fi ) &
  if [ "$one_at_a_time" = 1 ]; then wait; fi
done
wait
echo "training done in $(( $(date +%s) - t0 )) s"
tail -n 3 "$work"/logs/*.log

# The GPU path of the server: the shipped bundle's LM on onnxruntime's CUDA provider, when present.
[ "${ORT_CHECK:-1}" = 1 ] && timeout 60 python3 - <<'PY' > "$work/logs/ort-gpu.log" 2>&1
import statistics, time
import onnxruntime as ort
print("onnxruntime", ort.__version__, ort.get_available_providers())
import json
from pathlib import Path
from devassist.server.bundle import Bundle
from devassist.server.runtime.lm import LanguageModel
root = Path("models/default")  # only the LM's files may have travelled: a manifest of those
manifest = json.loads((root / "manifest.json").read_text())
manifest["files"] = {k: v for k, v in manifest["files"].items() if (root / k).exists()}
bundle = Bundle(root=root, manifest=manifest)
for gpu in (True, False):
    lm = LanguageModel(bundle, component="lm_int8" if bundle.has("lm_int8") else "lm", prefer_gpu=gpu)
    ids = list(range(100, 300))
    times = []
    for i in range(25):
        r = lm.generate(ids, max_new_tokens=16, ignore_eot=True)
        times.append(r.elapsed_ms)
    print(lm.providers[0], "16 tokens after 200: median %.1f ms, p95 %.1f ms" % (statistics.median(times[5:]), sorted(times[5:])[int(0.95 * 19)]))
PY
cat "$work/logs/ort-gpu.log" 2>/dev/null

# fp16 weights, one file per model, plus the records.
python3 - "$work" "$out" "${names[@]}" <<'PY'
import json, sys, pathlib
from safetensors.torch import load_file, save_file
work, out = map(pathlib.Path, sys.argv[1:3])
for name in sys.argv[3:]:
    for run, tag in ((work / name, "lm"), (work / f"{name}-ds", "ds")):
        if not (run / "model.safetensors").exists():
            print("missing", run); continue
        w = {k: v.half().contiguous() for k, v in load_file(str(run / "model.safetensors")).items()}
        save_file(w, str(out / f"{name}-{tag}.safetensors"))
        meta = work / "meta" / f"{name}-{tag}"; meta.mkdir(parents=True, exist_ok=True)
        for f in ("run.json", "config.json", "generation_config.json"):
            if (run / f).exists():
                (meta / f).write_bytes((run / f).read_bytes())
        rec = json.loads((run / "run.json").read_text())
        print(name, tag, json.dumps({k: v for k, v in rec.items() if k not in ("history", "corpus", "config")}))
PY
cp -r "$work/logs" "$work/meta/" 2>/dev/null; tar -czf "$out/meta.tar.gz" -C "$work/meta" .
echo "all done in $(( $(date +%s) - t0 )) s"; ls -la "$out"
