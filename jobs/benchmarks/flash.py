"""FlashAttention vs PyTorch SDPA for the Swin windows of a 60 s clip: same numbers, and how much faster.

    python -m jobs.benchmark flash [--frames 241] [--height 30] [--width 52] [--window 8] [--heads 12] [--repeats 5]

One self-attention layer (unshifted and shifted windows) of the latent DiT at the ``long`` preset's sequence (241×30×52
VAE tokens + z_sem 48×21×36 by default; Wan-1.3B's 12 heads of 128), q, k, v in bf16, forward + backward:
``flash`` = one packed ``flash_attn_varlen_func`` call, ``sdpa`` = PyTorch SDPA window by window. Needs CUDA and the
``gpu`` extra; otherwise it prints ``flash: skipped=1``. Last line: ``flash: max_abs_diff=... speedup=...``.
"""
from __future__ import annotations

import argparse
import time

import torch


def layer_time(q, k, v, layout, backend: str, repeats: int):
    from semanticgen.models.attention import window_attention

    g = torch.randn_like(q)
    best, out = float("inf"), None
    for i in range(repeats + 1):
        qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = window_attention(qq, kk, vv, layout, backend)
        out.backward(g)
        torch.cuda.synchronize()
        if i:
            best = min(best, time.perf_counter() - t0)
    return best, out.detach()


def main(argv=None) -> int:
    from semanticgen.models.attention import HAS_FLASH, WindowLayout, swin_window_ids
    from semanticgen.models.latent_dit import semantic_positions
    from semanticgen.models.rope import grid_positions

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=241)
    p.add_argument("--height", type=int, default=30, help="latent tokens per column (after 2×2 patches)")
    p.add_argument("--width", type=int, default=52)
    p.add_argument("--sem", default="48,21,36", help="z_sem grid T,H,W")
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--head-dim", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    if not (torch.cuda.is_available() and HAS_FLASH):
        print("flash: needs a CUDA GPU and flash-attn (the 'gpu' extra); nothing measured")
        print("flash: skipped=1")
        return 0
    grid, sem = (a.frames, a.height, a.width), tuple(int(x) for x in a.sem.split(","))
    pos = torch.cat([grid_positions(*grid), semantic_positions(sem, grid)]).cuda()
    N = pos.shape[0]
    q, k, v = (torch.randn(1, N, a.heads, a.head_dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    print(f"Swin self-attention, {N} tokens ({'×'.join(map(str, grid))} + z_sem {'×'.join(map(str, sem))}), "
          f"T_w={a.window}, {a.heads}×{a.head_dim} heads, bf16, forward+backward on {torch.cuda.get_device_name()}")
    print(f"{'layer':>9s} {'windows':>7s} {'flash s':>8s} {'sdpa s':>8s} {'speedup':>8s} {'max |diff|':>10s}")
    worst, speed = 0.0, []
    for shifted in (False, True):
        layout = WindowLayout.from_window_ids(swin_window_ids(pos[:, 0], a.frames, a.window, shifted))
        tf, of = layer_time(q, k, v, layout, "flash", a.repeats)
        ts, os_ = layer_time(q, k, v, layout, "sdpa", a.repeats)
        diff = float((of.float() - os_.float()).abs().max())
        worst, speed = max(worst, diff), speed + [ts / tf]
        print(f"{'shifted' if shifted else 'unshifted':>9s} {len(layout.sizes()):7d} {tf:8.4f} {ts:8.4f} "
              f"{ts / tf:8.2f} {diff:10.4f}")
    print(f"flash: max_abs_diff={worst:.4f} speedup={sum(speed) / len(speed):.2f}")
    return 0
