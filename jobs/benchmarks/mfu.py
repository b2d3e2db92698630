"""Stage-1 training-step throughput and MFU (model FLOPs utilisation) of the latent DiT.

    python -m jobs.benchmark mfu [--config short] [--frames 21 --height 60 --width 104] [--batch 1]
                                 [--steps 5] [--peak-tflops 989] [--allow-cpu] [overrides...]

The real training step (``semanticgen.train.trainer.Trainer``: autocast, clipping, AdamW, EMA) of the stage-1 model
(latent DiT + compressor, flow + KL loss), wrapped as training wraps it (``train.parallel=fsdp``: FSDP2 per block
with the bf16 mixed-precision policy, here on a one-rank process group), with the config's activation
checkpointing and attention backend (``auto``: flash-attn when installed, in bf16 on CUDA), on random tensors of
the given latent grid (default: the config's ``generate.num_frames`` × ``height`` × ``width`` → for ``short``
21×60×104 latents). FLOPs come from ``semanticgen.models.flops`` (matmul FLOPs, 2 per multiply-add; training =
3× forward, 4× with activation checkpointing): ``MFU = FLOPs / (step time × peak FLOP/s)``; peak: H100/H200 SXM
bf16 dense 989 TFLOP/s. Without CUDA it prints ``mfu: skipped=1`` unless ``--allow-cpu`` (a smoke run at the
sizes given; MFU only with ``--peak-tflops``).
"""
from __future__ import annotations

import argparse
import os
import socket
import time

import torch


def one_rank_group(device: torch.device) -> bool:
    """A process group of this process alone, so FSDP2 wraps the model exactly as a training worker does;
    True when this call created it (the caller destroys it)."""
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=0, world_size=1)
    return True


def main(argv=None) -> int:
    from semanticgen.config import load_config
    from semanticgen.encoders.grid import z_sem_grid

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="short")
    p.add_argument("--frames", type=int, default=0, help="latent frames (default from generate.num_frames)")
    p.add_argument("--height", type=int, default=0, help="latent height (default generate.height / 8)")
    p.add_argument("--width", type=int, default=0, help="latent width (default generate.width / 8)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--text-tokens", type=int, default=64)
    p.add_argument("--peak-tflops", type=float, default=0.0)
    p.add_argument("--allow-cpu", action="store_true", help="run on CPU too (small sizes: a smoke run)")
    p.add_argument("overrides", nargs="*")
    a = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    if not (cuda or a.allow_cpu):
        print("mfu: no CUDA device; nothing measured (pass --allow-cpu for a CPU smoke run)")
        print("mfu: skipped=1")
        return 0
    cfg = load_config(a.config, [*a.overrides, "train.max_steps=1000000"])
    gc = cfg.generate
    T = a.frames or 1 + (gc.num_frames - 1) // 4
    H, W = a.height or gc.height // 8, a.width or gc.width // 8
    sem = z_sem_grid(cfg, None, (H * 8, W * 8), 1 + 4 * (T - 1))     # a source above the pixel budget
    device = torch.device("cuda" if cuda else "cpu")
    created = one_rank_group(device)
    try:
        return run(a, cfg, device, T, H, W, sem)
    finally:
        if created:
            import torch.distributed as dist

            dist.destroy_process_group()


def run(a, cfg, device, T, H, W, sem) -> int:
    from semanticgen.models.attention import HAS_FLASH
    from semanticgen.models.build import Stage1Model, compressor_in_dim
    from semanticgen.models.flops import latent_dit_flops, mfu, train_step_flops
    from semanticgen.train.parallel import apply_activation_checkpointing, wrap
    from semanticgen.train.trainer import Trainer

    mc, tc, cuda = cfg.models, cfg.train, device.type == "cuda"
    torch.manual_seed(0)
    model = Stage1Model(cfg)
    if tc.activation_checkpointing:
        apply_activation_checkpointing(model.latent_dit)
    trainer = Trainer(cfg, wrap(model, tc.parallel, device, tc.precision), device)
    B = a.batch
    batch = {"latents": torch.randn(B, mc.latent_channels, T, H, W), "sem": torch.randn(B, *sem, compressor_in_dim(cfg)),
             "text": torch.randn(B, a.text_tokens, mc.text_dim)}
    times = []
    for i in range(a.steps + 1):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        trainer.train_micro(batch)
        if cuda:
            torch.cuda.synchronize()
        if i:                                      # the first step warms up (allocator, kernels, FSDP lazy init)
            times.append(time.perf_counter() - t0)
    step = sorted(times)[len(times) // 2]
    fwd = latent_dit_flops(mc.latent_dit, latent_channels=mc.latent_channels, latent_shape=(T, H, W), sem_grid=sem,
                           sem_dim=model.compressor.z_dim, text_dim=mc.text_dim, text_tokens=a.text_tokens, batch=B)
    flops = train_step_flops(fwd, tc.activation_checkpointing)
    tokens = B * T * (H // 2) * (W // 2)
    peak = a.peak_tflops * 1e12 or (989e12 if cuda else 0.0)
    dev = torch.cuda.get_device_name() if cuda else "CPU"
    backend = mc.attn_backend if mc.attn_backend != "auto" else ("flash" if cuda and HAS_FLASH and
                                                                 tc.precision == "bf16" else "sdpa")
    print(f"{cfg.preset}: latent DiT {mc.latent_dit.size} ({mc.latent_dit.attention}, {backend}), latents {T}x{H}x{W}, "
          f"z_sem {sem}, batch {B}, {tc.precision}, {tc.parallel}, activation checkpointing "
          f"{tc.activation_checkpointing}, device {dev}"
          + (f", peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda else ""))
    print(f"{'step s':>8s} {'TFLOP/step':>11s} {'TFLOP/s':>9s} {'tokens/s':>10s} {'MFU':>6s}")
    m = mfu(flops, step, peak) if peak else -1.0
    print(f"{step:8.3f} {flops / 1e12:11.2f} {flops / step / 1e12:9.2f} {tokens / step:10.0f} {m:6.3f}")
    print(f"mfu: mfu={m:.3f} tflops={flops / step / 1e12:.2f} tokens_per_s={tokens / step:.0f}")
    return 0
