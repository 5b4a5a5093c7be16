#!/usr/bin/env bash
# Train the default model on a lent GPU machine (no network there, PyTorch preinstalled).
# Carried in: .gpu/files.jsonl.xz (the corpus's train+valid files), .gpu/summary.json,
# .gpu/tokenizer.json. Writes the run to $OUT (model split in <16 MB parts for the transfer).
# Usage (from the repo root): bash training/gpu_train.sh [CONFIG]
set -euo pipefail
config=${1:-training/configs/gpu.toml}
data=${DATA:-.gpu}
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out" /tmp/pkg/devassist /tmp/corpus
# Map the folders under the devassist namespace without pip (nothing can be fetched there).
for d in server training export evaluation; do ln -sfn "$PWD/$d" "/tmp/pkg/devassist/$d"; done
export PYTHONPATH=/tmp/pkg PYTHONUNBUFFERED=1
xz -dc "$data/files.jsonl.xz" > /tmp/corpus/files.jsonl
cp "$data/summary.json" /tmp/corpus/summary.json
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
python3 -m devassist.server.cli train --config "$config" --corpus /tmp/corpus --tokenizer "$data/tokenizer.json" \
  --out /tmp/run --device "${DEVICE:-cuda}" ${TIME_BUDGET:+--time-budget $TIME_BUDGET} 2>&1 | tr '\r' '\n' | grep -v '^train:' | tee "$out/train.log"
python3 - /tmp/run "$out" <<'PY'
import json, sys, pathlib
from safetensors.torch import load_file, save_file
run, out = map(pathlib.Path, sys.argv[1:])
weights = load_file(str(run / "model.safetensors"))
parts, size = [{}], 0
for k in sorted(weights):  # parts of at most 12 MB: the transfer takes files up to 16 MiB
    nbytes = weights[k].numel() * weights[k].element_size()
    if parts[-1] and size + nbytes > 12_000_000:
        parts.append({}); size = 0
    parts[-1][k] = weights[k].contiguous(); size += nbytes
for i, part in enumerate(parts, 1):
    save_file(part, str(out / f"model-part{i}.safetensors"))
for f in ("run.json", "config.json", "tokenizer.json"):
    (out / f).write_bytes((run / f).read_bytes())
print(json.dumps({k: v for k, v in json.loads((run / "run.json").read_text()).items() if k not in ("history", "corpus")}))
PY
ls -la "$out"
