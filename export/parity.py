"""ONNX Runtime against PyTorch: logits within a tolerance per precision, the same greedy tokens.

A mismatch raises ParityError: an export that disagrees with its checkpoint never ships.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Largest allowed |logit difference| relative to the logits' spread, the share of positions whose
# top-1 token must agree, and whether whole greedy continuations must be identical.
TOLERANCES = {
    "fp32": {"max_rel_diff": 1e-3, "min_top1_agreement": 1.0, "greedy_must_match": True},
    "int8": {"max_rel_diff": 0.25, "min_top1_agreement": 0.85, "greedy_must_match": False},
}

PROMPTS = [
    "import os\n\ndef read_file(path):\n    with open(path) as fh:\n        return fh.",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(",
    "def main(argv=None):\n    parser = argparse.ArgumentParser()\n    parser.add_argument(",
]


class ParityError(RuntimeError):
    """ONNX Runtime and PyTorch disagree beyond the tolerance."""


def torch_greedy(model, ids: list[int], n: int, eot: int | None) -> list[int]:
    """Greedy continuation in PyTorch with the KV cache."""
    import torch

    out: list[int] = []
    with torch.no_grad():
        res = model(input_ids=torch.tensor([ids]), use_cache=True)
        past = res.past_key_values
        for _ in range(n):
            tok = int(res.logits[0, -1].argmax())
            if tok == eot:
                break
            out.append(tok)
            res = model(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True)
            past = res.past_key_values
    return out


def check_lm(run_dir: Path, bundle_dir: Path, component: str, precision: str, n_tokens: int = 16) -> dict:
    """Compare the bundle's ONNX LM with the run's PyTorch model; raise ParityError on mismatch."""
    import torch
    from transformers import GPT2LMHeadModel

    from devassist.server.bundle import load_bundle
    from devassist.server.runtime.lm import LanguageModel

    tol = TOLERANCES[precision]
    model = GPT2LMHeadModel.from_pretrained(str(run_dir)).eval()
    lm = LanguageModel(load_bundle(bundle_dir, partial_ok=True), component=component, threads=2, prefer_gpu=False)
    max_rel, agree, total, greedy_same = 0.0, 0, 0, 0
    mismatches = []
    for prompt in PROMPTS:
        ids = lm.encode(prompt)[-(lm.context_length - n_tokens - 1):]
        with torch.no_grad():
            ref = model(input_ids=torch.tensor([ids])).logits[0].numpy()
        got = lm.forward(ids)[0]
        spread = float(ref.max() - ref.min()) or 1.0
        max_rel = max(max_rel, float(np.abs(ref - got).max()) / spread)
        agree += int((ref.argmax(-1) == got.argmax(-1)).sum())
        total += len(ids)
        want = torch_greedy(model, ids, n_tokens, lm.eot_id)
        have = lm.generate(ids, max_new_tokens=n_tokens).ids
        if want == have:
            greedy_same += 1
        else:
            mismatches.append({"prompt": prompt[-40:], "torch": lm.decode(want), "onnx": lm.decode(have)})
    result = {
        "precision": precision, "prompts": len(PROMPTS), "max_rel_logit_diff": float(f"{max_rel:.3e}"),
        "top1_agreement": round(agree / total, 4), "greedy_identical": f"{greedy_same}/{len(PROMPTS)}",
        "tolerance": tol,
    }
    problems = []
    if max_rel > tol["max_rel_diff"]:
        problems.append(f"max relative logit difference {max_rel:.2e} > {tol['max_rel_diff']}")
    if agree / total < tol["min_top1_agreement"]:
        problems.append(f"top-1 agreement {agree / total:.3f} < {tol['min_top1_agreement']}")
    if tol["greedy_must_match"] and mismatches:
        problems.append(f"greedy tokens differ on {len(mismatches)} prompt(s): {mismatches[0]}")
    if problems:
        raise ParityError(f"{bundle_dir}/{lm.meta['file']} fails parity with {run_dir}: " + "; ".join(problems))
    return result


def check_embedder(run_dir: Path, onnx_file: Path, tokenizer_file: Path, precision: str = "fp32") -> dict:
    """Compare the exported encoder's hidden states with PyTorch's.

    fp32: max |difference| <= 1e-3. int8: the mean-pooled vectors (what review embeds) must
    keep a cosine similarity >= 0.98 with PyTorch's.
    """
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(str(run_dir)).eval()
    tok = Tokenizer.from_file(str(tokenizer_file))
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    max_diff, min_cos = 0.0, 1.0
    for prompt in PROMPTS:
        ids = np.asarray([tok.encode(prompt, add_special_tokens=False).ids[:model.config.n_positions]], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                 "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None, :]}
        feeds = {i.name: feeds[i.name] for i in sess.get_inputs()}
        with torch.no_grad():
            ref = model.transformer(input_ids=torch.from_numpy(ids)).last_hidden_state[0].numpy()
        got = sess.run(None, feeds)[0][0]
        max_diff = max(max_diff, float(np.abs(ref - got).max()))
        a, b = ref.mean(0), got.mean(0)
        min_cos = min(min_cos, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)))
    if precision == "fp32" and max_diff > 1e-3:
        raise ParityError(f"{onnx_file} fails parity with {run_dir}: max hidden-state difference {max_diff:.2e} > 1e-3")
    if precision == "int8" and min_cos < 0.98:
        raise ParityError(f"{onnx_file} fails parity with {run_dir}: pooled cosine {min_cos:.4f} < 0.98")
    return {"precision": precision, "prompts": len(PROMPTS), "max_abs_diff": round(max_diff, 7),
            "min_pooled_cosine": round(min_cos, 6),
            "tolerance": {"max_abs_diff": 1e-3} if precision == "fp32" else {"min_pooled_cosine": 0.98}}
