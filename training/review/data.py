"""Functions for review calibration and evaluation: from a corpus folder or a source tree.

A corpus folder (`devassist corpus --out DIR`) keeps its own train/valid/test split by file.
A plain source tree is split here by a hash of each file's relative path (80 % train, 20 %
valid), so a repository can calibrate against itself. Functions are the same `FunctionUnit`s
the server scores: dedented text from the `def` line, parsed without errors.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from devassist.server.features.review.feature import function_units
from devassist.server.features.review.signals import FunctionSignal

MIN_LINES = 3  # one-liners carry too little signal to score or to mutate meaningfully
MAX_LINES = 200  # giants would dominate the token budget of a calibration run


@dataclass
class Function:
    """A function of the data set."""

    file: str
    qualname: str
    split: str
    text: str

    @property
    def key(self) -> str:
        """A stable id (file:qualname)."""
        return f"{self.file}:{self.qualname}"


def is_corpus(path: Path) -> bool:
    """Whether a folder is a `devassist corpus` output."""
    return (Path(path) / "files.jsonl").is_file()


def _hash_split(rel: str) -> str:
    bucket = int(hashlib.sha1(rel.encode("utf-8")).hexdigest(), 16) % 100
    return "train" if bucket < 80 else "valid"


def iter_files(source: Path) -> list[tuple[str, str, str]]:
    """(relative path, split, text) of every Python file of a corpus or a source tree."""
    source = Path(source)
    if is_corpus(source):
        out = []
        with open(source / "files.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                out.append((row["path"], row["split"], row["text"]))
        return out
    paths = [source] if source.is_file() else sorted(source.rglob("*.py"))
    out = []
    for p in paths:
        rel = p.name if source.is_file() else p.relative_to(source).as_posix()
        if any(part in ("test", "tests", ".venv", "venv", "site-packages", "__pycache__") for part in Path(rel).parts[:-1]):
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        out.append((rel, _hash_split(rel), text))
    return out


def text_digest(text: str) -> str:
    """The sha256 of a file's text (what `exclude` in `load_functions` matches)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def load_functions(source: Path, splits: tuple[str, ...] | None = None, limit: int | None = None,
                   seed: int = 0, exclude: set[str] | None = None) -> list[Function]:
    """Functions of the given splits (all when None), a seeded random sample of at most `limit`;
    files whose `text_digest` is in `exclude` are skipped."""
    funcs = []
    for rel, split, text in iter_files(source):
        if splits is not None and split not in splits:
            continue
        if exclude and text_digest(text) in exclude:
            continue
        try:
            units, _ = function_units(text)
        except Exception:  # noqa: BLE001 - one unreadable file must not stop a calibration
            continue
        for u in units:
            n = u.text.count("\n") + 1
            if MIN_LINES <= n <= MAX_LINES:
                funcs.append(Function(rel, u.qualname, split, u.text))
    if limit is not None and len(funcs) > limit:
        funcs = random.Random(seed).sample(funcs, limit)
    return funcs


def compute_signals(signals, texts: list[str], desc: str = "signals", chunk: int = 64,
                    each=None) -> list[FunctionSignal]:
    """Signals for many texts with a progress bar (no deadline); `each(texts, signals)` sees every
    chunk as soon as it is scored (while its KV caches, if kept, are still there)."""
    from tqdm import tqdm

    out: list[FunctionSignal] = []
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch with less padding
    got: dict[int, FunctionSignal] = {}
    with tqdm(total=len(texts), desc=desc, unit="fn", leave=False) as bar:
        for i in range(0, len(order), chunk):
            idx = order[i : i + chunk]
            chunk_sigs = signals.analyze([texts[k] for k in idx])
            if each is not None:
                each([texts[k] for k in idx], chunk_sigs)
            for j, s in zip(idx, chunk_sigs):
                got[j] = s
            bar.update(len(idx))
    out = [got[i] for i in range(len(texts))]
    return out


def embeddings_of(signals: list[FunctionSignal]) -> np.ndarray:
    """Stacked embeddings (N, D)."""
    return np.stack([s.embedding for s in signals]).astype(np.float32)


def mean_surprisal(signals: list[FunctionSignal]) -> np.ndarray:
    """Surprisal per token of each function (the issue's "mean LM surprisal" baseline)."""
    return np.asarray([s.total_surprisal / max(s.n_tokens, 1) for s in signals])


def pairwise_accuracy(orig: np.ndarray, twin: np.ndarray) -> float:
    """Share of pairs where the twin scores higher (ties count half)."""
    if len(orig) == 0:
        return float("nan")
    return float(np.mean((twin > orig) + 0.5 * (twin == orig)))


def separation(orig: np.ndarray, twin: np.ndarray) -> dict:
    """AUROC and average precision of twins (positives) against originals."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.concatenate([np.zeros(len(orig)), np.ones(len(twin))])
    s = np.concatenate([orig, twin])
    if len(orig) == 0 or len(twin) == 0:
        return {"auroc": float("nan"), "ap": float("nan")}
    return {"auroc": float(roc_auc_score(y, s)), "ap": float(average_precision_score(y, s))}
