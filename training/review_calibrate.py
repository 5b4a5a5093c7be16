"""`devassist review calibrate`: fit the review VAE, the score and its percentiles on a code base.

Steps: embed the training functions with the bundle's own ONNX models and fit the VAE on the
embeddings; make one synthetic bug per validation function (see `mutations.py`) and choose,
on those pairs, the n-gram cache weight, the length slope and the VAE weight of the score
(see `review_model.py`) and the line aggregation that best finds the mutated line; record the
scores of the unmodified validation functions as the percentile reference. The test split is
never read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from devassist.server.bundle import load_bundle
from devassist.server.features.review_model import FEATURE_NAMES, LINE_SCORES, Calibration, function_features, line_scores
from devassist.server.features.review_signals import BundleSignals, FunctionSignal, cache_mixed_surprisal
from devassist.server.runtime.lm import LanguageModel
from devassist.training.mutations import mutate
from devassist.training.review_data import compute_signals, embeddings_of, is_corpus, load_functions
from devassist.training.review_vae import VAEConfig, score, train_model

EPILOG = """examples:
  devassist review calibrate --bundle models/default --source runs/corpus --out models/default
  devassist review calibrate --bundle models/default --source ~/src/myproject --out runs/mybundle --beta 0.5
"""


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


def best_line_score(twins: list[FunctionSignal], lines: list[int], mu: float, sd: float) -> tuple[str, tuple, dict]:
    """The line aggregation (and margin weights) with the best top-3 hit rate on mutated lines."""
    rates = {}
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
              max_valid: int = 1000, seed: int = 0, threads: int | None = None) -> dict:
    """Fit and add the `review` component; returns a summary."""
    import tempfile

    from devassist.export.review import add_review_component, build_signals_graph

    start = time.time()
    bundle = load_bundle(bundle_dir)
    lm = LanguageModel(bundle, threads=threads, prefer_gpu=False)
    tmp = tempfile.TemporaryDirectory()
    signals_onnx = Path(tmp.name) / "review_signals.onnx"
    if not bundle.has("lm"):
        raise SystemExit(f"{bundle_dir}: review calibration needs the fp32 `lm` component to build its int8 signals graph")
    build_signals_graph(bundle.path(bundle.component("lm")["file"]), signals_onnx)
    signals = BundleSignals(bundle, lm, threads=threads, signals_path=signals_onnx)
    corpus = is_corpus(source)
    train = load_functions(source, ("train",), max_train, seed)
    valid = load_functions(source, ("valid",), max_valid, seed + 1)
    if len(train) < 50 or len(valid) < 20:
        raise SystemExit(f"{source}: too few functions to calibrate ({len(train)} train, {len(valid)} valid; need 50 and 20)")
    log(f"review calibrate: {len(train)} functions for the VAE, {len(valid)} valid functions (score choice, "
        f"percentiles) from {source} ({'corpus splits' if corpus else 'files split 80/20 by path hash'})")
    train_sig = compute_signals(signals, [f.text for f in train], "VAE functions")
    x_train = embeddings_of(train_sig)
    vae, vae_info = train_model(x_train, VAEConfig(**{**cfg.__dict__, "input_dim": x_train.shape[1]}), "vae", log=log)
    elbo_train = score(vae, x_train)
    e_mean, e_std = float(elbo_train.mean()), float(elbo_train.std() + 1e-9)

    # Everything that shapes the score is chosen on the validation split: the LM never trained on
    # it (on its own training split, surprisal is lower and bugs stand out more than they will).
    valid_sig = compute_signals(signals, [f.text for f in valid], "valid functions")
    mu, sd = token_stats(valid_sig)
    muts = [mutate(f.text, f.key) for f in valid]
    v_keep = [i for i, m in enumerate(muts) if m is not None]
    v_muts = [muts[i] for i in v_keep]
    v_twin = compute_signals(signals, [m.mutated for m in v_muts], "valid twins")
    elbo_z = lambda sigs: (score(vae, embeddings_of(sigs)) - e_mean) / e_std  # noqa: E731
    e_valid, e_twin = elbo_z(valid_sig), elbo_z(v_twin)
    chosen, grid = choose_score([valid_sig[i] for i in v_keep], v_twin, e_valid[v_keep], e_twin, valid_sig)
    line_kind, line_weights, line_rates = best_line_score(v_twin, [m.line for m in v_muts], mu, sd)
    w = np.asarray([1.0, chosen["elbo_weight"]])
    f_valid = np.stack([function_features(s, e, chosen["line_mean"], chosen["line_std"], chosen["cache_weight"],
                                          chosen["length_slope"]) for s, e in zip(valid_sig, e_valid)])
    calib = Calibration(list(FEATURE_NAMES), w, 0.0, np.zeros(2), np.ones(2), e_mean, e_std, mu, sd,
                        reference_scores=np.sort(f_valid @ w), line_score=line_kind, line_weights=line_weights,
                        cache_weight=chosen["cache_weight"], length_slope=chosen["length_slope"],
                        line_mean=chosen["line_mean"], line_std=chosen["line_std"])
    info = {
        "embedding": "mean-pooled final hidden states (review_signals.onnx, int8)",
        "vae": vae_info, "n_vae": len(train), "n_valid": len(valid), "n_valid_pairs": len(v_twin),
        "source": str(source), "score": chosen, "score_grid_pairwise_valid": grid,
        "line_score": [line_kind, list(line_weights)],
        "line_top3_valid": line_rates[f"{line_kind}/{line_weights[0]:g}/{line_weights[1]:g}"],
    }
    calib.extra = {"fit": info}
    target = out or bundle_dir
    x_check = embeddings_of(valid_sig)
    _, report = add_review_component(Path(bundle_dir), vae, calib, x_check, {"beta": cfg.beta, "fit": info},
                                     signals_onnx=signals_onnx, out_dir=Path(out) if out else None)
    tmp.cleanup()
    info.update({"parity": report, "bundle": str(target), "wall_time_s": round(time.time() - start, 1)})
    return info


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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    cfg = VAEConfig(beta=args.beta, latent=args.latent, epochs=args.epochs, seed=args.seed)
    info = calibrate(args.bundle, args.source, args.out, cfg, args.max_train, args.max_valid, args.seed, args.threads)
    print(json.dumps(info, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
