"""Fit a synthesizer on a fixture and save it as a self-describing model directory.

MODEL_DIR holds `spec.json` (columns, transforms, how to sample), `sampler.onnx` (generator
or decoder, parity-checked against PyTorch at export) and `weights.safetensors`. Sampling
needs only the first two, through `devassist.server.synth_runtime`.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors.torch import save_file

from devassist.server.synth_copula import sample_copula
from devassist.server.synth_runtime import round_like_fixture, row_digests
from devassist.training.tabular.constraints import detect_constraints
from devassist.training.tabular.copula import fit_copula
from devassist.training.tabular.gan import GanConfig, SpanOps, train_gan
from devassist.training.tabular.selection import Selector
from devassist.training.tabular.schema import FLOAT_RE, is_null, profile_table, to_arrays
from devassist.training.tabular.table_io import Table
from devassist.training.tabular.transforms import DataTransformer
from devassist.training.tabular.vae import VaeConfig, train_vae

SPEC_VERSION = 2
MAX_TRAIN_ROWS = 50_000  # bigger fixtures are subsampled: the model sees plenty, and a CPU trains in minutes
# Steps scale with the rows: CTGAN's 300 epochs are only 300 steps below 1,000 rows, far too few.
STEPS_PER_ROW, MIN_STEPS, MAX_STEPS = 2, 1000, 4000
TINY_ROWS = 50  # below this: the Gaussian copula alone (a network cannot learn from so few rows)
HOLDOUT_SHARE, MIN_HOLDOUT = 0.15, 10  # rows held out to stop early and to choose the model kind
# A seeded time budget becomes a step cap at these rates, so it never depends on the machine's load.
REFERENCE_STEPS_PER_S = {"gan": 40.0, "vae": 200.0}
# Batches of a few hundred rows through 128-wide layers gain little from intra-op threads, and on
# a shared CPU the threads' spin-waits made each step ~15x slower (measured: 21 ms vs 1.2 ms).
TORCH_THREADS = 1
EXPORT_RESERVE_S = 0.3  # ONNX export + parity check of a small MLP, kept out of the training budget


def column_notes(table: Table, specs: list[dict]) -> list[str]:
    """Human-readable remarks about columns that get special treatment."""
    notes = []
    for j, spec in enumerate(specs):
        name, kind = spec["name"], spec["kind"]
        if kind == "empty":
            notes.append(f"column {name!r} is empty in every row: it stays empty")
        elif kind == "serial":
            notes.append(f"column {name!r} looks like a serial id: new ids continue from {spec['start']}")
        elif kind == "pattern":
            unique = "unique " if spec["unique"] else ""
            notes.append(f"column {name!r} is high-cardinality text: {unique}values are generated to its pattern")
        elif kind == "discrete" and table.fmt == "csv":
            values = [v for v in table.column(j) if not is_null(v)]
            numbers = sum(bool(FLOAT_RE.match(v)) for v in values)
            if 0 < numbers < len(values):
                notes.append(f"column {name!r} mixes numbers and text: treated as categories")
        if kind == "discrete" and len(spec["categories"]) == 1:
            notes.append(f"column {name!r} is constant")
    return notes


def step_budget(train_rows: int) -> int:
    """Optimizer steps for a fixture: STEPS_PER_ROW a row, within [MIN_STEPS, MAX_STEPS] (early stopping may end sooner)."""
    return int(np.clip(STEPS_PER_ROW * train_rows, MIN_STEPS, MAX_STEPS))


def split_holdout(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row indices; tiny fixtures keep every row for training (and no holdout)."""
    if n < TINY_ROWS:
        return np.arange(n), np.arange(n)
    order = rng.permutation(n)
    cut = max(MIN_HOLDOUT, int(HOLDOUT_SHARE * n))
    return np.sort(order[cut:]), np.sort(order[:cut])


