"""Export the review VAE to ONNX with a parity check, and add the `review` component to a bundle."""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from devassist.export.bundle import add_component
from devassist.server.features.review.model import Calibration
from devassist.training.review.vae import ExportWrapper

VAE_FILE = "review_vae.onnx"
DETECTOR_FILE = "review_detector.onnx"
SIGNALS_FILE = "review_signals.onnx"
CALIBRATION_FILE = "review_calibration.json"
OUTPUTS = ["neg_elbo", "recon_error", "mean", "logvar"]
TOLERANCE = {"neg_elbo": 1e-3, "recon_error": 1e-3, "mean": 1e-4, "logvar": 1e-4}  # max |diff| / (1 + |ref|), fp32


def build_signals_graph(lm_onnx: Path, out: Path, quantize: bool = True) -> Path:
    """The LM graph rewired for review: one pass gives per-token surprisal and hidden states.

    Adds inputs `target_ids` (B, T) (the next token at each position) and `alt_ids` (B, T, A)
    (candidate replacements for it) and computes inside the graph `surprisal` (B, T) =
    -log_softmax(logits)[target], `alt_logprobs` (B, T, A) = log_softmax(logits)[alt], and
    `hidden_states` (B, T, D): the final layer norm's output, what the `embed` graph returns.
    Logits are no longer an output; the KV cache (`present.*`) stays one, so that the findings
    re-score a one-token rewrite from that token on. With `quantize`, weights become int8.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(lm_onnx))
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    head = producer["logits"]
    if head.op_type != "MatMul":
        raise RuntimeError(f"{lm_onnx}: expected `logits` to come from a MatMul, found {head.op_type}")
    hidden = head.input[0]
    graph.input.append(helper.make_tensor_value_info("target_ids", TensorProto.INT64, ["batch", "sequence"]))
    graph.input.append(helper.make_tensor_value_info("alt_ids", TensorProto.INT64, ["batch", "sequence", "alternatives"]))
    axes = helper.make_tensor("review_axes_last", TensorProto.INT64, [1], [-1])
    graph.initializer.append(axes)
    graph.node.extend([
        helper.make_node("LogSoftmax", ["logits"], ["review_logprobs"], axis=-1),
        helper.make_node("Unsqueeze", ["target_ids", "review_axes_last"], ["review_targets"]),
        helper.make_node("GatherElements", ["review_logprobs", "review_targets"], ["review_picked"], axis=-1),
        helper.make_node("Squeeze", ["review_picked", "review_axes_last"], ["review_picked_2d"]),
        helper.make_node("Neg", ["review_picked_2d"], ["surprisal"]),
        helper.make_node("Identity", [hidden], ["hidden_states"]),
        helper.make_node("GatherElements", ["review_logprobs", "alt_ids"], ["alt_logprobs"], axis=-1),
    ])
    present = [o for o in graph.output if o.name.startswith("present")]
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info("surprisal", TensorProto.FLOAT, ["batch", "sequence"]),
        helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, ["batch", "sequence", "hidden"]),
        helper.make_tensor_value_info("alt_logprobs", TensorProto.FLOAT, ["batch", "sequence", "alternatives"]),
        *present,
    ])
    onnx.checker.check_model(model)
    if not quantize:
        onnx.save(model, str(out))
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "signals_fp32.onnx"
        onnx.save(model, str(plain))
        quantize_dynamic(str(plain), str(out), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fused ops carry no types
    return out


def expose_present(signals_onnx: Path, out: Path) -> bool:
    """Write `signals_onnx` with its KV cache (`present.*`, still computed inside the graph) as
    outputs again, weights untouched, for signals graphs built before they were kept; False when
    it already has them (nothing written)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(signals_onnx))
    graph = model.graph
    if any(o.name.startswith("present") for o in graph.output):
        return False
    produced = {o for n in graph.node for o in n.output}
    names = sorted((o for o in produced if o.startswith("present.")), key=lambda n: (int(n.split(".")[1]), n))
    if not names:
        raise RuntimeError(f"{signals_onnx}: no `present.*` tensors inside the graph")
    graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", "heads", "total_sequence", "head_dim"])
                        for n in names)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return True


