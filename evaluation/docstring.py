"""`devassist evaluate docstring`: hide each docstring, generate one, compare first sentences.

For every documented function under --source (a folder of .py files, or a corpus folder and
its --split), the docstring is removed from the file and the "Generate docstring" edit is
computed at the function, exactly as the editor command does. The summary's first sentence is
scored against the real one (CodeXGLUE smoothed BLEU-4, ROUGE-L), next to two baselines on the
same functions: the name as a sentence, and BM25 retrieval of the most similar training
function's first sentence. Section accuracy checks the generated parameters, returns and
raises sections against Python's own `ast` of the function.

Faithfulness: a summary's *mentions* (identifiers, numbers, acronyms, proper names) are looked
up in what the function, its class, the imports and its call sites contain; the hallucination
rate is the share of summaries with at least one unsupported mention. The empty-entry rate is
the share of Args/Returns/Yields/Raises entries with no description or one that only echoes code
("``ret``.", "The result."); marked placeholders ("TODO: ...") are counted apart.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from devassist.evaluation.docstring_sections import expected_sections, find_function, found_sections
from devassist.evaluation.metrics_text import corpus_bleu, corpus_rouge_l, entry_counts, faithfulness_rates
from devassist.export.docstring_index import DECODING_KEYS, add_decoding_arguments
from devassist.server.features.docstring import DocstringError, DocstringFeature
from devassist.server.features.docstring.retrieval import first_sentence
from devassist.server.features.docstring.faithful import ungrounded, unsupported
from devassist.server.features.docstring.summary import (
    ParseSummarizer, RetrievalSummarizer, TemplateSummarizer, default_summarizer)
from devassist.server.features.docstring.loading import load_docstring_lm, load_index
from devassist.server.parsing import definitions
from devassist.server.settings import SUMMARY_POLICIES, DocstringSettings

EPILOG = """examples:
  devassist evaluate docstring --bundle models/default --source runs/stdlib --json
  devassist evaluate docstring --bundle models/default --source ~/src/project --limit 300
  devassist evaluate docstring --bundle models/default --source runs/stdlib --split valid --beams 4 --length-penalty 1.0
  devassist evaluate docstring --bundle models/default --source runs/stdlib --split valid --rerank 5 --rerank-margin 0.2
  devassist evaluate docstring --source runs/stdlib --corpus runs/stdlib --summarizer retrieval
  devassist evaluate docstring --bundle models/default --source runs/heldout-clean --lsp 100 --json
  devassist evaluate docstring --bundle models/default --source runs/heldout-clean --summary model --dump rows.jsonl
