"""`devassist evaluate completion`: next-token accuracy and line completion against a 4-gram.

Line completion follows CodeXGLUE's line-level protocol: from the preceding context alone,
complete the rest of a line cut at a random point; exact match on whitespace-split tokens and
edit similarity (0-100). Every variant is scored in the same run on the same cases: the
network (fp32 and int8 when both exist), the network with the in-file cache, the 4-gram trained
on the training corpus, and the 4-gram with the same cache.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from devassist.evaluation.ngram import NgramModel
from devassist.server.runtime.ngram import NgramCache, softmax

EPILOG = """examples:
  devassist evaluate completion --bundle models/default --json                 # stdlib test split
  devassist evaluate completion --bundle models/default --source ~/.venv/lib/python3.11/site-packages/click --json
  devassist evaluate completion --bundle B --ngram-corpus runs/big --cache-mix 0.4 --lines 300
"""


def edit_similarity(a: str, b: str) -> float:
    """100 * (1 - Levenshtein distance / longer length)."""
    if a == b:
        return 100.0
    if not a or not b:
        return 0.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 100.0 * (1 - prev[-1] / max(len(a), len(b)))


def load_eval_files(source: Path | None, corpus: Path | None, seed: int) -> list[tuple[str, str]]:
    """(name, text) of the files to evaluate on: a source tree, or a corpus's test split."""
    from devassist.training.corpus import build_corpus, iter_python_files, load_files, read_source, stdlib_root

    if source is not None:
        files = []
        for p in iter_python_files(source):
            text, _ = read_source(p, 1_000_000)
            if text:
                files.append((str(p.relative_to(source) if source.is_dir() else p.name), text))
    else:
        if corpus is None:
            corpus = Path(tempfile.mkdtemp(prefix="devassist-stdlib-"))
            build_corpus([stdlib_root()], corpus, progress=False)
        files = [(r["path"], r["text"]) for r in load_files(corpus, "test")]
    if not files:  # an empty report would read as 0 % accuracy
        raise ValueError(f"no Python files to evaluate under {source or corpus or 'the stdlib test split'}")
    random.Random(seed).shuffle(files)
    return files


def training_stream(corpus: Path | None, tokenizer, eot: int) -> np.ndarray:
    """Token stream of a corpus's train split (cached beside the corpus per tokenizer)."""
    from devassist.training.corpus import build_corpus, load_files, stdlib_root
    from devassist.training.lm import token_stream

    if corpus is None:
        corpus = Path(tempfile.gettempdir()) / "devassist-stdlib-corpus"
        if not (corpus / "summary.json").exists():
            build_corpus([stdlib_root()], corpus, progress=False)
    tag = hashlib.sha256(tokenizer.to_str().encode()).hexdigest()[:12]
    cache = corpus / f"tokens_train_{tag}.npy"
    if cache.exists():
        return np.load(cache, allow_pickle=False)
    stream = token_stream([r["text"] for r in load_files(corpus, "train")], tokenizer, eot)
    np.save(cache, stream, allow_pickle=False)
    return stream


def variant_name(bundle, component: str) -> str:
    """`model` for an fp32 LM, `model_int8` for an int8 one."""
    return "model_int8" if bundle.component(component).get("precision") == "int8" else "model"


def pick_lines(files: list[tuple[str, str]], n: int, seed: int, paths: list[str] | None = None) -> list[tuple[str, str]]:
    """(prefix, target) cases: code lines cut at a random point after their indentation (each
    case's file path appended to `paths` when given)."""
    rng = random.Random(seed)
    candidates = []
    for fi, (_, text) in enumerate(files):
        offset = 0
        for line in text.split("\n"):
            s = line.strip()
            if len(s) >= 4 and not s.startswith(("#", '"""', "'''")):
                candidates.append((fi, offset, line))
            offset += len(line) + 1
    cases = []
    for fi, offset, line in rng.sample(candidates, min(n, len(candidates))):
        indent = len(line) - len(line.lstrip())
        cut = rng.randint(indent, len(line.rstrip()) - 1)
        cases.append((files[fi][1][:offset + cut], line.rstrip()[cut:]))
        if paths is not None:
            paths.append(files[fi][0])
    return cases


