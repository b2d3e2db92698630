"""Differentiable collectives of the context-parallel group, all built on one uneven ``all_to_all``.

- :func:`all_to_all`: rows of ``x`` (dim 0) go to the ranks in order (``send[r]`` rows to rank ``r``); the
  result holds ``recv[r]`` rows from each rank ``r``, in rank order. Its backward is the reverse exchange.
  Ulysses (heads ↔ tokens) and the halo exchange of shifted Swin windows are both one call of it.
- :func:`gather_tokens`: every rank's tokens (dim 1, uneven counts) concatenated in rank order — the end of
  the sequence-parallel region, whose output feeds a loss that every rank of the group computes alike.
  Its backward keeps this rank's slice of the gradient, scaled by the group size, so that the usual
  mean of gradients over all (data × context) ranks (DDP / FSDP reduction) equals the single-rank gradient:
  parameters used only on this rank's tokens get ``size × partial`` here and are averaged to the full sum,
  replicated computations (compressor, text and time embeddings, loss) get the same full gradient on every
  rank of the group and are averaged to themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ContextGroup:
    """The ranks that share one sample's token sequence (``size`` of them; this one is ``rank``)."""
    group: Optional[object]               # torch.distributed ProcessGroup (None only when size == 1)
    rank: int
    size: int


def _exchange(x: torch.Tensor, send: Sequence[int], recv: Sequence[int], group) -> torch.Tensor:
    out = x.new_empty((sum(recv), *x.shape[1:]))
    dist.all_to_all_single(out, x.contiguous(), output_split_sizes=list(recv), input_split_sizes=list(send),
                           group=group)
    return out


class _AllToAll(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, send, recv, group):
        ctx.send, ctx.recv, ctx.group = send, recv, group
        return _exchange(x, send, recv, group)

    @staticmethod
    def backward(ctx, grad):
        return _exchange(grad, ctx.recv, ctx.send, ctx.group), None, None, None


def all_to_all(x: torch.Tensor, send: Sequence[int], recv: Sequence[int], cg: ContextGroup) -> torch.Tensor:
    """Send ``send[r]`` leading rows (dim 0, in rank order) of ``x`` to rank ``r``; receive ``recv[r]`` from it."""
    if sum(send) != x.shape[0]:
        raise ValueError(f"all_to_all: {x.shape[0]} rows but send counts add up to {sum(send)}")
    return _AllToAll.apply(x, tuple(int(s) for s in send), tuple(int(r) for r in recv), cg.group)


class _GatherTokens(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, counts, cg):
        ctx.counts, ctx.cg = counts, cg
        rows = x.transpose(0, 1).contiguous()                       # (n_local, B, ...)
        sent = torch.cat([rows] * cg.size)                           # one copy for every rank
        out = _exchange(sent, [rows.shape[0]] * cg.size, counts, cg.group)
        return out.transpose(0, 1).contiguous()

    @staticmethod
    def backward(ctx, grad):
        start = sum(ctx.counts[:ctx.cg.rank])
        local = grad[:, start:start + ctx.counts[ctx.cg.rank]]
        return local * ctx.cg.size, None, None


def gather_tokens(x: torch.Tensor, counts: Sequence[int], cg: ContextGroup) -> torch.Tensor:
    """(B, counts[rank], ...) on each rank → (B, Σ counts, ...) everywhere (see the module note on gradients)."""
    if x.shape[1] != counts[cg.rank]:
        raise ValueError(f"gather_tokens: rank {cg.rank} holds {x.shape[1]} tokens, the plan says {counts[cg.rank]}")
    return _GatherTokens.apply(x, tuple(int(c) for c in counts), cg)


def context_group(size: int, group=None) -> ContextGroup:
    """The :class:`ContextGroup` of this process in ``group`` (``size`` ranks)."""
    if size == 1:
        return ContextGroup(None, 0, 1)
    if dist.get_world_size(group) != size:
        raise ValueError(f"context group has {dist.get_world_size(group)} ranks, expected {size}")
    return ContextGroup(group, dist.get_rank(group), size)