def candidates(model: str, train_rows: int) -> list[str]:
    """The model kinds to fit: the one asked for, or (auto) the copula plus the TVAE and the GAN."""
    if model != "auto":
        return [model]
    return ["copula"] if train_rows < TINY_ROWS else ["copula", "vae", "gan"]


def fit_synthesizer(table: Table, out_dir: str | Path, model: str = "auto", steps: int | None = None,
                    budget_s: float | None = None, seed: int = 0, max_rows: int = MAX_TRAIN_ROWS,
                    progress: Callable[[float, str], None] | None = None,
                    log: Callable[[str], None] = print, seeded: bool = True,
                    clock: Callable[[], float] = time.perf_counter, user_constraints: list[dict] = (),
                    config: GanConfig | VaeConfig | None = None) -> dict:
    """Profile, find constraints, train the candidate models, keep the best on held-out rows, export; return the spec.

    `steps` defaults to `step_budget(rows)`. `budget_s` bounds the fit: in seconds of `clock` when
    not `seeded`; when `seeded` it becomes a step cap at REFERENCE_STEPS_PER_S, so a seeded run
    gives the same model on any machine, with or without a budget that the steps fit in.
    """
    started = clock()
    torch.set_num_threads(TORCH_THREADS)
    rng = np.random.default_rng(seed)
    progress = progress or (lambda f, m: None)
    n_fixture = len(table.rows)
    if n_fixture > max_rows:
        keep = np.sort(rng.choice(n_fixture, max_rows, replace=False))
        table = replace(table, rows=[table.rows[i] for i in keep])
        log(f"subsampled {n_fixture:,} rows to {max_rows:,} for training")
    specs = profile_table(table)
    for note in column_notes(table, specs):
        log(note)
    arrays = to_arrays(table, specs)
    constraints = detect_constraints(specs, arrays) + list(user_constraints)
    spec = {"spec_version": SPEC_VERSION, "model": model, "fmt": table.fmt, "csv_options": table.csv_options,
            "columns": specs, "fixture_rows": n_fixture, "train_rows": len(table.rows), "seed": seed,
            "constraints": constraints}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not arrays:  # nothing to learn: every column is generated by rule
        spec.update(dim=0, z_dim=0, cond_dim=0, fit_s=clock() - started)
        (out_dir / "spec.json").write_text(json.dumps(spec, indent=1))
        return spec
    train_idx, held_idx = split_holdout(len(table.rows), rng)
    train = {k: v[train_idx] for k, v in arrays.items()}
    held = {k: v[held_idx] for k, v in arrays.items()}
    kinds = candidates(model, len(train_idx))
    neural = [k for k in kinds if k != "copula"]
    total_steps = steps or step_budget(len(train_idx))
    transformer = DataTransformer(specs, seed).fit(train)
    data = transformer.transform(train, rng)
    ops = SpanOps(transformer.dim, transformer.tanh_columns(), transformer.softmax_groups(), transformer.cond_spans)
    fits: dict[str, dict] = {}
    for i, kind in enumerate(kinds):
        progress(i / len(kinds), f"fitting {kind}")
        selector = Selector(specs, held, kind == "gan", total_steps, None, seed, clock=clock)
        if kind == "copula":
            copula = fit_copula(specs, train, seed)
            sample = sample_copula(copula, 2000, np.random.default_rng(seed))
            for c in specs:
                if c["name"] in sample and c["kind"] != "discrete":
                    sample[c["name"]] = round_like_fixture(c, sample[c["name"]], selector.rng)
            fits[kind] = {"score": selector.score_columns(sample), "copula": copula, "stats": {"steps": 0}}
            continue
        kind_steps, kind_budget = total_steps, None
        if budget_s is not None:
            left = max(0.1, budget_s - (clock() - started) - EXPORT_RESERVE_S * len(neural))
            share = left / (len(neural) - neural.index(kind))
            if seeded:  # count steps, not seconds: reproducible on any machine
                kind_steps = max(1, min(total_steps, int(share * REFERENCE_STEPS_PER_S[kind])))
            else:
                kind_budget = share
        selector.steps = kind_steps
        kind_config = config if isinstance(config, GanConfig if kind == "gan" else VaeConfig) else None
        kind_config = kind_config or (GanConfig() if kind == "gan" else VaeConfig())
        report = lambda f, m, i=i: progress((i + f) / len(kinds), f"{kind} {m}")  # noqa: E731
        if kind == "gan":
            head, stats = train_gan(data, ops, transformer.cond_spans, kind_config, kind_steps, kind_budget, seed,
                                    report, selector, clock)
        else:
            head, stats = train_vae(data, ops, kind_config, kind_steps, kind_budget, seed, report, selector, clock)
        fits[kind] = {"score": stats["heldout_score"], "head": head, "stats": stats, "config": kind_config}
    best = max(kinds, key=lambda k: fits[k]["score"])
    if len(kinds) > 1:
        log("held-out scores: " + ", ".join(f"{k} {fits[k]['score']:.3f}" for k in kinds) + f"; using {best}")
    chosen = fits[best]
    spec.update(model=best, requested_model=model, dim=transformer.dim, cond_dim=transformer.cond_dim,
                heldout_scores={k: round(f["score"], 4) for k, f in fits.items()}, train=chosen["stats"],
                cond_probs=(transformer.category_frequencies(train) / max(1, len(transformer.cond_spans))).tolist())
    # digests (not values) of the fixture's rows that occur once: the sampler redraws any row equal to
    # one of them. A row the fixture repeats (an empty reading at a constant station) identifies nobody,
    # and redrawing it would remove exactly those rows (and their empties) from the output.
    digests, counts = np.unique(row_digests(arrays, specs), return_counts=True)
    spec["row_digests"] = digests[counts == 1].tolist()
    if best == "copula":  # cheap to fit: the held-out rows were only needed to choose it
        spec.update(copula=fit_copula(specs, arrays, seed), z_dim=0)
    else:
        config = chosen["config"]
        args = (torch.zeros(2, config.embedding_dim),)
        if best == "gan" and transformer.cond_dim:
            args += (torch.zeros(2, transformer.cond_dim),)
        spec.update(z_dim=config.embedding_dim, sigmas=chosen["stats"].pop("sigmas", None), config=asdict(config))
        spec["export"] = export_onnx(chosen["head"], args, out_dir / "sampler.onnx")
        save_file({k: v.contiguous() for k, v in chosen["head"].state_dict().items()},
                  str(out_dir / "weights.safetensors"))
    for f in fits.values():
        f["stats"].pop("sigmas", None)
    spec["fit_s"] = clock() - started
    (out_dir / "spec.json").write_text(json.dumps(spec, indent=1))
    return spec


def export_onnx(head: torch.nn.Module, args: tuple, path: Path) -> dict:
    """Export with a dynamic batch axis and check onnxruntime against PyTorch on random inputs."""
    import onnxruntime as ort

    head.eval()  # BatchNorm must use its running statistics, in the graph and in the parity check
    names = ["z", "cond"][:len(args)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(head, args, str(path), input_names=names, output_names=["row"],
                          dynamo=False, opset_version=17,
                          dynamic_axes={**{n: {0: "batch"} for n in names}, "row": {0: "batch"}})
    probe = tuple(torch.randn(64, a.shape[1]) for a in args)
    with torch.no_grad():
        expected = head(*probe).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: p.numpy() for n, p in zip(names, probe)})[0]
    diff = float(np.abs(got - expected).max())
    if diff > 1e-3:
        raise RuntimeError(f"ONNX export does not match PyTorch (max abs diff {diff:.2e})")
    return {"max_abs_diff": diff, "opset": 17, "torch": torch.__version__, "onnxruntime": ort.__version__}