"""


def iter_sources(source: Path, split: str) -> list[tuple[str, str]]:
    """(path, text) of the files to evaluate: a corpus split, or the .py files of a folder."""
    if (source / "files.jsonl").is_file():
        out = []
        with open(source / "files.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row["split"] == split:
                    out.append((row["path"], row["text"]))
        return out
    files = [source] if source.is_file() else sorted(source.rglob("*.py"))
    out = []
    for p in files:
        try:
            out.append((str(p), p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return out


def hide_docstring(text: str, defn) -> str | None:
    """The file with one function's docstring removed (a lone docstring becomes `pass`)."""
    data = text.encode("utf-8", "surrogatepass")
    ds = defn.docstring_node
    line_start = data.rfind(b"\n", 0, ds.start_byte) + 1
    line_end = data.find(b"\n", ds.end_byte)
    line_end = len(data) if line_end < 0 else line_end + 1
    if data[line_start : ds.start_byte].strip() or data[ds.end_byte : line_end].strip(b" \t\r\n;"):
        return None  # shares its line with other code: skip
    others = [c for c in defn.body_node.named_children if c.type != "comment" and c.id != ds.id]
    if others:
        new = data[:line_start] + data[line_end:]
    else:
        new = data[: ds.start_byte] + b"pass" + data[ds.end_byte :]
    return new.decode("utf-8", "surrogatepass")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="devassist evaluate docstring", description=__doc__.splitlines()[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="bundle folder (its model and docstring index)")
    p.add_argument("--source", required=True, help="a folder of .py files, or a corpus folder (files.jsonl)")
    p.add_argument("--split", default="test", help="corpus split to evaluate (default: test)")
    p.add_argument("--corpus", help="corpus whose train split is the retrieval baseline's index "
                                    "(default: the bundle's docstring_index, else --source if it is a corpus)")
    p.add_argument("--summarizer", choices=("auto", "model", "retrieval", "template"), default="auto",
                   help="what writes the evaluated summary (default: what the bundle ships)")
    p.add_argument("--style", default="google", choices=("google", "numpy", "sphinx"))
    p.add_argument("--summary", choices=SUMMARY_POLICIES, default=DocstringSettings().summary,
                   help="who writes the summary line, as the setting devassist.docstring.summary (default: %(default)s)")
    p.add_argument("--limit", type=int, default=0, help="evaluate at most N functions (sampled with --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-words", type=int, default=1, help="skip docstrings whose first sentence is shorter")
    p.add_argument("--budget-ms", type=int, default=250, help="the feature's time budget for the model")
    p.add_argument("--lsp", type=int, default=0, metavar="N",
                   help="also time N docstring commands through a real `devassist serve` (needs --bundle)")
    p.add_argument("--lsp-warmup", type=int, default=3, metavar="W",
                   help="untimed docstring commands sent first through LSP (default 3)")
    p.add_argument("--unchecked", action="store_true",
                   help="turn the faithfulness check off (to measure what it changes; the model shown as written)")
    add_decoding_arguments(p, override=True)
    p.add_argument("--examples", type=int, default=0, help="include N (reference, outputs) examples in the report")
    p.add_argument("--dump", help="write one JSON line per function (reference, outputs, retrieval score) here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = build_parser().parse_args(argv)
    from tqdm import tqdm

    bundle = lm = None
    if args.bundle:
        from devassist.server.bundle import load_bundle

        bundle = load_bundle(args.bundle)
        if args.summarizer in ("auto", "model"):
            lm = load_docstring_lm(bundle)
    index = None
    corpus = Path(args.corpus) if args.corpus else None
    if corpus is None and bundle is not None:
        index = load_index(bundle)
    if index is None:
        corpus = corpus or (Path(args.source) if (Path(args.source) / "files.jsonl").is_file() else None)
        if corpus is None:
            print("devassist evaluate docstring: need --corpus (or a bundle with a docstring_index) for retrieval",
                  file=sys.stderr)
            return 2
        from devassist.export.docstring_index import index_from_corpus

        index, _ = index_from_corpus(corpus, "train")
    template = TemplateSummarizer()
    retrieval = RetrievalSummarizer(index, template)
    prefer = None if args.summarizer == "auto" else args.summarizer
    if prefer == "retrieval" or (prefer is None and bundle is None):
        summarizer = retrieval
    else:
        summarizer = default_summarizer(bundle, lm, prefer=prefer)
        if isinstance(summarizer, RetrievalSummarizer):
            summarizer = retrieval
    for key in DECODING_KEYS:
        if getattr(args, key) is not None and hasattr(summarizer, key):
            setattr(summarizer, key, getattr(args, key))
    feature = DocstringFeature(summarizer=summarizer, budget_ms=args.budget_ms, faithful=not args.unchecked,
                               summary=args.summary)
    parsed = ParseSummarizer()
    measuring = DocstringFeature(summarizer=template)  # the allowed vocabulary, also when --unchecked

    items = []
    for path, text in iter_sources(Path(args.source), args.split):
        try:
            defs = definitions(text)
        except Exception:  # noqa: BLE001 - an unparsable file is skipped
            continue
        for d in defs:
            if d.kind == "function" and d.docstring and not d.has_error and d.body_node is not None:
                ref = first_sentence(d.docstring)
                if len(ref.split()) >= args.min_words:
                    items.append((path, text, d.start_line, d.qualname, ref))
    if args.limit and len(items) > args.limit:
        items = random.Random(args.seed).sample(items, args.limit)

    lsp_documents: list[tuple[str, int]] = []
    refs, hyp_model, hyp_template, hyp_retrieval, hyp_fallback, hyp_unchecked = [], [], [], [], [], []
    counts = dict.fromkeys(("entries", "empty", "echo", "placeholder", "returns", "returns_echo"), 0)
    flagged = dict.fromkeys(("model", "unchecked", "template", "retrieval", "fallback"), 0)
    off_topic = dict.fromkeys(("model", "unchecked"), 0)  # no word of the summary backed by the function
    latencies, sources, checks, errors, examples = [], {}, {"params": 0, "returns": 0, "raises": 0, "all": 0}, [], []
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None
    for path, text, line, qualname, ref in tqdm(items, desc="docstring", unit="fn", file=sys.stderr):
        hidden = None
        for d in definitions(text):
            if d.start_line == line and d.qualname == qualname:
                hidden = hide_docstring(text, d)
        if hidden is None:
            continue
        try:
            tree = ast.parse(hidden)
        except SyntaxError:
            continue
        t0 = time.perf_counter()
        try:
            edit = feature.edit_for(hidden, line, 0, args.style)
        except DocstringError as exc:
            errors.append(f"{path}:{line + 1} {qualname}: {exc}")
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        if len(lsp_documents) < args.lsp:
            lsp_documents.append((hidden, line))
        hidden_defs = [d for d in definitions(hidden) if d.start_line == line and d.qualname == qualname]
        request = measuring.summary_request(hidden, hidden.encode("utf-8", "surrogatepass"), hidden_defs[0])
        hyp = first_sentence(edit.docstring.split("\n\n")[0]).replace("\\\\", "\\")
        refs.append(ref)
        hyp_model.append(hyp)
        hyp_template.append(template.summarize(request).text)
        hyp_retrieval.append(retrieval.summarize(request).text)
        hyp_fallback.append(parsed.summarize(request).text)
        # before issue 17: the model's first sentence as written, else the retrieval fallback
        hyp_unchecked.append(edit.draft or hyp_retrieval[-1])
        bad = {k: unsupported(h[-1], request.allowed) for k, h in (
            ("model", hyp_model), ("unchecked", hyp_unchecked), ("template", hyp_template),
            ("retrieval", hyp_retrieval), ("fallback", hyp_fallback))}
        for k, v in bad.items():
            flagged[k] += bool(v)
        # only sentences a model wrote: the parse's summaries and placeholders are about the function by construction
        off = {k: bool(ungrounded(h[-1], request.own, request.allowed)) for k, h in (
            ("model", hyp_model), ("unchecked", hyp_unchecked))}
        off_topic["model"] += edit.summary_source in ("model", "retrieval") and off["model"]
        off_topic["unchecked"] += off["unchecked"]  # drafts, or retrieval
        for k, v in entry_counts(edit.docstring, args.style).items():
            counts[k] += v
        if dump is not None:
            top = retrieval.candidates(request, 1)
            dump.write(json.dumps({"function": f"{path}:{line + 1} {qualname}", "reference": ref, "model": hyp,
                                   "source": edit.summary_source, "confidence": edit.confidence,
                                   "unsupported": bad["model"], "fallback": hyp_fallback[-1], "draft": edit.draft,
                                   "docstring": edit.docstring, "template": hyp_template[-1],
                                   "retrieval": hyp_retrieval[-1], "retrieval_score": top[0][1] if top else 0.0,
                                   "query_tokens": len(request.code.split())}) + "\n")
        sources[edit.summary_source] = sources.get(edit.summary_source, 0) + 1
        fn, is_method = find_function(tree, line + 1)
        if fn is not None:
            want, got = expected_sections(fn, is_method), found_sections(edit.docstring, args.style)
            ok = {k: want[k] == got[k] for k in ("params", "returns", "raises")}
            for k, v in ok.items():
                checks[k] += v
            checks["all"] += all(ok.values())
            if not all(ok.values()) and len(errors) < 50:
                errors.append(f"{path}:{line + 1} {qualname}: sections differ: want {want}, got {got}")
        if len(examples) < args.examples:
            examples.append({"function": f"{path}:{line + 1} {qualname}", "reference": ref, "generated": hyp,
                             "template": hyp_template[-1], "retrieval": hyp_retrieval[-1]})

    if dump is not None:
        dump.close()
    n = len(refs)
    report = {
        "n_functions": n,
        "summarizer": summarizer.name,
        "summary_policy": args.summary,
        "summary_sources": sources,
        "model": {"bleu": round(corpus_bleu(refs, hyp_model), 2), "rouge_l": round(corpus_rouge_l(refs, hyp_model), 2)},
        "template": {"bleu": round(corpus_bleu(refs, hyp_template), 2), "rouge_l": round(corpus_rouge_l(refs, hyp_template), 2)},
        "retrieval": {"bleu": round(corpus_bleu(refs, hyp_retrieval), 2), "rouge_l": round(corpus_rouge_l(refs, hyp_retrieval), 2),
                      "index_size": retrieval.index.n},
        "fallback": {"bleu": round(corpus_bleu(refs, hyp_fallback), 2), "rouge_l": round(corpus_rouge_l(refs, hyp_fallback), 2)},
        "unchecked": {"bleu": round(corpus_bleu(refs, hyp_unchecked), 2),
                      "rouge_l": round(corpus_rouge_l(refs, hyp_unchecked), 2)},
        "faithfulness": {**faithfulness_rates(counts, flagged, n),
                         "off_topic_rate": {k: round(100.0 * v / n, 2) if n else 0.0 for k, v in off_topic.items()}},
        "section_accuracy": {k: round(100.0 * v / n, 2) if n else 0.0 for k, v in checks.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "latency_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1),
                       "max": round(max(latencies, default=0.0), 1), "mean": round(statistics.fmean(latencies), 1) if latencies else 0.0},
        "errors": len(errors),
        "error_examples": errors[:10],
        "decoding": {k: getattr(summarizer, k) for k in ("max_prompt_tokens", "max_new_tokens") + DECODING_KEYS
                     if hasattr(summarizer, k)},
        "setup": {"source": args.source, "split": args.split, "bundle": args.bundle, "style": args.style,
                  "checked": not args.unchecked,
                  "budget_ms": args.budget_ms, "limit": args.limit, "seed": args.seed, "min_words": args.min_words,
                  "threads": os.environ.get("DEVASSIST_THREADS", "default"), "cpu_count": os.cpu_count(),
                  "python": platform.python_version()},
    }
    if examples:
        report["examples"] = examples
    if lsp_documents and args.bundle:
        import asyncio

        from devassist.evaluation.docstring_lsp import lsp_docstring_latency

        got = asyncio.run(lsp_docstring_latency(args.bundle, lsp_documents, warmup=args.lsp_warmup))
        got["load_average"] = [round(x, 2) for x in os.getloadavg()]
        ms, inside = got.pop("latencies"), got.pop("server_ms")
        report["lsp"] = {"n": len(ms), "median": round(statistics.median(ms), 1) if ms else 0.0,
                         "p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1),
                         "max": round(max(ms, default=0.0), 1),
                         "edit_in_server": {"median": round(statistics.median(inside), 1) if inside else 0.0,
                                            "p95": round(percentile(inside, 95), 1)}, **got}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"docstring: {n} functions ({summarizer.name})")
        for k in ("model", "unchecked", "template", "retrieval", "fallback"):
            print(f"  {k:<10} BLEU-4 {report[k]['bleu']:6.2f}   ROUGE-L {report[k]['rouge_l']:6.2f}   "
                  f"hallucination {report['faithfulness']['hallucination_rate'][k]:5.1f} %")
        print(f"  entries    {report['faithfulness']['entries']}: empty or echo "
              f"{report['faithfulness']['empty_entry_rate']} %, placeholder {report['faithfulness']['placeholder_rate']} %")
        print(f"  sections   {report['section_accuracy']}")
        print(f"  latency ms {report['latency_ms']}" + (f", through LSP {report['lsp']}" if "lsp" in report else ""))
        for e in errors[:10]:
            print(f"  ! {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
