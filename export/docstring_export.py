"""Export the docstring fine-tune to ONNX (int8), check parity, and add it to a bundle.

Adds the component `docstring_lm` (optimum's GPT-2 with KV cache, dynamic int8 weights, the
fp32 and int8 parity records against PyTorch) and points the `docstring` component at it.
A model trained with another tokenizer than the bundle's ships its own (`docstring_tokenizer.json`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from devassist.export.docstring_index import DECODING_KEYS, add_decoding_arguments, set_docstring_options

EPILOG = """examples:
  python -m devassist.export.docstring_export runs/docstring --bundle models/default \\
      --retrieval-threshold 32 --no-repeat-ngram 3     # decoding options tuned on the valid split
  python -m devassist.export.docstring_export runs/docstring --bundle models/default --beams 4 --length-penalty 1.0
  python -m devassist.export.docstring_export runs/docstring --bundle models/default --out-bundle /tmp/b
  python -m devassist.export.docstring_export runs/docstring --new-bundle /tmp/ds-bundle   # a bundle of its own
"""


def export_docstring_lm(run: Path, bundle: Path | None, out: Path, log=print) -> dict:
    """Export, parity-check (in a bundle of the run's own) and seal; returns the component description.

    With `bundle`, the component is added to a copy of it written to `out`; if the run's tokenizer
    is not the bundle's, it travels along as `docstring_tokenizer.json` and the component names it.
    """
    from devassist.export.bundle import seal
    from devassist.export.cli import lm_description
    from devassist.export.onnx import export_lm, quantize_int8
    from devassist.export.parity import check_lm
    from devassist.export.staging import interrupts_raise, staged_folder
    from devassist.server.bundle import load_bundle
    from devassist.training.tokenizer import SPECIAL_TOKENS

    run, out = Path(run), Path(out)
    record = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    with interrupts_raise(), tempfile.TemporaryDirectory() as tmp:  # SIGTERM too removes the temp folder
        own = Path(tmp) / "own"  # a bundle with the run's tokenizer, where parity is checked
        own.mkdir()
        shutil.copy(run / "tokenizer.json", own / "tokenizer.json")
        manifest = {"name": out.name, "tokenizer": {"file": "tokenizer.json", "special_tokens": dict(SPECIAL_TOKENS)},
                    "components": {}}
        comps = manifest["components"]
        export_lm(run, own / "docstring_lm_fp32.onnx")
        comps["docstring_lm_fp32"] = lm_description(run, "docstring_lm_fp32.onnx", "fp32")
        seal(own, manifest)
        parity32 = check_lm(run, own, "docstring_lm_fp32", "fp32")
        log(f"docstring_lm fp32 parity: {parity32}")
        quantize_int8(own / "docstring_lm_fp32.onnx", own / "docstring_lm.onnx")
        desc = lm_description(run, "docstring_lm.onnx", "int8")
        comps["docstring_lm"] = desc
        seal(own, manifest)
        desc["parity"] = check_lm(run, own, "docstring_lm", "int8")
        desc["parity_fp32"] = parity32
        desc["finetune"] = record.get("docstring_finetune", {})
        log(f"docstring_lm int8 parity: {desc['parity']}")
        comps.pop("docstring_lm_fp32")
        (own / "docstring_lm_fp32.onnx").unlink()

        # The bundle is written into OUT.partial and published only when sealed.
        with staged_folder(out, seed=own if bundle is None else Path(bundle)) as staging:
            if bundle is not None:
                manifest = load_bundle(staging, partial_ok=True).manifest
                manifest.pop("created", None)
                shutil.copy(own / "docstring_lm.onnx", staging / "docstring_lm.onnx")
                if (staging / manifest["tokenizer"]["file"]).read_bytes() != (run / "tokenizer.json").read_bytes():
                    shutil.copy(run / "tokenizer.json", staging / "docstring_tokenizer.json")
                    desc["tokenizer"] = "docstring_tokenizer.json"
            comps = manifest.setdefault("components", {})
            comps["docstring_lm"] = desc
            docstring = dict(comps.get("docstring", {}))
            docstring.update({"summarizer": "model", "lm": "docstring_lm"})
            for key in ("max_prompt_tokens", "max_new_tokens"):  # the prompt shape the model was tuned on
                if key in desc["finetune"]:
                    docstring[key] = desc["finetune"][key]
            if desc["finetune"].get("hints"):
                docstring["hints"] = "retrieval"  # trained with the nearest function's sentence in its prompt
            comps["docstring"] = docstring
            seal(staging, manifest)
    return desc


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(prog="python -m devassist.export.docstring_export", description=__doc__.splitlines()[0],
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="run folder from training/docstring_finetune.py")
    p.add_argument("--bundle", type=Path, help="bundle to extend (same tokenizer)")
    p.add_argument("--out-bundle", type=Path, help="write here instead of replacing --bundle")
    p.add_argument("--new-bundle", type=Path, help="write a new bundle holding only the docstring model")
    add_decoding_arguments(p)
    args = p.parse_args(argv)
    if not (args.bundle or args.new_bundle):
        p.error("give --bundle or --new-bundle")
    from devassist.export.parity import ParityError
    from devassist.export.staging import UnsafeOutput

    try:
        target = args.new_bundle or args.out_bundle or args.bundle
        export_docstring_lm(args.run, args.bundle, target)
        set_docstring_options(target, **{k: getattr(args, k) for k in DECODING_KEYS})
    except (ParityError, ValueError, FileNotFoundError, UnsafeOutput) as exc:
        print(f"docstring export: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM while the bundle was staged
        print(f"docstring export: {exc or 'interrupted'}; no partial bundle was left", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