def export_vae(model: torch.nn.Module, path: Path, input_dim: int) -> Path:
    """Write the deterministic VAE graph (batch axis dynamic) to `path`."""
    wrapper = ExportWrapper(model).eval()
    dummy = torch.zeros(2, input_dim)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated; onnxscript is not a dependency
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(wrapper, dummy, path)
    return path


def _export(wrapper: torch.nn.Module, dummy: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        wrapper, (dummy,), str(path), input_names=["embedding"], output_names=OUTPUTS,
        dynamic_axes={"embedding": {0: "batch"}, **{o: {0: "batch"} for o in OUTPUTS}},
        opset_version=17, dynamo=False,
    )


def parity(model: torch.nn.Module, path: Path, x: np.ndarray) -> dict[str, Any]:
    """Run ONNX Runtime and PyTorch on the same embeddings; largest differences and a verdict."""
    from devassist.server.runtime.session import create_session

    session = create_session(path, threads=1, prefer_gpu=False)
    x = np.asarray(x[:512], dtype=np.float32)
    start = time.perf_counter()
    got = session.run(OUTPUTS, {"embedding": x})
    ort_ms = (time.perf_counter() - start) * 1000
    with torch.no_grad():
        ref = [t.numpy() for t in ExportWrapper(model).eval()(torch.as_tensor(x))]
    report: dict[str, Any] = {"rows": int(len(x)), "ort_ms": round(ort_ms, 3), "max_abs_diff": {}, "ok": True}
    for name, g, r in zip(OUTPUTS, got, ref):
        diff = float(np.max(np.abs(g - r) / (1.0 + np.abs(r)))) if r.size else 0.0
        report["max_abs_diff"][name] = diff
        report["ok"] &= diff <= TOLERANCE[name]
    report["rank_agreement"] = float(np.mean(np.argsort(got[0]) == np.argsort(ref[0])))
    return report


def add_review_component(bundle_dir: Path, model: torch.nn.Module, calibration: Calibration, x_check: np.ndarray,
                         info: dict[str, Any], signals_onnx: Path | None = None,
                         out_dir: Path | None = None, detector_onnx: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Export, parity-check (raising if it fails), and add/replace `review` in a bundle.

    `signals_onnx` (from `build_signals_graph`) ships as the one-pass surprisal + hidden-state
    graph; without it the server falls back to the bundle's `embed` and `lm` graphs.
    `detector_onnx` (already parity-checked by `export_detector`) ships as the bug detector.
    """
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_vae(model, Path(tmp) / VAE_FILE, int(x_check.shape[1]))
        report = parity(model, onnx_path, x_check)
        if not report["ok"]:
            raise RuntimeError(f"review VAE export failed its parity check: {json.dumps(report)}")
        calib_path = Path(tmp) / CALIBRATION_FILE
        calib_path.write_text(json.dumps(calibration.to_json()) + "\n", encoding="utf-8")
        files = {VAE_FILE: onnx_path, CALIBRATION_FILE: calib_path}
        description = {"file": VAE_FILE, "calibration": CALIBRATION_FILE, "precision": "fp32", "parity": report, **info}
        if signals_onnx is not None:
            files[SIGNALS_FILE] = Path(signals_onnx)
            description["signals"] = SIGNALS_FILE
            description["signals_precision"] = "int8"
        if detector_onnx is not None:
            files[DETECTOR_FILE] = Path(detector_onnx)
            description["detector"] = DETECTOR_FILE
        description["files"] = list(files)
        out = add_component(Path(bundle_dir), "review", description, files=files, out_dir=out_dir)
    return out, report


def halve_weights(src: Path, dst: Path, min_size: int = 256) -> Path:
    """Copy an ONNX graph with its large float32 weights stored as float16 (each behind a Cast
    back to float32, so the arithmetic stays fp32): half the bytes in the bundle."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < min_size:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT, name=init.name + "_cast"))
    for node in reversed(casts):  # the casts come first, in topological order
        graph.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst
