"""Shared entrypoint plumbing: ``--config`` + dotted overrides, logging, exit codes, and the pieces
several jobs share (the ``--models DIR`` flag, the body of the two training jobs). Jobs import this
module, never each other.

Every job is ``python -m jobs.<name> --config <preset|file.yaml> [key.sub=value ...] [job flags]``.
The config is loaded and validated before any work starts; a bad value exits 2
with the dotted field named. ``--dry-run`` stops right there: flags and config checked, the resolved
config printed as YAML, exit 0, nothing started (check a ``ray job submit`` line before a long run).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, List, Optional, Sequence

from semanticgen.config import Config, ConfigError, load_config


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", default="tiny", help="preset name (tiny|short|long) or a YAML file")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. ingest.max_clip_s=5")
    p.add_argument("--dry-run", action="store_true",
                   help="check the flags and the config, print the resolved config, start nothing")
    return p


def add_models_flag(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--models DIR``: a folder of local models; relative model names resolve inside it."""
    p.add_argument("--models", default=None, help="folder with local models (sets features.models_dir)")
    return p


def models_override(args: argparse.Namespace) -> list:
    """The config override that ``--models DIR`` stands for."""
    return [f"features.models_dir={args.models}"] if getattr(args, "models", None) else []


def setup_env() -> None:
    """Environment defaults for every job (no hub at run time unless the user says so)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")        # no model hub at run time (README: real weights)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    logging.basicConfig(level=os.environ.get("SEMANTICGEN_LOG", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def parse(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]] = None,
          extra: Optional[Callable[[argparse.Namespace], list]] = None,
          check: Optional[Callable[[argparse.Namespace, Config], Optional[str]]] = None,
          plan: Optional[Callable[[Config], List[str]]] = None):
    """Parse CLI args and load the config (plus ``extra(args)`` overrides derived from job flags);
    exit 2 naming the field on a bad config, or with ``check(args, cfg)``'s message on bad flags.
    With ``--dry-run``, print the resolved config (and ``plan(cfg)``'s lines) and exit 0."""
    setup_env()
    args = parser.parse_intermixed_args(argv)    # overrides may come before or after the flags
    try:
        cfg = load_config(args.config, [*args.overrides, *(extra(args) if extra else [])])
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
    problem = check(args, cfg) if check else None
    if problem:
        parser.error(problem)
    if getattr(args, "dry_run", False):
        import yaml

        from semanticgen.config import to_dict

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        for line in plan(cfg) if plan else []:
            print(line)
        print(f"dry run: {parser.prog} arguments and config are valid; nothing started")
        raise SystemExit(0)
    return args, cfg


def train_parser(doc: str) -> argparse.ArgumentParser:
    p = base_parser(doc)
    p.add_argument("--store", required=True)
    p.add_argument("--name", required=True, help="run name: same name = resume")
    return add_models_flag(p)


def training_checks(stage: str):
    """(check, plan) for :func:`parse`: the stage's ``pretrained`` weights checked from their file headers (exit 2
    with the counts before any Ray work), and the resolved parallel/memory plan for ``--dry-run``."""
    from semanticgen.models.build import check_pretrained
    from semanticgen.parallel.plan import plan_problem, training_plan

    return ((lambda args, cfg: plan_problem(cfg, stage) or check_pretrained(cfg, stage)),
            (lambda cfg: training_plan(cfg, stage)))


def run_training_job(doc: str, make_task, argv=None) -> int:
    """Shared body of the training jobs: parse, start/join Ray, train ``make_task()``, report."""
    check, plan = training_checks(make_task.stage)
    args, cfg = parse(train_parser(doc), argv, extra=models_override, check=check, plan=plan)
    from pipelines.train.run import run_training
    from semanticgen.ray_helpers import init_ray
    from semanticgen.tracking import ui_hint

    init_ray(cfg)
    result = run_training(cfg, make_task(), args.store, args.name)
    print(f"== {result.name} ==")
    print(f"final metrics: { {k: round(v, 5) for k, v in result.metrics.items() if isinstance(v, float)} }")
    print(f"checkpoint: {result.checkpoint_path}")
    print(f"MLflow run: {result.mlflow_run_id}   UI: {ui_hint(cfg)}")
    return 0


def run_main(fn: Callable[[], int]) -> None:
    try:
        code = fn()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    raise SystemExit(code or 0)


__all__ = ["Config", "add_models_flag", "base_parser", "models_override", "parse", "run_main", "run_training_job",
           "setup_env", "train_parser"]
