"""Triton Python-backend model `generate`: a whole greedy completion per request, on onnxruntime.

`devassist export --triton` copies this file as `generate/1/model.py`, with the server's own
decoding loop (`devassist_runtime/decode.py`, `constrain.py`, `ngram.py`, copied unchanged) and
the vocabulary's token strings (`token_strings.json`, for the typed-characters constraint). The
tokenizer stays with the client: requests carry token ids, responses return token ids and their
log-probabilities. It needs numpy and onnxruntime in the Python that runs the backend stub.
"""

import json
import os
import sys
import time

# The backend stub embeds its own interpreter, which ignores PYTHONPATH; honour it here, so the
# environment that launched tritonserver (a virtual environment with numpy and onnxruntime)
# supplies the packages.
for _path in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    if _path and _path not in sys.path:
        sys.path.append(_path)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from devassist_runtime.constrain import TokenTable  # noqa: E402
from devassist_runtime.decode import empty_past, greedy, session_forward  # noqa: E402
from devassist_runtime.ngram import NgramCache  # noqa: E402


class _Strings:
    """The part of a tokenizer `TokenTable` reads: the text of one token."""

    def __init__(self, strings):
        self.strings = strings

    def decode(self, ids):
        """Text of a one-token list."""
        return self.strings[ids[0]]


def _input(request, name, default=None):
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return default if tensor is None else tensor.as_numpy().reshape(-1)


class TritonPythonModel:
    """Triton's entry point: `initialize` loads the LM, `execute` decodes each request."""

    def initialize(self, args):
        """Load the ONNX LM named by the config's `lm_path` and the token strings."""
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        here = os.path.join(args["model_repository"], args["model_version"])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(params.get("intra_op_threads", "0"))  # 0: onnxruntime's default
        opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if args.get("model_instance_kind") == "GPU" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers = [("CUDAExecutionProvider", {"device_id": int(args["model_instance_device_id"])}),
                         "CPUExecutionProvider"]
        self.session = ort.InferenceSession(os.path.normpath(os.path.join(here, params["lm_path"])), opts,
                                            providers=providers)
        self.n_layer, self.n_head = int(params["n_layer"]), int(params["n_head"])
        self.head_dim, self.vocab_size = int(params["head_dim"]), int(params["vocab_size"])
        self.context_length = int(params["context_length"])
        self.eot_id = int(params["eot_id"]) if params.get("eot_id", "") != "" else None
        dtype = next((i.type for i in self.session.get_inputs() if i.name.startswith("past_key_values")), "")
        self.past_dtype = np.float16 if "float16" in dtype else np.float32
        with open(os.path.join(here, "token_strings.json"), encoding="utf-8") as fh:
            strings = json.load(fh)
        self.table = TokenTable(_Strings(strings), self.vocab_size)
        self.newlines = [s.count("\n") for s in strings]

    def _forward(self, ids, past):
        past = past if past is not None else empty_past(self.n_layer, self.n_head, self.head_dim, self.past_dtype)
        logits, present = session_forward(self.session, np.asarray([ids], dtype=np.int64), past)
        return logits[0], present

    def _decode(self, request):
        ids = [int(t) for t in _input(request, "input_ids")]
        if any(t < 0 or t >= self.vocab_size for t in ids):
            raise ValueError(f"input_ids must lie in [0, {self.vocab_size})")
        max_new = int(_input(request, "max_new_tokens")[0])
        if not 0 <= max_new <= self.context_length:
            raise ValueError(f"max_new_tokens must lie in [0, {self.context_length}]")
        raw = _input(request, "required", np.array([b""], dtype=object))[0]
        required = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        budget_ms = int(_input(request, "time_budget_ms", np.array([0]))[0])
        weight = float(_input(request, "cache_weight", np.array([0.0]))[0])
        cache = NgramCache([int(t) for t in _input(request, "cache_tokens", np.array([], dtype=np.int64))]) \
            if weight > 0 else None
        max_lines = int(_input(request, "max_lines", np.array([0]))[0])
        should_stop = (lambda out: sum(self.newlines[t] for t in out) >= max_lines) if max_lines > 0 else None
        cancelled = getattr(request, "is_cancelled", None)  # Triton >= 23.10: the client gave up
        result = greedy(self._forward, ids, self.context_length, self.eot_id, max_new, should_stop,
                        deadline=time.monotonic() + budget_ms / 1000.0 if budget_ms > 0 else None,
                        is_cancelled=cancelled, cache=cache, cache_weight=weight, required=required,
                        table=self.table if required else None)
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("output_ids", np.asarray([result.ids], dtype=np.int64).reshape(1, -1)),
            pb_utils.Tensor("logprobs", np.asarray([result.logprobs], dtype=np.float32).reshape(1, -1)),
            pb_utils.Tensor("stop_reason", np.asarray([[result.stop_reason.encode()]], dtype=object)),
            pb_utils.Tensor("prompt_tokens", np.asarray([[result.prompt_tokens]], dtype=np.int32)),
        ])

    def execute(self, requests):
        """One response per request, decoded one after another (a bad request fails alone)."""
        responses = []
        for request in requests:
            try:
                responses.append(self._decode(request))
            except Exception as exc:  # noqa: BLE001 - the error goes back to that request's client
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(f"generate: {exc}")))
        return responses
