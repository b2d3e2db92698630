"""Latent-DiT forward+backward time for T and 4T latent frames, full vs Swin attention (CPU, tiny width).

    python -m jobs.benchmark attention [--frames 64] [--hw 16] [--window 4] [--repeats 2]

Swin cost grows linearly with length (≈4× for 4T), full attention quadratically (→16× once attention
dominates). The ``FLOPs 4T/T`` column is the ratio predicted by ``semanticgen.models.flops`` for the
same model and inputs: below 16 for full attention because the per-token work (projections, MLP)
grows only 4×. Last line: ``attention: swin_4x=... full_4x=...``.
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
    s = max(1, hw // 4)
    z = torch.randn(1, max(1, frames // 4), s, s, 8)        # ≈1/16 of the VAE tokens
    text = torch.randn(1, 8, 32)
    t = torch.rand(1)
    best = float("inf")
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        model(x, t, text, None, z).square().mean().backward()
        if i:                                   # first call warms up
            best = min(best, time.perf_counter() - t0)
    return best


def step_flops(attention: str, frames: int, hw: int, window: int) -> int:
    """Training-step FLOPs of the same model and inputs (semanticgen.models.flops)."""
    from semanticgen.config.models import DiTConfig
    from semanticgen.models.flops import latent_dit_flops, train_step_flops

    s = max(1, hw // 4)
    fwd = latent_dit_flops(DiTConfig(size="tiny", attention=attention, swin_window=window), latent_channels=16,
                           latent_shape=(frames, hw, hw), sem_grid=(max(1, frames // 4), s, s), sem_dim=8,
                           text_dim=32, text_tokens=8)
    return train_step_flops(fwd)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=64)
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
        f1, f4 = (step_flops(attn, f, a.hw, a.window) for f in (a.frames, 4 * a.frames))
        rows.append((attn, t1, t4, t4 / t1, f4 / f1, f4 / t4))
    tokens = a.frames * (a.hw // 2) ** 2
    print(f"latent DiT (tiny) fwd+bwd, {a.hw}x{a.hw} latents, T={a.frames} ({tokens} VAE tokens) vs 4T, "
          f"T_w={a.window}, {a.threads} thread(s)")
    print(f"{'attention':10s} {'T (s)':>9s} {'4T (s)':>9s} {'4T/T':>7s} {'FLOPs 4T/T':>11s} {'GFLOP/s 4T':>11s}")
    for attn, t1, t4, r, fr, fps in rows:
        print(f"{attn:10s} {t1:9.3f} {t4:9.3f} {r:7.1f} {fr:11.1f} {fps / 1e9:11.1f}")
    print(f"attention: swin_4x={rows[0][3]:.1f} full_4x={rows[1][3]:.1f}")
    return 0
