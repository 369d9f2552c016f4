"""Process-group setup for ``torchrun`` (single- or multi-node): NCCL on GPUs, gloo on CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> DistInfo:
    """Join the torchrun job described by RANK / WORLD_SIZE / LOCAL_RANK (or run alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("run.device=cuda but CUDA is not available")
    dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        if use_cuda:  # device_id binds NCCL to this rank's GPU (no guessing, eager init)
            dist.init_process_group(backend="nccl", device_id=dev)
        else:
            dist.init_process_group(backend="gloo")
    return DistInfo(rank, world, local_rank, dev)


def sync_batchnorm(module: nn.Module, info: DistInfo) -> nn.Module:
    """BatchNorm -> SyncBatchNorm when several GPUs train (statistics over the global batch).

    In place for a module that is not itself a BatchNorm: the parameters stay the same objects,
    so state dicts and optimisers are unaffected. Unchanged on the CPU or a single process.
    """
    if info.world_size > 1 and info.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module


def barrier() -> None:
    """Wait for every rank (no-op alone). Called before ``teardown`` on a normal finish, so no
    rank closes its Gloo connections while a peer is still using them: a peer that lost them
    mid-exit aborted once in CI ("terminate called without an active exception")."""
    if dist.is_initialized():
        dist.barrier()


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_ranks_true(flags: torch.Tensor, info: DistInfo) -> list[bool]:
    """Element-wise: does each of ``flags`` (a 1-d bool tensor on this rank's device) hold on
    every rank? One all-reduce and one host sync for all of them."""
    t = flags.to(torch.float32)
    if info.world_size > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return [v > 0 for v in t.tolist()]


def gather_objects(obj: object, info: DistInfo) -> list[object]:
    """Every rank's ``obj``, in rank order (on every rank)."""
    if info.world_size == 1:
        return [obj]
    out: list[object] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def leaves_parameters_unused(config: Any) -> bool:
    """Whether a generator config has parameters that get no gradient (DDP must then be told):
    without pruning the pruning projections are idle; with ``finest_match_stride > 1`` the finer
    levels' reference embeddings and blocks are."""
    return not config.prune or config.finest_match_stride > 1


def parameter_digest(module: torch.nn.Module) -> float:
    """A float summary of all parameters (equal on ranks that hold equal weights)."""
    with torch.no_grad():
        return float(
            sum(
                p.double().sum() + p.double().abs().sum() * (i + 1)
                for i, p in enumerate(module.parameters())
            )
        )
