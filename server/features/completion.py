"""Code completion: cursor context -> FIM prompt -> KV-cache decoding -> filters -> suggestion.

One engine serves both `textDocument/inlineCompletion` (ghost text) and
`textDocument/completion` (list items). It is plain Python, testable without a server.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from devassist.server.features.postprocess import (MAX_BLOCK_LINES, CursorContext, clean_prefix, decide_mode,
                                                   postprocess, stop_reached, trim_open_end)
from devassist.server.features.completion_list import word_alternatives
from devassist.server.remote.backend import LocalBackend
from devassist.server.runtime.constrain import heal_point
from devassist.server.runtime.lm import LanguageModel, PromptCache
from devassist.server.runtime.ngram import NgramCache
from devassist.server.settings import CompletionSettings

CHARS_PER_TOKEN_BOUND = 12  # tokenize at most this many characters per budget token (huge files)
CACHE_TAIL = 256  # characters of the prefix remembered to recognise the same spot
MAX_PROMPT_CACHES = 8  # documents whose last KV cache is kept (a few MB each)
COPY_WINDOW_LINES = 30  # a suggestion that copies one of these lines above needs confidence
LATER_MIN_PROB = 0.8  # after the first word, a token starting something new must be this likely
CONFIDENT_LOGPROB = math.log(0.5)  # every shown token at least this likely: "confident"


@dataclass
class Suggestion:
    """One completion at a cursor: the text to insert and how it was made."""

    text: str
    mode: str  # line | block
    stop_reason: str
    latency_ms: float
    tokens: int
    cached: bool = False
    generation_ms: float = 0.0


@dataclass
class _CacheEntry:
    prefix_len: int
    prefix_tail: str
    suffix_head: str
    text: str
    mode: str


@dataclass
class ForwardCache:
    """LRU of shown suggestions per document; typing into a suggestion reuses it (Tabby-style)."""

    capacity: int = 100
    ttl_s: float = 300.0
    entries: OrderedDict = field(default_factory=OrderedDict)

    def put(self, uri: str, prefix: str, suffix: str, suggestion: Suggestion) -> None:
        """Remember a suggestion shown at the end of `prefix`."""
        key = (uri, len(prefix), prefix[-CACHE_TAIL:])
        self.entries[key] = (time.monotonic(), _CacheEntry(len(prefix), prefix[-CACHE_TAIL:], suffix[:CACHE_TAIL],
                                                           suggestion.text, suggestion.mode))
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)

    def get(self, uri: str, prefix: str, suffix: str) -> tuple[str, str] | None:
        """The rest of a cached suggestion whose start the user has typed, with its mode."""
        now = time.monotonic()
        for (u, plen, _), (stamp, e) in reversed(self.entries.items()):
            if u != uri or now - stamp > self.ttl_s or plen > len(prefix):
                continue
            typed = prefix[plen:]
            if len(typed) >= len(e.text) or not e.text.startswith(typed):
                continue
            if prefix[max(0, plen - CACHE_TAIL):plen] != e.prefix_tail or suffix[:CACHE_TAIL] != e.suffix_head:
                continue
            return e.text[len(typed):], e.mode
        return None


class CompletionEngine:
    """Turns (document text, cursor offset) into a suggestion with the bundle's model."""

    def __init__(self, lm: LanguageModel, cache_mix: float = 0.0, use_fim: bool = True, backend=None):
        self.lm = lm  # the tokenizer, special tokens and shape; decoding runs on `backend`
        self.backend = backend or LocalBackend(lm)
        self.cache_mix = cache_mix
        self.use_fim = use_fim  # FIM prompt when the tokenizer has FIM tokens and there is a suffix
        self.forward_cache = ForwardCache()
        self.prompt_caches: OrderedDict[str, PromptCache] = OrderedDict()  # uri -> last KV cache

    def prefix_ids(self, prefix: str, budget: int) -> list[int]:
        """The prefix's last `budget` tokens, from a start that stays put while the user types.

        The window starts at a line boundary after a 512-character mark, so consecutive requests
        tokenize the same text up to the cursor and the KV cache of the last prompt is reused.
        """
        span = budget * 4  # about 3-4 characters per token in code
        start = 0
        if len(prefix) > span:
            start = ((len(prefix) - span) // 512 + 1) * 512
            newline = prefix.find("\n", start)
            start = newline + 1 if 0 <= newline < len(prefix) else start
        return self.lm.encode(prefix[start:])[-budget:]

    def build_prompt(self, prefix: str, suffix: str, budget: int) -> list[int]:
        """FIM prompt (PSM) when there is code after the cursor and FIM tokens, else the prefix alone.

        Nearest code first: the prefix keeps its last tokens, the suffix its first (at most a
        quarter of the budget); the prefix gets whatever the suffix does not use.
        """
        budget = max(8, budget)
        if not (self.use_fim and self.lm.has_fim and suffix.strip()):
            return self.prefix_ids(prefix, budget)
        sp = self.lm.special_ids
        suffix_ids = self.lm.encode(suffix[:budget * CHARS_PER_TOKEN_BOUND])[: max(8, budget // 4)]
        prefix_ids = self.prefix_ids(prefix, budget - len(suffix_ids) - 3)
        return [sp["fim_prefix"]] + prefix_ids + [sp["fim_suffix"]] + suffix_ids + [sp["fim_middle"]]

    def context_at(self, text: str, offset: int, multiline: bool) -> CursorContext:
        """The filters' view of the cursor position."""
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        line_end = len(text) if line_end < 0 else line_end
        line_prefix, line_suffix = text[line_start:offset], text[offset:line_end].rstrip("\r")
        previous = text[max(0, line_start - 2000):line_start].split("\n")[-6:]
        following = text[line_end + 1:line_end + 2000].split("\n")[:5] if line_end < len(text) else []
        mode, indent = decide_mode(line_prefix, line_suffix, previous, multiline)
        nearby = text[max(0, line_start - 4000):line_start].split("\n")[-COPY_WINDOW_LINES - 1:]
        return CursorContext(line_prefix, line_suffix, following, mode, indent, previous_lines=nearby)

    def confidence_cut(self, ids: list[int], logprobs: list[float], heal: str,
                       min_prob: float) -> tuple[int | None, int | None]:
        """(tokens that regenerate the typed characters, index of the first later token under its
        bar), each None until known. The bar is `min_prob`, or LATER_MIN_PROB for a token that
        starts something new once a word is shown (see `shown_part`)."""
        strings = self.lm.token_table.strings
        covered, n_heal = 0, 0
        while covered < len(heal) and n_heal < len(ids):
            covered += len(strings[ids[n_heal]])
            n_heal += 1
        if covered < len(heal):
            return None, None
        shown = ""
        for j in range(n_heal, len(ids)):
            token = strings[ids[j]]
            need = min_prob
            if shown and any(c.isalnum() for c in shown) and not (token[:1].isalnum() or token[:1] == "_"):
                need = max(min_prob, LATER_MIN_PROB)  # past the first word, what starts something new
            if logprobs[j] < math.log(max(need, 1e-12)):
                return n_heal, j
            shown += token
        return n_heal, None

    def shown_part(self, result, heal: str, min_prob: float) -> tuple[str | None, str]:
        """The text to show after the typed characters, and why it ends there.

        Tokens after the first one the model gave less than `min_prob` are dropped (a wrong tail
        makes the whole suggestion useless), and never inside a word; once a word is shown, a
        token that starts something new (punctuation, an operator, the next word) needs
        LATER_MIN_PROB (measured on werkzeug: useful 31.7 -> 36.7 %); a suggestion stopped by the
        time budget keeps only a clean prefix (see `clean_prefix`). None when generation ended
        before it regenerated the typed characters.
        """
        strings = self.lm.token_table.strings
        n_heal, cut = self.confidence_cut(result.ids, result.logprobs, heal, min_prob)
        if n_heal is None:
            return None, result.stop_reason
        keep, reason = (cut, "confidence") if cut is not None else (len(result.ids), result.stop_reason)
        if keep < len(result.ids):
            nxt = strings[result.ids[keep]]
            while keep > n_heal and nxt[:1].isalnum() and strings[result.ids[keep - 1]][-1:].isalnum():
                keep -= 1  # do not end inside a word
                nxt = strings[result.ids[keep]]
        raw = self.lm.decode(result.ids[:keep])
        if not raw.startswith(heal):
            return None, reason
        raw = raw[len(heal):]
        if reason == "time":
            raw = clean_prefix(raw)
        elif reason == "confidence":
            raw = trim_open_end(raw)
        return raw, reason

    def prompt_at(self, prefix: str, suffix: str, ctx: CursorContext, settings: CompletionSettings,
                  max_new: int, repo: str = "") -> tuple[list[int], str]:
        """The prompt ids and the typed characters the continuation must regenerate.

        Prefix-constrained healing: BPE merges a word with the space before it (` self`), so a
        prompt ending inside a word, an operator or trailing spaces is one the model never saw
        in training. The prompt stops before that last piece; decoding regenerates it.
        """
        budget = min(settings.context_tokens, self.lm.context_length - max_new - 4)
        heal = prefix[len(prefix) - heal_point(ctx.line_prefix):] if ctx.line_prefix else ""
        prompt = self.build_prompt(prefix[:len(prefix) - len(heal)], suffix, budget)
        if repo:  # other files' snippets first, the document's own code nearest the cursor
            room = self.lm.context_length - max_new - 4 - len(prompt)
            prompt = self.lm.encode(repo)[-max(0, min(room, settings.repo_context_tokens)):] + prompt
        return prompt, heal

    def reuse_for(self, uri: str) -> PromptCache:
        """The document's KV cache of its last prompt (a bounded LRU over documents)."""
        reuse = self.prompt_caches.pop(uri, None) or PromptCache()
        self.prompt_caches[uri] = reuse
        while len(self.prompt_caches) > MAX_PROMPT_CACHES:
            self.prompt_caches.popitem(last=False)
        return reuse

    def alternatives(self, text: str, offset: int, settings: CompletionSettings, uri: str = "",
                     k: int = 8) -> list[tuple[str, float]]:
        """Up to `k` other words the model expects at the cursor, best first: (text after the
        typed characters, log-probability). For the completion list."""
        offset = max(0, min(offset, len(text)))
        prefix, suffix = text[:offset], text[offset:]
        if not text.strip() or self.backend.remote:  # the list's other words need a batch of local forward passes
            return []
        ctx = self.context_at(text, offset, settings.multiline)
        prompt, heal = self.prompt_at(prefix, suffix, ctx, settings, 8)
        return word_alternatives(self.lm, prompt, heal, self.reuse_for(uri), k)

    def complete(
        self,
        text: str,
        offset: int,
        settings: CompletionSettings,
        uri: str = "",
        is_cancelled: Callable[[], bool] | None = None,
        started: float | None = None,
        repo: str = "",
        remote=None,
    ) -> Suggestion | None:
        """A suggestion at `offset` in `text`, or None when there is nothing worth showing.

        `repo`: snippets of the workspace's other files to put before the document's code;
        `remote`: the `RemoteSettings` for a remote backend."""
        started = started if started is not None else time.monotonic()
        offset = max(0, min(offset, len(text)))
        prefix, suffix = text[:offset], text[offset:]
        if not text.strip():
            return None  # an empty document gives the model nothing to go on
        ctx = self.context_at(text, offset, settings.multiline)
        hit = self.forward_cache.get(uri, prefix, suffix)
        if hit is not None:
            rest, mode = hit
            return Suggestion(rest, mode, "cache", (time.monotonic() - started) * 1000, 0, cached=True)
        max_new = settings.max_tokens if ctx.mode == "block" else min(settings.max_tokens, 32)
        prompt, heal = self.prompt_at(prefix, suffix, ctx, settings, max_new, repo)
        cache = None
        mix = settings.cache_mix if settings.cache_mix > 0 else self.cache_mix
        if mix > 0:
            cache = NgramCache([t for t in prompt if t < self.lm.vocab_size and t not in self.lm.special_ids.values()])
        reuse = self.reuse_for(uri)
        min_prob = settings.min_token_probability
        result = self.backend.generate(
            prompt, max_new_tokens=max_new, reuse=reuse,
            should_stop=lambda ids: stop_reached(self.lm.decode(ids), ctx),
            # Nothing after the first token under its bar is shown: stop decoding there.
            stop_after=lambda ids, logprobs: self.confidence_cut(ids, logprobs, heal, min_prob)[1] is not None,
            deadline=started + settings.time_budget_ms / 1000.0,
            is_cancelled=is_cancelled, cache=cache, cache_weight=mix, required=heal,
            max_lines=1 if ctx.mode == "line" else MAX_BLOCK_LINES, options=remote,
        )
        if result.stop_reason in ("cancelled", "unavailable"):
            return None
        raw, stop_reason = self.shown_part(result, heal, min_prob)
        if raw is None:
            return None  # stopped before the typed characters were regenerated
        # Over the tokens generated, which end at the first one under its bar (`stop_after`).
        ctx.confident = bool(result.logprobs) and min(result.logprobs) >= CONFIDENT_LOGPROB
        clean = postprocess(raw, ctx)
        if not clean:
            return None
        suggestion = Suggestion(clean, ctx.mode, stop_reason, (time.monotonic() - started) * 1000,
                                len(result.ids), generation_ms=result.elapsed_ms)
        if uri:
            self.forward_cache.put(uri, prefix, suffix, suggestion)
        return suggestion
