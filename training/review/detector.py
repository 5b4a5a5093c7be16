"""The review bug detector (DeepBugs-style): which tokens of a function look like a slip.

A small dilated 1-D convolution net over the per-token features the server already computes
(`detector_features`: the completion model's final hidden state, surprisal and margins). It
reads a window of about +-15 tokens on both sides, so it sees the code after a token too,
which the left-to-right language model cannot. Trained on synthetic mutations of the training
split (`detector_data.py`) with two losses: per-token (is this token the mutated one)
and per-function (is this function a buggy twin), the function logit being the log-sum-exp of
the token logits. Exported to ONNX with the feature standardization inside the graph.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from devassist.training.review.data import pairwise_accuracy, separation


@dataclass
class DetectorConfig:
    """Shape and training settings of the detector."""

    input_dim: int = 261
    width: int = 96
    dilations: tuple[int, ...] = (1, 2, 4, 1)
    kernel: int = 5
    dropout: float = 0.1
    lr: float = 2e-3
    epochs: int = 6
    batch_pairs: int = 32
    token_weight: float = 1.0  # weight of the per-token loss against the per-function loss
    pair_weight: float = 1.0  # weight of the ranking loss: a twin should score above its own original
    seed: int = 0


class DetectorNet(nn.Module):
    """Standardize -> project -> residual dilated convolutions -> token logits; function logit = LSE."""

    def __init__(self, cfg: DetectorConfig, mean: np.ndarray | None = None, std: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", torch.as_tensor(mean if mean is not None else np.zeros(cfg.input_dim), dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std if std is not None else np.ones(cfg.input_dim), dtype=torch.float32))
        self.proj = nn.Linear(cfg.input_dim, cfg.width)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.width, cfg.width, cfg.kernel, dilation=d, padding=d * (cfg.kernel // 2))
                                   for d in cfg.dilations)
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.width) for _ in cfg.dilations)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.width, 1)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T, F), mask (B, T) -> token logits (B, T) (-1e4 at padding), function logits (B,)."""
        m = mask.to(features.dtype).unsqueeze(-1)  # (B, T, 1)
        x = self.proj((features - self.mean) / self.std) * m  # (B, T, W)
        for conv, norm in zip(self.convs, self.norms):
            y = conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T, W); padding positions are zero going in
            x = (x + self.drop(F.gelu(norm(y)))) * m
        tok = self.head(x).squeeze(-1)  # (B, T)
        tok = tok * m.squeeze(-1) + (1.0 - m.squeeze(-1)) * -1e4
        return tok, torch.logsumexp(tok, dim=1)


