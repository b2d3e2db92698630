"""Stage 2: train the semantic DiT (text → compressed semantic features) on ``STORE/z_sem`` (Ray Train).

    python -m jobs.train_semantic --config tiny --store STORE --name run1 [overrides...]

Run ``jobs.encode_semantic`` first. Re-running with the same ``--name`` resumes.
"""
from __future__ import annotations

from jobs.cli import parse, run_main
from jobs.train_latent import models_override, report, train_parser
from semanticgen.ray_helpers import init_ray


def main(argv=None) -> int:
    args, cfg = parse(train_parser(__doc__), argv, extra=models_override)
    from pipelines.train.run import run_training
    from pipelines.train.stage2 import SemanticTask

    init_ray(cfg)
    report(run_training(cfg, SemanticTask(), args.store, args.name), cfg)
    return 0


if __name__ == "__main__":
    run_main(main)
