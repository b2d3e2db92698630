"""Stage-1 training-step throughput and MFU (model FLOPs utilisation) of the latent DiT.

    python -m jobs.benchmark mfu [--config short] [--frames 21 --height 60 --width 104] [--batch 1]
                                 [--steps 5] [--peak-tflops 989] [overrides...]

One optimizer step of the stage-1 model (latent DiT + compressor, flow + KL loss) on random tensors of the
given latent grid (default: the short preset's 81×480×832 clip → 21×60×104 latents). On CUDA it runs in
bf16 autocast with the configured attention backend (flash-attn when installed). FLOPs come from
``semanticgen.models.flops`` (matmul FLOPs, 2 per multiply-add; training = 3× forward, 4× with activation
checkpointing): ``MFU = FLOPs / (step time × peak FLOP/s)``. Peak defaults: H100 SXM bf16 dense 989 TFLOP/s,
H200 the same; on CPU MFU is reported only with ``--peak-tflops``.
"""
from __future__ import annotations

import argparse
import contextlib
import time

import torch


def main(argv=None) -> int:
    from semanticgen.config import load_config
    from semanticgen.inference.shapes import semantic_grid
    from semanticgen.models.build import Stage1Model, compressor_in_dim
    from semanticgen.models.flops import latent_dit_flops, mfu, train_step_flops

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="short")
    p.add_argument("--frames", type=int, default=0, help="latent frames (default from generate.num_frames)")
    p.add_argument("--height", type=int, default=0, help="latent height (default generate.height / 8)")
    p.add_argument("--width", type=int, default=0, help="latent width (default generate.width / 8)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--text-tokens", type=int, default=64)
    p.add_argument("--peak-tflops", type=float, default=0.0)
    p.add_argument("overrides", nargs="*")
    a = p.parse_args(argv)
    cfg = load_config(a.config, a.overrides)
    gc, mc = cfg.generate, cfg.models
    T = a.frames or 1 + (gc.num_frames - 1) // 4
    H, W = a.height or gc.height // 8, a.width or gc.width // 8
    sem = semantic_grid(cfg, H * 8, W * 8, 1 + 4 * (T - 1))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    model = Stage1Model(cfg).to(device)
    if cfg.train.activation_checkpointing:
        from semanticgen.train.parallel import apply_activation_checkpointing
        apply_activation_checkpointing(model.latent_dit)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    B = a.batch
    batch = {"latents": torch.randn(B, mc.latent_channels, T, H, W, device=device),
             "sem": torch.randn(B, *sem, compressor_in_dim(cfg), device=device),
             "text": torch.randn(B, a.text_tokens, mc.text_dim, device=device)}
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    times = []
    for i in range(a.steps + 1):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with amp:
            loss, _, _ = model(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    step = sorted(times)[len(times) // 2]
    fwd = latent_dit_flops(mc.latent_dit, latent_channels=mc.latent_channels, latent_shape=(T, H, W), sem_grid=sem,
                           sem_dim=model.compressor.z_dim, text_dim=mc.text_dim, text_tokens=a.text_tokens, batch=B)
    flops = train_step_flops(fwd, cfg.train.activation_checkpointing)
    tokens = B * T * (H // 2) * (W // 2)
    peak = a.peak_tflops * 1e12 or (989e12 if cuda else 0.0)
    dev = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"{cfg.preset}: latent DiT {mc.latent_dit.size} ({mc.latent_dit.attention}), latents {T}x{H}x{W}, "
          f"z_sem {sem}, batch {B}, device {dev}")
    print(f"{'step s':>8s} {'TFLOP/step':>11s} {'TFLOP/s':>9s} {'tokens/s':>10s} {'MFU':>6s}")
    m = mfu(flops, step, peak) if peak else float("nan")
    print(f"{step:8.3f} {flops / 1e12:11.2f} {flops / step / 1e12:9.2f} {tokens / step:10.0f} {m:6.3f}")
    print(f"mfu: mfu={m:.3f} tflops={flops / step / 1e12:.2f} tokens_per_s={tokens / step:.0f}")
    return 0
