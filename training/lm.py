"""The completion model: a GPT-2 config from TOML, token streams, and fill-in-the-middle samples."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ModelConfig:
    """Shape of the decoder-only transformer."""

    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads; n_embd must divide by it
    n_embd: int = 256  # model width
    context_length: int = 256  # tokens the model attends over
    dropout: float = 0.0  # small models on little data train fine without it


@dataclass
class DataConfig:
    """Where the tokens come from and how samples are formed."""

    corpus: str = ""  # a `devassist corpus` folder; empty: mine the standard library into the run
    vocab_size: int = 8192  # BPE vocabulary when the run trains its own tokenizer
    fim_rate: float = 0.5  # share of samples rearranged for fill-in-the-middle
    spm_rate: float = 0.5  # of those, the share in suffix-prefix-middle order (the rest PSM)


@dataclass
class TrainConfig:
    """Optimisation and budget."""

    batch_size: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4  # the cosine schedule ends here
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    max_steps: int = 2000  # the schedule's length
    time_budget_s: float = 0.0  # stop early when spent (0: no limit); the schedule still uses max_steps
    eval_interval: int = 250
    eval_batches: int = 16
    seed: int = 1337
    bf16: bool = True  # autocast to bfloat16 (CPU with AVX-512 bf16, or CUDA)
    threads: int = 0  # torch intra-op threads (0: leave torch's default)


@dataclass
class RunConfig:
    """A whole training run, as read from a TOML file."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_toml(cls, path: Path) -> "RunConfig":
        """Read a config; unknown keys are an error so typos do not pass silently."""
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        cfg = cls()
        for section, obj in (("model", cfg.model), ("data", cfg.data), ("train", cfg.train)):
            for key, value in raw.get(section, {}).items():
                if not hasattr(obj, key):
                    raise ValueError(f"{path}: unknown setting [{section}] {key}")
                setattr(obj, key, type(getattr(obj, key))(value))
        unknown = set(raw) - {"model", "data", "train"}
        if unknown:
            raise ValueError(f"{path}: unknown sections {sorted(unknown)}")
        return cfg

    def to_dict(self) -> dict:
        """Plain dict for checkpoints and manifests."""
        return asdict(self)


def hf_config(model: ModelConfig, vocab_size: int, eot_id: int):
    """The transformers GPT2Config for our shape."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size, n_positions=model.context_length, n_embd=model.n_embd,
        n_layer=model.n_layer, n_head=model.n_head, resid_pdrop=model.dropout,
        embd_pdrop=model.dropout, attn_pdrop=model.dropout, bos_token_id=eot_id, eos_token_id=eot_id,
    )


def token_stream(texts: list[str], tokenizer, eot_id: int) -> np.ndarray:
    """All texts tokenized and joined with end-of-text, as one int32 array."""
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    parts = []
    for enc in encodings:
        parts.append(np.asarray(enc.ids, dtype=np.int32))
        parts.append(np.asarray([eot_id], dtype=np.int32))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


class SampleMaker:
    """Random windows of a token stream, some rearranged for fill-in-the-middle.

    PSM: <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle <eot>
    SPM: <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle <eot>
    Each sample is length+1 tokens, so inputs and shifted targets are both `length` long.
    """

    def __init__(self, stream: np.ndarray, length: int, special: dict[str, int], fim_rate: float, spm_rate: float, seed: int):
        if len(stream) < length + 2:
            raise ValueError(f"only {len(stream)} tokens: need more than the context length {length}")
        self.stream, self.length, self.sp = stream, length, special
        self.fim_rate, self.spm_rate = fim_rate, spm_rate
        self.rng = np.random.default_rng(seed)

    def sample(self) -> np.ndarray:
        """One training sequence of length+1 tokens."""
        n = self.length + 1
        start = int(self.rng.integers(0, len(self.stream) - n))
        if self.rng.random() >= self.fim_rate:
            return self.stream[start:start + n].copy()
        content = self.stream[start:start + n - 4]  # room for three FIM tokens and end-of-text
        a, b = sorted(self.rng.integers(0, len(content) + 1, size=2))
        pre, mid, suf = content[:a], content[a:b], content[b:]
        P, S, M, E = (self.sp[k] for k in ("fim_prefix", "fim_suffix", "fim_middle", "eot"))
        if self.rng.random() < self.spm_rate:
            parts = [[P, S], suf, [M], pre, mid, [E]]
        else:
            parts = [[P], pre, [S], suf, [M], mid, [E]]
        return np.concatenate([np.asarray(p, dtype=np.int32) for p in parts])

    def batch(self, size: int) -> np.ndarray:
        """A (size, length+1) batch."""
        return np.stack([self.sample() for _ in range(size)])


def fixed_windows(stream: np.ndarray, length: int, count: int) -> np.ndarray:
    """Evenly spaced plain windows for a stable validation loss, (count, length+1)."""
    n = length + 1
    if len(stream) < n:
        return np.zeros((0, n), dtype=np.int32)
    starts = np.linspace(0, len(stream) - n, num=count).astype(int)
    return np.stack([stream[s:s + n] for s in starts])
