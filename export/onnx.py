"""PyTorch -> ONNX: optimum for the language model (with KV cache), torch.onnx for the encoder."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path


def _optimum_export(run_dir: Path, out_file: Path, task: str) -> None:
    """Export the run's GPT-2 with optimum for `task` to one ONNX file."""
    from optimum.exporters.onnx import main_export

    # The work folder sits beside the output (inside a bundle's OUT.partial), so a killed export
    # leaves nothing in /tmp: the next run removes the stale partial folder with it.
    with tempfile.TemporaryDirectory(dir=Path(out_file).parent, prefix=".export-") as tmp:
        src, dst = Path(tmp) / "src", Path(tmp) / "onnx"
        src.mkdir()
        for name in ("config.json", "model.safetensors", "generation_config.json"):
            if (run_dir / name).exists():
                shutil.copy(run_dir / name, src / name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main_export(str(src), output=str(dst), task=task, do_validation=False, device="cpu")
        if (dst / "model.onnx_data").exists():  # only for >2 GB models, which we never ship
            raise RuntimeError("the exported model needs external data; devassist bundles are single files")
        shutil.move(str(dst / "model.onnx"), out_file)


def export_lm(run_dir: Path, out_file: Path, optimize: bool = True) -> None:
    """The language model with its KV cache (optimum's `text-generation-with-past`), then ONNX
    Runtime's transformer fusions (SkipLayerNormalization, FastGelu): fewer kernels per token."""
    _optimum_export(run_dir, out_file, "text-generation-with-past")
    if optimize:
        import json

        cfg = json.loads((Path(run_dir) / "config.json").read_text())
        optimize_transformer(out_file, cfg["n_head"], cfg["n_embd"])


def optimize_transformer(path: Path, num_heads: int, hidden_size: int) -> dict:
    """Apply onnxruntime's GPT-2 graph fusions in place; returns the fused-operator counts."""
    from onnxruntime.transformers.optimizer import optimize_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = optimize_model(str(path), model_type="gpt2", num_heads=num_heads, hidden_size=hidden_size,
                               opt_level=0)
    model.save_model_to_file(str(path))
    return {k: v for k, v in model.get_fused_operator_statistics().items() if v}


def export_embedder(run_dir: Path, out_file: Path) -> None:
    """The transformer without its head: (input_ids, attention_mask, position_ids) -> last_hidden_state."""
    _optimum_export(run_dir, out_file, "feature-extraction")


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantization of the weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import onnx

    # Fused contrib ops carry no inferred types; their outputs are float.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
