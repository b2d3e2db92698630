"""MLflow tracking: one experiment per stage, resolved config as params, rank 0 only."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Optional

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
