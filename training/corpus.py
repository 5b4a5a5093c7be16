"""`devassist corpus`: mine Python source trees into files and functions, split by file.

Output folder:
    files.jsonl       one row per file: {path, root, split, sha256, n_lines, text}
    functions.jsonl   one row per def/class: {file, split, kind, qualname, name, signature,
                      docstring, body, start_byte, end_byte, start_line, end_line, is_method}
    summary.json      counts (files, functions, skipped by reason), sources, the corpus hash
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import sysconfig
from collections import Counter
from pathlib import Path
from typing import Iterator


SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", ".git",
             ".venv", "venv", "node_modules", "build", "dist", ".tox", ".eggs"}
MAX_BYTES = 1_000_000
SPLITS = (("train", 85), ("valid", 90), ("test", 100))  # cumulative percent by path hash

EPILOG = """examples:
  devassist corpus --out runs/corpus                    # the standard library, no tests
  devassist corpus --source ~/src/myproject --out runs/mine
  devassist corpus --source a/ --source b/ --out runs/ab --max-bytes 200000
"""


def stdlib_root() -> Path:
    """The running interpreter's standard library folder."""
    return Path(sysconfig.get_paths()["stdlib"])


def split_of(rel_path: str) -> str:
    """Deterministic train/valid/test split from a hash of the path relative to its root."""
    bucket = int(hashlib.sha1(rel_path.encode("utf-8")).hexdigest(), 16) % 100
    return next(name for name, upper in SPLITS if bucket < upper)


def iter_python_files(root: Path) -> Iterator[Path]:
    """Python files under root, skipping test folders, virtualenvs and build output."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*.py")):
        rel_parts = path.relative_to(root).parts[:-1]
        if any(p in SKIP_DIRS or p.startswith("test_") for p in rel_parts):
            continue
        if path.name.startswith("test_") or path.name.endswith("_test.py"):
            continue
        yield path


def read_source(path: Path, max_bytes: int) -> tuple[str | None, str | None]:
    """(text, None) for a usable file, (None, reason) for one to skip."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, "too_large"
        data = path.read_bytes()
    except OSError:
        return None, "unreadable"
    if not data.strip():
        return None, "empty"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "not_utf8"


def function_rows(text: str, rel: str, split: str) -> tuple[list[dict], bool]:
    """Every def/class of a file as corpus rows, and whether the file had syntax errors."""
    from devassist.server.parsing import iter_definitions, parse  # tree-sitter only when mining

    data = text.encode("utf-8")
    tree = parse(data)
    defs = list(iter_definitions(tree, data))
    rows = []
    for d in defs:
        body = d.body_node
        rows.append({
            "file": rel, "split": split, "kind": d.kind, "qualname": d.qualname, "name": d.name,
            "signature": d.signature, "docstring": d.docstring,
            "body": data[body.start_byte:body.end_byte].decode("utf-8", "replace") if body else "",
            "start_byte": d.start_byte, "end_byte": d.end_byte,
            "start_line": d.start_line, "end_line": d.end_line, "is_method": d.is_method,
            "has_error": d.has_error,
        })
    return rows, tree.root_node.has_error


def build_corpus(sources: list[Path], out: Path, max_bytes: int = MAX_BYTES, progress: bool = True) -> dict:
    """Mine `sources` into `out`; returns the summary (also written to summary.json)."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    skipped: Counter = Counter()
    counts: Counter = Counter()
    corpus_hash = hashlib.sha256()
    files = [(root, p) for root in sources for p in iter_python_files(root)]
    with open(out / "files.jsonl", "w", encoding="utf-8") as ff, open(out / "functions.jsonl", "w", encoding="utf-8") as fn:
        for root, path in tqdm(files, desc="corpus", unit="file", disable=not progress, file=sys.stderr):
            rel = path.name if root.is_file() else path.relative_to(root).as_posix()
            # The split hashes the path within its own root, so a tree keeps the same split
            # whether it is mined alone or beside others.
            split = split_of(rel)
            if len(sources) > 1:
                rel = f"{root.name}/{rel}"
            text, reason = read_source(path, max_bytes)
            if text is None:
                skipped[reason] += 1
                continue
            rows, had_error = function_rows(text, rel, split)
            if had_error:
                skipped["unparseable"] += 1
                continue
            sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
            corpus_hash.update(rel.encode() + sha.encode())
            ff.write(json.dumps({"path": rel, "root": str(root), "split": split, "sha256": sha,
                                 "n_lines": text.count("\n") + 1, "text": text}) + "\n")
            for row in rows:
                fn.write(json.dumps(row) + "\n")
            counts[f"files_{split}"] += 1
            counts[f"functions_{split}"] += sum(r["kind"] == "function" for r in rows)
            counts["bytes"] += len(text.encode("utf-8"))
    summary = {
        "sources": [str(s) for s in sources],
        "files": sum(v for k, v in counts.items() if k.startswith("files_")),
        "functions": sum(v for k, v in counts.items() if k.startswith("functions_")),
        "bytes": counts["bytes"],
        "by_split": {k: v for k, v in sorted(counts.items()) if k != "bytes"},
        "skipped": dict(skipped),
        "corpus_sha256": corpus_hash.hexdigest(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _load_rows(corpus: Path, name: str, split: str | None) -> list[dict]:
    """Rows of one of the corpus's JSONL files, optionally only one split."""
    with open(Path(corpus) / name, encoding="utf-8") as fh:
        rows = (json.loads(line) for line in fh)
        return [row for row in rows if split is None or row["split"] == split]


def load_files(corpus: Path, split: str | None = None) -> list[dict]:
    """Rows of files.jsonl, optionally only one split."""
    return _load_rows(corpus, "files.jsonl", split)


def load_functions(corpus: Path, split: str | None = None) -> list[dict]:
    """Rows of functions.jsonl, optionally only one split."""
    return _load_rows(corpus, "functions.jsonl", split)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist corpus", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", action="append", type=Path, help="a folder or file (repeatable); default: the standard library")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--max-bytes", type=int, default=MAX_BYTES, help="skip larger files (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    sources = args.source or [stdlib_root()]
    for s in sources:
        if not s.exists():
            print(f"devassist corpus: {s} does not exist", file=sys.stderr)
            return 2
    summary = build_corpus(sources, args.out, args.max_bytes, progress=not args.quiet)
    print(f"corpus: {summary['files']} files, {summary['functions']} functions, "
          f"{summary['bytes'] / 1e6:.1f} MB -> {args.out}")
    print(f"  by split: {summary['by_split']}")
    print(f"  skipped: {summary['skipped'] or 'none'}")
    return 0
