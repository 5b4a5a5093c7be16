"""The two models' `config.pbtxt` (Triton's protobuf text format), written from the ONNX graph itself.

`lm` is the bundle's causal LM for Triton's ONNX Runtime backend: every input and output of the
graph with its Triton data type and dims (the batch dimension left out, since `max_batch_size`
> 0), dynamic batching, and an instance group on CPU or GPU. `generate` is the Python-backend
model that runs the decoding loop server-side (model.py beside it): one completion is one
request. Its variable-length inputs allow ragged batches, so concurrent requests of different
prompt lengths still reach one `execute` call together.
"""

from __future__ import annotations

import json

ONNX_TO_TRITON = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16", "tensor(int64)": "TYPE_INT64",
                  "tensor(int32)": "TYPE_INT32", "tensor(bool)": "TYPE_BOOL"}

GENERATE_INPUTS = (  # name, type, dims, optional, ragged
    ("input_ids", "TYPE_INT64", [-1], False, True),
    ("max_new_tokens", "TYPE_INT32", [1], False, False),
    ("required", "TYPE_STRING", [1], True, False),  # the typed characters the continuation must begin with
    ("time_budget_ms", "TYPE_INT32", [1], True, False),  # 0: no deadline on the server
    ("max_lines", "TYPE_INT32", [1], True, False),  # stop after this many newlines (0: no limit)
    ("cache_weight", "TYPE_FP32", [1], True, False),
    ("cache_tokens", "TYPE_INT64", [-1], True, True),  # the prompt's tokens the n-gram cache counts
)
GENERATE_OUTPUTS = (
    ("output_ids", "TYPE_INT64", [-1]),
    ("logprobs", "TYPE_FP32", [-1]),
    ("stop_reason", "TYPE_STRING", [1]),
    ("prompt_tokens", "TYPE_INT32", [1]),
)


def _dims(shape) -> list[int]:
    """ONNX shape without its batch axis: symbolic and unknown axes become -1."""
    return [d if isinstance(d, int) and d > 0 else -1 for d in list(shape)[1:]]


def _tensor(name: str, dtype: str, dims: list[int], extra: str = "") -> str:
    return f'  {{\n    name: "{name}"\n    data_type: {dtype}\n    dims: {json.dumps(dims)}\n{extra}  }}'


def _instances(device: str, count: int) -> str:
    kind = "KIND_GPU" if device == "gpu" else "KIND_CPU"
    return f"instance_group [\n  {{\n    count: {count}\n    kind: {kind}\n  }}\n]\n"


def _parameters(params: dict[str, str]) -> str:
    return "".join(f'parameters {{\n  key: "{k}"\n  value: {{ string_value: {json.dumps(str(v))} }}\n}}\n'
                   for k, v in params.items())


def lm_config(session, name: str = "lm", device: str = "cpu", instances: int = 1, max_batch: int = 8,
              queue_delay_us: int = 2000) -> str:
    """config.pbtxt of the LM on the ONNX Runtime backend, its tensors read from `session` (onnxruntime)."""
    inputs = [_tensor(i.name, ONNX_TO_TRITON[i.type], _dims(i.shape)) for i in session.get_inputs()]
    outputs = [_tensor(o.name, ONNX_TO_TRITON[o.type], _dims(o.shape)) for o in session.get_outputs()]
    return (f'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: {max_batch}\n'
            f"input [\n{','.join(chr(10) + t if k else t for k, t in enumerate(inputs))}\n]\n"
            f"output [\n{','.join(chr(10) + t if k else t for k, t in enumerate(outputs))}\n]\n"
            # Requests batch only when their KV caches have the same length (same shapes): the
            # prefill of equal-length prompts and the lock-step decoding of a BLS caller.
            f"dynamic_batching {{\n  max_queue_delay_microseconds: {queue_delay_us}\n}}\n"
            + _instances(device, instances))


def generate_config(params: dict[str, str], name: str = "generate", device: str = "cpu", instances: int = 1,
                    max_batch: int = 8, queue_delay_us: int = 2000) -> str:
    """config.pbtxt of the Python-backend `generate` model; `params` reach model.py as its parameters."""
    inputs = [_tensor(n, t, d, ("    optional: true\n" if opt else "") + ("    allow_ragged_batch: true\n" if ragged else ""))
              for n, t, d, opt, ragged in GENERATE_INPUTS]
    outputs = [_tensor(n, t, d) for n, t, d in GENERATE_OUTPUTS]
    return (f'name: "{name}"\nbackend: "python"\nmax_batch_size: {max_batch}\n'
            f"input [\n{','.join(chr(10) + t if k else t for k, t in enumerate(inputs))}\n]\n"
            f"output [\n{','.join(chr(10) + t if k else t for k, t in enumerate(outputs))}\n]\n"
            f"dynamic_batching {{\n  max_queue_delay_microseconds: {queue_delay_us}\n}}\n"
            + _instances(device, instances) + _parameters(params))


def parse_config(text: str):
    """Parse config.pbtxt into Triton's `ModelConfig` message (the schema tritonclient ships); raises on errors."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(text, model_config_pb2.ModelConfig())
