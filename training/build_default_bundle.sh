#!/usr/bin/env bash
# Build models/default from a trained run (default: runs/gpu3/gpu-long-lm, trained by training/gpu_train.sh,
# or runs/default by `devassist train --config training/configs/default.toml`).
# FIM is off for completion serving: the first GPU model's FIM prompts measured far worse than
# prefix-only (training/EXPERIMENTS.md). Steps: export (fp32 + int8, parity-checked) -> review calibration on the stdlib's validation
# split, with the bug detector trained on synthetic bugs of the training split -> docstring index and model -> keep only the int8 LM -> fp16 checkpoint beside the bundle.
# Usage: bash training/build_default_bundle.sh [RUN_DIR] [CORPUS_DIR]
set -euo pipefail
run=${1:-runs/gpu3/gpu-long-lm}
corpus=${2:-runs/stdlib}
out=models/default
[ -f "$corpus/summary.json" ] || devassist corpus --out "$corpus"
devassist export "$run" --out "$out" --quantize int8 --embed none --cache-mix 0.0 --no-fim --name default
devassist review calibrate --bundle "$out" --source "$corpus" --out "$out" --max-train 3000 --max-valid 1000 \
  --detector train --detector-functions 12000
devassist docstring index --corpus "$corpus" --bundle "$out" --summarizer model
# The docstring model: a completion model fine-tuned on function -> summary pairs (recipe in
# docs/DOCSTRINGS.md; training/gpu_train.sh runs it after each completion run); the model writes
# every summary (retrieval threshold 0: best on the valid split). Without that run the bundle
# summarizes by retrieval.
docstring_run=${DOCSTRING_RUN:-runs/gpu2/gpu-long-ds}
if [ -f "$docstring_run/model.safetensors" ]; then
  python -m devassist.export.docstring_export "$docstring_run" --bundle "$out" --no-repeat-ngram 3 --retrieval-threshold 0
fi
python - "$out" "$run" <<'PY'
import sys
from pathlib import Path
from devassist.export.bundle import promote_int8
from devassist.export.cli import save_checkpoint_fp16
out, run = map(Path, sys.argv[1:])
promote_int8(out)
save_checkpoint_fp16(run, Path(str(out) + "-checkpoint"))
import json
from devassist.export.bundle import seal, write_model_card
manifest = json.loads((out / "manifest.json").read_text())
write_model_card(out, manifest, Path("training/MODEL_CARD_EXTRA.md").read_text())
manifest.pop("created", None)
seal(out, manifest)
PY
du -sh "$out" "$out-checkpoint"
