"""The bundle's language model in plain onnxruntime: KV-cache greedy decoding and scoring.

The ONNX graph is optimum's `text-generation-with-past` export of a GPT-2: inputs `input_ids`,
`attention_mask`, `position_ids` and `past_key_values.{i}.{key,value}` (B, n_head, past, head_dim);
outputs `logits` (B, T, V) and `present.{i}.{key,value}`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tokenizers import Tokenizer

from devassist.server.bundle import Bundle
from devassist.server.runtime.constrain import TokenTable
from devassist.server.runtime.decode import GenerationResult, empty_past, greedy, session_forward
from devassist.server.runtime.ngram import NgramCache, softmax
from devassist.server.runtime.session import create_session


@dataclass
class PromptCache:
    """The KV cache of the last sequence fed for one document, reused by the next request.

    While the user types, consecutive prompts share most of their tokens; only the tokens after
    the longest common prefix need a forward pass.
    """

    ids: list[int] = field(default_factory=list)  # tokens whose keys/values are in `past`
    past: dict | None = None

    def common_prefix(self, ids: list[int]) -> int:
        """Length of the longest common prefix of the cached tokens and `ids`."""
        n = 0
        for a, b in zip(self.ids, ids):
            if a != b:
                break
            n += 1
        return n


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis, in float64 (sums of many steps are compared)."""
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - (np.log(np.exp(x - m).sum(axis=-1, keepdims=True)) + m)


