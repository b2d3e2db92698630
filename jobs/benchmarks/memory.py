"""The analytic memory model (``semanticgen.parallel.memory``) against measured peaks, and the real-scale table.

    python -m jobs.benchmark memory [--quick] [--gpus 8] [--gpu-gb 80] [--max-err 0.15]

1. Measured: one stage-1 training step (forward, backward, AdamW step, EMA update) of small latent DiTs — Swin and
   full attention, with and without activation checkpointing — peak bytes of live tensors: torch's MemTracker on
   CPU (fp32), ``torch.cuda.max_memory_allocated`` on a GPU (bf16 autocast, the flash/SDPA kernels of the
   device). Each is compared with the model's estimate (its ``runtime`` reserve left out: it is not a tensor).
2. The table: 5 s and 60 s clips (short / long presets at 480×832), Wan-1.3B and 14B-class widths, context parallel
   1/2/4/8 on ``--gpus`` GPUs (FSDP2, bf16, activation checkpointing, batch 1): tokens per GPU, the parts of the
   estimate, and whether it fits ``--gpu-gb``; then the estimate for what each GPU preset runs.

Last line: ``memory: model_vs_measured_max_err=X fit_60s_1p3b_min_cp=N fit_60s_14b_min_cp=N`` (0: no context size
fits); exit 1 if the model misses a measurement by more than ``--max-err``.
"""
from __future__ import annotations

import argparse
import contextlib

import torch

CPU_CASES = [  # (size, layers, latent frames, latent height = width, activation checkpointing, attention)
    ("tiny", 2, 8, 32, False, "swin"), ("tiny", 4, 8, 32, True, "swin"), ("tiny", 2, 16, 32, False, "full"),
    ("small", 2, 8, 16, True, "swin"), ("small", 2, 8, 16, False, "full"), ("small", 3, 9, 24, True, "swin"),
    ("small", 2, 16, 32, True, "swin"),
]
QUICK = [CPU_CASES[0], CPU_CASES[3]]
GPU_CASES = [("wan-1.3b", 2, 9, 48, True, "swin"), ("wan-1.3b", 2, 9, 48, False, "swin"),
             ("wan-1.3b", 4, 21, 60, True, "full"), ("wan-1.3b", 2, 33, 60, True, "swin")]


def case_config(size, layers, attention, precision):
    from semanticgen.config import load_config

    return load_config("tiny", [f"models.latent_dit.size={size}", f"models.latent_dit.layers={layers}",
                                f"models.latent_dit.attention={attention}", "models.latent_dit.swin_window=2",
                                f"train.precision={precision}", "models.attn_backend=auto"])


