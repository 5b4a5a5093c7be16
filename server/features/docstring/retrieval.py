"""BM25 retrieval of docstrings: the first sentence of the most similar documented function.

The index is a plain JSON file (a bundle component `docstring_index`): for each documented
function of the training corpus its code tokens and the first sentence of its docstring.
Postings are rebuilt in memory at load time; nothing is pickled.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np

INDEX_FORMAT = 1
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`'\"\[])|(?<=[.!?])$")


def code_tokens(code: str) -> list[str]:
    """Identifiers of a piece of code, lower-cased, with their snake/camel sub-words."""
    tokens = []
    for ident in _IDENT.findall(code):
        low = ident.lower()
        tokens.append(low)
        parts = [p.lower() for p in _PARTS.findall(ident)]
        if len(parts) > 1:
            tokens.extend(parts)
    return tokens


def first_sentence(docstring: str) -> str:
    """The first sentence of a docstring's first paragraph, on one line."""
    para = []
    for line in docstring.strip().splitlines():
        if not line.strip():
            if para:
                break
            continue
        para.append(line.strip())
    text = " ".join(para)
    match = _SENTENCE_END.search(text)
    return text[: match.start()].strip() if match and match.start() > 0 else text.strip()


class BM25Index:
    """Okapi BM25 over code tokens, returning stored sentences."""

    def __init__(self, docs: list[list[str]], sentences: list[str], k1: float = 1.2, b: float = 0.75,
                 names: list[str] | None = None):
        self.k1, self.b = k1, b
        self.sentences = sentences
        self.names = names or [""] * len(sentences)
        self.n = len(docs)
        self.lengths = np.array([len(d) for d in docs], dtype=np.float32)
        self.avgdl = float(self.lengths.mean()) if self.n else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for i, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                ids, tfs = postings[term]
                ids.append(i)
                tfs.append(tf)
        self.postings = {t: (np.array(ids, dtype=np.int32), np.array(tfs, dtype=np.float32)) for t, (ids, tfs) in postings.items()}
        self.idf = {t: math.log(1 + (self.n - len(ids) + 0.5) / (len(ids) + 0.5)) for t, (ids, _) in self.postings.items()}
        self.norm = self.k1 * (1 - self.b + self.b * self.lengths / self.avgdl)

    def scores(self, query: Iterable[str]) -> np.ndarray:
        """BM25 score of every stored document for a bag of query tokens."""
        out = np.zeros(self.n, dtype=np.float32)
        for term, qtf in Counter(query).items():
            hit = self.postings.get(term)
            if hit is None:
                continue
            ids, tfs = hit
            out[ids] += self.idf[term] * tfs * (self.k1 + 1) / (tfs + self.norm[ids])
        return out

    def top(self, query: Iterable[str], k: int = 5, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """The k best (document id, score) pairs, best first."""
        scores = self.scores(query)
        if exclude:
            scores[list(exclude)] = -1.0
        k = min(k, self.n)
        if k <= 0:
            return []
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(int(i), float(scores[i])) for i in idx if scores[i] > 0]

    def to_json(self, docs: list[list[str]]) -> dict:
        """A JSON-able description (needs the token lists it was built from)."""
        return {"format": INDEX_FORMAT, "k1": self.k1, "b": self.b,
                "docs": [{"n": n, "s": s, "t": " ".join(d)} for n, s, d in zip(self.names, self.sentences, docs)]}

    @classmethod
    def from_json(cls, data: dict) -> "BM25Index":
        """Rebuild an index from `to_json`'s output."""
        if data.get("format") != INDEX_FORMAT:
            raise ValueError(f"docstring index format {data.get('format')!r}, expected {INDEX_FORMAT}")
        docs = [row["t"].split() for row in data["docs"]]
        return cls(docs, [row["s"] for row in data["docs"]], data.get("k1", 1.2), data.get("b", 0.75),
                   [row.get("n", "") for row in data["docs"]])

    @classmethod
    def load(cls, path: str | Path) -> "BM25Index":
        """Read an index file (`.json`, or `.json.gz` as bundles ship it)."""
        data = Path(path).read_bytes()
        if str(path).endswith(".gz"):
            data = gzip.decompress(data)
        return cls.from_json(json.loads(data.decode("utf-8")))


def build_index(rows: Iterable[dict], min_words: int = 3) -> tuple[BM25Index, list[list[str]]]:
    """An index over corpus rows {name, signature, body, docstring}; short docstrings left out."""
    docs, sentences, names = [], [], []
    for row in rows:
        doc = row.get("docstring") or ""
        sentence = first_sentence(doc)
        if len(sentence.split()) < min_words:
            continue
        docs.append(code_tokens(f"{row.get('signature', '')}\n{row.get('body', '')}"))
        sentences.append(sentence)
        names.append(row.get("qualname") or row.get("name", ""))
    return BM25Index(docs, sentences, names=names), docs


def documented_functions(path: str, text: str, min_words: int = 1) -> list[dict]:
    """Functions of a file that have a docstring: {path, qualname, name, line, signature, body, docstring}.

    `body` is the function's text after its header with the docstring statement left out, the
    same view of the code the docstring feature has when the docstring is missing.
    """
    from devassist.server.parsing import definitions

    data = text.encode("utf-8", "surrogatepass")
    rows = []
    for d in definitions(data):
        if d.kind != "function" or d.docstring is None or d.has_error or d.body_node is None:
            continue
        if len(first_sentence(d.docstring).split()) < min_words:
            continue
        ds = d.docstring_node
        body = data[d.body_node.start_byte : ds.start_byte] + data[ds.end_byte : d.body_node.end_byte]
        rows.append({
            "path": path, "qualname": d.qualname, "name": d.name, "line": d.start_line,
            "signature": d.signature, "body": body.decode("utf-8", "replace").strip(),
            "docstring": d.docstring,
        })
    return rows
