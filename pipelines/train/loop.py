"""The generic Ray Train loop: one function per worker, every stage plugs in a :class:`TrainTask`.

Per worker: build → wrap (DDP/FSDP2, in one place) → resume from ``ray.train.get_checkpoint()`` →
stream the dataset shard with ``iter_torch_batches`` → AdamW + warm-up + grad clipping + grad
accumulation + EMA (+ bf16 autocast on GPU) → ``ray.train.report`` every ``report_every`` steps with a
checkpoint every ``checkpoint_every`` steps. MLflow metrics are flushed from rank 0 only when a
checkpoint is committed, so a resumed run never logs a step twice.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from typing import Dict, List

import torch

from semanticgen.config.base import from_dict
from semanticgen.config.schema import Config
from semanticgen.models.checkpoint import overlay_ema
from semanticgen.train.ema import EMA
from semanticgen.train.parallel import (apply_activation_checkpointing, full_optim_state, full_state_dict,
                                       load_full_optim_state, load_full_state_dict, wrap)
from semanticgen.train.schedule import lr_factor
from semanticgen.train.state import load_checkpoint, rng_state, save_checkpoint, set_rng_state


def _ema_params(model) -> Dict[str, torch.Tensor]:
    return {k.replace("_checkpoint_wrapped_module.", "").replace("module.", "", 1)
            if k.startswith("module.") else k.replace("_checkpoint_wrapped_module.", ""): p
            for k, p in model.named_parameters() if p.requires_grad}


def _full(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if hasattr(t, "full_tensor") else t


class _MlflowBuffer:
    """Rank-0 metric buffer, flushed into the (driver-created) MLflow run at checkpoint commits."""

    def __init__(self, cfg: Config, run_id, enabled: bool):
        self.rows: List[tuple] = []
        self.client = None
        self.run_id = run_id
        self.monitor = None
        if enabled and run_id:
            from mlflow.tracking import MlflowClient

            from semanticgen.tracking import tracking_uri
            self.client = MlflowClient(tracking_uri(cfg))
            try:   # CPU/GPU/memory system metrics of the rank-0 worker (needs psutil; pynvml for GPUs)
                from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

                self.monitor = SystemMetricsMonitor(run_id, sampling_interval=10, resume_logging=True,
                                                    tracking_uri=tracking_uri(cfg))
                self.monitor.start()
            except Exception:  # noqa: BLE001 - system metrics are optional
                self.monitor = None

    def add(self, step: int, metrics: Dict[str, float]) -> None:
        if self.client:
            self.rows.extend((k, float(v), step) for k, v in metrics.items())

    def flush(self) -> None:
        if not (self.client and self.rows):
            return
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        ms = [Metric(k, v, ts, s) for k, v, s in self.rows]
        for i in range(0, len(ms), 900):
            self.client.log_batch(self.run_id, metrics=ms[i:i + 900])
        self.rows.clear()

    def close(self) -> None:
        if self.monitor is None:
            return
        self.monitor.finish()
        try:   # one closing sample: a run shorter than the sampling interval still gets system metrics
            self.monitor.collect_metrics()
            self.monitor.publish_metrics(self.monitor.aggregate_metrics())
            self.monitor.mlflow_logger.flush()
        except Exception:  # noqa: BLE001 - system metrics are optional
            pass


def train_loop_per_worker(loop_cfg: dict) -> None:
    import ray.train
    import ray.train.torch

    cfg: Config = from_dict(Config, loop_cfg["config"])
    task = loop_cfg["task"]
    tc = cfg.train
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    torch.manual_seed(cfg.run.seed)            # identical init on every rank
    model = task.build(cfg)
    if tc.activation_checkpointing:
        for sub in task.shard_targets(model):
            apply_activation_checkpointing(sub)
    model = wrap(model, tc.parallel, device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=tc.lr, betas=(tc.beta1, tc.beta2), weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, tc.warmup_steps, tc.max_steps, tc.lr_schedule))
    ema = EMA(_ema_params(model), tc.ema_decay)
    step, epoch, batch_in_epoch = 0, 0, 0
    torch.manual_seed(cfg.run.seed * 1000 + rank + 1)   # per-rank noise / dropout streams

    ckpt = ray.train.get_checkpoint()
    if ckpt:
        with ckpt.as_directory() as d:
            state = load_checkpoint(d)
        load_full_state_dict(model, state["model"])
        ema.load_state_dict(state["ema"])
        load_full_optim_state(model, opt, state["optimizer"])
        tr = state["trainer"]
        step, epoch, batch_in_epoch = tr["step"], tr["epoch"], tr["batch_in_epoch"]
        sched.last_epoch = step                 # the optimizer state already holds this step's lr
        rng = tr["rng"][rank] if rank < len(tr["rng"]) else None
        if rng is not None:
            set_rng_state(rng)

    mlf = _MlflowBuffer(cfg, loop_cfg.get("mlflow_run_id"), rank == 0)
    shard = ray.train.get_dataset_shard("train")
    amp = (torch.autocast(device_type="cuda", dtype=torch.bfloat16)
           if tc.precision == "bf16" and device.type == "cuda" else contextlib.nullcontext())
    window = {"loss": 0.0, "n": 0, "samples": 0, "tokens": 0, "t0": time.time(), "grad_norm": 0.0}
    extra: Dict[str, float] = {}
    model.train()
    while step < tc.max_steps:
        it = shard.iter_torch_batches(batch_size=tc.batch_size, collate_fn=task.collate, drop_last=True)
        micro, seen = 0, 0
        for batch in it:
            seen += 1
            if seen <= batch_in_epoch:          # resume: skip what this epoch already consumed
                continue
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            last_micro = (micro + 1) % tc.grad_accum == 0
            sync = (model.no_sync() if hasattr(model, "no_sync") and not last_micro else contextlib.nullcontext())
            with sync:
                with amp:
                    loss, metrics, tokens = model(batch)
                (loss / tc.grad_accum).backward()
            micro += 1
            batch_in_epoch += 1
            window["loss"] += loss.detach().float()     # stays on the device: no host sync per step
            window["n"] += 1
            window["samples"] += int(next(v for v in batch.values() if torch.is_tensor(v)).shape[0])
            window["tokens"] += int(tokens)
            for k, v in metrics.items():
                extra[k] = extra.get(k, 0.0) + (v.detach().float() if torch.is_tensor(v) else float(v))
            if not last_micro:
                continue
            gn = torch.nn.utils.clip_grad_norm_(params, tc.grad_clip if tc.grad_clip > 0 else float("inf"))
            window["grad_norm"] += _full(gn).float() if torch.is_tensor(gn) else gn
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            ema.update(_ema_params(model))
            step += 1
            if tc.debug_fail_at_step >= 0 and step == tc.debug_fail_at_step and rank == world - 1:
                _inject_fault_once(loop_cfg["fault_marker"])
            if step % tc.report_every == 0 or step == tc.max_steps:
                _report(step, epoch, batch_in_epoch, window, extra, opt, model, ema, mlf, cfg, rank, world, device)
            if step >= tc.max_steps:
                break
        else:
            epoch += 1
            batch_in_epoch = 0
            if seen == 0:
                raise RuntimeError("the training dataset shard is empty (fewer rows than workers × batch_size?)")
            continue
    mlf.close()
    if loop_cfg.get("artifacts_dir"):
        _finalize(task, cfg, model, ema, rank, loop_cfg["artifacts_dir"])


def _finalize(task, cfg: Config, model, ema: EMA, rank: int, out_dir: str) -> None:
    """Rank 0 writes artifacts from a plain (unsharded) copy carrying the EMA weights."""
    model_sd = full_state_dict(model)                        # collective under FSDP2
    ema_sd = {k: _full(v).cpu() for k, v in ema.shadow.items()}
    if rank != 0:
        return
    plain = task.build(cfg)
    plain.load_state_dict(overlay_ema(model_sd, ema_sd))
    plain.eval()
    task.finalize(plain, cfg, out_dir)


def _inject_fault_once(marker: str) -> None:
    if not os.path.exists(marker):
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        open(marker, "w").close()
        raise RuntimeError("injected fault (train.debug_fail_at_step)")


def _report(step, epoch, batch_in_epoch, window, extra, opt, model, ema, mlf, cfg, rank, world, device) -> None:
    import ray.train
    import torch.distributed as dist

    tc = cfg.train
    dt = max(time.time() - window["t0"], 1e-9)
    n = max(window["n"], 1)
    # on the training device: NCCL reduces device tensors only; one host sync per report, not per step
    loss = torch.as_tensor(window["loss"], dtype=torch.float32, device=device).reshape(1) / n
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(loss)
        loss /= world
    metrics = {"loss": float(loss), "lr": opt.param_groups[0]["lr"], "step": step,
               "grad_norm": float(window["grad_norm"]) / max(1, n // tc.grad_accum),
               "samples_per_s": window["samples"] * world / dt, "tokens_per_s": window["tokens"] * world / dt}
    metrics.update({k: float(v) / n for k, v in extra.items()})
    window.update(loss=0.0, n=0, samples=0, tokens=0, t0=time.time(), grad_norm=0.0)
    extra.clear()
    if rank == 0:
        mlf.add(step, {k: v for k, v in metrics.items() if k != "step"})
    is_ckpt = step % tc.checkpoint_every == 0 or step == tc.max_steps
    if not is_ckpt:
        ray.train.report(metrics)
        return
    model_sd = full_state_dict(model)             # collectives under FSDP2
    optim_sd = full_optim_state(model, opt)
    ema_sd = {k: _full(v) for k, v in ema.shadow.items()}
    rngs = [None] * world
    if dist.is_available() and dist.is_initialized():
        dist.all_gather_object(rngs, rng_state())
    else:
        rngs = [rng_state()]
    with tempfile.TemporaryDirectory() as d:
        checkpoint = None
        if rank == 0:
            save_checkpoint(d, model_sd, {k: v.cpu() for k, v in ema_sd.items()}, optim_sd,
                            {"step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch, "rng": rngs,
                             "mlflow_run_id": mlf.run_id or ""})
            checkpoint = ray.train.Checkpoint.from_directory(d)
        ray.train.report(metrics, checkpoint=checkpoint)
    if rank == 0:
        mlf.flush()
