"""Stage 2: train the semantic DiT (text → compressed semantic features) on ``STORE/z_sem`` (Ray Train).

    python -m jobs.train_semantic --config tiny --store STORE --name run1 [overrides...]

Run ``jobs.encode_semantic`` first. Re-running with the same ``--name`` resumes.
"""
from __future__ import annotations

from jobs.cli import run_main, run_training_job


def main(argv=None) -> int:
    from pipelines.train.stage2 import SemanticTask

    return run_training_job(__doc__, SemanticTask, argv)


if __name__ == "__main__":
    run_main(main)
