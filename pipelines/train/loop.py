"""The generic Ray Train loop: one function per worker, every stage plugs in a :class:`TrainTask`.

Per worker: build (pretrained loads reported to MLflow by rank 0) → context parallelism on the data × context
mesh (``semanticgen.parallel``: ``train.context_parallel`` ranks split each sample's sequence on Swin windows) →
activation checkpointing → wrap (DDP/FSDP2 + mixed precision, in one place: ``semanticgen.train.parallel``) → resume
from ``ray.train.get_checkpoint()`` → stream the data: a stage's bucketed plan (``pipelines.train.buckets``: every
data rank reads exactly its batches, one shape bucket each, all ranks stepping together; ``data/clips_seen`` counts
the distinct clips that reached the loss) or a plain Ray Dataset shard with ``iter_torch_batches`` (with context
parallelism every rank streams it all and keeps its data rank's batches) → one ``semanticgen.train.trainer.Trainer`` step per batch
(AdamW + warm-up, clipping, accumulation, EMA, bf16 autocast) → ``ray.train.report`` every ``report_every`` steps
with a checkpoint every ``checkpoint_every`` steps. MLflow metrics are flushed from rank 0 only when a checkpoint is
committed, so a resumed run never logs a step twice.
"""
from __future__ import annotations

import os
import tempfile
from typing import Tuple

import torch

from semanticgen.config.base import from_dict
from semanticgen.config.schema import Config
from semanticgen.models.checkpoint import overlay_ema
from semanticgen.tracking import MetricBuffer
from semanticgen.parallel.mesh import ParallelDims, data_parallel_batches, enable_context_parallel, init_context_group
from semanticgen.train.accounting import ClipsSeen
from semanticgen.train.parallel import apply_activation_checkpointing, full_state_dict, wrap
from semanticgen.train.state import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from semanticgen.train.trainer import Trainer, distributed, full_tensor


def train_loop_per_worker(loop_cfg: dict) -> None:
    import ray.train
    import ray.train.torch

    cfg: Config = from_dict(Config, loop_cfg["config"])
    task = loop_cfg["task"]
    tc = cfg.train
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    dims = ParallelDims(world, tc.context_parallel)              # data × context
    data_rank = dims.coords(rank)[0]
    torch.manual_seed(cfg.run.seed)            # identical init on every rank
    model = task.build(cfg)
    if rank == 0:
        _log_pretrained(loop_cfg, cfg, model)
        if tc.use_gpu and task.stage in ("latent", "semantic"):
            _log_plan(cfg, task.stage)
    enable_context_parallel(model, init_context_group(dims, device.type))
    if tc.activation_checkpointing:
        for sub in task.shard_targets(model):
            apply_activation_checkpointing(sub)
    trainer = Trainer(cfg, wrap(model, tc.parallel, device, tc.precision), device)
    # per data-parallel rank noise / dropout streams: the context ranks of one sample draw the same
    torch.manual_seed(cfg.run.seed * 1000 + data_rank + 1)
    resumed = _resume(trainer, rank)

    mlf = MetricBuffer(cfg, loop_cfg.get("mlflow_run_id"), rank == 0)
    seen = ClipsSeen(task.source.total, device, resumed.get("clips_seen")) if task.source is not None else None
    trainer.model.train()
    batches = _micro_batches(task, trainer, cfg, dims, data_rank, resumed) if trainer.step < tc.max_steps else ()
    for epoch, batch_in_epoch, clips, batch in batches:
        stepped = trainer.train_micro(batch)
        if seen is not None:                   # these clips reached the loss
            seen.mark(clips)
        if not stepped:
            continue
        step = trainer.step
        if tc.debug_fail_at_step >= 0 and step == tc.debug_fail_at_step and rank == world - 1:
            _inject_fault_once(loop_cfg["fault_marker"])
        if step % tc.report_every == 0 or step == tc.max_steps:
            _report(trainer, (epoch, batch_in_epoch), mlf, cfg, rank, dims, task, seen)
        if step >= tc.max_steps:
            break
    mlf.close()
    if loop_cfg.get("artifacts_dir"):
        _finalize(task, cfg, trainer, rank, loop_cfg["artifacts_dir"])


def _micro_batches(task, trainer: Trainer, cfg: Config, dims: ParallelDims, data_rank: int, resumed: dict):
    """(epoch, batches consumed in it, clip indices or None, batch) for every micro-batch this rank trains on,
    from the resumed position on: the task's bucketed plan, or epochs over the Ray Train dataset shard."""
    import ray.train

    tc = cfg.train
    epoch, skip = resumed.get("epoch", 0), resumed.get("batch_in_epoch", 0)
    if task.source is not None:            # one plan, every rank steps at every round (semanticgen.train.sampler)
        per = task.source.plan.rounds_per_epoch
        start = epoch * per + skip
        for k, clips, batch in task.source.batches(data_rank, start, tc.max_steps * tc.grad_accum - start,
                                                   task.collate):
            yield (k + 1) // per, (k + 1) % per, clips, batch
        return
    shard = ray.train.get_dataset_shard("train")
    while True:
        trainer.start_epoch()
        n = 0
        batches = shard.iter_torch_batches(batch_size=tc.batch_size, collate_fn=task.collate, drop_last=True)
        if dims.context > 1:     # every rank streams the whole dataset (run.py); a data rank's context ranks agree
            batches = data_parallel_batches(batches, data_rank, dims.data)
        for batch in batches:
            n += 1
            if n > skip:                  # resume: skip what this epoch already consumed
                yield epoch, n, None, batch
        if n == 0:
            raise RuntimeError("the training dataset shard is empty (fewer rows than workers × batch_size?)")
        epoch, skip = epoch + 1, 0


