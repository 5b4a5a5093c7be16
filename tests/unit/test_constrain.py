"""Prefix-constrained decoding: what is backed up, which tokens agree, and a real model obeying it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from devassist.server.bundle import load_bundle
from devassist.server.runtime.constrain import PARTIAL_PENALTY, TokenTable, constrained_argmax, heal_point
from devassist.server.runtime.lm import LanguageModel

TOKENIZER = Path(__file__).resolve().parents[2] / "models" / "default" / "tokenizer.json"


@pytest.mark.parametrize("line_prefix,healed", [
    ("        se", " se"),  # a half word and the space BPE attaches to it
    ("        ", " "),  # indentation only: its last space starts the first token
    ("x = ", " "),
    ("foo(", "("),
    ("x ==", " =="),
    ("self.", "."),
    ("        self.g", "g"),
    ("", ""),
], ids=["half-word", "indent-only", "trailing-space", "paren", "operator", "dot", "after-dot", "empty"])
def test_heal_point_backs_up_the_last_pre_token(line_prefix, healed):
    assert line_prefix[len(line_prefix) - heal_point(line_prefix):] == healed


@pytest.fixture(scope="module")
def table():
    tok = Tokenizer.from_file(str(TOKENIZER))
    return TokenTable(tok, tok.get_vocab_size())


def test_allowed_tokens_agree_with_the_typed_text(table):
    allowed = table.allowed(" se")
    texts = {table.strings[i] for i in allowed}
    assert " self" in texts and " se" in texts and " " in texts
    assert all(" se".startswith(t) or t.startswith(" se") for t in texts)
    assert " set" in texts and " return" not in texts and "se" not in texts


def test_advance_and_argmax(table):
    self_id = next(i for i in table.allowed(" se") if table.strings[i] == " self")
    assert table.advance(" se", self_id) == ""
    space = next(i for i in table.allowed(" se") if table.strings[i] == " ")
    assert table.advance(" se", space) == "se"
    logits = np.zeros(len(table.strings), np.float32)
    logits[5] = 10.0  # the unconstrained favourite is not allowed
    logits[self_id] = 1.0
    assert constrained_argmax(logits, table.allowed(" se")) == self_id


def test_pick_prefers_a_token_that_covers_the_typed_word(table):
    """` p` owes `ri` still: it wins over ` print` only when it is clearly more likely."""
    ids = {table.strings[i]: int(i) for i in table.allowed(" pri")}
    logits = np.zeros(len(table.strings), np.float32)
    logits[ids[" p"]], logits[ids[" print"]] = 7.94, 7.84  # the shipped model's logits for `pri` in the issue
    assert constrained_argmax(logits, table.allowed(" pri")) == ids[" p"]  # plain argmax: then `prins`
    assert table.pick(logits, " pri") == ids[" print"]
    logits[ids[" p"]] = 7.84 + PARTIAL_PENALTY + 0.5
    assert table.pick(logits, " pri") == ids[" p"]
    assert table.pick(logits, "") == int(logits.argmax())  # nothing left to cover: the plain argmax


def test_generation_regenerates_the_typed_characters(tiny_bundle):
    lm = LanguageModel(load_bundle(tiny_bundle), component="lm_int8")
    prompt = lm.encode("def area(width, height):\n   ")
    for typed in (" re", " w", " ret"):
        result = lm.generate(prompt, max_new_tokens=6, required=typed, ignore_eot=True)
        assert lm.decode(result.ids).startswith(typed)
        assert len(result.logprobs) == len(result.ids) and all(lp <= 0 for lp in result.logprobs)
