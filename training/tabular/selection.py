"""Checkpoint selection: score the model on a fresh sample now and then, keep the best weights.

GAN samples drift from step to step (the critic and generator chase each other), so the last
step is rarely the best. A cheap fidelity score on decoded values — mean KS/TV complement of
the columns and the similarity of the numeric correlation matrix — picks the checkpoint that is
exported, and training stops early when PATIENCE checks in a row bring no improvement. The
synthesizer scores against rows held out of training (the same score picks the model kind).
"""

from __future__ import annotations

import copy
import time
from typing import Callable

import numpy as np
import torch

from devassist.server.synth_runtime import decode
from devassist.training.tabular.quality import column_shape

REAL_ROWS = 5000  # real rows the scores compare against (subsampled for speed)
PATIENCE = 6  # checks without a better score before training stops (of ~20 per run)
MIN_STEPS = 500  # no early stop before this many steps


def correlation_similarity(real: np.ndarray, synth: np.ndarray) -> float:
    """Mean 1 − |Δρ| / 2 over the pairs of numeric columns, empties filled with the column mean."""
    def corr(m):
        """Pearson matrix of the columns of m."""
        filled = np.where(np.isnan(m), np.nanmean(np.where(np.isnan(m).all(0), 0, m), axis=0), m)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.corrcoef(filled, rowvar=False)
        return np.nan_to_num(c)
    upper = np.triu_indices(real.shape[1], 1)
    return float(np.mean(1 - np.abs(corr(real)[upper] - corr(synth)[upper]) / 2))


class Selector:
    """Calls `offer` at ~`checks` evenly spaced points of the run and keeps the best-scoring weights."""

    def __init__(self, columns: list[dict], arrays: dict[str, np.ndarray], gumbel: bool, steps: int,
                 budget_s: float | None, seed: int, checks: int = 20, rows: int = 1000,
                 clock: Callable[[], float] = time.perf_counter):
        """Keep a subsample of the training columns to score against."""
        self.columns = [c for c in columns if c["kind"] in ("numeric", "datetime", "discrete")]
        self.gumbel, self.rows, self.rng = gumbel, rows, np.random.default_rng(seed)
        n = len(next(iter(arrays.values())))
        pick = self.rng.choice(n, min(n, REAL_ROWS), replace=False)
        self.real = {c["name"]: self._typed(c, arrays[c["name"]][pick]) for c in self.columns}
        self.numeric = [c["name"] for c in self.columns if c["kind"] != "discrete"]
        self.steps, self.budget_s, self.checks = steps, budget_s, checks
        self.clock, self.start, self.done = clock, clock(), 0
        self.best_score, self.best_state, self.history = -np.inf, None, []
        self.since_best, self.stopped = 0, False

    @staticmethod
    def _typed(col: dict, values: np.ndarray) -> np.ndarray:
        return values.astype(str).astype(object) if col["kind"] == "discrete" else values

    def due(self, step: int) -> bool:
        """Whether the next evenly spaced check point (in steps or in seconds) has been reached."""
        if self.budget_s is not None and self.steps >= 10**9:
            progress = (self.clock() - self.start) / self.budget_s
        else:
            progress = step / self.steps
        return progress >= (self.done + 1) / self.checks

    def score(self, encoded: np.ndarray, sigmas: list[float] | None = None) -> float:
        """Fidelity of encoded rows once decoded (see `score_columns`)."""
        return self.score_columns(decode(self.columns, encoded, self.rng, self.gumbel, sigmas))

    def score_columns(self, synth: dict[str, np.ndarray]) -> float:
        """Fidelity of decoded rows: mean column shape, averaged with numeric correlation similarity."""
        scores = [column_shape(self.real[c["name"]], self._typed(c, synth[c["name"]])) for c in self.columns]
        for name in self.numeric:  # KS ignores empties: their share is scored on its own (SDMetrics' MissingValueSimilarity)
            real_empty, synth_empty = np.isnan(self.real[name]).mean(), np.isnan(synth[name]).mean()
            if real_empty or synth_empty:
                scores.append(1 - abs(real_empty - synth_empty))
        shapes = np.mean(scores)
        if len(self.numeric) < 2:
            return float(shapes)
        stack = lambda t: np.column_stack([t[n] for n in self.numeric])  # noqa: E731
        return float((shapes + correlation_similarity(stack(self.real), stack(synth))) / 2)

    def fresh_score(self, draw: Callable[[int], np.ndarray], sigmas: list[float] | None = None,
                    rows: int = 2000) -> float:
        """The chosen weights scored once more on a new sample: comparable across model kinds (no max over checks)."""
        return self.score(draw(rows), sigmas)

    def offer(self, step: int, module: torch.nn.Module, draw: Callable[[int], np.ndarray],
              sigmas: list[float] | None = None) -> None:
        """Score `module` through `draw(n) -> encoded rows`; keep a copy of its weights if it is the best so far."""
        self.done += 1
        value = self.score(draw(self.rows), sigmas)
        self.history.append((step, round(value, 4)))
        if value > self.best_score:
            self.best_score, self.best_state = value, copy.deepcopy(module.state_dict())
            self.since_best = 0
        else:
            self.since_best += 1
            # never before half the checks and MIN_STEPS: early scores of a GAN swing before they settle
            self.stopped = self.since_best >= PATIENCE and self.done >= self.checks // 2 and step >= MIN_STEPS

    def restore(self, module: torch.nn.Module) -> dict:
        """Load the best weights into `module`; return what was chosen, for the spec."""
        if self.best_state is not None:
            module.load_state_dict(self.best_state)
        best = max(self.history, key=lambda h: h[1]) if self.history else (None, None)
        return {"best_step": best[0], "best_score": best[1], "checks": len(self.history),
                "stopped_early": self.stopped}
