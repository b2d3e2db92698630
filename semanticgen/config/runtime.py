"""Run-wide sections: run identity, Ray connection, MLflow tracking."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .base import check


@dataclass
class RunConfig:
    name: str = "semanticgen"
    seed: int = 0
    work_dir: str = "semanticgen-out"   # default root for stores/checkpoints when a job gets no path

    def validate(self) -> None:
        check(bool(self.name), "name", "must not be empty")


@dataclass
class RayConfig:
    address: Optional[str] = None        # None: $RAY_ADDRESS if set, else a local embedded Ray
    num_cpus: Optional[int] = None       # only for a local Ray started by the job
    temp_dir: Optional[str] = None       # only for a local Ray started by the job
    progress_bars: bool = True
    read_cpus: float = 1.0               # CPUs of each task that streams store rows (training input, z_sem)
    read_tasks: Optional[int] = None     # at most this many such reads at once (None: as the CPUs allow)

    def validate(self) -> None:
        check(self.num_cpus is None or self.num_cpus > 0, "num_cpus", "must be > 0")
        check(self.read_cpus > 0, "read_cpus", "must be > 0")
        check(self.read_tasks is None or self.read_tasks >= 1, "read_tasks", "must be >= 1 or null")


@dataclass
class MLflowConfig:
    tracking_uri: Optional[str] = None   # None: $MLFLOW_TRACKING_URI, else sqlite:///<work_dir>/mlflow.db
    experiment_prefix: str = "semanticgen"
    enabled: bool = True
