#!/usr/bin/env bash
# Mine the training corpus of the default model: the standard library plus the Python sources of
# installed packages (tests excluded). The evaluation packages click, flask, jinja2, requests and
# werkzeug are deliberately NOT in this list. Packages that are not installed are skipped.
# Usage: bash training/big_corpus.sh [OUT]   (default runs/big)
set -euo pipefail
out=${1:-runs/big}
packages="transformers torch sklearn pandas optimum huggingface_hub onnx sympy scipy numpy networkx pip
setuptools IPython libcst hypothesis docutils _pytest prompt_toolkit trio jedi moto botocore awscli
pydantic docker cfnlint samtranslator graphql antlr4 pyparsing cryptography urllib3 jsonschema packaging"
args=(--source "$(python -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')")
for p in $packages; do
  dir=$(python - "$p" <<'PY'
import importlib.util, os, sys
spec = importlib.util.find_spec(sys.argv[1])
print(os.path.dirname(spec.origin) if spec and spec.origin else "")
PY
  ) || dir=""
  if [ -n "$dir" ] && [ -d "$dir" ]; then args+=(--source "$dir"); else echo "skip $p (not installed)"; fi
done
devassist corpus "${args[@]}" --out "$out"
