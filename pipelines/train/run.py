"""Driver side of a training job: MLflow run (created or resumed by name), TorchTrainer, artifacts."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from semanticgen.config import Config, to_dict
from semanticgen.tracking import experiment_name, tracking_uri
from semanticgen.io.uri import is_uri

from .loop import train_loop_per_worker
from .task import TrainTask

log = logging.getLogger("semanticgen.train")
RUN_TAG = "semanticgen.run_name"


@dataclass
class TrainResult:
    checkpoint_path: Optional[str]
    metrics: dict
    mlflow_run_id: Optional[str]
    storage_path: str
    name: str


def storage_root(cfg: Config) -> str:
    return cfg.train.storage_path or str(Path(cfg.run.work_dir).resolve() / "ray_results")


def mlflow_run_for(cfg: Config, stage: str, name: str) -> Optional[str]:
    """The MLflow run of training run ``name``: the existing one (resume) or a new one with params."""
    if not cfg.mlflow.enabled:
        return None
    import mlflow
    from mlflow.tracking import MlflowClient

    from semanticgen.config import flat_params

    mlflow.set_tracking_uri(tracking_uri(cfg))
    exp = mlflow.set_experiment(experiment_name(cfg, stage))
    client = MlflowClient(tracking_uri(cfg))
    found = client.search_runs([exp.experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{name}'", max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(exp.experiment_id, run_name=name, tags={RUN_TAG: name, "stage": stage})
    items = [(k, "" if v is None else str(v)[:500]) for k, v in flat_params(cfg).items()]
    from mlflow.entities import Param

    for i in range(0, len(items), 90):
        client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in items[i:i + 90]])
    return run.info.run_id


def log_data_accounting(cfg: Config, run_id: Optional[str], task: TrainTask) -> None:
    """The stage's trainable clips (``data/clips_total``, step 0) and its per-bucket clip counts (the MLflow table
    ``data/buckets.json``); ``data/clips_seen`` follows from the workers at every report."""
    stats = task.bucket_stats()
    log.info("%s: %d clips to train on in %d buckets", task.stage, task.source.total, len(stats))
    if not run_id:
        return
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri(cfg))
    client.log_metric(run_id, "data/clips_total", float(task.source.total), step=0)
    client.log_table(run_id, data={k: [str(r[k]) if isinstance(r[k], list) else r[k] for r in stats]
                                   for k in stats[0]}, artifact_file="data/buckets.json")


def run_training(cfg: Config, task: TrainTask, store: str, name: str) -> TrainResult:
    import ray.train
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    tc = cfg.train
    root = storage_root(cfg)
    run_id = mlflow_run_for(cfg, task.stage, name)
    artifacts = os.path.join(Path(cfg.run.work_dir).resolve(), "artifacts", task.stage, name)
    dataset = task.dataset(cfg, store)
    if task.source is not None:                      # bucketed: each worker streams its own planned batches
        log_data_accounting(cfg, run_id, task)
        datasets, data_config = {}, ray.train.DataConfig(datasets_to_split=[])
    else:
        ctx = dataset.context
        ctx.execution_options.preserve_order = True  # deterministic order for exact resume
        # context parallelism: every worker streams the whole dataset in the same order and keeps its data rank's
        # batches (semanticgen.parallel.mesh.data_parallel_batches), so the ranks of one sample see the same rows
        datasets = {"train": dataset}
        data_config = ray.train.DataConfig(datasets_to_split="all" if tc.context_parallel == 1 else [],
                                           execution_options=ctx.execution_options)
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"config": to_dict(cfg), "task": task, "mlflow_run_id": run_id,
                           "artifacts_dir": artifacts,
                           "fault_marker": os.path.join(root, name, ".injected_fault")},
        scaling_config=ScalingConfig(num_workers=tc.num_workers, use_gpu=tc.use_gpu,
                                     resources_per_worker={"CPU": tc.cpus_per_worker, **({"GPU": 1} if tc.use_gpu else {})}),
        torch_config=TorchConfig(backend="nccl" if tc.use_gpu else "gloo"),
        run_config=RunConfig(name=name, storage_path=root,
                             failure_config=FailureConfig(max_failures=tc.max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=tc.keep_checkpoints)),
        datasets=datasets,
        dataset_config=data_config,
    )
    result = trainer.fit()
    ckpt = result.checkpoint.path if result.checkpoint else None
    if ckpt and is_uri(root) and not is_uri(ckpt):     # Ray gives the path inside the bucket: keep the scheme
        ckpt = f"{root.split('://', 1)[0]}://{ckpt}"
    if run_id:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri(cfg))
        if ckpt:
            client.set_tag(run_id, "checkpoint_path", ckpt)
        if os.path.isdir(artifacts):
            client.log_artifacts(run_id, artifacts, artifact_path="samples")
        client.set_terminated(run_id)
    return TrainResult(ckpt, dict(result.metrics or {}), run_id, root, name)