def measure(case, device: torch.device):
    """(measured peak bytes, memory-model Step) of one stage-1 training step of ``case`` on ``device``."""
    from semanticgen.models.build import Stage1Model
    from semanticgen.models.registry import get_size
    from semanticgen.parallel.memory import Step
    from semanticgen.train.ema import EMA
    from semanticgen.train.parallel import apply_activation_checkpointing

    size, layers, T, hw, ac, attention = case
    gpu = device.type == "cuda"
    cfg = case_config(size, layers, attention, "bf16" if gpu else "fp32")
    torch.manual_seed(0)
    ts = max(1, T // 2)
    batch = {"latents": torch.randn(1, 16, T, hw, hw, device=device), "text": torch.randn(1, 8, 32, device=device),
             "sem": torch.randn(1, ts, hw // 4, hw // 4, cfg.models.compressor.in_dim, device=device)}
    model = Stage1Model(cfg).to(device)
    if ac:
        apply_activation_checkpointing(model.latent_dit)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ema = EMA(dict(model.named_parameters()), 0.999)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if gpu else contextlib.nullcontext()

    def step():
        with amp:
            loss, _, _ = model(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.update(dict(model.named_parameters()))

    step()                                                   # optimizer moments exist from here on
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        from torch.distributed._tools.mem_tracker import MemTracker

        tracker = MemTracker()
        tracker.track_external(model, opt, *ema.shadow.values(), *batch.values())
        with tracker:
            step()
        peak = tracker.get_tracker_snapshot("peak")[device]["Total"]
    nv, ns = T * (hw // 2) ** 2, ts * (hw // 4) ** 2
    params = sum(p.numel() for p in model.parameters())
    block = sum(p.numel() for p in model.latent_dit.blocks[0].parameters())
    est = Step(size=get_size(size, layers), tokens=nv + ns, params=params, block_params=block,
               root_params=params - layers * block, precision=cfg.train.precision, swin=attention == "swin",
               checkpointing=ac, io_values=nv * 64, sem_values=ns * cfg.models.compressor.in_dim, gpu=False)
    del model, opt, ema
    return peak, est


def scale_rows(gpus: int):
    """(clip, model, cp, Step or the reason it cannot run) for the real-scale table."""
    from semanticgen.config import load_config
    from semanticgen.parallel.plan import plan_problem, stage_step

    for clip, preset in (("5 s", "short"), ("60 s", "long")):
        for model, size in (("1.3B", "wan-1.3b"), ("14B", "wan-14b")):
            for cp in (1, 2, 4, 8):
                cfg = load_config(preset, [f"models.latent_dit.size={size}", f"train.num_workers={gpus}",
                                           f"train.context_parallel={cp}"])
                problem = plan_problem(cfg, "latent")
                yield clip, model, cp, (problem if problem else stage_step(cfg, "latent", gpus, cp)[0])


def main(argv=None) -> int:
    from semanticgen.config import load_config
    from semanticgen.parallel.memory import GB, estimate
    from semanticgen.parallel.plan import stage_step

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="two small CPU cases (the test suite's smoke run)")
    p.add_argument("--gpus", type=int, default=8, help="GPUs of the real-scale table (FSDP over all of them)")
    p.add_argument("--gpu-gb", type=float, default=80.0)
    p.add_argument("--max-err", type=float, default=0.15, help="largest allowed |model/measured - 1|")
    a = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    cases = (QUICK if a.quick else GPU_CASES) if cuda else (QUICK if a.quick else CPU_CASES)
    print(f"measured vs model, one stage-1 training step on {torch.cuda.get_device_name() if cuda else 'CPU'} "
          f"({'bf16 autocast' if cuda else 'fp32'}; MiB)")
    print(f"{'DiT':>8s} {'layers':>6s} {'tokens':>7s} {'ckpt':>5s} {'attn':>5s} {'measured':>9s} {'model':>9s} {'err':>7s}")
    worst = 0.0
    for case in cases:
        peak, step = measure(case, device)
        est = estimate(step)["peak"]
        err = est / peak - 1
        worst = max(worst, abs(err))
        print(f"{case[0]:>8s} {case[1]:6d} {step.tokens:7d} {str(case[4]):>5s} {case[5]:>5s} {peak / 2**20:9.1f} "
              f"{est / 2**20:9.1f} {err:+7.3f}")
    print(f"\nestimated peak per GPU, {a.gpus} GPUs, FSDP2 + bf16 + activation checkpointing, batch 1 (GB = GiB)")
    print(f"{'clip':>5s} {'model':>5s} {'cp':>3s} {'tokens/GPU':>10s} {'states':>7s} {'saved':>7s} {'block':>7s} "
          f"{'peak':>7s}  fits {a.gpu_gb:g} GB")
    fit = {}
    for clip, model, cp, step in scale_rows(a.gpus):
        if isinstance(step, str):
            print(f"{clip:>5s} {model:>5s} {cp:3d}  n/a: {step.split(': ', 1)[-1]}")
            continue
        e = {k: v / GB for k, v in estimate(step).items()}
        ok = e["peak"] <= a.gpu_gb
        if ok and clip == "60 s":
            fit.setdefault(model, cp)
        print(f"{clip:>5s} {model:>5s} {cp:3d} {step.tokens:10d} {e['states']:7.1f} {e['saved']:7.1f} {e['block']:7.1f} "
              f"{e['peak']:7.1f}  {'yes' if ok else 'no'}")
    for preset in ("short", "long", "long-14b"):                   # what the GPU presets run, as --dry-run plans it
        cfg = load_config(preset)
        step = stage_step(cfg, "latent", cfg.train.num_workers, cfg.train.context_parallel)[0]
        print(f"preset {preset}: {cfg.train.num_workers} GPUs, context_parallel={cfg.train.context_parallel}, "
              f"{step.tokens} tokens/GPU, estimated peak {estimate(step)['peak'] / GB:.1f} GB")
    print("60 s fits in {:g} GB with: {}".format(a.gpu_gb, "; ".join(f"{m} from context_parallel={c}" for m, c in
                                                                   fit.items()) or "no configuration"))
    print(f"memory: model_vs_measured_max_err={worst:.3f} fit_60s_1p3b_min_cp={fit.get('1.3B', 0)} "
          f"fit_60s_14b_min_cp={fit.get('14B', 0)}")
    return 0 if worst <= a.max_err else 1
