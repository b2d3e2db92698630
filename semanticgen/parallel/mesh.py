"""The ranks of a training (or generation) job as a data × context mesh.

``world = data × context``; rank ``r`` is data-parallel rank ``r // context`` and context rank ``r % context``,
so the ranks that share one sample's sequence are neighbours (one node, NVLink all-to-all). Every context
rank of a group sees the same batches and draws the same noise (its data-parallel rank seeds it); FSDP shards
parameters over all ``data × context`` ranks and averages gradients over them, which
:func:`.comm.gather_tokens` makes equal to the single-rank gradient.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Tuple, TypeVar

import torch.distributed as dist
from torch import nn

from ..models.dit import DiTTrunk
from .comm import ContextGroup

T = TypeVar("T")


@dataclass(frozen=True)
class ParallelDims:
    world: int
    context: int = 1

    def __post_init__(self):
        if self.context < 1 or self.world % self.context:
            raise ValueError(f"context parallel size {self.context} must divide the world size {self.world}")

    @property
    def data(self) -> int:
        return self.world // self.context

    def coords(self, rank: int) -> Tuple[int, int]:
        """(data-parallel rank, context rank) of a global rank."""
        return rank // self.context, rank % self.context


def init_context_group(dims: ParallelDims, device_type: str) -> ContextGroup:
    """This rank's context group from a 2-D ``(data, context)`` device mesh (collective: every rank calls it)."""
    if dims.context == 1:
        return ContextGroup(None, 0, 1)
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device_type, (dims.data, dims.context), mesh_dim_names=("data", "context"))
    group = mesh.get_group("context")
    return ContextGroup(group, dist.get_rank(group), dims.context)


def enable_context_parallel(model: nn.Module, cg: ContextGroup) -> int:
    """Every DiT inside ``model`` splits its sequence over ``cg``; returns how many DiTs were switched."""
    trunks = [m for m in model.modules() if isinstance(m, DiTTrunk)]
    for m in trunks:
        m.cp = cg if cg.size > 1 else None
    return len(trunks)


def data_parallel_batches(batches: Iterable[T], data_rank: int, data_size: int) -> Iterator[T]:
    """From one stream that every rank reads alike: batch ``i`` goes to data rank ``i % data_size`` (all the context
    ranks of that group get it); a last incomplete round is dropped by every rank, so all take the same steps."""
    held = None
    for i, batch in enumerate(batches):
        if i % data_size == data_rank:
            held = batch
        if i % data_size == data_size - 1:
            yield held
            held = None
