"""The runtime never imports the PyTorch side: fast start, small install."""

import subprocess
import sys

FORBIDDEN = ("torch", "transformers", "optimum", "sklearn", "safetensors")


def test_server_import_and_construction_load_no_torch(tiny_bundle):
    code = f"""
import sys
from devassist.server import cli, lsp, handlers, serve, demo, settings, bundle, parsing
from devassist.server.runtime import lm, session, ngram
from devassist.server.features import completion, postprocess
server = serve.build_server({str(tiny_bundle)!r})
import devassist.server.handlers_features
bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]
print("BAD", bad)
assert not bad, bad
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "BAD []" in out.stdout


def test_no_server_module_imports_pytorch_side_packages():
    from pathlib import Path
    import re

    root = Path(__file__).resolve().parents[2] / "server"
    pattern = re.compile(r"^\s*(import|from)\s+(" + "|".join(FORBIDDEN) + r")\b", re.M)
    offenders = [str(p) for p in root.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
