"""Training section shared by stage 1 (latent DiT + compressor) and stage 2 (semantic DiT)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .base import check

PRECISIONS = ("fp32", "bf16")
PARALLEL = ("ddp", "fsdp")


@dataclass
class TrainConfig:
    num_workers: int = 1
    use_gpu: bool = False
    cpus_per_worker: float = 1.0         # leave CPUs for Ray Data (reading/decoding) on small machines
    batch_size: int = 2                  # per worker, per micro-step: the most clips of one shape bucket
    batch_tokens: int = 0                # token budget per batch (0: off): a bucket's batch = budget // its tokens
    grad_accum: int = 1
    max_steps: int = 100                 # optimizer steps
    lr: float = 1e-4
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    warmup_steps: int = 10
    lr_schedule: str = "constant"        # constant | cosine (after warm-up)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    precision: str = "fp32"              # bf16 autocast on GPU
    parallel: str = "ddp"                # ddp (small models) | fsdp (FSDP2 fully_shard per block)
    activation_checkpointing: bool = False
    context_parallel: int = 1            # ranks that split one sample's tokens on Swin-window boundaries (divides
                                         # num_workers; data-parallel size = num_workers / context_parallel)
    gpu_memory_gb: float = 80.0          # per-GPU memory the plan (--dry-run, start-up log) checks its estimate against
    text_dropout: float = 0.1            # caption dropped → empty-prompt embedding (CFG)
    report_every: int = 10               # ray.train.report (metrics) every N steps; each report costs ~seconds
    checkpoint_every: int = 50           # checkpoint every N steps (and at the end)
    keep_checkpoints: int = 2
    max_failures: int = 1
    storage_path: Optional[str] = None   # None: <run.work_dir>/ray_results (local dir or s3://)
    shuffle_seed: int = 0
    num_sample_videos: int = 2           # decoded samples logged as MLflow artifacts at the end (stage 1)
    debug_fail_at_step: int = -1         # fault injection for recovery tests: raise once at this step

    def validate(self) -> None:
        check(self.num_workers >= 1, "num_workers", "must be >= 1")
        check(self.context_parallel >= 1, "context_parallel", "must be >= 1")
        check(self.num_workers % self.context_parallel == 0, "context_parallel",
              f"must divide train.num_workers ({self.num_workers}): ranks = data × context")
        check(self.gpu_memory_gb > 0, "gpu_memory_gb", "must be > 0")
        check(self.cpus_per_worker > 0, "cpus_per_worker", "must be > 0")
        check(self.batch_size >= 1, "batch_size", "must be >= 1")
        check(self.batch_tokens >= 0, "batch_tokens", "must be >= 0 (0: batch_size clips per batch)")
        check(self.grad_accum >= 1, "grad_accum", "must be >= 1")
        check(self.max_steps >= 1, "max_steps", "must be >= 1")
        check(self.lr > 0, "lr", "must be > 0")
        check(0 <= self.ema_decay < 1, "ema_decay", "must be in [0, 1)")
        check(self.precision in PRECISIONS, "precision", f"must be one of {PRECISIONS}")
        check(self.parallel in PARALLEL, "parallel", f"must be one of {PARALLEL}")
        check(self.lr_schedule in ("constant", "cosine"), "lr_schedule", "must be constant or cosine")
        check(0 <= self.text_dropout < 1, "text_dropout", "must be in [0, 1)")
        check(self.report_every >= 1, "report_every", "must be >= 1")
        check(self.checkpoint_every >= 1, "checkpoint_every", "must be >= 1")
        check(self.checkpoint_every % self.report_every == 0, "checkpoint_every",
              "must be a multiple of report_every (checkpoints travel with reports)")
        check(self.grad_clip >= 0, "grad_clip", "must be >= 0")
