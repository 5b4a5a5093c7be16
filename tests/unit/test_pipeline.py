"""Corpus mining, tokenizer, training and export: the PyTorch side of the walking skeleton."""

from __future__ import annotations

import json

import numpy as np
import pytest

from devassist.training.corpus import build_corpus, load_functions, split_of
from devassist.training.tokenizer import SPECIAL_TOKENS, train_tokenizer


def test_corpus_counts_skips_and_records_functions(tmp_path):
    src = tmp_path / "src"
    (src / "pkg" / "tests").mkdir(parents=True)
    (src / "pkg" / "good.py").write_text('class A:\n    def m(self, x=1):\n        """Doc."""\n        return x\n\n'
                                         'async def f(a, *args, **kw):\n    pass\n')
    (src / "pkg" / "broken.py").write_text("def (:\n")
    (src / "pkg" / "latin1.py").write_bytes(b"x = '\xe9'\n")
    (src / "pkg" / "big.py").write_text("x = 1\n" * 50_000)
    (src / "pkg" / "tests" / "test_skip.py").write_text("def test(): pass\n")
    summary = build_corpus([src], tmp_path / "out", max_bytes=100_000, progress=False)
    assert summary["skipped"] == {"unparseable": 1, "not_utf8": 1, "too_large": 1}
    assert summary["files"] == 1 and summary["functions"] == 2
    rows = {r["qualname"]: r for r in load_functions(tmp_path / "out")}
    assert set(rows) == {"A", "A.m", "f"}
    m = rows["A.m"]
    assert m["signature"] == "def m(self, x=1):" and m["docstring"] == "Doc." and m["is_method"]
    assert (m["start_line"], m["end_line"]) == (1, 3)
    assert rows["f"]["signature"].startswith("async def f(a, *args, **kw)")


def test_split_is_deterministic_by_path():
    assert split_of("a/b.py") == split_of("a/b.py")
    assert {split_of(f"m{i}.py") for i in range(200)} == {"train", "valid", "test"}


def test_tokenizer_has_fim_specials_and_round_trips():
    text = "def f(x):\n    return x + 1\n" * 50
    tok = train_tokenizer([text], vocab_size=300)
    for special in SPECIAL_TOKENS.values():
        assert tok.token_to_id(special) is not None
    ids = tok.encode("def g(y):\n        return y\n").ids
    assert tok.decode(ids) == "def g(y):\n        return y\n"


def test_training_is_seeded_and_checkpoints_describe_themselves(tiny_run):
    rec = json.loads((tiny_run / "run.json").read_text())
    assert rec["step"] == rec["config"]["train"]["max_steps"]
    assert rec["valid_loss"] < np.log(rec["config"]["data"]["vocab_size"])  # learned something
    assert {"model.safetensors", "config.json", "tokenizer.json", "optimizer.safetensors"} <= {p.name for p in tiny_run.iterdir()}


def test_same_seed_same_model(tmp_path, tiny_sources):
    from safetensors.numpy import load_file

    from devassist.training.lm import RunConfig
    from devassist.training.train import train

    build_corpus([tiny_sources], tmp_path / "c", progress=False)
    cfg = RunConfig.from_toml("training/configs/tiny.toml")
    cfg.train.max_steps = 5
    for name in ("r1", "r2"):
        train(cfg, tmp_path / name, corpus=tmp_path / "c", quiet=True)
    a, b = (load_file(str(tmp_path / n / "model.safetensors")) for n in ("r1", "r2"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_a_fine_tune_trains_with_its_own_dropout(tmp_path, tiny_run):
    from devassist.training.lm import RunConfig
    from devassist.training.train import train

    cfg = RunConfig.from_toml("training/configs/tiny.toml")
    cfg.train.max_steps, cfg.model.dropout = 2, 0.1
    train(cfg, tmp_path / "ft", corpus=tiny_run.parent / "corpus", tokenizer=tiny_run / "tokenizer.json",
          quiet=True, init_dir=tiny_run)
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert json.loads((tiny_run / "config.json").read_text())["resid_pdrop"] == 0.0
    assert config["resid_pdrop"] == config["attn_pdrop"] == config["embd_pdrop"] == 0.1


def test_resume_continues_the_step_count(tmp_path, tiny_sources):
    from devassist.training.lm import RunConfig
    from devassist.training.train import train

    build_corpus([tiny_sources], tmp_path / "c", progress=False)
    cfg = RunConfig.from_toml("training/configs/tiny.toml")
    cfg.train.max_steps = 4
    train(cfg, tmp_path / "r", corpus=tmp_path / "c", quiet=True)
    cfg.train.max_steps = 8
    rec = train(cfg, tmp_path / "r", corpus=tmp_path / "c", resume=True, quiet=True)
    assert rec["step"] == 8


def test_export_fails_loudly_on_a_parity_mismatch(tmp_path, tiny_run, monkeypatch):
    import shutil

    from devassist.export import cli as export_cli
    from devassist.export.parity import ParityError

    real_export = export_cli.export_lm

    def tampered(run_dir, out_file):
        # export a different model: same shape, other weights
        from transformers import GPT2LMHeadModel
        other = tmp_path / "other"
        shutil.copytree(run_dir, other)
        model = GPT2LMHeadModel.from_pretrained(str(other))
        for p in model.parameters():
            p.data.add_(0.05)
        model.save_pretrained(str(other))
        real_export(other, out_file)

    monkeypatch.setattr(export_cli, "export_lm", tampered)
    with pytest.raises(ParityError, match="fails parity"):
        export_cli.export_bundle(tiny_run, tmp_path / "bundle", quantize=None, embed=None, log=lambda *_: None)
    assert not (tmp_path / "bundle").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]  # the failed export's partial folder is gone


def test_config_typos_are_errors(tmp_path):
    from devassist.training.lm import RunConfig

    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nn_layers = 3\n")
    with pytest.raises(ValueError, match="n_layers"):
        RunConfig.from_toml(bad)
