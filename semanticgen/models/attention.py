"""One attention wrapper: full or windowed (Swin) self-attention, FlashAttention or PyTorch SDPA.

Tensors are ``(B, N, H, Dh)``. Windows are given as a :class:`WindowLayout` (token permutation +
``cu_seqlens``), the same for every batch item. Backends compute the same function:

- ``flash``: ``flash_attn_func`` (full) / ``flash_attn_varlen_func`` with ``cu_seqlens`` at window
  boundaries (Swin); CUDA + fp16/bf16 only.
- ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention``, one call per window for Swin.
- ``auto``: flash when installed, on CUDA, in half precision; otherwise sdpa.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn.functional as F

try:  # optional GPU extra
    from flash_attn import flash_attn_func, flash_attn_varlen_func  # type: ignore
    HAS_FLASH = True
except Exception:  # noqa: BLE001 - ImportError or a broken CUDA build
    flash_attn_func = flash_attn_varlen_func = None
    HAS_FLASH = False

BACKENDS = ("auto", "sdpa", "flash")


@dataclass
class WindowLayout:
    """Tokens grouped by window: ``perm`` orders tokens window by window, ``cu_seqlens`` bounds them."""
    perm: torch.Tensor            # (N,) long: token indices, window-major
    inv: torch.Tensor             # (N,) long: inverse permutation
    cu_seqlens: torch.Tensor      # (W+1,) int32, cumulative window sizes
    max_seqlen: int
    window_id: torch.Tensor       # (N,) long: window of each token (original order)

    @staticmethod
    def from_window_ids(window_id: torch.Tensor) -> "WindowLayout":
        wid = window_id.long()
        perm = torch.argsort(wid, stable=True)
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(perm.numel(), device=perm.device)
        counts = torch.bincount(wid)
        counts = counts[counts > 0]
        cu = torch.zeros(counts.numel() + 1, dtype=torch.int32, device=wid.device)
        cu[1:] = torch.cumsum(counts, 0)
        return WindowLayout(perm, inv, cu, int(counts.max()), wid)

    def sizes(self) -> List[int]:
        return (self.cu_seqlens[1:] - self.cu_seqlens[:-1]).tolist()

    def mask(self) -> torch.Tensor:
        """(N, N) boolean: True where two tokens share a window (the brute-force reference)."""
        return self.window_id[:, None] == self.window_id[None, :]


def resolve_backend(backend: str, q: torch.Tensor) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"attention backend must be one of {BACKENDS}, got {backend!r}")
    flash_ok = HAS_FLASH and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)
    if backend == "flash" and not flash_ok:
        raise RuntimeError("flash attention requested but flash-attn is not installed or inputs are not "
                           "CUDA fp16/bf16 (install the 'gpu' extra, or use models.attn_backend=sdpa)")
    if backend == "auto":
        return "flash" if flash_ok else "sdpa"
    return backend


def _sdpa(q, k, v, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2)


def full_attention(q, k, v, backend: str = "auto", key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Attention over all keys. ``key_mask`` (B, Nk) bool, True = attend (SDPA path only)."""
    be = resolve_backend(backend, q) if key_mask is None else "sdpa"
    if be == "flash":
        return flash_attn_func(q, k, v)
    mask = None if key_mask is None else key_mask[:, None, None, :]
    return _sdpa(q, k, v, mask)


def window_attention(q, k, v, layout: WindowLayout, backend: str = "auto") -> torch.Tensor:
    """Self-attention restricted to windows (each token attends only to tokens of its window)."""
    be = resolve_backend(backend, q)
    B, N, H, D = q.shape
    qp, kp, vp = (x[:, layout.perm] for x in (q, k, v))
    if be == "flash":
        cu = layout.cu_seqlens.to(q.device)
        # batch items share the layout: offset cu_seqlens per item and flatten (B·N, H, D)
        offs = (torch.arange(B, device=q.device, dtype=torch.int32) * N)[:, None]
        cu_b = torch.cat([(cu[:-1][None] + offs).reshape(-1), cu.new_tensor([B * N])])
        out = flash_attn_varlen_func(qp.reshape(B * N, H, D), kp.reshape(B * N, H, D), vp.reshape(B * N, H, D),
                                     cu_b, cu_b, layout.max_seqlen, layout.max_seqlen)
        out = out.reshape(B, N, H, D)
    else:
        outs, start = [], 0
        for n in layout.sizes():
            sl = slice(start, start + n)
            outs.append(_sdpa(qp[:, sl], kp[:, sl], vp[:, sl]))
            start += n
        out = torch.cat(outs, dim=1)
    return out[:, layout.inv]


def masked_reference(q, k, v, layout: WindowLayout) -> torch.Tensor:
    """Brute force: full attention with the (N, N) same-window boolean mask (for tests)."""
    return _sdpa(q, k, v, layout.mask().to(q.device))
