"""One sample's token sequence split over the context-parallel ranks on window boundaries.

A DiT sequence is ``nv`` grid tokens, t-major over ``frames`` rows (the latent DiT's VAE tokens, the semantic
DiT's z_sem tokens), then in-context tokens at fractional time positions (the latent DiT's z_sem tokens).
Rank ``r`` holds the grid rows ``[bounds[r], bounds[r+1])`` — whole Swin windows of ``T_w`` rows under Swin
attention, balanced rows otherwise — and every in-context token whose time falls in them, so z_sem tokens
travel with their window. :func:`shard_sequence` returns what one rank computes (:class:`SequenceShard`)
and the attention of each layer type:

- unshifted Swin layers: every window is local, no communication (:class:`.attention.LocalWindows`);
- shifted Swin layers: the window straddling each boundary is completed by a halo exchange with the
  neighbours (:class:`.attention.HaloWindows`);
- full attention: all-to-all over heads (:class:`.attention.Ulysses`).

With one rank (``cg=None``) the shard is the whole sequence and the layers are the plain
:class:`~semanticgen.models.attention.WindowLayout` s (or ``None`` = full attention), so the single-GPU path
is unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch

from ..models import attention as attn       # module import: semanticgen.models imports this module back
from . import attention as cp_attention
from .comm import ContextGroup, gather_tokens


@dataclass
class SequenceShard:
    """The part of every sample's sequence one rank computes."""
    frames: slice                      # grid rows held here
    sem: Optional[torch.Tensor]        # indices of the in-context tokens held here (None: all)
    tokens: Optional[torch.Tensor]     # global ids of the held tokens, grid rows first (None: all, in order)
    layers: Optional[list]             # attention of layer i = layers[i % len]: None = full attention everywhere
    counts: Tuple[int, ...]            # grid tokens held by every rank (the output gather)
    cg: Optional[ContextGroup] = None

    def select(self, x: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """The held tokens of a per-token tensor of the whole sequence (e.g. positions)."""
        return x if self.tokens is None else x.index_select(dim, self.tokens)

    def select_sem(self, s: torch.Tensor) -> torch.Tensor:
        """The held in-context tokens of ``s`` (B, Ns, D)."""
        return s if self.sem is None else s.index_select(1, self.sem)

    def gather(self, out: torch.Tensor) -> torch.Tensor:
        """Per-grid-token outputs (B, held, ...) → the whole sequence's (B, nv, ...) on every rank."""
        return out if self.cg is None else gather_tokens(out, self.counts, self.cg)


def frame_bounds(frames: int, window: Optional[int], size: int) -> List[int]:
    """Row boundaries of ``size`` ranks: whole windows of ``window`` rows (Swin) or single rows, balanced."""
    units, unit = (frames, 1) if window is None else (-(-frames // window), window)
    if units < size:
        what = f"Swin windows of {window} latent frames" if window else "frames"
        raise ValueError(f"context parallel over {size} ranks needs at least {size} {what}; the sequence has {units}")
    return [min(frames, (r * units // size) * unit) for r in range(size + 1)]


def token_owner(tpos: torch.Tensor, frames: int, bounds: Sequence[int]) -> torch.Tensor:
    """(N,) rank that holds each token: the one whose rows contain the token's (clamped) time."""
    row = tpos.clamp(0, frames - 1).floor()
    inner = torch.tensor(bounds[1:-1], dtype=row.dtype, device=row.device)
    return torch.bucketize(row, inner, right=True)


def rank_loads(tpos: torch.Tensor, nv: int, frames: int, window: Optional[int], size: int) -> List[int]:
    """Tokens each of ``size`` context ranks computes: the ones it holds, plus (Swin) the half-window its right
    neighbour sends it for the shifted layers — counts only, for planning (no layouts are built)."""
    bounds = frame_bounds(frames, window, size)
    owner = token_owner(tpos, frames, bounds)
    loads = torch.bincount(owner, minlength=size)
    if window is not None:
        shifted = attn.swin_window_ids(tpos, frames, window, True)
        for r in range(size - 1):
            loads[r] += int(((owner == r + 1) & (shifted == bounds[r + 1] // window)).sum())
    return loads.tolist()


def shard_sequence(tpos: torch.Tensor, nv: int, frames: int, window: Optional[int],
                   cg: Optional[ContextGroup]) -> SequenceShard:
    """This rank's :class:`SequenceShard`. ``tpos`` (N,): time position of every token (grid tokens first);
    ``window``: the Swin ``T_w`` (None: full attention)."""
    ids = None if window is None else [attn.swin_window_ids(tpos, frames, window, s) for s in (False, True)]
    if cg is None or cg.size == 1:
        layers = None if ids is None else [attn.WindowLayout.from_window_ids(i) for i in ids]
        return SequenceShard(slice(0, frames), None, None, layers, (nv,))
    bounds = frame_bounds(frames, window, cg.size)
    owner = token_owner(tpos, frames, bounds)
    held = [torch.nonzero(owner == r).flatten() for r in range(cg.size)]      # ascending: grid rows first
    mine = held[cg.rank]
    if ids is None:
        layers = [cp_attention.Ulysses(held, cg)]
    else:
        layers = [cp_attention.LocalWindows(mine, ids[0]),
                  cp_attention.HaloWindows(held, ids[1], [b // window for b in bounds], cg)]
    per_row = nv // frames
    counts = tuple((bounds[r + 1] - bounds[r]) * per_row for r in range(cg.size))
    return SequenceShard(slice(bounds[cg.rank], bounds[cg.rank + 1]), mine[mine >= nv] - nv, mine, layers,
                         counts, cg)
