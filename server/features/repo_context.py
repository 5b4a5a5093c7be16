"""Repository context for completion: snippets of the workspace's other files in the prompt.

The index splits each Python file of the workspace into chunks at its top-level definitions
(long ones into windows) and ranks them for a cursor with BM25 over identifiers: the query is the
code just above the cursor, and chunks that define a name the document imports are boosted.
`RepoIndex.context(...)` returns the best chunks as text that fits a token budget, the most
relevant last (nearest the code being completed), each under a `# path` comment line.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
IMPORTED = re.compile(r"^[ \t]*from[ \t]+[.\w]+[ \t]+import[ \t]+(?:\(([\w\s,]+)\)|([\w \t,]+))|^[ \t]*import[ \t]+([\w.]+)",
                      re.M)
STOP = frozenset("and as assert async await break class continue def del elif else except finally for from global if "
                 "import in is lambda nonlocal not or pass raise return try while with yield self cls none true "
                 "false".split())
DEFINES = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.M)
CHUNK_LINES = 40  # a definition longer than this is indexed in windows of this many lines
QUERY_LINES = 30  # lines above the cursor that make the query
MAX_FILE_CHARS = 500_000
MAX_FILES = 5_000


@dataclass
class Chunk:
    """A piece of a workspace file."""

    path: str
    text: str
    terms: Counter
    defines: frozenset


def terms(text: str) -> Counter:
    """Identifier counts, lower-cased, keywords left out."""
    return Counter(t for t in (m.lower() for m in IDENT.findall(text)) if t not in STOP)


def split_chunks(path: str, text: str) -> list[Chunk]:
    """Top-level definitions (and the module head), long ones cut into windows."""
    lines = text.split("\n")
    starts = [0] + [i for i, line in enumerate(lines) if i and re.match(r"(?:async\s+def|def|class|@)\s*\w", line)]
    starts = sorted(set(s for s in starts if s == 0 or not lines[s - 1].startswith("@")))
    chunks = []
    for a, b in zip(starts, starts[1:] + [len(lines)]):
        for w in range(a, b, CHUNK_LINES):
            body = "\n".join(lines[w:min(b, w + CHUNK_LINES)]).strip("\n")
            if body.strip():
                chunks.append(Chunk(path, body, terms(body), frozenset(DEFINES.findall(body))))
    return chunks


class RepoIndex:
    """BM25 over the chunks of a workspace's Python files."""

    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks
        self.postings: dict[str, list[tuple[int, int]]] = {}  # term -> [(chunk index, count)]
        for i, c in enumerate(chunks):
            for term, tf in c.terms.items():
                self.postings.setdefault(term, []).append((i, tf))
        self.lengths = [sum(c.terms.values()) for c in chunks]
        self.avg_len = sum(self.lengths) / max(1, len(chunks))

    @classmethod
    def from_files(cls, files: list[tuple[str, str]]) -> "RepoIndex":
        """An index of (path, text) pairs."""
        return cls([c for path, text in files[:MAX_FILES] if len(text) <= MAX_FILE_CHARS
                    for c in split_chunks(path, text)])

    @classmethod
    def from_folder(cls, root: Path) -> "RepoIndex":
        """An index of every readable .py file under `root` (hidden folders and venvs skipped)."""
        files = []
        for path in sorted(root.rglob("*.py")):
            if any(part.startswith(".") or part in ("node_modules", "__pycache__", "venv") for part in path.parts):
                continue
            try:
                files.append((str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
            if len(files) >= MAX_FILES:
                break
        return cls.from_files(files)

    def scores(self, query: Counter, k1: float = 1.2, b: float = 0.75) -> dict[int, float]:
        """BM25 of every chunk sharing a term with the query (through the postings)."""
        n = len(self.chunks)
        out: dict[int, float] = {}
        for term in query:
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for i, tf in posting:
                norm = tf + k1 * (1 - b + b * self.lengths[i] / self.avg_len)
                out[i] = out.get(i, 0.0) + idf * tf * (k1 + 1) / norm
        return out

    def context(self, prefix: str, path: str, budget_tokens: int, count_tokens: Callable[[str], int],
                document: str = "") -> str:
        """The best chunks of other files for a cursor at the end of `prefix`, within the budget."""
        if budget_tokens <= 0 or not self.chunks:
            return ""
        query = terms("\n".join(prefix.split("\n")[-QUERY_LINES:]))
        imported = set()
        for grouped, names, module in IMPORTED.findall(document or prefix):
            listed = grouped or names or module.split(".")[-1]
            imported.update(n.split()[0] for n in listed.split(",") if n.strip())
        ranked = [(score + (5.0 if self.chunks[i].defines & imported else 0.0), self.chunks[i])
                  for i, score in self.scores(query).items() if self.chunks[i].path != path]
        ranked.sort(key=lambda sc: -sc[0])
        picked, used = [], 0
        for _, chunk in ranked[:20]:
            piece = f"# {Path(chunk.path).name}\n{chunk.text}\n\n"
            cost = count_tokens(piece)
            if used + cost > budget_tokens:
                continue
            picked.append(piece)
            used += cost
        return "".join(reversed(picked))  # the most relevant last, nearest the cursor
