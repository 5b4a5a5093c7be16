"""Docstring fill-in-the-middle examples, built exactly like the server's prompt.

For each documented function of a corpus split, the prompt is what `FimSummarizer.prompt`
builds when that docstring is missing (file text before the definition, the header and the
opening quotes as prefix; the closing quotes and the body as suffix), and the target is the
docstring's first sentence followed by end-of-text. Saved as one npz of uint16/int32 arrays.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from devassist.server.features.docstring import DocstringFeature
from devassist.server.features.docstring.retrieval import BM25Index, code_tokens, first_sentence
from devassist.server.features.docstring.summary import FimSummarizer, RetrievalSummarizer, as_sentence
from devassist.server.parsing import definitions

EPILOG = """examples:
  python -m devassist.training.docstring_data --corpus runs/stdlib --tokenizer runs/default/tokenizer.json \\
      --out runs/docstring/examples.npz
  python -m devassist.training.docstring_data --corpus runs/big --exclude-corpus runs/stdlib ... --max-examples 40000
"""


class TokenizerLM:
    """Just enough of LanguageModel (encode, special ids, context length) to build prompts."""

    has_fim = True

    def __init__(self, tokenizer_file: Path, context_length: int):
        from tokenizers import Tokenizer

        from devassist.training.tokenizer import special_ids

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.special_ids = special_ids(self.tokenizer)
        self.context_length = context_length

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids


def iter_requests(text: str, path: str, min_words: int = 2):
    """(qualname, SummaryRequest, target sentence) for each documented function of a file."""
    feature = DocstringFeature.__new__(DocstringFeature)  # only its request builder is used
    feature.faithful = False  # training prompts need no vocabulary of allowed mentions
    data = text.encode("utf-8", "surrogatepass")
    for d in definitions(data):
        if d.kind != "function" or d.docstring is None or d.has_error or d.body_node is None:
            continue
        sentence = first_sentence(d.docstring)
        if len(sentence.split()) < min_words:
            continue
        try:
            request = feature.summary_request(text, data, d)
        except Exception:  # noqa: BLE001 - odd files are skipped, not fatal
            continue
        yield d.qualname, request, as_sentence(sentence)


def build_examples(corpus: Path, tokenizer_file: Path, split: str = "train", context_length: int = 512,
                   max_new_tokens: int = 32, max_examples: int = 0, exclude: set[str] | None = None,
                   seed: int = 0, max_prompt_tokens: int = 192, hints_index: Path | None = None) -> dict[str, np.ndarray]:
    """Prompt + target token arrays for one split of a corpus; `exclude` drops targets seen elsewhere."""
    from tqdm import tqdm

    lm = TokenizerLM(tokenizer_file, context_length)
    fim = FimSummarizer(lm, max_new_tokens=max_new_tokens, max_prompt_tokens=max_prompt_tokens)
    retrieval = RetrievalSummarizer(BM25Index.load(hints_index)) if hints_index else None
    eot = lm.special_ids["eot"]
    files = []
    with open(corpus / "files.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["split"] == split:
                files.append((row["path"], row["text"]))
    rng = np.random.default_rng(seed)
    rng.shuffle(files)
    prompts, targets = [], []
    for path, text in tqdm(files, desc=f"docstring examples ({split})", unit="file", file=sys.stderr):
        for qualname, request, sentence in iter_requests(text, path):
            if exclude and sentence.lower() in exclude:
                continue
            hint = ""
            if retrieval is not None:  # leave-one-out: never the function's own docstring
                own = sentence.lower().rstrip(".")
                for i, _ in retrieval.index.top(code_tokens(request.code), 2):
                    if not (retrieval.index.names[i] == qualname and retrieval.index.sentences[i].lower().rstrip(".") == own):
                        hint = retrieval.index.sentences[i]
                        break
            prompts.append(fim.prompt(request, hint=hint))
            targets.append(lm.encode(sentence)[: max_new_tokens - 1] + [eot])
        if max_examples and len(prompts) >= max_examples:
            break
    lengths_p = np.array([len(p) for p in prompts], dtype=np.int32)
    lengths_t = np.array([len(t) for t in targets], dtype=np.int32)
    flat = np.array([i for p, t in zip(prompts, targets) for i in (*p, *t)], dtype=np.uint16)
    return {"tokens": flat, "prompt_len": lengths_p, "target_len": lengths_t,
            "context_length": np.array([context_length], dtype=np.int32),
            "max_prompt_tokens": np.array([max_prompt_tokens], dtype=np.int32),
            "max_new_tokens": np.array([max_new_tokens], dtype=np.int32),
            "hints": np.array([1 if hints_index else 0], dtype=np.int32)}


def sentences_of(corpus: Path, splits: tuple[str, ...]) -> set[str]:
    """Lower-cased first sentences of the documented functions in some splits (to keep them out)."""
    out = set()
    with open(corpus / "files.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["split"] in splits:
                out.update(s.lower() for _, _, s in iter_requests(row["text"], row["path"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the examples npz."""
    p = argparse.ArgumentParser(prog="python -m devassist.training.docstring_data", description=__doc__.splitlines()[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, action="append", required=True, help="corpus folder(s)")
    p.add_argument("--tokenizer", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--context-length", type=int, default=512)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--max-prompt-tokens", type=int, default=192, help="must match the server's FimSummarizer")
    p.add_argument("--max-examples", type=int, default=0, help="per corpus; 0 = all")
    p.add_argument("--hints", type=Path, help="a docstring index JSON: show each example its nearest other "
                                             "function's sentence (the bundle must ship the same index)")
    p.add_argument("--exclude-corpus", type=Path, help="drop examples whose sentence occurs in this corpus's "
                                                       "valid/test splits (vendored copies)")
    args = p.parse_args(argv)
    exclude = sentences_of(args.exclude_corpus, ("valid", "test")) if args.exclude_corpus else None
    parts = [build_examples(c, args.tokenizer, args.split, args.context_length, args.max_new_tokens,
                            args.max_examples, exclude, max_prompt_tokens=args.max_prompt_tokens,
                            hints_index=args.hints) for c in args.corpus]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in ("tokens", "prompt_len", "target_len")}
    for key in ("context_length", "max_prompt_tokens", "max_new_tokens", "hints"):
        merged[key] = parts[0][key]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **merged)
    print(f"docstring examples: {len(merged['prompt_len'])} -> {args.out} "
          f"({merged['tokens'].nbytes / 1e6:.1f} MB of tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
