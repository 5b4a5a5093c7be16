"""`devassist review calibrate`: fit the review VAE, the score and its percentiles on a code base.

Steps: embed the training functions with the bundle's own ONNX models and fit the VAE on the
embeddings; train the bug detector on synthetic bugs of training functions (or keep the
bundle's: `--detector keep`); make up to three synthetic bugs per validation function (see
`mutations.py`) and choose, on those pairs, the n-gram cache weight, the length slope, the VAE
and detector weights of the score (see `model.py`) and the line ranking that best finds
the mutated line; record the scores of the unmodified validation functions as the percentile
reference. The test split is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from devassist.server.bundle import load_bundle
from devassist.server.features.review.model import (DETECTOR, FEATURE_NAMES, LINE_SCORES, Calibration, cache_mixed_surprisal,
                                                     detector_line_scores, function_features, line_scores, run_detector)
from devassist.server.features.review.signals import BundleSignals, FunctionSignal
from devassist.server.runtime.lm import LanguageModel
from devassist.server.runtime.session import create_session
from devassist.training.review.mutations import mutate
from devassist.training.review.data import (compute_signals, embeddings_of, is_corpus, iter_files, load_functions,
                                            mean_surprisal, pairwise_accuracy, separation, text_digest)
from devassist.training.review.detector import TOLERANCE, DetectorConfig, export_detector, train_detector
from devassist.training.review.detector_data import build_pairs
from devassist.training.review.vae import VAEConfig, score, train_model

EPILOG = """examples:
  devassist review calibrate --bundle models/default --source runs/corpus --out models/default
  devassist review calibrate --bundle models/default --source ~/src/myproject --out runs/mybundle --beta 0.5
  devassist review calibrate --bundle B --source runs/corpus --out B --detector train --detector-functions 5000
  devassist review calibrate --bundle B --source runs/stdlib --out B --detector-source runs/big --detector-splits valid,test
