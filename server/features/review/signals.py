"""What the review score is computed from: a function's embedding and its per-line surprisal.

`FunctionSignals` is the small interface between the review feature and the models. The
bundle's implementation, `BundleSignals`, runs one int8 ONNX pass per window of a function
(`review_signals.onnx`: the LM with the log-softmax and the next-token pick inside the graph,
and the final hidden states as a second output), in plain onnxruntime + numpy. A bundle
without it falls back to its `embed` graph (hidden states) plus its `lm` graph (logits).
Tests plug in a deterministic fake.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from devassist.server.bundle import Bundle
from devassist.server.features.review.confusables import MAX_ALTERNATIVES, Confusables


class ReviewCancelled(Exception):
    """Scoring stopped because the document changed again (or the caller gave up)."""


class RunInterrupted(Exception):
    """A model run was stopped midway (`BundleSignals.interrupt`): a completion needs the cores."""


@dataclass
class FunctionSignal:
    """The model's view of one function's (dedented) source text."""

    embedding: np.ndarray  # (D,) float32, mean-pooled final hidden states
    line_surprisal: np.ndarray  # (n_lines,) summed token surprisal in nats per line of the text
    line_tokens: np.ndarray  # (n_lines,) how many tokens were attributed to each line
    n_tokens: int
    token_surprisal: np.ndarray | None = None  # (n_tokens,) nats, for calibration statistics
    token_line: np.ndarray | None = None  # (n_tokens,) the line each token was attributed to
    op_margin: np.ndarray | None = None  # (n_tokens,) log p(best confusable operator/number) - log p(actual); nan if n/a
    name_margin: np.ndarray | None = None  # (n_tokens,) the same against other names used in the function; nan if n/a
    token_ids: np.ndarray | None = None  # (n_tokens,) the function's token ids (no BOS)
    token_hidden: np.ndarray | None = None  # (n_tokens, D) final hidden state after each token (for the detector)
    detector_logits: np.ndarray | None = None  # (n_tokens,) the bug detector's token logits, once it has run
    best_alternative: np.ndarray | None = None  # (n_tokens,) id of the likeliest confusable (-1 = none)
    token_offsets: list[tuple[int, int]] | None = None  # (start, end) character offsets of each token in the text
    # (start, end, KV cache) of each window, token indices with the BOS; kept only for the findings' re-scoring
    past: list[tuple[int, int, list[np.ndarray]]] | None = None

    def line_max(self, values: np.ndarray | None) -> np.ndarray:
        """Per-line maximum of a per-token array (nan entries ignored); -inf for lines without any."""
        out = np.full(len(self.line_surprisal), -np.inf)
        if values is None or self.token_line is None or len(values) == 0:
            return out
        ok = ~np.isnan(values)
        np.maximum.at(out, self.token_line[ok], values[ok])
        return out

    @property
    def total_surprisal(self) -> float:
        """Summed surprisal over the function (nats)."""
        return float(self.line_surprisal.sum())


class FunctionSignals(Protocol):
    """Computes `FunctionSignal`s for a batch of function texts."""

    def analyze(self, texts: list[str], deadline: float | None = None,
                is_cancelled: Callable[[], bool] | None = None) -> list[FunctionSignal | None]:
        """One signal per text, in order; None for texts not reached before `deadline`."""
        ...


def token_lines(text: str, offsets: list[tuple[int, int]]) -> np.ndarray:
    """The line of each token (see `tokens_to_lines`)."""
    return tokens_to_lines(text, offsets, np.zeros(len(offsets)))[2]


_ASCII_SPACE = np.asarray([ord(c) for c in " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"], dtype=np.uint32)


def _anchors(text: str, offsets: list[tuple[int, int]], chars: np.ndarray | None = None) -> np.ndarray:
    """Each token's first non-whitespace character, else its last character (vectorized: a
    function has about a thousand tokens and this runs for every function reviewed). `chars`:
    the text's code points, when the caller has them already."""
    if not offsets:
        return np.zeros(0, dtype=np.int64)
    span = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    a, b = span[:, 0], span[:, 1]
    if chars is None:
        chars = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    space = np.isin(chars, _ASCII_SPACE)
    wide = np.unique(chars[chars > 127])
    if len(wide):  # the Unicode spaces str.lstrip also strips
        space |= np.isin(chars, [c for c in wide.tolist() if chr(c).isspace()])
    n = len(chars)
    where = np.where(space, n, np.arange(n))
    next_code = np.append(np.minimum.accumulate(where[::-1])[::-1], n)  # (n + 1,) first non-space at or after i
    first = next_code[np.clip(a, 0, n)]
    return np.where(first < b, first, np.maximum(a, b - 1))


