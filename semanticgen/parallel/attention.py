"""Self-attention over a sequence split across the context-parallel ranks (see :mod:`.sequence`).

Each plan has ``attend(q, k, v, backend, key_mask)`` with this rank's ``q, k, v`` (B, n, H, Dh) and the key mask
of the *whole* sequence (B, N) in global token order (None: every key visible); it returns this rank's
output (B, n, H, Dh) — the same numbers one rank computing everything would give. The local attention is
the single-GPU kernel (:func:`~semanticgen.models.attention.window_attention`: one packed
``flash_attn_varlen_func`` call on GPU, SDPA on CPU).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch

from ..models import attention as attn       # module import: semanticgen.models imports this package back
from .comm import ContextGroup, all_to_all


def _keys(key_mask: Optional[torch.Tensor], ids: torch.Tensor) -> Optional[torch.Tensor]:
    return None if key_mask is None else key_mask.index_select(1, ids)


def _only(size: int, peer: int, n: int) -> List[int]:
    """Counts for an exchange with one peer (``n`` rows to/from rank ``peer``), zero for the others."""
    out = [0] * size
    if 0 <= peer < size:
        out[peer] = n
    return out


class LocalWindows:
    """Unshifted Swin layer: this rank holds whole windows; no communication."""

    def __init__(self, tokens: torch.Tensor, window_ids: torch.Tensor):
        self.tokens = tokens
        self.layout = attn.WindowLayout.from_window_ids(window_ids.index_select(0, tokens))

    def attend(self, q, k, v, backend: str, key_mask: Optional[torch.Tensor]) -> torch.Tensor:
        return attn.window_attention(q, k, v, self.layout, backend, key_mask=_keys(key_mask, self.tokens))


class HaloWindows:
    """Shifted Swin layer: the window that straddles the boundary between ranks ``r-1`` and ``r`` is computed on
    ``r-1``. Rank ``r`` sends its part of it (q, k, v of the first half-window, with the z_sem tokens of that
    span) to ``r-1`` and gets the attention output of those tokens back: two exchanges with the neighbours."""

    def __init__(self, held: Sequence[torch.Tensor], window_ids: torch.Tensor, boundary_windows: Sequence[int],
                 cg: ContextGroup):
        r, self.cg = cg.rank, cg
        mine = held[r]
        sent = window_ids.index_select(0, mine) == boundary_windows[r]
        if r == 0:                                      # the first window is ragged and wholly here
            sent = torch.zeros_like(sent)
        self.send_pos, self.keep_pos = torch.nonzero(sent).flatten(), torch.nonzero(~sent).flatten()
        recv = mine[:0]
        if r + 1 < cg.size:
            right = held[r + 1]
            recv = right[window_ids.index_select(0, right) == boundary_windows[r + 1]]
        self.n_send, self.n_recv = int(self.send_pos.numel()), int(recv.numel())
        self.compute_ids = torch.cat([mine.index_select(0, self.keep_pos), recv])
        self.layout = attn.WindowLayout.from_window_ids(window_ids.index_select(0, self.compute_ids))
        self.inv = torch.argsort(torch.cat([self.keep_pos, self.send_pos]))

    def attend(self, q, k, v, backend: str, key_mask: Optional[torch.Tensor]) -> torch.Tensor:
        size, r = self.cg.size, self.cg.rank
        qkv = torch.stack([q, k, v])                                           # (3, B, n, H, Dh)
        out_rows = qkv.index_select(2, self.send_pos).permute(2, 0, 1, 3, 4)    # (sent, 3, B, H, Dh)
        got = all_to_all(out_rows, _only(size, r - 1, self.n_send), _only(size, r + 1, self.n_recv), self.cg)
        qkv = torch.cat([qkv.index_select(2, self.keep_pos), got.permute(1, 2, 0, 3, 4)], dim=2)
        out = attn.window_attention(*qkv.unbind(0), self.layout, backend, key_mask=_keys(key_mask, self.compute_ids))
        n_keep = self.keep_pos.numel()
        mine_back = out[:, n_keep:].transpose(0, 1)                            # (recv, B, H, Dh) → rank r+1
        back = all_to_all(mine_back, _only(size, r + 1, self.n_recv), _only(size, r - 1, self.n_send), self.cg)
        return torch.cat([out[:, :n_keep], back.transpose(0, 1)], dim=1).index_select(1, self.inv)


class Ulysses:
    """Full attention: an all-to-all turns (all heads, this rank's tokens) into (H/size heads, every token),
    attention runs on the whole sequence for those heads, and a second all-to-all turns it back."""

    def __init__(self, held: Sequence[torch.Tensor], cg: ContextGroup):
        self.cg = cg
        self.counts = [int(h.numel()) for h in held]
        self.order = torch.cat(list(held))                  # global ids in rank order (the gathered sequence)

    def attend(self, q, k, v, backend: str, key_mask: Optional[torch.Tensor]) -> torch.Tensor:
        size, (B, n, H, D) = self.cg.size, q.shape
        if H % size:
            raise ValueError(f"context parallel over {size} ranks splits the attention heads (Ulysses): "
                             f"{H} heads are not divisible by {size}")
        qkv = torch.stack([q, k, v]).view(3, B, n, size, H // size, D).permute(3, 2, 0, 1, 4, 5)
        full = all_to_all(qkv.reshape(size * n, 3, B, H // size, D), [n] * size, self.counts, self.cg)
        qf, kf, vf = full.permute(1, 2, 0, 3, 4).unbind(0)                      # (B, N, H/size, D) each
        out = attn.full_attention(qf, kf, vf, backend, key_mask=_keys(key_mask, self.order))
        back = all_to_all(out.transpose(0, 1), self.counts, [n] * size, self.cg)   # (size·n, B, H/size, D)
        return back.view(size, n, B, H // size, D).permute(2, 1, 0, 3, 4).reshape(B, n, H, D)
