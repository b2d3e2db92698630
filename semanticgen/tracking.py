"""MLflow tracking: one experiment per stage, resolved config as params, rank 0 only; the training metric buffer."""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from .config import Config, flat_params


def tracking_uri(cfg: Config) -> str:
    """Config value, else ``$MLFLOW_TRACKING_URI``, else a local sqlite store under ``run.work_dir``."""
    if cfg.mlflow.tracking_uri:
        return cfg.mlflow.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    db = Path(cfg.run.work_dir).resolve() / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def experiment_name(cfg: Config, stage: str) -> str:
    return f"{cfg.mlflow.experiment_prefix}/{stage}"


@contextlib.contextmanager
def mlflow_run(cfg: Config, stage: str, run_name: Optional[str] = None, run_id: Optional[str] = None,
               log_system_metrics: bool = False) -> Iterator[Optional[object]]:
    """Start (or resume, given ``run_id``) an MLflow run for ``stage`` with the resolved config as params.

    Yields the ``mlflow`` module (or ``None`` when tracking is disabled).
    """
    if not cfg.mlflow.enabled:
        yield None
        return
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg))
    mlflow.set_experiment(experiment_name(cfg, stage))
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else (run_name or cfg.run.name),
                          log_system_metrics=log_system_metrics):
        if run_id is None:
            params = flat_params(cfg)
            items = list(params.items())
            for i in range(0, len(items), 90):   # MLflow caps params per batch call
                mlflow.log_params({k: ("" if v is None else str(v)[:500]) for k, v in items[i:i + 90]})
        yield mlflow


def ui_hint(cfg: Config) -> str:
    return f"mlflow ui --backend-store-uri {tracking_uri(cfg)}"


class MetricBuffer:
    """Rank-0 training metrics, buffered and flushed into the (driver-created) MLflow run at checkpoint commits,
    so a restarted run never logs a step twice; plus MLflow system metrics of the rank-0 worker."""

    def __init__(self, cfg: Config, run_id: Optional[str], enabled: bool):
        self.rows: List[tuple] = []
        self.client = None
        self.run_id = run_id
        self.monitor = None
        if enabled and run_id:
            from mlflow.tracking import MlflowClient

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
