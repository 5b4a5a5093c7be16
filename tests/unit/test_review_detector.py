"""The review bug detector: labels from token diffs, masking, learning, ONNX parity, serving."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from devassist.server.features.review.model import (
    DETECTOR, FEATURE_NAMES, Calibration, ReviewModel, detector_features, detector_line_scores, run_detector,
)
from devassist.server.features.review.signals import FunctionSignal
from devassist.server.runtime.session import create_session
from devassist.training.review.data import pairwise_accuracy, separation
from devassist.training.review.detector import DetectorConfig, DetectorNet, export_detector, predict, train_detector
from devassist.training.review.detector_data import changed_span

D = 8  # hidden size of the synthetic signals


def signal(n: int, rng: np.random.Generator, bug_at: int | None = None) -> FunctionSignal:
    """A synthetic function signal; a bug token has hidden[0] = 3 and a follower with hidden[1] = 3."""
    hidden = rng.normal(size=(n, D)).astype(np.float32) * 0.5
    if bug_at is not None:
        hidden[bug_at, 0] = 3.0
        if bug_at + 1 < n:
            hidden[bug_at + 1, 1] = 3.0
    lines = np.arange(n) // 4
    n_lines = int(lines.max()) + 1
    return FunctionSignal(hidden.mean(0), np.ones(n_lines, np.float32), np.bincount(lines, minlength=n_lines).astype(np.int32),
                          n, rng.gamma(2.0, 1.0, n).astype(np.float32), lines, np.full(n, np.nan, np.float32),
                          np.full(n, np.nan, np.float32), np.arange(n, dtype=np.int64), hidden)


def pairs(count: int, seed: int) -> tuple[dict, list[int]]:
    """Build-pairs style data: an original and a twin with one bug token per pair."""
    rng = np.random.default_rng(seed)
    data = {"features": [], "labels": [], "y": [], "pair": []}
    bugs = []
    for k in range(count):
        n = int(rng.integers(10, 40))
        at = int(rng.integers(0, n - 1))
        bugs.append(at)
        for y, sig in ((0, signal(n, rng)), (1, signal(n, rng, at))):
            lab = np.zeros(n, np.uint8)
            if y:
                lab[at] = 1
            data["features"].append(detector_features(sig).astype(np.float16))
            data["labels"].append(lab)
            data["y"].append(y)
            data["pair"].append(k)
    data["y"] = np.asarray(data["y"])
    data["pair"] = np.asarray(data["pair"])
    return data, bugs


def paired(data: dict, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return scores[data["y"] == 0], scores[data["y"] == 1]


def test_changed_span_finds_the_replaced_tokens():
    assert changed_span(np.array([1, 2, 3, 4]), np.array([1, 9, 3, 4])) == (1, 2)
    assert changed_span(np.array([1, 2, 3, 4]), np.array([1, 2, 7, 8, 3, 4])) == (2, 4)  # insertion
    assert changed_span(np.array([5, 5, 5]), np.array([5, 5, 5, 5])) == (3, 4)  # repeated tokens: still one span


def test_features_have_hidden_surprisal_and_margin_flags():
    sig = signal(10, np.random.default_rng(0))
    sig.op_margin[3] = 1.5
    x = detector_features(sig)
    assert x.shape == (10, D + 5)
    assert np.allclose(x[:, :D], sig.token_hidden) and np.allclose(x[:, D], sig.token_surprisal)
    assert x[3, D + 1] == 1.5 and x[3, D + 2] == 1.0 and x[4, D + 2] == 0.0 and not np.isnan(x).any()


def test_padding_does_not_change_a_functions_logit():
    torch.manual_seed(0)
    net = DetectorNet(DetectorConfig(input_dim=D + 5, dropout=0.0)).eval()
    short = torch.randn(1, 7, D + 5)
    padded = torch.cat([short, torch.randn(1, 5, D + 5) * 100], dim=1)
    mask = torch.cat([torch.ones(1, 7), torch.zeros(1, 5)], dim=1)
    with torch.no_grad():
        a = net(short, torch.ones(1, 7))[1]
        b = net(padded, mask)[1]
    assert torch.allclose(a, b, atol=1e-5)


def test_the_detector_learns_to_find_synthetic_bugs_in_unseen_functions():
    train, _ = pairs(160, seed=1)
    test, bugs = pairs(60, seed=2)
    cfg = DetectorConfig(input_dim=D + 5, width=16, epochs=4, batch_pairs=16, lr=5e-3)
    net, info = train_detector(train, cfg, log=lambda *_: None)
    assert info["history"][-1]["loss"] < info["history"][0]["loss"]
    o, t = paired(test, predict(net, test))
    assert pairwise_accuracy(o, t) > 0.9 and separation(o, t)["auroc"] > 0.9
    # The token head points at the bug.
    rows = [i for i in range(len(test["y"])) if test["y"][i] == 1][:20]
    net.eval()
    hits = 0
    with torch.no_grad():
        for r, at in zip(rows, bugs[:20]):
            x = torch.from_numpy(test["features"][r].astype(np.float32))[None]
            tok = net(x, torch.ones(1, x.shape[1]))[0][0].numpy()
            hits += abs(int(tok.argmax()) - at) <= 1
    assert hits >= 16


def test_onnx_export_matches_pytorch_and_serves_through_run_detector(tmp_path):
    data, _ = pairs(40, seed=3)
    net, _ = train_detector(data, DetectorConfig(input_dim=D + 5, width=16, epochs=1), log=lambda *_: None)
    report = export_detector(net, tmp_path / "det.onnx", check=data, precision="fp32")
    assert report["max_abs_diff"] < 1e-3
    half = export_detector(net, tmp_path / "det16.onnx", check=data)  # the bundle's form: fp16 weights
    assert half["fp32"]["max_abs_diff"] < 1e-3 and half["max_abs_diff"] < 3e-2
    assert (tmp_path / "det16.onnx").stat().st_size < 0.75 * (tmp_path / "det.onnx").stat().st_size
    session = create_session(tmp_path / "det.onnx", threads=1, prefer_gpu=False)
    rng = np.random.default_rng(4)
    sigs = [signal(n, rng, bug_at=2) for n in (5, 40, 17)]
    got = run_detector(session, sigs, batch_tokens=64)  # forces several batches of different lengths
    net.eval()
    with torch.no_grad():
        want = [float(net(torch.from_numpy(detector_features(s))[None], torch.ones(1, len(s.token_ids)))[1]) for s in sigs]
    assert np.allclose(got, want, atol=1e-3)
    assert all(s.detector_logits is not None and len(s.detector_logits) == len(s.token_ids) for s in sigs)
    lines = detector_line_scores(sigs[1], sigs[1].detector_logits)
    assert lines.shape == sigs[1].line_tokens.shape and np.isfinite(lines).all()


def test_export_fails_loudly_when_onnx_and_pytorch_disagree(tmp_path, monkeypatch):
    data, _ = pairs(10, seed=5)
    net = DetectorNet(DetectorConfig(input_dim=D + 5, width=8))
    with pytest.raises(RuntimeError, match="does not match"):
        export_detector(net, tmp_path / "det.onnx", check=data, tolerance=-1.0)
    with pytest.raises(RuntimeError, match="does not match"):
        export_detector(net, tmp_path / "det.onnx", check=data, precision="fp32", tolerance=-1.0)


class _VAE:
    class _In:
        name = "embedding"

    def get_inputs(self):
        return [self._In()]

    def run(self, names, feeds):
        return [np.zeros(len(feeds["embedding"]), np.float32)]


def test_a_detector_calibration_needs_a_detector_graph(tmp_path):
    names = list(FEATURE_NAMES) + [DETECTOR]
    calib = Calibration(names, np.array([1.0, 0.0, 2.0]), 0.0, np.zeros(3), np.ones(3), 0.0, 1.0, 1.0, 1.0,
                        reference_scores=np.linspace(-5, 5, 100))
    with pytest.raises(ValueError, match="detector"):
        ReviewModel(_VAE(), calib)
    data, _ = pairs(10, seed=6)
    net = DetectorNet(DetectorConfig(input_dim=D + 5, width=8))
    export_detector(net, tmp_path / "det.onnx", check=data)
    model = ReviewModel(_VAE(), calib, create_session(tmp_path / "det.onnx", threads=1, prefer_gpu=False))
    sigs = [signal(20, np.random.default_rng(7))]
    feats = model.features(sigs)
    assert feats.shape == (1, 3) and feats[0, 2] == pytest.approx(model.detect(sigs)[0])
    assert model.scores(sigs)[0] == pytest.approx(feats[0, 0] + 2.0 * feats[0, 2])


def test_detector_weight_keeps_pairwise_near_the_score_and_above_the_baseline():
    from devassist.training.review.calibrate import choose_detector_weight

    rng = np.random.default_rng(0)
    s_orig = rng.uniform(0, 2, 400)  # surprisal: right within every pair, no help across functions
    s_twin = s_orig + 0.5
    d_orig = np.zeros(400)
    d_twin = np.where(np.arange(400) < 360, 1.0, -1.0)  # the detector: wrong on a tenth of the pairs
    w, grid = choose_detector_weight(s_orig, s_twin, d_orig, d_twin, baseline=0.5, floor=0.0)
    assert w == 0.35  # below 0.5 the twin still wins every pair; 0.35 separates best among those
    assert grid["detector=0.5"]["pairwise"] < 0.98  # at 0.5 the wrong tenth ties or flips: out of tolerance
    w, grid = choose_detector_weight(s_orig, s_twin, d_orig, d_twin, baseline=0.85, tolerance=1.0, floor=0.0)
    assert w > 0.5 and grid[f"detector={w:g}"]["pairwise"] >= 0.88
    assert grid[f"detector={w:g}"]["auroc"] == max(v["auroc"] for v in grid.values())
    w, _ = choose_detector_weight(s_orig, s_twin, d_orig, d_twin, baseline=0.99, tolerance=1.0, floor=0.0)
    assert w == 0.0  # nothing stays 0.03 above a baseline that ranks 99 % of the pairs
