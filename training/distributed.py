"""Training across processes: the process group torchrun describes, and how the batch is split.

`torchrun --nproc_per_node K -m devassist.training.train ...` starts K copies of the training
loop with RANK, LOCAL_RANK and WORLD_SIZE set. Every rank draws the same global batch from the
same seeded sampler and keeps every K-th sample, starting at its rank (DistributedSampler's
split); DistributedDataParallel averages the gradients, so each step sees the global batch and
the loss curve is the one process's. Rank 0 alone logs, evaluates and writes checkpoints.
Without torchrun's variables (or with one process) nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


@dataclass
class ProcessGroup:
    """This process's place among the training processes."""

    rank: int = 0  # global rank; 0 logs and writes
    world_size: int = 1  # processes in all
    local_rank: int = 0  # the GPU of this process on its machine

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process logs, evaluates and writes checkpoints."""
        return self.rank == 0

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This rank's samples of the global batch: every world_size-th, from its rank on."""
        return batch[self.rank::self.world_size]

    def mean(self, value: float) -> float:
        """The mean of `value` over all processes (the global batch's loss from each rank's)."""
        if not self.active:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self._device())
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def from_main(self, value: float) -> float:
        """Rank 0's `value` on every rank (decisions that must agree: stop, time-based schedule)."""
        if not self.active:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self._device())
        dist.broadcast(t, src=0)
        return float(t.item())

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """Leave the process group."""
        if self.active:
            import torch.distributed as dist

            dist.destroy_process_group()

    def _device(self) -> str:
        import torch.distributed as dist

        return f"cuda:{self.local_rank}" if dist.get_backend() == "nccl" else "cpu"


def join_from_env(device: str) -> ProcessGroup:
    """Join the process group torchrun set up (NCCL on GPUs, gloo on CPU); one process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    import torch
    import torch.distributed as dist

    group = ProcessGroup(rank=int(os.environ["RANK"]), world_size=world_size,
                         local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    if device.startswith("cuda"):
        torch.cuda.set_device(group.local_rank)
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return group
