"""Build the docstring retrieval index from a corpus and add it to a bundle.

The index holds, for each documented function of the corpus's train split, its code tokens
and the first sentence of its docstring (JSON, no pickle). It becomes the bundle component
`docstring_index`; the component `docstring` records which summarizer the server uses.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from pathlib import Path

from devassist.server.features.docstring.retrieval import BM25Index, build_index, documented_functions

EPILOG = """examples:
  devassist docstring index --corpus runs/stdlib --out runs/docstring_index.json
  devassist docstring index --corpus runs/stdlib --bundle models/default            # in place
  devassist docstring index --corpus runs/stdlib --bundle models/default --summarizer retrieval
"""


def index_from_corpus(corpus: Path, split: str = "train", min_words: int = 3) -> tuple[BM25Index, list[list[str]]]:
    """A BM25 index over the documented functions of one split of a corpus folder."""
    rows = []
    with open(Path(corpus) / "files.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if split in ("all", row["split"]):
                rows.extend(documented_functions(row["path"], row["text"]))
    return build_index(rows, min_words=min_words)


DECODING_KEYS = ("retrieval_threshold", "no_repeat_ngram", "min_new_tokens", "beams", "length_penalty",
                 "rerank", "rerank_length", "rerank_margin", "rerank_bm25", "min_confidence", "faithful_retries",
                 "alternatives")


def set_docstring_options(bundle: Path, **options) -> dict:
    """Merge options (None values skipped) into the bundle's `docstring` component and re-seal."""
    from devassist.export.bundle import add_component
    from devassist.server.bundle import load_bundle

    desc = dict(load_bundle(bundle).manifest["components"].get("docstring", {}))
    desc.update({k: v for k, v in options.items() if v is not None})
    add_component(Path(bundle), "docstring", desc)
    return desc


def add_decoding_arguments(p: argparse.ArgumentParser, override: bool = False) -> None:
    """The model's decoding options, as tuned on the validation split."""
    note = "(overrides the bundle) " if override else ""
    p.add_argument("--retrieval-threshold", type=float, help=note + "BM25 score above which the nearest function's "
                                                                    "sentence is used as is (0: always the model)")
    p.add_argument("--no-repeat-ngram", type=int, help=note + "never repeat an n-gram of generated tokens")
    p.add_argument("--min-new-tokens", type=int, help=note + "no end of sentence before this many tokens")
    p.add_argument("--beams", type=int, help=note + "beam search with this many beams (1: greedy)")
    p.add_argument("--length-penalty", type=float, help=note + "beam score = sum logprob / len**penalty")
    p.add_argument("--rerank", type=int, help=note + "the model chooses among its own sentence and those of this many "
                                                     "BM25 neighbours, by its log-likelihood (0: off)")
    p.add_argument("--rerank-length", type=float, help=note + "rerank score = logprob / tokens**L (+ margin, + weight * BM25)")
    p.add_argument("--rerank-margin", type=float, help=note + "a retrieved sentence must beat the model's own by this much")
    p.add_argument("--rerank-bm25", type=float, help=note + "weight of a retrieved sentence's BM25 score in the rerank score")
    p.add_argument("--min-confidence", type=float, help=note + "the model's summary is shown only at or above this mean "
                                                              "log-probability per token (else the parse's summary)")
    p.add_argument("--faithful-retries", type=int, help=note + "rewrites of a summary with unsupported mentions, their "
                                                               "first tokens banned (0: straight to the fallback)")
    p.add_argument("--alternatives", type=int, help=note + "when the model's sentence is not shown, the most likely "
                                                           "faithful one of this many beams is (0: none)")


def main(argv: list[str] | None = None) -> int:
    """Write the index file, and optionally add it to a bundle."""
    p = argparse.ArgumentParser(prog="devassist docstring index", description=__doc__.splitlines()[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="corpus folder written by `devassist corpus`")
    p.add_argument("--split", default="train", help="split to index (train, valid, test or all)")
    p.add_argument("--min-words", type=int, default=3, help="skip first sentences shorter than this")
    p.add_argument("--out", help="write the index JSON here")
    p.add_argument("--bundle", help="add the index to this bundle (re-sealed)")
    p.add_argument("--out-bundle", help="write the extended bundle here instead of in place")
    p.add_argument("--summarizer", choices=("model", "retrieval", "template"), default="model",
                   help="what the server uses for summaries (model falls back to retrieval)")
    add_decoding_arguments(p)
    args = p.parse_args(argv)
    index, docs = index_from_corpus(Path(args.corpus), args.split, args.min_words)
    payload = json.dumps(index.to_json(docs), separators=(",", ":"))
    out = Path(args.out) if args.out else None
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(payload, encoding="utf-8")
        print(f"docstring index: {index.n} functions -> {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.bundle:
        from devassist.export.bundle import add_component

        with tempfile.TemporaryDirectory() as tmp:
            # Bundles ship the index gzipped: a quarter of the size, read with the stdlib.
            path = Path(tmp) / "docstring_index.json.gz"
            path.write_bytes(gzip.compress(payload.encode("utf-8"), mtime=0))
            add_component(Path(args.bundle), "docstring_index",
                          {"file": "docstring_index.json.gz", "kind": "bm25", "format": 1, "n_functions": index.n,
                           "corpus": str(args.corpus), "split": args.split, "min_words": args.min_words},
                          files={"docstring_index.json.gz": path},
                          out_dir=Path(args.out_bundle) if args.out_bundle else None)
            target = Path(args.out_bundle or args.bundle)
            from devassist.server.bundle import load_bundle

            manifest = load_bundle(target).manifest
            desc = dict(manifest["components"].get("docstring", {}))
            desc.update({"summarizer": args.summarizer, "lm": desc.get("lm", "lm"), "index": "docstring_index"})
            desc.update({k: getattr(args, k) for k in DECODING_KEYS if getattr(args, k) is not None})
            add_component(target, "docstring", desc)
        print(f"docstring index: {index.n} functions added to {target}")
    if not out and not args.bundle:
        print("docstring index: nothing written (give --out and/or --bundle)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
