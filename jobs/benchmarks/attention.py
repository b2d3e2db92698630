"""Latent-DiT forward+backward time for T and 4T latent frames, full vs Swin attention (CPU, tiny width).

    python -m jobs.benchmark attention [--frames 32] [--hw 16] [--window 4] [--repeats 2]

Swin cost grows linearly with length (≈4× for 4T), full attention quadratically (→16× once attention
dominates). Last line: ``attention: swin_4x=... full_4x=...``.
"""
from __future__ import annotations

import argparse
import time

import torch


def step_time(attention: str, frames: int, hw: int, window: int, repeats: int, dim_size: str = "tiny") -> float:
    from semanticgen.config.models import DiTConfig
    from semanticgen.models import LatentDiT

    torch.manual_seed(0)
    model = LatentDiT(DiTConfig(size=dim_size, attention=attention, swin_window=window), 16, 8, 32,
                      attn_backend="sdpa")
    x = torch.randn(1, 16, frames, hw, hw)
    z = torch.randn(1, max(1, frames // 4), hw // 4 or 1, hw // 4 or 1, 8)     # ≈1/16 of the VAE tokens
    text = torch.randn(1, 8, 32)
    t = torch.rand(1)
    best = float("inf")
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        model(x, t, text, None, z).square().mean().backward()
        if i:                                   # first call warms up
            best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--hw", type=int, default=16, help="latent height = width")
    p.add_argument("--window", type=int, default=4, help="T_w in latent frames")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    for attn in ("swin", "full"):
        t1 = step_time(attn, a.frames, a.hw, a.window, a.repeats)
        t4 = step_time(attn, 4 * a.frames, a.hw, a.window, a.repeats)
        rows.append((attn, t1, t4, t4 / t1))
    tokens = a.frames * (a.hw // 2) ** 2
    print(f"latent DiT (tiny) fwd+bwd, {a.hw}x{a.hw} latents, T={a.frames} ({tokens} VAE tokens) vs 4T, "
          f"T_w={a.window}, {a.threads} thread(s)")
    print(f"{'attention':10s} {'T (s)':>9s} {'4T (s)':>9s} {'4T/T':>7s}")
    for attn, t1, t4, r in rows:
        print(f"{attn:10s} {t1:9.3f} {t4:9.3f} {r:7.1f}")
    print(f"attention: swin_4x={rows[0][3]:.1f} full_4x={rows[1][3]:.1f}")
    return 0
