"""Stage 1: train the latent DiT and the semantic compressor jointly on ``STORE/features`` (Ray Train).

    python -m jobs.train_latent --config tiny --store STORE --name run1 [--models DIR] [overrides...]

Re-running with the same ``--name`` resumes from the latest checkpoint and continues the same MLflow run.
"""
from __future__ import annotations

from jobs.cli import base_parser, parse, run_main
from semanticgen.ray_helpers import init_ray
from semanticgen.tracking import ui_hint


def train_parser(doc: str):
    p = base_parser(doc)
    p.add_argument("--store", required=True)
    p.add_argument("--name", required=True, help="run name: same name = resume")
    p.add_argument("--models", default=None, help="folder with local models (sets features.models_dir)")
    return p


def models_override(a):
    return [f"features.models_dir={a.models}"] if a.models else []


def report(result, cfg) -> None:
    print(f"== {result.name} ==")
    print(f"final metrics: { {k: round(v, 5) for k, v in result.metrics.items() if isinstance(v, float)} }")
    print(f"checkpoint: {result.checkpoint_path}")
    print(f"MLflow run: {result.mlflow_run_id}   UI: {ui_hint(cfg)}")


def run_stage(doc: str, make_task, argv=None) -> int:
    """Shared body of the training jobs: parse, start/join Ray, train ``make_task()``, report."""
    args, cfg = parse(train_parser(doc), argv, extra=models_override)
    from pipelines.train.run import run_training

    init_ray(cfg)
    report(run_training(cfg, make_task(), args.store, args.name), cfg)
    return 0


def main(argv=None) -> int:
    from pipelines.train.stage1 import LatentTask

    return run_stage(__doc__, LatentTask, argv)


if __name__ == "__main__":
    run_main(main)
