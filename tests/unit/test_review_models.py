"""The PyTorch side of review: VAE/AE training, ONNX export with parity, the one-pass signals graph,
and (with the tiny bundle) calibrate -> serve -> CLI -> evaluate end to end."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from devassist.export.review import export_vae, parity  # noqa: E402
from devassist.training.review.vae import VAEConfig, score, train_model  # noqa: E402


def _blobs(n=600, d=16, seed=0):
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(3, d))
    return (rng.normal(size=(n, 3)) @ basis + 0.05 * rng.normal(size=(n, d)) + 4.0).astype(np.float32)


@pytest.mark.parametrize("kind", ["vae", "ae"])
def test_models_learn_the_reference_and_flag_outliers(kind):
    x = _blobs()
    model, info = train_model(x, VAEConfig(hidden=32, latent=3, epochs=30, beta=0.5), kind)
    assert info["config"]["input_dim"] == 16 and info["config"]["beta"] == 0.5
    inliers = score(model, _blobs(200, seed=1))
    outliers = score(model, np.random.default_rng(2).normal(size=(200, 16)).astype(np.float32) * 3 + 4)
    assert np.median(outliers) > np.percentile(inliers, 95)


def test_vae_onnx_export_matches_pytorch(tmp_path):
    x = _blobs()
    model, _ = train_model(x, VAEConfig(hidden=32, latent=4, epochs=3), "vae")
    path = export_vae(model, tmp_path / "vae.onnx", 16)
    report = parity(model, path, x)
    assert report["ok"] and report["max_abs_diff"]["neg_elbo"] < 1e-4 and report["rows"] == 512


@pytest.fixture
def bundle(request):
    try:
        return request.getfixturevalue("tiny_bundle")
    except pytest.FixtureLookupError:
        pytest.skip("needs the tiny_bundle fixture (tests/conftest.py)")


def _mini_corpus(root: Path) -> Path:
    """A corpus folder of a few standard-library modules with fixed splits."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = {"train": ["textwrap.py", "shlex.py", "fnmatch.py", "calendar.py", "bisect.py", "heapq.py"],
             "valid": ["colorsys.py", "difflib.py"], "test": ["netrc.py", "glob.py"]}
    root.mkdir()
    with open(root / "files.jsonl", "w", encoding="utf-8") as fh:
        for split, names in files.items():
            for name in names:
                fh.write(json.dumps({"path": name, "split": split, "text": (stdlib / name).read_text()}) + "\n")
    return root


