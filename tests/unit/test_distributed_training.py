"""Training across processes: torchrun with 2 CPU processes (gloo) follows one process's loss curve."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from devassist.training.distributed import ProcessGroup

REPO = Path(__file__).resolve().parents[2]
STEPS = 20


def read_losses(path: Path) -> np.ndarray:
    """The per-step losses a run wrote with --loss-log, in step order."""
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    assert [int(step) for step, _ in rows] == list(range(1, len(rows) + 1))
    return np.array([float(loss) for _, loss in rows])


def test_the_ranks_split_the_global_batch_like_a_distributed_sampler():
    batch = np.arange(8 * 3).reshape(8, 3)
    shards = [ProcessGroup(rank=r, world_size=4).shard(batch) for r in range(4)]
    assert [s[:, 0].tolist() for s in shards] == [[0, 12], [3, 15], [6, 18], [9, 21]]
    assert sorted(np.concatenate(shards)[:, 0].tolist()) == batch[:, 0].tolist()
    assert ProcessGroup().shard(batch).shape == batch.shape  # one process keeps the whole batch


@pytest.mark.slow
def test_two_processes_follow_the_loss_curve_of_one(tmp_path, tiny_sources):
    from safetensors.numpy import load_file

    from devassist.training.corpus import build_corpus
    from devassist.training.lm import RunConfig
    from devassist.training.train import train

    build_corpus([tiny_sources], tmp_path / "corpus", progress=False)
    config = REPO / "training" / "configs" / "tiny.toml"
    cfg = RunConfig.from_toml(config)
    cfg.train.max_steps = STEPS
    train(cfg, tmp_path / "one", corpus=tmp_path / "corpus", quiet=True, device="cpu", loss_log=tmp_path / "one.tsv")
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "devassist.training.train", "--config", str(config), "--out", str(tmp_path / "two"),
         "--corpus", str(tmp_path / "corpus"), "--max-steps", str(STEPS), "--device", "cpu",
         "--loss-log", str(tmp_path / "two.tsv"), "--quiet"],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    one, two = read_losses(tmp_path / "one.tsv"), read_losses(tmp_path / "two.tsv")
    assert len(one) == len(two) == STEPS
    diff = float(np.max(np.abs(one - two)))
    print(f"max |loss difference| over {STEPS} steps, 1 vs 2 processes: {diff:.2e}")
    assert diff <= 1e-4
    assert one[-1] < one[0] - 0.5  # it trained, so equal curves are not two flat lines
    # Rank 0 alone reported and wrote the checkpoint; it is the one process's model.
    assert out.stdout.count("trained ") == 1
    record = json.loads((tmp_path / "two" / "run.json").read_text())
    assert record["step"] == STEPS and "2 processes (DDP)" in record["hardware"]
    assert record["tokens_seen"] == json.loads((tmp_path / "one" / "run.json").read_text())["tokens_seen"]
    a, b = (load_file(str(tmp_path / run / "model.safetensors")) for run in ("one", "two"))
    weight_diff = max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
    print(f"final loss {one[-1]:.6f} vs {two[-1]:.6f}; largest weight difference {weight_diff:.2e}")
    assert weight_diff < 1e-3