class LanguageModel:
    """A causal LM from a bundle component, with its tokenizer and special token ids."""

    def __init__(self, bundle: Bundle, component: str = "lm", threads: int | None = None, prefer_gpu: bool = True,
                 onnx_path=None, lazy: bool = False):
        meta = bundle.component(component)
        self.meta = meta
        self.component = component
        self._path = onnx_path or bundle.path(meta["file"])
        self._threads, self._prefer_gpu = threads, prefer_gpu
        self._session = None
        self._load_lock = threading.Lock()
        self.file_sha256 = bundle.manifest.get("files", {}).get(meta["file"], {}).get("sha256", "")  # which model this is
        self.tokenizer = Tokenizer.from_file(str(bundle.tokenizer_path))
        self.n_layer = int(meta["n_layer"])
        self.n_head = int(meta["n_head"])
        self.head_dim = int(meta["head_dim"])
        self.vocab_size = int(meta["vocab_size"])
        self.context_length = int(meta["context_length"])
        specials = bundle.special_tokens
        self.special_ids = {role: self.tokenizer.token_to_id(tok) for role, tok in specials.items()}
        self.eot_id = self.special_ids.get("eot")
        if not lazy:
            self.session  # noqa: B018 - load now: a broken model file fails at start, not at the first keystroke

    @property
    def session(self):
        """The onnxruntime session, created on first use (a `serve --remote` client may never need it)."""
        if self._session is None:
            with self._load_lock:  # the completion and background lanes may both ask first
                if self._session is None:
                    self._load()
        return self._session

    def _load(self) -> None:
        session = create_session(self._path, threads=self._threads, prefer_gpu=self._prefer_gpu)
        self._input_names = {i.name for i in session.get_inputs()}
        self._output_names = [o.name for o in session.get_outputs()]
        self._past_dtype = np.float16 if "float16" in session.get_inputs()[0].type else np.float32
        for inp in session.get_inputs():
            if inp.name.startswith("past_key_values"):
                self._past_dtype = np.float16 if "float16" in inp.type else np.float32
                break
        self._session = session  # last: other threads see a session only with its names set

    @property
    def input_names(self) -> set[str]:
        """The ONNX graph's input names."""
        _ = self.session  # created on first use
        return self._input_names

    @property
    def output_names(self) -> list[str]:
        """The ONNX graph's output names (logits first)."""
        _ = self.session  # created on first use
        return self._output_names

    @property
    def past_dtype(self):
        """The KV cache's dtype (float16 for an fp16 graph)."""
        _ = self.session  # created on first use
        return self._past_dtype

    @property
    def loaded(self) -> bool:
        """Whether the onnxruntime session exists yet."""
        return self._session is not None

    @classmethod
    def from_onnx(cls, bundle: Bundle, onnx_path, **kwargs) -> "LanguageModel":
        """The bundle's LM shape and tokenizer over another ONNX file of the same model (benchmarks)."""
        component = "lm" if bundle.has("lm") else "lm_int8"
        return cls(bundle, component=component, onnx_path=onnx_path, **kwargs)

    @property
    def token_table(self) -> TokenTable:
        """Every token's text, for prefix-constrained decoding (built on first use, ~0.1 s)."""
        if getattr(self, "_token_table", None) is None:
            self._token_table = TokenTable(self.tokenizer, self.vocab_size)
        return self._token_table

    @property
    def has_fim(self) -> bool:
        """Whether the tokenizer has fill-in-the-middle tokens."""
        return all(self.special_ids.get(k) is not None for k in ("fim_prefix", "fim_suffix", "fim_middle"))

    @property
    def providers(self) -> list[str]:
        """The execution providers the session runs on."""
        return self.session.get_providers()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no special tokens added)."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        """Text of token ids, special tokens dropped."""
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _empty_past(self) -> dict[str, np.ndarray]:
        return empty_past(self.n_layer, self.n_head, self.head_dim, self.past_dtype)

    def forward(self, ids: list[int], past: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Run new tokens after `past`: logits (T, V) float32 and the new cache."""
        logits, present = self.forward_batch(np.asarray([ids], dtype=np.int64), past if past is not None else self._empty_past())
        return logits[0], present

    def step(self, tokens: list[int], past: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One new token for each of B sequences of equal length in `past` (B, ...): logits (B, V) and the new cache."""
        logits, present = self.forward_batch(np.asarray(tokens, dtype=np.int64)[:, None], past)
        return logits[:, -1], present

    def forward_batch(self, rows: np.ndarray, past: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Run B rows of T new tokens each after a batched `past` (B, ...): logits (B, T, V) and the new cache.

        Rows may be right-padded: attention is causal, so a padding token changes only the
        logits at and after its own position, which the caller ignores.
        """
        return session_forward(self.session, rows, past, self._input_names, self._output_names)

    def beam_search(self, prompt_ids: list[int], beams: int = 4, max_new_tokens: int = 32, **kwargs) -> GenerationResult:
        """Beam search with the KV cache (see `devassist.server.runtime.beam.beam_search`)."""
        from devassist.server.runtime.beam import beam_search  # here: beam.py imports this module

        return beam_search(self, prompt_ids, beams=beams, max_new_tokens=max_new_tokens, **kwargs)

    def logits(self, ids: list[int]) -> np.ndarray:
        """Logits (T, V) for a whole sequence, in windows of the context length with overlap."""
        if len(ids) <= self.context_length:
            return self.forward(ids)[0]
        window, stride = self.context_length, self.context_length // 2
        out = np.zeros((len(ids), self.vocab_size), dtype=np.float32)
        out[:window] = self.forward(ids[:window])[0]
        start = stride
        while start + window - stride < len(ids):
            chunk = ids[start : start + window]
            logits = self.forward(chunk)[0]
            keep_from = window - stride  # earlier positions were already scored with more context
            out[start + keep_from : start + len(chunk)] = logits[keep_from:]
            start += stride
        return out

    def token_surprisal(self, ids: list[int]) -> np.ndarray:
        """Surprisal in nats of each token given the ones before it; (T,), the first is 0."""
        if len(ids) < 2:
            return np.zeros(len(ids), dtype=np.float32)
        logp = log_softmax(self.logits(ids)[:-1])
        return np.concatenate([[0.0], -logp[np.arange(len(ids) - 1), ids[1:]]]).astype(np.float32)

    def generate(
        self,
        prompt_ids: list[int],
        max_new_tokens: int = 32,
        should_stop: Callable[[list[int]], bool] | None = None,
        deadline: float | None = None,
        is_cancelled: Callable[[], bool] | None = None,
        cache: NgramCache | None = None,
        stop_after: Callable[[list[int], list[float]], bool] | None = None,
        cache_weight: float = 0.0,
        ignore_eot: bool = False,
        reuse: PromptCache | None = None,
        logits_processor: Callable[[np.ndarray, list[int]], np.ndarray] | None = None,
        required: str = "",
    ) -> GenerationResult:
        """Greedy decoding with the KV cache.

        Stops at end-of-text, after `max_new_tokens`, when `should_stop(generated)` or
        `stop_after(generated, logprobs)` is true,
        when `time.monotonic()` passes `deadline`, or when `is_cancelled()` says so (checked
        between steps). With a `cache`, each step mixes its n-gram distribution in. With
        `reuse`, the keys/values of a shared prompt prefix are taken from the last request and
        the cache is updated for the next one. `logits_processor(logits, generated)` may rewrite
        each step's logits first (e.g. ban tokens). With `required`, the generated text must
        begin with that string: until it is covered, each step picks the most likely token that
        agrees with it (see `constrain.py`); those tokens are part of the result.
        """
        return greedy(lambda ids, past: self.forward(ids, past), prompt_ids, self.context_length, self.eot_id,
                      max_new_tokens, should_stop, deadline, is_cancelled, cache, cache_weight, ignore_eot, reuse,
                      logits_processor, required, self.token_table if required else None, stop_after)


def next_token_probs(logits: np.ndarray) -> np.ndarray:
    """Softmax probabilities for a (T, V) logits array."""
    return softmax(logits.astype(np.float64))
