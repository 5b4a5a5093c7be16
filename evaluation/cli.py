"""`devassist evaluate TARGET ...`: one benchmark module per target, each with `main(argv)`."""

from __future__ import annotations

import importlib
import sys

TARGETS = {
    "completion": ("devassist.evaluation.completion", "next-token accuracy and line completion vs an n-gram baseline"),
    "typing": ("devassist.evaluation.typing", "what a person sees while typing: useful suggestions, list, latency with review on/off"),
    "latency": ("devassist.evaluation.latency", "end-to-end LSP latency, cold start, RSS; PyTorch vs ONNX Runtime"),
    "docstring": ("devassist.evaluation.docstring", "docstring BLEU-4 / ROUGE-L vs template and retrieval baselines"),
    "review": ("devassist.evaluation.review", "mutation pairs: pairwise accuracy, AUROC, line localization"),
    "synth": ("devassist.evaluation.synth", "synthetic-data quality, detection and privacy (vs ctgan)"),
    "serving": ("devassist.evaluation.serving", "N typing users on one Triton server (serve --remote) vs N local models"),
    "robustness": ("devassist.evaluation.robustness", "fuzzing, load, lifecycle, hostile commands, soak, network"),
    "sizes": ("devassist.evaluation.model_sizes", "int8 size and per-token latency of bigger model shapes (train extra)"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the target's benchmark."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in TARGETS:
        lines = "\n".join(f"  {k:<11} {h}" for k, (_, h) in TARGETS.items())
        print(f"usage: devassist evaluate TARGET [--json] ...\n\ntargets:\n{lines}\n\n"
              "Example:\n  devassist evaluate completion --bundle models/default --json")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(TARGETS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)
