"""Stage 1: train the latent DiT and the semantic compressor jointly on ``STORE/features`` (Ray Train).

    python -m jobs.train_latent --config tiny --store STORE --name run1 [--models DIR] [overrides...]

Re-running with the same ``--name`` resumes from the latest checkpoint and continues the same MLflow run.
"""
from __future__ import annotations

from jobs.cli import run_main, run_training_job


def main(argv=None) -> int:
    from pipelines.train.stage1 import LatentTask

    return run_training_job(__doc__, LatentTask, argv)


if __name__ == "__main__":
    run_main(main)