def tokens_to_lines(text: str, offsets: list[tuple[int, int]], values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum per-token values into the lines of `text`; returns (sums, counts) per line and each token's line.

    A token belongs to the line of its first non-whitespace character; a whitespace-only token
    (a newline plus indentation) belongs to the line where it ends, the one it leads into.
    """
    n_lines = text.count("\n") + 1
    chars = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # once, for line starts and anchors
    starts = np.zeros(n_lines + 1, dtype=np.int64)
    starts[1:n_lines] = np.flatnonzero(chars == 10) + 1
    starts[n_lines] = len(text) + 1
    anchors = _anchors(text, offsets, chars)
    line_of = np.clip(np.searchsorted(starts, anchors, side="right") - 1, 0, n_lines - 1)
    sums = np.bincount(line_of, weights=np.asarray(values, dtype=np.float64), minlength=n_lines)
    counts = np.bincount(line_of, minlength=n_lines)
    return sums.astype(np.float32), counts.astype(np.int32), line_of


class BundleSignals:
    """Embeddings and surprisal from a bundle's ONNX graphs, one window of a function per run."""

    def __init__(self, bundle: Bundle, lm, max_tokens: int = 256, overlap: int = 32,
                 threads: int | None = None, signals_path=None, keep_hidden: bool = False, background: bool = False,
                 keep_past: bool = False):
        from devassist.server.runtime.session import create_session

        self.lm = lm
        # Per-token hidden states in each signal: the bug detector reads them.
        self.keep_hidden = keep_hidden or bool(bundle.components.get("review", {}).get("detector"))
        self.tokenizer = lm.tokenizer
        self.signals_session = self.embed_session = None
        self.present_names: list[str] = []  # KV-cache outputs of the signals graph (older graphs have none)
        review = bundle.components.get("review", {})
        if signals_path is None and review.get("signals"):
            signals_path = bundle.path(review["signals"])
        spin = False if background else None
        if signals_path is not None:
            # In the server review is background work: no spinning threads beside a completion.
            self.signals_session = create_session(signals_path, threads=threads, prefer_gpu=False, spin=spin)
            self.session_inputs = {i.name for i in self.signals_session.get_inputs()}
            self.present_names = [o.name for o in self.signals_session.get_outputs() if o.name.startswith("present")]
        else:
            meta = bundle.component("embed")
            self.embed_session = create_session(bundle.path(meta["file"]), threads=threads, spin=spin)
            self.session_inputs = {i.name for i in self.embed_session.get_inputs()}
        self.window = max(16, min(max_tokens, lm.context_length))
        self.overlap = min(overlap, self.window // 4)
        self.bos = lm.eot_id  # documents start after end-of-text, as in training
        self.confusables = Confusables(self.tokenizer)
        # Keep each window's KV cache on the signal, so that a rewrite of one token is re-scored
        # from that token on (see `suffix_margin`) instead of running the LM on the whole prefix again.
        self.keep_past = keep_past and bool(self.present_names)
        self._inflight: set = set()  # RunOptions of the runs in progress (see `interrupt`)
        self._inflight_lock = threading.Lock()
        # Set by `ReviewFeature.yield_to`: every run first waits out the completions in flight
        # (`hold` blocks), so that no review run starts on a core a completion is using.
        self.hold: Callable[[], object] | None = None
        self.busy: Callable[[], bool] | None = None

    def _session_run(self, session, names: list[str], feeds: dict):
        """`session.run` that `interrupt` can stop midway (ONNX Runtime checks its RunOptions'
        terminate flag between kernels, well under a millisecond apart here) and that, with
        `hold`, starts only when no completion is in flight."""
        from devassist.server.runtime.session import import_onnxruntime

        ort = import_onnxruntime()
        while True:
            if self.hold is not None:
                self.hold()
            options = ort.RunOptions()
            with self._inflight_lock:
                self._inflight.add(options)
            # Registered before this look: a completion queued after it still stops the run.
            if self.busy is None or not self.busy():
                break
            with self._inflight_lock:
                self._inflight.discard(options)
        try:
            return session.run(names, feeds, options)
        except Exception:
            if options.terminate:
                raise RunInterrupted() from None
            raise
        finally:
            with self._inflight_lock:
                self._inflight.discard(options)

    def interrupt(self) -> None:
        """Stop every model run in progress (they raise RunInterrupted): a completion was queued,
        and a review run of up to 25 ms on its cores would delay it."""
        with self._inflight_lock:
            for options in self._inflight:
                options.terminate = True

    def _windows(self, n: int) -> list[tuple[int, int, int]]:
        """(start, end, keep_from) windows over n tokens; positions before keep_from are context."""
        if n <= self.window:
            return [(0, n, 0)]
        out, start, step = [], 0, self.window - self.overlap
        while True:
            end = min(start + self.window, n)
            out.append((start, end, 0 if start == 0 else self.overlap))
            if end == n:
                return out
            start += step

    def _empty_past(self, b: int, dtype) -> np.ndarray:
        return np.zeros((b, self.lm.n_head, 0, self.lm.head_dim), dtype=dtype)

    def _run(self, row: list[int], alt_row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list | None]:
        """Hidden states (T, D), surprisal (T,), log-probabilities of the alternatives (T, A) and,
        with `keep_past`, the KV cache of one window, run alone (see `analyze`); position j scores token j+1."""
        t = len(row)
        ids = np.asarray([row], dtype=np.int64)  # (1, T)
        mask = np.ones_like(ids)
        alt = np.zeros((1, t, MAX_ALTERNATIVES), dtype=np.int64)
        alt[0, : len(alt_row)] = np.maximum(alt_row, 0)
        nxt = np.zeros_like(ids)
        nxt[:, :-1] = ids[:, 1:]
        positions = np.arange(t, dtype=np.int64)[None, :]
        if self.signals_session is not None:
            feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "target_ids": nxt, "alt_ids": alt}
            empty = self._empty_past(1, np.float32)
            feeds.update({n: empty for n in self.session_inputs if n.startswith("past_key_values")})
            feeds = {k: v for k, v in feeds.items() if k in self.session_inputs}
            names = ["surprisal", "hidden_states", "alt_logprobs"] + (self.present_names if self.keep_past else [])
            surprisal, hidden, alt_lp, *present = self._session_run(self.signals_session, names, feeds)
            return hidden[0], surprisal[0], alt_lp[0], (present or None)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "position_ids" in self.session_inputs:
            feeds["position_ids"] = positions
        hidden = self.embed_session.run(["last_hidden_state"], feeds)[0]  # (1, T, D)
        lm = self.lm
        lm_feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
        lm_feeds = {k: v for k, v in lm_feeds.items() if k in lm.input_names}
        empty = self._empty_past(1, lm.past_dtype)
        lm_feeds.update({n: empty for n in lm.input_names if n.startswith("past_key_values")})
        logits = lm.session.run([lm.output_names[0]], lm_feeds)[0].astype(np.float32, copy=False)  # (1, T, V)
        top = logits.max(-1, keepdims=True)
        logz = (np.log(np.exp(logits - top).sum(-1, keepdims=True)) + top)  # (1, T, 1)
        picked = np.take_along_axis(logits, nxt[..., None], axis=-1)[..., 0]
        alt_lp = np.take_along_axis(logits, alt, axis=-1) - logz
        return hidden[0], (logz[..., 0] - picked)[0], alt_lp[0], None

    def analyze(self, texts: list[str], deadline: float | None = None,
                is_cancelled: Callable[[], bool] | None = None) -> list[FunctionSignal | None]:
        """Embedding and per-line surprisal of each text; None for those past the deadline."""
        encodings = (self.tokenizer.encode_batch(list(texts), add_special_tokens=False) if len(texts) > 1
                     else [self.tokenizer.encode(t, add_special_tokens=False) for t in texts])
        prefix = [self.bos] if self.bos is not None else []
        seqs = [prefix + list(enc.ids) for enc in encodings]
        alternatives = [self.confusables.alternatives(ids) for ids in seqs]  # for the token at each index
        pieces = [(i, a, b, keep) for i, ids in enumerate(seqs) for a, b, keep in self._windows(len(ids))]
        remaining = dict.fromkeys(range(len(texts)), 0)
        for p in pieces:
            remaining[p[0]] += 1
        pooled_sum: dict[int, np.ndarray] = {}
        pooled_n: dict[int, int] = {}
        token_s = {i: np.zeros(max(len(s) - len(prefix), 0), np.float32) for i, s in enumerate(seqs)}
        margins = {i: np.full(max(len(s) - len(prefix), 0), np.nan, np.float32) for i, s in enumerate(seqs)}
        best_ids = {i: np.full(max(len(s) - len(prefix), 0), -1, np.int64) for i, s in enumerate(seqs)}
        states: dict[int, np.ndarray] = {}
        pasts: dict[int, list] = {}
        done: set[int] = set()
        # One window per run: the int8 graphs quantize activations with one scale per run, so
        # functions sharing a run moved each other's surprisal by 1.5 nats on average (up to 7.7),
        # noise the size of a one-token bug; alone, a function's numbers are its own (and on two
        # cores no slower: no padding). Shortest first, so a deadline leaves the longest unscored.
        for j in sorted(range(len(pieces)), key=lambda j: pieces[j][2] - pieces[j][1]):
            if is_cancelled is not None and is_cancelled():
                raise ReviewCancelled()
            if deadline is not None and time.monotonic() >= deadline:
                break
            i, a, b, keep = pieces[j]
            hidden, surprisal, alt_lp, present = self._run(seqs[i][a:b], alternatives[i][0][a + 1 : b + 1])
            if present is not None:
                pasts.setdefault(i, []).append((a, b, present))
            n = b - a
            pooled_sum[i] = pooled_sum.get(i, 0.0) + hidden[keep:n].astype(np.float64).sum(0)
            pooled_n[i] = pooled_n.get(i, 0) + (n - keep)
            if self.keep_hidden:
                h, at = hidden[keep:n], a + keep - len(prefix)  # states after tokens at..; BOS dropped
                if at < 0:
                    h, at = h[-at:], 0
                if i not in states:
                    states[i] = np.zeros((len(token_s[i]), hidden.shape[-1]), np.float32)
                states[i][at : at + len(h)] = h
            values = surprisal[keep : n - 1]  # scores tokens a+keep+1 .. a+n-1 (with BOS)
            cand = alternatives[i][0][a + keep + 1 : a + n]  # their candidate replacements (len, A)
            scored_alts = np.where(cand >= 0, alt_lp[keep : n - 1], -np.inf)
            pick = scored_alts.argmax(-1) if len(cand) else np.zeros(0, np.int64)
            best = np.take_along_axis(scored_alts, pick[:, None], 1)[:, 0] if len(cand) else values
            margin = best + values  # log p(best alternative) - log p(actual)
            pick_ids = np.take_along_axis(cand, pick[:, None], 1)[:, 0] if len(cand) else pick
            first = a + keep + 1 - len(prefix)  # their index without the BOS
            if first < 0:  # without a BOS, the first token has no prediction
                values, margin, pick_ids, first = values[-first:], margin[-first:], pick_ids[-first:], 0
            token_s[i][first : first + len(values)] = values
            best_ids[i][first : first + len(pick_ids)] = pick_ids
            margins[i][first : first + len(margin)] = np.where(np.isfinite(margin), margin, np.nan)
            remaining[i] -= 1
            if remaining[i] == 0:
                done.add(i)
        out: list[FunctionSignal | None] = []
        for i, text in enumerate(texts):
            if i not in done:
                out.append(None)
                continue
            offsets = encodings[i].offsets
            sums, counts, line_of = tokens_to_lines(text, offsets, token_s[i])
            emb = (pooled_sum[i] / max(pooled_n[i], 1)).astype(np.float32)
            kind = alternatives[i][1][len(prefix):]
            op = np.where(kind == 1, margins[i], np.nan).astype(np.float32)
            name = np.where(kind == 2, margins[i], np.nan).astype(np.float32)
            out.append(FunctionSignal(emb, sums, counts, len(offsets), token_s[i], line_of, op, name,
                                      np.asarray(encodings[i].ids, dtype=np.int64), states.get(i),
                                      best_alternative=best_ids[i], token_offsets=list(offsets),
                                      past=sorted(pasts[i], key=lambda w: w[0]) if i in pasts else None))
        return out

    def suffix_margin(self, sig: FunctionSignal, written: str, rewritten: str) -> float | None:
        """Summed surprisal of `written` minus that of `rewritten` (two prefixes of a function that
        differ from one token on), counted from the first token where they differ: both tails run
        in one batch on top of the function's own KV cache (`past`), so the shared prefix is never
        run again and the two tails share one int8 activation scale. None when the signal kept no
        cache or the prefix's tokens are not the function's."""
        if not sig.past or sig.token_ids is None or self.bos is None:
            return None
        # one text at a time: encode_batch's thread pool costs more than two short texts (7 ms a call at load)
        w, r = ([self.bos] + self.tokenizer.encode(t, add_special_tokens=False).ids for t in (written, rewritten))
        seq = np.concatenate([[self.bos], sig.token_ids])
        p = next((k for k, (x, y) in enumerate(zip(w, r)) if x != y), min(len(w), len(r)))
        if p < 1 or p > len(seq) or not np.array_equal(np.asarray(w[:p]), seq[:p]):
            return None
        # The window with the most context before the slot that still holds token p-1's predecessors.
        window = next(((a, present) for a, b, present in sig.past if a <= p - 1 <= b), None)
        if window is None:
            return None
        a, present = window
        rows = [w[p - 1 :], r[p - 1 :]]
        held, length = p - 1 - a, max(len(rows[0]), len(rows[1]))
        if held + length > self.lm.context_length:
            return None
        ids = np.zeros((2, length), dtype=np.int64)
        mask = np.zeros((2, held + length), dtype=np.int64)
        mask[:, :held] = 1
        for k, row in enumerate(rows):  # right padding: no real token attends to a pad
            ids[k, : len(row)] = row
            mask[k, held : held + len(row)] = 1
        nxt = np.zeros_like(ids)
        nxt[:, :-1] = ids[:, 1:]
        feeds = {"input_ids": ids, "attention_mask": mask, "target_ids": nxt,
                 "position_ids": np.broadcast_to(np.arange(held, held + length, dtype=np.int64), (2, length)).copy(),
                 "alt_ids": np.zeros((2, length, 1), dtype=np.int64)}
        for name, kv in zip(self.present_names, present):
            feeds[name.replace("present", "past_key_values")] = np.repeat(kv[:, :, :held], 2, axis=0)
        feeds = {k: v for k, v in feeds.items() if k in self.session_inputs}
        surprisal = self._session_run(self.signals_session, ["surprisal"], feeds)[0]  # (2, length); j scores token j+1
        return float(surprisal[0, : len(rows[0]) - 1].sum() - surprisal[1, : len(rows[1]) - 1].sum())