"""
DETECTOR_WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.25, 0.35, 0.5, 1.0, 2.0, 4.0)
PAIRWISE_FLOOR = 0.77  # the review issue's 0.75, with a margin for the step from valid to unseen code
BASELINE_MARGIN = 0.03  # over mean surprisal's pairwise: ~3 standard errors of a paired difference on 1,600 pairs
VALID_ROUNDS = 3  # synthetic bugs per validation function for the choices (more pairs, less noise)


def log(msg: str) -> None:
    """Progress to stderr."""
    print(msg, file=sys.stderr, flush=True)


def token_stats(signals: list[FunctionSignal]) -> tuple[float, float]:
    """Mean and std of per-token surprisal over functions."""
    allv = np.concatenate([s.token_surprisal for s in signals if s.token_surprisal is not None and len(s.token_surprisal)])
    return float(allv.mean()), float(allv.std() + 1e-6)


def line_stats(signals: list[FunctionSignal], cache_weight: float) -> tuple[float, float]:
    """Mean and std of the summed (cache-mixed) surprisal of a line with code."""
    sums = []
    for s in signals:
        tok = s.token_surprisal
        if cache_weight > 0 and s.token_ids is not None:
            tok = cache_mixed_surprisal(s.token_ids, s.token_surprisal, cache_weight)
        per_line = np.bincount(s.token_line, weights=tok, minlength=len(s.line_tokens))
        sums.append(per_line[s.line_tokens > 0])
    allv = np.concatenate(sums)
    return float(allv.mean()), float(allv.std() + 1e-6)


def choose_score(orig: list[FunctionSignal], twin: list[FunctionSignal], e_orig: np.ndarray, e_twin: np.ndarray,
                 reference: list[FunctionSignal], tolerance: float = 0.005) -> tuple[dict, dict]:
    """Pick the n-gram cache weight and the ELBO weight by pairwise accuracy on (original, twin) pairs.

    The length slope is 1 (a full per-line z-score): within a pair it cannot change the order,
    across functions it keeps long functions from looking unusual for their length alone. Among
    settings within `tolerance` of the best accuracy the largest ELBO weight wins (the VAE's
    whole-function view is what pairs cannot measure).
    """
    grid, stats = {}, {}
    for lam in (0.0, 0.1, 0.2, 0.3):
        stats[lam] = line_stats(reference, lam)
        fo = np.stack([function_features(s, 0.0, *stats[lam], lam, 1.0) for s in orig])[:, 0]
        ft = np.stack([function_features(s, 0.0, *stats[lam], lam, 1.0) for s in twin])[:, 0]
        for alpha in (0.0, 0.1, 0.25, 0.5, 1.0):
            so, st = fo + alpha * e_orig, ft + alpha * e_twin
            grid[(lam, alpha)] = float(np.mean((st > so) + 0.5 * (st == so)))
    best = max(grid.values())
    ok = [k for k, v in grid.items() if v >= best - tolerance]
    lam, alpha = max(ok, key=lambda k: (k[1], grid[k]))
    chosen = {"cache_weight": lam, "length_slope": 1.0, "elbo_weight": alpha, "line_mean": stats[lam][0],
              "line_std": stats[lam][1], "pairwise_valid": grid[(lam, alpha)], "best_pairwise_valid": best}
    return chosen, {f"cache={k[0]:g} elbo={k[1]:g}": round(v, 4) for k, v in grid.items()}


def choose_detector_weight(s_orig: np.ndarray, s_twin: np.ndarray, d_orig: np.ndarray, d_twin: np.ndarray,
                           baseline: float = 0.0, tolerance: float = 0.02, margin: float = BASELINE_MARGIN,
                           floor: float = PAIRWISE_FLOOR) -> tuple[float, dict]:
    """The detector weight with the best AUROC among those whose pairwise accuracy stays within
    `tolerance` of the score without it, `margin` above `baseline` (mean surprisal's pairwise
    accuracy on the same pairs) and at least `floor`; 0 when no weight qualifies (pairs are the
    per-function view, AUROC the across-function one)."""
    grid = {}
    for w in DETECTOR_WEIGHTS:
        so, st = s_orig + w * d_orig, s_twin + w * d_twin
        grid[w] = (pairwise_accuracy(so, st), separation(so, st)["auroc"])
    need = max(grid[0.0][0] - tolerance, baseline + margin, floor)
    ok = [w for w, (pw, _) in grid.items() if pw >= need] or [0.0]
    best = max(ok, key=lambda w: (grid[w][1], -w))
    return best, {f"detector={w:g}": {"pairwise": round(pw, 4), "auroc": round(au, 4)} for w, (pw, au) in grid.items()}


def best_line_score(twins: list[FunctionSignal], lines: list[int], mu: float, sd: float) -> tuple[str, tuple, dict]:
    """The line aggregation (and margin weights) with the best top-3 hit rate on mutated lines;
    "detector" (its token logits) competes when the twins carry them."""
    rates = {}
    if twins and all(sig.detector_logits is not None for sig in twins):
        hits = sum(line in np.argsort(-detector_line_scores(sig, sig.detector_logits), kind="stable")[:3]
                   for sig, line in zip(twins, lines))
        rates[(DETECTOR, 0.0, 0.0)] = hits / len(twins)
    for kind in LINE_SCORES:
        for w_op in (0.0, 1.0, 3.0):
            for w_name in (0.0, 1.0, 3.0):
                hits = 0
                for sig, line in zip(twins, lines):
                    ls = line_scores(sig, mu, sd, kind, (w_op, w_name))
                    hits += line in np.argsort(-ls, kind="stable")[:3]
                rates[(kind, w_op, w_name)] = hits / max(len(twins), 1)
    best = max(rates, key=rates.get)
    return best[0], best[1:], {f"{k}/{a:g}/{b:g}": round(v, 4) for (k, a, b), v in rates.items()}


def calibrate(bundle_dir: Path, source: Path, out: Path | None, cfg: VAEConfig, max_train: int = 4000,
              max_valid: int = 1000, seed: int = 0, threads: int | None = None, detector: str = "auto",
              detector_functions: int = 5000, detector_cfg: DetectorConfig | None = None,
              detector_source: Path | None = None, detector_splits: tuple[str, ...] = ("train",)) -> dict:
    """Fit and add the `review` component; returns a summary.

    detector: "train" (on synthetic bugs of `detector_splits` of `detector_source`, default the
    training split of `source`), "keep" (the bundle's own), "none", or "auto" (keep the bundle's
    if it has one, else train). A `detector_source` never lends a file that `source` holds.
    """
    import shutil
    import tempfile

    from devassist.export.review import DETECTOR_FILE, add_review_component, build_signals_graph, halve_weights

    start = time.time()
    bundle = load_bundle(bundle_dir)
    review_meta = bundle.components.get("review", {})
    mode = detector if detector != "auto" else ("keep" if review_meta.get("detector") else "train")
    if mode == "keep" and not review_meta.get("detector"):
        raise SystemExit(f"{bundle_dir}: --detector keep, but the bundle has no review detector")
    lm = LanguageModel(bundle, threads=threads, prefer_gpu=False)
    tmp = tempfile.TemporaryDirectory()
    signals_onnx = Path(tmp.name) / "review_signals.onnx"
    if review_meta.get("signals"):  # the bundle's own int8 signals graph (its `lm` may be int8 only)
        shutil.copyfile(bundle.path(review_meta["signals"]), signals_onnx)
    elif bundle.has("lm"):
        build_signals_graph(bundle.path(bundle.component("lm")["file"]), signals_onnx)
    else:
        raise SystemExit(f"{bundle_dir}: review calibration needs the fp32 `lm` component to build its int8 signals graph")
    signals = BundleSignals(bundle, lm, threads=threads, signals_path=signals_onnx, keep_hidden=mode != "none")
    corpus = is_corpus(source)
    train = load_functions(source, ("train",), max_train, seed)
    valid = load_functions(source, ("valid",), max_valid, seed + 1)
    if len(train) < 50 or len(valid) < 20:
        raise SystemExit(f"{source}: too few functions to calibrate ({len(train)} train, {len(valid)} valid; need 50 and 20)")
    log(f"review calibrate: {len(train)} functions for the VAE, {len(valid)} valid functions (score choice, "
        f"percentiles) from {source} ({'corpus splits' if corpus else 'files split 80/20 by path hash'}); detector: {mode}")
    train_sig = compute_signals(signals, [f.text for f in train], "VAE functions")
    x_train = embeddings_of(train_sig)
    vae, vae_info = train_model(x_train, VAEConfig(**{**cfg.__dict__, "input_dim": x_train.shape[1]}), "vae", log=log)
    elbo_train = score(vae, x_train)
    e_mean, e_std = float(elbo_train.mean()), float(elbo_train.std() + 1e-9)
    del train_sig
    detector_onnx, detector_info = None, None
    if mode == "train":
        if detector_source is None:
            d_funcs = load_functions(source, ("train",), detector_functions, seed + 3)
        else:  # e.g. code the LM never trained on; none of the calibration corpus's files (its test split!)
            own = {text_digest(text) for _, _, text in iter_files(source)}
            d_funcs = load_functions(detector_source, detector_splits, detector_functions, seed + 3, exclude=own)
        detector_onnx, detector_info = fit_detector(signals, d_funcs, Path(tmp.name) / DETECTOR_FILE,
                                                    detector_cfg or DetectorConfig())
        detector_info["source"] = str(detector_source or source)
        detector_info["splits"] = list(detector_splits if detector_source is not None else ("train",))
    elif mode == "keep":  # stored with fp16 weights (a no-op for a graph that already is)
        detector_onnx = halve_weights(bundle.path(review_meta["detector"]), Path(tmp.name) / DETECTOR_FILE)
        detector_info = dict(review_meta.get("detector_fit", {"kept_from": str(bundle_dir)}))
        kept_source = create_session(bundle.path(review_meta["detector"]), threads=threads, prefer_gpu=False)
    det_session = create_session(detector_onnx, threads=threads, prefer_gpu=False) if detector_onnx else None

    # Everything that shapes the score is chosen on the validation split: the LM never trained on
    # it (on its own training split, surprisal is lower and bugs stand out more than they will).
    valid_sig = compute_signals(signals, [f.text for f in valid], "valid functions")
    mu, sd = token_stats(valid_sig)
    # Several synthetic bugs per function (an original may pair with up to VALID_ROUNDS twins).
    keyed = [(i, mutate(f.text, f.key if r == 0 else f"{f.key}#{r}")) for r in range(VALID_ROUNDS)
             for i, f in enumerate(valid)]
    v_keep = [i for i, m in keyed if m is not None]
    v_muts = [m for _, m in keyed if m is not None]
    v_twin = compute_signals(signals, [m.mutated for m in v_muts], "valid twins")
    elbo_z = lambda sigs: (score(vae, embeddings_of(sigs)) - e_mean) / e_std  # noqa: E731
    e_valid, e_twin = elbo_z(valid_sig), elbo_z(v_twin)
    chosen, grid = choose_score([valid_sig[i] for i in v_keep], v_twin, e_valid[v_keep], e_twin, valid_sig)
    w = np.asarray([1.0, chosen["elbo_weight"]])
    f_valid = np.stack([function_features(s, e, chosen["line_mean"], chosen["line_std"], chosen["cache_weight"],
                                          chosen["length_slope"]) for s, e in zip(valid_sig, e_valid)])
    names = list(FEATURE_NAMES)
    if det_session is not None:
        # The bundle's own graph first: run_detector leaves its token logits on the signals, and
        # the served (halved) graph's must be the ones there for the line choice below.
        kept = run_detector(kept_source, valid_sig) if mode == "keep" else None
        d_valid, d_twin = run_detector(det_session, valid_sig), run_detector(det_session, v_twin)
        if kept is not None:  # the halved graph against the bundle's, on the validation functions
            diff = float(np.max(np.abs(kept - d_valid)))
            if not diff <= TOLERANCE["fp16-weights"]:
                raise RuntimeError(f"the kept detector changed by {diff:.3g} when stored in fp16")
            detector_info["kept_parity"] = {"rows": len(valid_sig), "max_abs_diff": diff}
        f_twin = np.stack([function_features(s, e, chosen["line_mean"], chosen["line_std"], chosen["cache_weight"],
                                             chosen["length_slope"]) for s, e in zip(v_twin, e_twin)])
        baseline = pairwise_accuracy(mean_surprisal(valid_sig)[v_keep], mean_surprisal(v_twin))
        w_det, det_grid = choose_detector_weight(f_valid[v_keep] @ w, f_twin @ w, d_valid[v_keep], d_twin, baseline)
        det_grid["mean_surprisal_pairwise"] = round(baseline, 4)
        chosen["detector_weight"] = w_det
        grid["detector_weight_valid"] = det_grid
        names.append(DETECTOR)
        w = np.append(w, w_det)
        f_valid = np.concatenate([f_valid, d_valid[:, None]], axis=1)
    line_kind, line_weights, line_rates = best_line_score(v_twin, [m.line for m in v_muts], mu, sd)
    k = len(names)
    calib = Calibration(names, w, 0.0, np.zeros(k), np.ones(k), e_mean, e_std, mu, sd,
                        reference_scores=np.sort(f_valid @ w), line_score=line_kind, line_weights=line_weights,
                        cache_weight=chosen["cache_weight"], length_slope=chosen["length_slope"],
                        line_mean=chosen["line_mean"], line_std=chosen["line_std"])
    info = {
        "embedding": "mean-pooled final hidden states (review_signals.onnx, int8)",
        "vae": vae_info, "n_vae": len(train), "n_valid": len(valid), "n_valid_pairs": len(v_twin),
        "source": str(source), "score": chosen, "score_grid_valid": grid,
        "line_score": [line_kind, list(line_weights)],
        "line_top3_valid": line_rates[f"{line_kind}/{line_weights[0]:g}/{line_weights[1]:g}"],
    }
    calib.extra = {"fit": info}
    target = out or bundle_dir
    x_check = embeddings_of(valid_sig)
    extra = {"beta": cfg.beta, "fit": info}
    if detector_info is not None:
        extra["detector_fit"] = detector_info
    _, report = add_review_component(Path(bundle_dir), vae, calib, x_check, extra, signals_onnx=signals_onnx,
                                     out_dir=Path(out) if out else None, detector_onnx=detector_onnx)
    tmp.cleanup()
    info.update({"parity": report, "bundle": str(target), "wall_time_s": round(time.time() - start, 1)})
    return info


def fit_detector(signals: BundleSignals, funcs, path: Path, cfg: DetectorConfig,
                 min_pairs: int = 50) -> tuple[Path | None, dict | None]:
    """Train the bug detector on two synthetic bugs per training function; export and check it.
    Too few pairs (a tiny code base) train no detector: (None, None)."""
    pairs = build_pairs(signals, funcs, rounds=2, desc="detector pairs")
    if len(pairs["y"]) // 2 < min_pairs:
        log(f"review calibrate: only {len(pairs['y']) // 2} synthetic bugs in the training functions; no detector")
        return None, None
    log(f"review calibrate: detector on {len(pairs['y']) // 2} pairs from {len(funcs)} training functions")
    net, info = train_detector(pairs, DetectorConfig(**{**cfg.__dict__, "input_dim": pairs["features"][0].shape[1]}), log=log)
    info["parity"] = export_detector(net, path, check=pairs)
    info["n_functions"] = len(funcs)
    return path, info


def main(argv: list[str] | None = None) -> int:
    """Refit the review VAE and percentiles on a code base and write a bundle."""
    parser = argparse.ArgumentParser(prog="devassist review calibrate", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="bundle with `lm` and `embed` components")
    parser.add_argument("--source", type=Path, required=True, help="a corpus folder or a source tree")
    parser.add_argument("--out", type=Path, help="write the bundle here (default: update --bundle in place)")
    parser.add_argument("--beta", type=float, default=VAEConfig.beta, help="KL weight of the ELBO (default 1.0)")
    parser.add_argument("--latent", type=int, default=VAEConfig.latent)
    parser.add_argument("--epochs", type=int, default=VAEConfig.epochs)
    parser.add_argument("--max-train", type=int, default=4000, help="training functions for the VAE (sampled)")
    parser.add_argument("--max-valid", type=int, default=1000, help="validation functions: percentiles, line choice")
    parser.add_argument("--detector", choices=("auto", "train", "keep", "none"), default="auto",
                        help="the bug detector: train it on synthetic bugs of the training split, keep the bundle's, "
                             "or none (default auto: keep if the bundle has one, else train)")
    parser.add_argument("--detector-functions", type=int, default=5000, help="training functions for the detector")
    parser.add_argument("--detector-source", type=Path, help="train the detector on this corpus or tree instead "
                        "(files that --source holds are left out)")
    parser.add_argument("--detector-splits", default="train", help="its splits, comma-separated (default train)")
    parser.add_argument("--detector-epochs", type=int, default=DetectorConfig.epochs)
    parser.add_argument("--detector-pair-weight", type=float, default=DetectorConfig.pair_weight,
                        help="weight of the detector's twin-above-original ranking loss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    cfg = VAEConfig(beta=args.beta, latent=args.latent, epochs=args.epochs, seed=args.seed)
    dcfg = DetectorConfig(epochs=args.detector_epochs, pair_weight=args.detector_pair_weight, seed=args.seed)
    info = calibrate(args.bundle, args.source, args.out, cfg, args.max_train, args.max_valid, args.seed, args.threads,
                     args.detector, args.detector_functions, dcfg, args.detector_source,
                     tuple(args.detector_splits.split(",")))
    print(json.dumps(info, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