def _resume(trainer: Trainer, rank: int) -> dict:
    """Load Ray's latest checkpoint (if any) into the trainer; → its trainer state (epoch, batches consumed in it,
    clips seen), empty for a fresh run."""
    import ray.train

    ckpt = ray.train.get_checkpoint()
    if not ckpt:
        return {}
    with ckpt.as_directory() as d:
        state = load_checkpoint(d)
    tr = state["trainer"]
    trainer.load_state_dict(state, tr["step"])
    rng = tr["rng"][rank] if rank < len(tr["rng"]) else None
    if rng is not None:
        set_rng_state(rng)
    return tr


def _finalize(task, cfg: Config, trainer: Trainer, rank: int, out_dir: str) -> None:
    """Rank 0 writes artifacts from a plain (unsharded) copy carrying the EMA weights."""
    model_sd = full_state_dict(trainer.model)                 # collective under FSDP2
    ema_sd = {k: full_tensor(v).cpu() for k, v in trainer.ema.shadow.items()}
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


def _log_plan(cfg: Config, stage: str) -> None:
    """Rank 0 of a GPU run: the resolved plan (mesh, FSDP units, attention, tokens, estimated peak memory per GPU,
    a warning when it exceeds ``train.gpu_memory_gb``) in the worker log."""
    import logging

    from semanticgen.parallel.plan import training_plan

    log = logging.getLogger("semanticgen.train")
    try:
        lines = training_plan(cfg, stage)
    except Exception as e:  # noqa: BLE001 - the plan is information; a stage without one still trains
        log.info("no training plan for stage %s (%s)", stage, e)
        return
    for line in lines:
        (log.warning if "DOES NOT FIT" in line else log.info)(line)


def _log_pretrained(loop_cfg: dict, cfg: Config, model) -> None:
    """Rank 0: the pretrained loads (loaded / expected / missing / shape mismatch / unexpected counts) as tags of
    the run, e.g. ``pretrained.latent_dit.loaded``."""
    reports = getattr(model, "pretrained_reports", {}) or {}
    if not (reports and loop_cfg.get("mlflow_run_id") and cfg.mlflow.enabled):
        return
    from mlflow.tracking import MlflowClient

    from semanticgen.tracking import tracking_uri

    client = MlflowClient(tracking_uri(cfg))
    for part, rep in reports.items():
        for k, v in {**rep.counts(), "prefix": rep.prefix, "summary": rep.summary()}.items():
            client.set_tag(loop_cfg["mlflow_run_id"], f"pretrained.{part}.{k}", str(v))


def _report(trainer: Trainer, position: Tuple[int, int], mlf: MetricBuffer, cfg: Config, rank: int,
            dims: ParallelDims, task, seen) -> None:
    import ray.train
    import torch.distributed as dist

    tc, step, world = cfg.train, trainer.step, dims.world
    metrics = {**trainer.window.summary(world, trainer.lr), "step": step}
    if seen is not None:                        # data/clips_seen, data/clips_total (a collective)
        seen.reduce()
        metrics.update(seen.metrics())
    for k in ("samples_per_s", "tokens_per_s"):          # the context ranks of a sample all counted it
        metrics[k] /= dims.context
    if rank == 0:
        mlf.add(step, {k: v for k, v in metrics.items() if k != "step"})
    if not (step % tc.checkpoint_every == 0 or step == tc.max_steps):
        ray.train.report(metrics)
        return
    state = trainer.state_dict()                   # collectives under FSDP2
    rngs = [None] * world
    if distributed():
        dist.all_gather_object(rngs, rng_state())
    else:
        rngs = [rng_state()]
    with tempfile.TemporaryDirectory() as d:
        checkpoint = None
        if rank == 0:
            extra = {"clips_seen": seen.marks.clone()} if seen is not None else {}
            save_checkpoint(d, state["model"], state["ema"], state["optimizer"],
                            {"step": step, "epoch": position[0], "batch_in_epoch": position[1], "rng": rngs,
                             "mlflow_run_id": mlf.run_id or "", **extra})
            task.write_checkpoint_files(d)
            checkpoint = ray.train.Checkpoint.from_directory(d)
        ray.train.report(metrics, checkpoint=checkpoint)
    if rank == 0:
        mlf.flush()
