"""`devassist tokenizer`: a byte-level BPE for code, with end-of-text and FIM special tokens.

Byte-level, so every file encodes without unknown tokens; GPT-2's pre-tokenizer keeps runs of
spaces together, so indentation becomes a few tokens rather than one per space.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPECIAL_TOKENS = {
    "eot": "<|endoftext|>",
    "fim_prefix": "<fim_prefix>",
    "fim_middle": "<fim_middle>",
    "fim_suffix": "<fim_suffix>",
    "pad": "<pad>",
}

EPILOG = """examples:
  devassist tokenizer --corpus runs/corpus --out runs/tokenizer.json --vocab-size 8192
"""


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE on `texts`; special tokens get the first ids."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def special_ids(tok: Tokenizer) -> dict[str, int]:
    """Role -> id of each special token."""
    return {role: tok.token_to_id(text) for role, text in SPECIAL_TOKENS.items()}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    from devassist.training.corpus import load_files

    parser = argparse.ArgumentParser(prog="devassist tokenizer", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="a folder written by `devassist corpus`")
    parser.add_argument("--out", type=Path, required=True, help="where to write tokenizer.json")
    parser.add_argument("--vocab-size", type=int, default=8192)
    args = parser.parse_args(argv)
    texts = [r["text"] for r in load_files(args.corpus, "train")]
    if not texts:
        print(f"devassist tokenizer: {args.corpus} has no training files", file=sys.stderr)
        return 2
    tok = train_tokenizer(texts, args.vocab_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(args.out))
    n_tokens = sum(len(tok.encode(t).ids) for t in texts)
    print(f"tokenizer: vocab {tok.get_vocab_size()}, {n_tokens:,} tokens in {len(texts)} training files -> {args.out}")
    return 0