def _batch(data: dict, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad rows idx into (features, mask, token labels, function labels)."""
    t = max(len(data["features"][i]) for i in idx)
    f_dim = data["features"][idx[0]].shape[1]
    feats = np.zeros((len(idx), t, f_dim), np.float32)
    mask = np.zeros((len(idx), t), np.float32)
    labels = np.zeros((len(idx), t), np.float32)
    for r, i in enumerate(idx):
        n = len(data["features"][i])
        feats[r, :n] = data["features"][i]
        mask[r, :n] = 1
        labels[r, :n] = data["labels"][i]
    return torch.from_numpy(feats), torch.from_numpy(mask), torch.from_numpy(labels), torch.as_tensor(data["y"][idx], dtype=torch.float32)


def standardization(data: dict, sample: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over the tokens of up to `sample` functions."""
    rows = np.concatenate([np.asarray(f, np.float32) for f in data["features"][:sample]])
    return rows.mean(0), rows.std(0) + 1e-3


def _loss(model: DetectorNet, batch, cfg: DetectorConfig) -> torch.Tensor:
    """Function BCE + token BCE + pair ranking; rows come as (original, twin) pairs in order."""
    feats, mask, labels, y = batch
    tok, fn = model(feats, mask)
    token_loss = (F.binary_cross_entropy_with_logits(tok, labels, reduction="none") * mask).sum() / mask.sum()
    rank_loss = F.softplus(fn[0::2] - fn[1::2]).mean()
    return F.binary_cross_entropy_with_logits(fn, y) + cfg.token_weight * token_loss + cfg.pair_weight * rank_loss


def predict(model: DetectorNet, data: dict, batch: int = 64) -> np.ndarray:
    """Function logits of every row of `data`."""
    model.eval()
    out = []
    order = np.argsort([len(f) for f in data["features"]])
    with torch.no_grad():
        for k in range(0, len(order), batch):
            idx = [int(i) for i in order[k : k + batch]]
            feats, mask, _, _ = _batch(data, idx)
            out.append((idx, model(feats, mask)[1].numpy()))
    res = np.zeros(len(data["features"]))
    for idx, v in out:
        res[idx] = v
    return res


def train_detector(train: dict, cfg: DetectorConfig, valid: dict | None = None, log=print) -> tuple[DetectorNet, dict]:
    """Fit the detector on pairs (batches hold whole pairs); returns the model and a summary."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    mean, std = standardization(train)
    model = DetectorNet(cfg, mean, std)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    pairs = np.unique(train["pair"])
    rows_of = {int(p): np.flatnonzero(train["pair"] == p) for p in pairs}
    steps = cfg.epochs * math.ceil(len(pairs) / cfg.batch_pairs)
    # At least 20 scheduler steps: OneCycleLR divides by its warm-up length, which tiny runs round to 0.
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 20), pct_start=0.1)
    start, step, history = time.time(), 0, []
    for epoch in range(cfg.epochs):
        model.train()
        rng.shuffle(pairs)
        losses = []
        for k in range(0, len(pairs), cfg.batch_pairs):
            idx = [int(i) for p in pairs[k : k + cfg.batch_pairs] for i in rows_of[int(p)]]
            loss = _loss(model, _batch(train, idx), cfg)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
        rec = {"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4), "elapsed_s": round(time.time() - start, 1)}
        if valid is not None:
            s = predict(model, valid)
            o, t = _paired(valid, s)
            rec.update({"valid_pairwise": round(pairwise_accuracy(o, t), 4),
                        "valid_auroc": round(separation(o, t)["auroc"], 4)})
        history.append(rec)
        log(f"detector epoch {rec}")
    return model, {"config": asdict(cfg), "steps": step, "pairs": int(len(pairs)), "history": history,
                   "wall_time_s": round(time.time() - start, 1)}


def _paired(data: dict, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(original scores, twin scores) aligned by pair."""
    o = {int(p): s for p, y, s in zip(data["pair"], data["y"], scores) if y == 0}
    t = {int(p): s for p, y, s in zip(data["pair"], data["y"], scores) if y == 1}
    keys = sorted(set(o) & set(t))
    return np.asarray([o[k] for k in keys]), np.asarray([t[k] for k in keys])


TOLERANCE = {"fp32": 1e-3, "fp16-weights": 3e-2}  # max |function logit difference| against PyTorch


def export_detector(model: DetectorNet, path, check: dict | None = None, tolerance: float | None = None,
                    precision: str = "fp16-weights") -> dict:
    """Write the detector as ONNX (inputs features (B, T, F), mask (B, T); outputs token_logits,
    function_logit) and check it against PyTorch on `check` rows; raises on a mismatch.

    "fp16-weights" stores the weights in half precision (computing in fp32), for bundle size;
    the fp32 graph is checked first, then the halved one, each against its own tolerance.
    """
    import tempfile

    from devassist.export.review import halve_weights

    if precision == "fp32":
        return _export_checked(model, Path(path), check, TOLERANCE["fp32"] if tolerance is None else tolerance)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "detector_fp32.onnx"
        report = {"fp32": _export_checked(model, plain, check, TOLERANCE["fp32"] if tolerance is None else tolerance)}
        halve_weights(plain, Path(path))
    report[precision] = _check(model, Path(path), check, TOLERANCE[precision] if tolerance is None else tolerance)
    report.update(precision=precision, max_abs_diff=report[precision]["max_abs_diff"])
    return report


def _export_checked(model: DetectorNet, path: Path, check: dict | None, tolerance: float) -> dict:
    """torch.onnx.export to `path`, then `_check`."""
    model.eval()
    feats = torch.randn(2, 17, model.cfg.input_dim)
    mask = torch.ones(2, 17)
    mask[1, 9:] = 0
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated; onnxscript is not a dependency
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (feats, mask), str(path), input_names=["features", "mask"],
                          output_names=["token_logits", "function_logit"], opset_version=17, dynamo=False,
                          dynamic_axes={"features": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"},
                                        "token_logits": {0: "batch", 1: "tokens"}, "function_logit": {0: "batch"}})
    return _check(model, path, check, tolerance)


def _check(model: DetectorNet, path: Path, check: dict | None, tolerance: float) -> dict:
    """Function logits of ONNX Runtime vs PyTorch on up to 32 `check` rows (random rows without)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if check is None:
        g = torch.Generator().manual_seed(0)
        check = {"features": [torch.randn(17, model.cfg.input_dim, generator=g).numpy(),
                              torch.randn(9, model.cfg.input_dim, generator=g).numpy()],
                 "labels": [np.zeros(17), np.zeros(9)], "y": np.zeros(2, int)}
    rows = check
    idx = list(range(min(len(rows["features"]), 32)))
    f, m, _, _ = _batch(rows, idx)
    with torch.no_grad():
        ref = model(f, m)[1].numpy()
    got = sess.run(["function_logit"], {"features": f.numpy(), "mask": m.numpy()})[0]
    diff = float(np.max(np.abs(got - ref)))
    if not diff <= tolerance:
        raise RuntimeError(f"detector ONNX export does not match PyTorch: max |diff| {diff:.3g} > {tolerance}")
    return {"rows": len(idx), "max_abs_diff": diff, "tolerance": tolerance}