@pytest.mark.slow
def test_calibrate_serve_cli_and_evaluate_on_a_real_bundle(bundle, tmp_path, capsys):
    from devassist.evaluation.review import main as evaluate_main
    from devassist.export.review import build_signals_graph
    from devassist.server.bundle import load_bundle
    from devassist.server.features.review import CODE_UNUSUAL, ReviewFeature, to_diagnostics
    from devassist.server.review_cli import main as review_main
    from devassist.server.runtime.lm import LanguageModel
    from devassist.server.runtime.session import create_session
    from devassist.server.settings import ReviewSettings

    # The one-pass graph scores tokens exactly like the LM (fp32) and closely in int8.
    src = load_bundle(bundle)
    lm = LanguageModel(src, prefer_gpu=False)
    ids = [lm.eot_id] + lm.encode("def add(a, b):\n    return a + b\n")
    ref = lm.token_surprisal(ids)[1:]
    for quantize, tol in ((False, 1e-3), (True, None)):
        path = build_signals_graph(src.path(src.component("lm")["file"]), tmp_path / f"sig{quantize}.onnx", quantize)
        sess = create_session(path, threads=1, prefer_gpu=False)
        x = np.asarray([ids])
        feeds = {"input_ids": x, "attention_mask": np.ones_like(x), "position_ids": np.arange(len(ids))[None],
                 "target_ids": np.asarray([ids[1:] + [0]]), "alt_ids": np.zeros((1, len(ids), 2), np.int64)}
        for i in sess.get_inputs():
            if i.name.startswith("past"):
                feeds[i.name] = np.zeros((1, lm.n_head, 0, lm.head_dim), np.float32)
        got = sess.run(["surprisal"], feeds)[0][0, :-1]
        if tol:
            assert np.abs(got - ref).max() < tol
        else:
            assert np.corrcoef(got, ref)[0, 1] > 0.95

    # A function's numbers do not depend on the other functions reviewed with it (the int8
    # graph's one activation scale per run moved them by nats when functions shared runs).
    from devassist.server.features.review.signals import BundleSignals

    signals = BundleSignals(src, lm, signals_path=path)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = ["def add(a, b):\n    return a + b\n", (stdlib / "glob.py").read_text()[:3000],
             "def neg(x):\n    if x > 0:\n        return -x\n    return x * 1000000007\n"]
    for together, alone in zip(signals.analyze(texts), (signals.analyze([t])[0] for t in texts)):
        np.testing.assert_array_equal(together.token_surprisal, alone.token_surprisal)
        np.testing.assert_array_equal(together.embedding, alone.embedding)

    # The findings re-score a rewrite from its first changed token on, over the function's own KV
    # cache: in fp32 that is the difference of the two prefixes' summed surprisal, run whole.
    exact = BundleSignals(src, lm, signals_path=tmp_path / "sigFalse.onnx", keep_past=True)
    code = "def neg(x):\n    if x > 0:\n        return -x\n    return x * 3\n"
    [sig] = exact.analyze([code])
    assert sig.past and BundleSignals(src, lm, signals_path=tmp_path / "sigFalse.onnx").analyze([code])[0].past is None
    written = code[: code.index("\n", code.index("return -x"))]
    rewritten = written.replace("x > 0", "x >= 0")
    whole = [float(g.token_surprisal.sum()) for g in exact.analyze([written, rewritten])]
    assert abs(exact.suffix_margin(sig, written, rewritten) - (whole[0] - whole[1])) < 1e-2

    corpus = _mini_corpus(tmp_path / "corpus")
    out = tmp_path / "bundle"
    assert review_main(["calibrate", "--bundle", str(bundle), "--source", str(corpus), "--out", str(out),
                        "--max-train", "80", "--max-valid", "40", "--epochs", "5",
                        "--detector", "train", "--detector-functions", "80", "--detector-epochs", "2"]) == 0
    capsys.readouterr()
    b = load_bundle(out)
    meta = b.component("review")
    assert meta["parity"]["ok"] and meta["signals"] == "review_signals.onnx"
    assert meta["detector"] == "review_detector.onnx" and meta["detector_fit"]["parity"]["max_abs_diff"] < 3e-2
    feature = ReviewFeature(b, LanguageModel(b, prefer_gpu=False))
    text = (Path(sysconfig.get_paths()["stdlib"]) / "glob.py").read_text()
    report = feature.review(text, ReviewSettings(threshold=0.0), budget_s=60)
    assert report.complete and report.scored == report.functions > 5
    assert all(0 <= p <= 100 for p in report.percentiles.values())
    diags = to_diagnostics(report.findings, "file:///glob.py")
    assert diags and all(d.code == CODE_UNUSUAL and d.source == "devassist" for d in diags)
    assert len(diags) <= ReviewSettings().max_diagnostics

    target = tmp_path / "glob_copy.py"
    target.write_text(text)
    notes = tmp_path / "notes.md"
    notes.write_text("# not python\n")
    assert review_main([str(target), str(notes), "--bundle", str(out), "--threshold", "0", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["files"][0]["findings"] and printed["files"][1]["skipped"] == "not a Python file"

    assert evaluate_main(["--bundle", str(out), "--source", str(corpus), "--max-functions", "30", "--max-train", "60",
                          "--no-benchmark", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] > 10
    for name in ("shipped", "vae", "ae", "isolation_forest", "mean_surprisal", "detector"):
        overall = result["scores"][name]["overall"]
        assert overall["pairs"] == result["pairs"] and 0 <= overall["pairwise_accuracy"] <= 1
    assert 0 <= result["localization_all_twins"]["overall"]["top3"] <= 1
    assert 0 <= result["false_positive_rate"] <= 1
