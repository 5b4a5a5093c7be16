"""`devassist export --triton`: the repository's layout, its config.pbtxt parsed as Triton's ModelConfig,
and the ONNX Runtime backend's view of the LM (names, types, dims from the config) run in onnxruntime.

The nvidia-pytriton wheel has no ONNX Runtime backend, so `lm` is validated here rather than
loaded by tritonserver (tests/e2e/test_triton_remote.py serves `generate` for real)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

# Without the `triton` extra these are skipped, not failed; CI installs it and sets
# DEVASSIST_REQUIRE_TRITON=1, so there a missing client fails them.
NO_CLIENT = importlib.util.find_spec("tritonclient") is None and not os.environ.get("DEVASSIST_REQUIRE_TRITON")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(NO_CLIENT, reason="tritonclient is not installed (pip install 'devassist[triton]')")]

TRITON_TO_NUMPY = {"TYPE_FP32": np.float32, "TYPE_FP16": np.float16, "TYPE_INT64": np.int64}


@pytest.fixture(scope="module")
def repo(tiny_bundle, tmp_path_factory):
    from devassist.export.triton.repository import export_triton

    out = tmp_path_factory.mktemp("triton") / "repo"
    export_triton(tiny_bundle, out, log=lambda *_: None)
    return out


def test_layout_record_and_runtime_copies(repo, tiny_bundle):
    import devassist.server.runtime as runtime
    from devassist.export.triton.repository import RUNTIME_FILES

    assert not repo.with_name("repo.partial").exists()
    assert (repo / "manifest.json").read_bytes() == (tiny_bundle / "manifest.json").read_bytes()
    assert (repo / "MODEL_CARD.md").is_file()
    record = json.loads((repo / "triton.json").read_text())
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert record["lm_sha256"] == manifest["files"][record["lm_file"]]["sha256"]
    assert (repo / "lm" / "1" / "model.onnx").read_bytes() == (tiny_bundle / record["lm_file"]).read_bytes()
    for name in RUNTIME_FILES:  # the server's own decoding loop, byte for byte
        copied = repo / "generate" / "1" / "devassist_runtime" / name
        assert copied.read_bytes() == (Path(runtime.__file__).parent / name).read_bytes()


def test_configs_parse_as_triton_model_configs(repo):
    pytest.importorskip("tritonclient.grpc", reason="the schema comes with tritonclient (the `triton` extra)")
    from devassist.export.triton.config import parse_config

    lm = parse_config((repo / "lm" / "config.pbtxt").read_text())
    assert lm.backend == "onnxruntime" and lm.max_batch_size == 8
    assert lm.dynamic_batching.max_queue_delay_microseconds > 0 and lm.instance_group[0].kind == 2  # KIND_CPU
    gen = parse_config((repo / "generate" / "config.pbtxt").read_text())
    assert gen.backend == "python" and {i.name for i in gen.input if i.allow_ragged_batch} == {"input_ids", "cache_tokens"}
    params = {k: v.string_value for k, v in gen.parameters.items()}
    assert params["lm_path"] == "../../lm/1/model.onnx" and params["lm_sha256"]


def test_lm_config_matches_the_graph_and_runs_in_onnxruntime(repo, tiny_bundle):
    """Feeds built from config.pbtxt alone (batch 2, as the backend batches) give the bundle LM's logits."""
    pytest.importorskip("tritonclient.grpc", reason="the schema comes with tritonclient (the `triton` extra)")
    import onnxruntime as ort
    from tritonclient.grpc import model_config_pb2

    from devassist.export.triton.config import parse_config
    from devassist.export.triton.repository import completion_component
    from devassist.server.bundle import load_bundle
    from devassist.server.runtime.lm import LanguageModel

    config = parse_config((repo / "lm" / "config.pbtxt").read_text())
    session = ort.InferenceSession(str(repo / "lm" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in config.input] == [i.name for i in session.get_inputs()]
    assert [o.name for o in config.output] == [o.name for o in session.get_outputs()]
    ids = np.array([[5, 9, 13, 2], [7, 7, 3, 11]], dtype=np.int64)

    def run(rows: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {}
        for tensor in config.input:
            dtype = TRITON_TO_NUMPY[model_config_pb2.DataType.Name(tensor.data_type)]
            if tensor.name == "input_ids":
                feeds[tensor.name] = rows
            elif tensor.name.startswith("past_key_values"):
                feeds[tensor.name] = np.zeros([len(rows)] + [0 if d == -1 else d for d in tensor.dims], dtype=dtype)
            elif tensor.name == "attention_mask":
                feeds[tensor.name] = np.ones_like(rows)
            elif tensor.name == "position_ids":
                feeds[tensor.name] = np.tile(np.arange(rows.shape[1], dtype=np.int64), (len(rows), 1))
        return dict(zip([o.name for o in config.output], session.run(None, feeds)))

    batched = run(ids)  # as dynamic batching would send two equal-length requests
    assert batched["logits"].shape[0] == 2 and list(batched["logits"].shape[2:]) == list(config.output[0].dims[1:])
    assert all(batched[o.name].shape[1:2] == (config.output[1].dims[0],) for o in config.output[1:])
    bundle = load_bundle(tiny_bundle)
    lm = LanguageModel(bundle, component=completion_component(bundle))
    for row in range(2):
        # Batch 1 is the in-process model exactly. (Batched rows of the int8 graph differ by a few
        # hundredths: dynamic quantization scales activations per batch; docs/SCALE.md says so.)
        np.testing.assert_allclose(run(ids[row:row + 1])["logits"][0], lm.forward(ids[row].tolist())[0],
                                   rtol=1e-5, atol=1e-5)


def test_a_folder_that_is_not_ours_is_not_replaced(tiny_bundle, tmp_path):
    from devassist.export.cli import main

    victim = tmp_path / "notes"
    victim.mkdir()
    (victim / "todo.txt").write_text("keep me")
    assert main(["--triton", str(victim), "--bundle", str(tiny_bundle)]) == 1
    assert (victim / "todo.txt").read_text() == "keep me"