def token_accuracy(lm, files, max_tokens: int, ngram: NgramModel, mix: float, bar) -> dict:
    """Next-token accuracy of the network, the 4-gram, and each with the in-file cache."""
    hits = {"model": 0, "model+cache": 0, "ngram4": 0, "ngram4+cache": 0}
    total = 0
    for _, text in files:
        if total >= max_tokens:
            break
        ids = lm.encode(text)[: max_tokens - total + 1]
        if len(ids) < 2:
            continue
        probs = softmax(lm.logits(ids).astype(np.float64))  # (T, V)
        cache = NgramCache()
        for i in range(1, len(ids)):
            cache.push(ids[i - 1])
            target = ids[i]
            p = probs[i - 1]
            hits["model"] += int(p.argmax() == target)
            cd = cache.distribution()
            mixed = (1 - mix) * p
            for t, v in cd.items():
                mixed[t] += mix * v
            hits["model+cache"] += int(mixed.argmax() == target)
            ctx = ids[max(0, i - 3):i]
            nd = ngram.distribution(ctx)
            hits["ngram4"] += int((max(nd, key=nd.get) if nd else -1) == target)
            merged = {t: (1 - mix) * v for t, v in nd.items()}
            for t, v in cd.items():
                merged[t] = merged.get(t, 0.0) + mix * v
            hits["ngram4+cache"] += int((max(merged, key=merged.get) if merged else -1) == target)
            total += 1
            bar.update(1)
    return {k: round(100.0 * v / max(total, 1), 2) for k, v in hits.items()} | {"n_tokens": total}


def ngram_line(lm, ngram: NgramModel, prefix: str, mix: float, max_new: int = 32) -> str:
    """Greedy rest-of-line from the 4-gram (with the in-file cache when mix > 0)."""
    ids = lm.encode(prefix[-4000:])
    cache = NgramCache(ids) if mix > 0 else None
    out: list[int] = []
    for _ in range(max_new):
        ctx = (ids + out)[-3:]
        dist = ngram.distribution(ctx)
        if cache is not None:
            dist = {t: (1 - mix) * v for t, v in dist.items()}
            for t, v in cache.distribution().items():
                dist[t] = dist.get(t, 0.0) + mix * v
        if not dist:
            break
        tok = max(dist, key=dist.get)
        if tok == lm.eot_id:
            break
        out.append(tok)
        if cache is not None:
            cache.push(tok)
        if "\n" in lm.decode(out):
            break
    return lm.decode(out).split("\n", 1)[0]


def score_lines(preds: list[str], cases) -> dict:
    """Exact match (whitespace tokens) and edit similarity, both 0-100."""
    em = [p.split() == t.split() for p, (_, t) in zip(preds, cases)]
    es = [edit_similarity(p.strip(), t.strip()) for p, (_, t) in zip(preds, cases)]
    return {"line_exact_match": round(100 * float(np.mean(em)), 2), "line_edit_similarity": round(float(np.mean(es)), 2)}


