"""One attention wrapper: full or windowed (Swin) self-attention, FlashAttention or PyTorch SDPA.

Tensors are ``(B, N, H, Dh)``. Windows are given as a :class:`WindowLayout` (token permutation +
``cu_seqlens``), the same for every batch item. An optional ``key_mask`` (B, Nk) bool (True = attend)
drops padded text tokens or dropped z_sem tokens per sample; every query must keep ≥ 1 key.
Backends compute the same function:

- ``flash`` (flash-attn 2): ``flash_attn_func`` for full attention without a key mask, otherwise
  ``flash_attn_varlen_func`` on packed sequences with ``cu_seqlens`` at window (and batch item)
  boundaries, keys restricted to the masked-in ones — all windows of all items in one call; CUDA +
  fp16/bf16 only (the DiT blocks keep q, k, v in the autocast dtype, so bf16 training and generation get it).
- ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention``, one call per window for Swin (the CPU path).
- ``auto``: flash when installed, on CUDA, in half precision; otherwise sdpa.

Swin windows: :func:`swin_window_ids` gives each token its window from its latent-time position.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

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


def swin_window_ids(time_pos: torch.Tensor, num_frames: int, window: int, shifted: bool) -> torch.Tensor:
    """Window index of each token from its latent-time position (fractional for z_sem tokens); shifted
    windows start ``window // 2`` frames earlier, so the first and last ones are ragged."""
    shift = window // 2 if shifted else 0
    p = time_pos.clamp(0, num_frames - 1)
    return torch.floor((p + shift) / window).long()


def flash_usable(q: torch.Tensor) -> bool:
    return HAS_FLASH and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)


def resolve_backend(backend: str, q: torch.Tensor) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"attention backend must be one of {BACKENDS}, got {backend!r}")
    ok = flash_usable(q)
    if backend == "flash" and not ok:
        raise RuntimeError("flash attention requested but flash-attn is not installed or inputs are not "
                           "CUDA fp16/bf16 (install the 'gpu' extra, or use models.attn_backend=sdpa)")
    if backend == "auto":
        return "flash" if ok else "sdpa"
    return backend


def _sdpa(q, k, v, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2)


def _cu(sizes: torch.Tensor) -> torch.Tensor:
    return torch.cat([sizes.new_zeros(1), sizes.cumsum(0)]).to(torch.int32)


def _flash_segments(q, k, v, q_sizes: Sequence[int], k_sizes: Sequence[int],
                    key_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Segment s of the queries attends to segment s of the (masked-in) keys, per batch item.

    ``q`` (B, Nq, H, D) and ``k``/``v`` (B, Nk, H, D) are already segment-major; ``q_sizes`` /
    ``k_sizes`` are the segment lengths (same for every item). All (item, segment) pairs become one
    packed ``flash_attn_varlen_func`` call.
    """
    B, Nq, H, D = q.shape
    Nk, S = k.shape[1], len(q_sizes)
    dev = q.device
    qs = torch.tensor(q_sizes, device=dev).repeat(B)                           # (B·S,)
    if key_mask is None:
        ks = torch.tensor(k_sizes, device=dev).repeat(B)
        kf, vf = k.reshape(B * Nk, H, D), v.reshape(B * Nk, H, D)
    else:
        seg = torch.repeat_interleave(torch.arange(S, device=dev), torch.tensor(k_sizes, device=dev))
        ks = torch.zeros(B, S, dtype=torch.long, device=dev).index_add_(1, seg, key_mask.long()).reshape(-1)
        keep = key_mask.reshape(-1)
        kf, vf = k.reshape(B * Nk, H, D)[keep], v.reshape(B * Nk, H, D)[keep]
    out = flash_attn_varlen_func(q.reshape(B * Nq, H, D), kf, vf, _cu(qs), _cu(ks), max(q_sizes), int(ks.max()))
    return out.reshape(B, Nq, H, D)


def full_attention(q, k, v, backend: str = "auto", key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Attention of every query over all keys (``key_mask`` (B, Nk) bool, True = attend)."""
    be = resolve_backend(backend, q)
    if be == "flash":
        if key_mask is None:
            return flash_attn_func(q, k, v)
        return _flash_segments(q, k, v, [q.shape[1]], [k.shape[1]], key_mask.bool())
    mask = None if key_mask is None else key_mask.bool()[:, None, None, :]
    return _sdpa(q, k, v, mask)


def window_attention(q, k, v, layout: WindowLayout, backend: str = "auto",
                     key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Self-attention restricted to windows (each token attends only to tokens of its window)."""
    be = resolve_backend(backend, q)
    qp, kp, vp = (x[:, layout.perm] for x in (q, k, v))
    mp = None if key_mask is None else key_mask.bool()[:, layout.perm]
    sizes = layout.sizes()
    if be == "flash":
        out = _flash_segments(qp, kp, vp, sizes, sizes, mp)
    else:
        # split (not slicing): its backward is one concatenation, slicing's would scatter every
        # window's gradient into a full-length zero tensor (quadratic in the number of windows)
        parts = zip(*(x.split(sizes, dim=1) for x in (qp, kp, vp)))
        masks = [None] * len(sizes) if mp is None else [m[:, None, None, :] for m in mp.split(sizes, dim=1)]
        out = torch.cat([_sdpa(qw, kw, vw, m) for (qw, kw, vw), m in zip(parts, masks)], dim=1)
    return out[:, layout.inv]


def masked_reference(q, k, v, layout: WindowLayout, key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Brute force: full attention with the (N, N) same-window boolean mask (for tests)."""
    mask = layout.mask().to(q.device)[None, None]
    if key_mask is not None:
        mask = mask & key_mask.bool()[:, None, None, :]
    return _sdpa(q, k, v, mask)