def evaluate(bundle_dir: Path, source: Path | None, corpus: Path | None, ngram_corpus: Path | None,
             n_lines: int, max_tokens: int, mix: float, seed: int, progress: bool = True, repo_context: int = 0) -> dict:
    """Run every variant on the same cases; returns the report."""
    import onnxruntime
    from tqdm import tqdm

    from devassist.server.bundle import load_bundle
    from devassist.server.features.completion import CompletionEngine
    from devassist.server.runtime.lm import LanguageModel
    from devassist.server.settings import CompletionSettings

    t0 = time.perf_counter()
    files = load_eval_files(source, corpus, seed)  # first: nothing to evaluate fails before the models load
    bundle = load_bundle(bundle_dir)
    names = [c for c in ("lm", "lm_int8") if bundle.has(c) and "file" in bundle.component(c)]
    lms = {c: LanguageModel(bundle, component=c, prefer_gpu=False) for c in names}
    main = lms[names[0]]
    stream = training_stream(ngram_corpus, main.tokenizer, main.eot_id)
    ngram = NgramModel(stream, main.vocab_size)
    case_paths: list[str] = []
    cases = pick_lines(files, n_lines, seed, case_paths)
    bar = tqdm(total=max_tokens + len(cases) * (2 * len(lms) + 2), desc="evaluate completion",
               disable=not progress, file=sys.stderr)
    acc = token_accuracy(main, files, max_tokens, ngram, mix, bar)
    # The serving defaults (prompt budget, healing of the typed characters), without the time
    # budget and without the confidence cut: the model's whole line, as line-completion
    # benchmarks score it. What the user is shown is `devassist evaluate typing`'s job.
    settings = CompletionSettings(multiline=False, max_tokens=32, time_budget_ms=60_000, min_token_probability=0.0,
                                  repo_context_tokens=repo_context)
    variants: dict[str, dict] = {}
    repo_texts = [""] * len(cases)
    if repo_context:  # each case's workspace: the other files of the evaluated set
        from devassist.server.features.repo_context import RepoIndex

        index = RepoIndex.from_files(files)
        count = lambda t: len(main.encode(t))  # noqa: E731
        repo_texts = [index.context(prefix, path, repo_context, count, document=prefix)
                      for (prefix, _), path in zip(cases, case_paths)]
    for comp, lm in lms.items():
        for use_cache in (False, True):
            engine = CompletionEngine(lm, cache_mix=mix if use_cache else 0.0,
                                      use_fim=bool(bundle.manifest.get("defaults", {}).get("fim", True)))
            preds = []
            for (prefix, _), repo in zip(cases, repo_texts):
                s = engine.complete(prefix, len(prefix), settings, repo=repo)
                preds.append(s.text.split("\n", 1)[0] if s else "")
                bar.update(1)
            name = variant_name(bundle, comp) + ("+cache" if use_cache else "")
            variants[name] = score_lines(preds, cases)
    for use_cache in (False, True):
        preds = []
        for prefix, _ in cases:
            preds.append(ngram_line(main, ngram, prefix, mix if use_cache else 0.0))
            bar.update(1)
        variants["ngram4" + ("+cache" if use_cache else "")] = score_lines(preds, cases)
    bar.close()
    main_name = variant_name(bundle, names[0])
    variants[main_name]["next_token_accuracy"] = acc["model"]
    variants[main_name + "+cache"]["next_token_accuracy"] = acc["model+cache"]
    variants["ngram4"]["next_token_accuracy"] = acc["ngram4"]
    variants["ngram4+cache"]["next_token_accuracy"] = acc["ngram4+cache"]
    defaults = bundle.manifest.get("defaults", {})
    serving = defaults.get("completion_component", "lm")
    shipped = variant_name(bundle, serving if serving in lms else names[0])
    if defaults.get("cache_mix", 0) > 0:
        shipped += "+cache"
    if "next_token_accuracy" not in variants[shipped]:  # accuracy is scored with the first LM only
        variants[shipped]["next_token_accuracy"] = variants[main_name + ("+cache" if "+cache" in shipped else "")]["next_token_accuracy"]
    return {
        "bundle": str(bundle_dir), "source": str(source) if source else "stdlib test split",
        "n_files": len(files), "n_tokens": acc["n_tokens"], "n_lines": len(cases), "seed": seed,
        "cache_mix": mix, "ngram_training_tokens": int(len(stream)), "shipped_variant": shipped,
        "next_token_accuracy": variants[shipped]["next_token_accuracy"],
        "line_exact_match": variants[shipped]["line_exact_match"],
        "line_edit_similarity": variants[shipped]["line_edit_similarity"],
        "variants": variants,
        "versions": {"onnxruntime": onnxruntime.__version__, "providers": main.providers,
                     "components": names, "threads": main.session.get_session_options().intra_op_num_threads},
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="devassist evaluate completion", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--source", type=Path, help="Python files to evaluate on (default: the stdlib test split)")
    parser.add_argument("--corpus", type=Path, help="a corpus folder whose test split to use instead of mining the stdlib")
    parser.add_argument("--ngram-corpus", type=Path, help="corpus whose train split trains the 4-gram (default: stdlib)")
    parser.add_argument("--lines", type=int, default=500, help="line-completion cases (default %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=30000, help="tokens scored for accuracy (default %(default)s)")
    parser.add_argument("--cache-mix", type=float, help="weight of the in-file cache (default: the bundle's, else 0.4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repo-context", type=int, default=0, metavar="TOKENS",
                        help="put this many tokens of the other evaluated files' best snippets before each "
                             "prompt (the evaluated folder as the workspace); default 0")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    from devassist.server.bundle import BundleError, load_bundle

    try:
        mix = args.cache_mix
        if mix is None:
            mix = float(load_bundle(args.bundle).manifest.get("defaults", {}).get("cache_mix", 0.0)) or 0.4
        report = evaluate(args.bundle, args.source, args.corpus, args.ngram_corpus, args.lines, args.max_tokens,
                          mix, args.seed, repo_context=args.repo_context)
    except (ValueError, BundleError) as exc:
        print(f"devassist evaluate completion: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        print(f"{report['n_lines']} lines, {report['n_tokens']} tokens from {report['n_files']} files ({report['source']})")
        for name, v in report["variants"].items():
            print(f"  {name:<18} " + "  ".join(f"{k} {val}" for k, val in v.items()))
    return 0
