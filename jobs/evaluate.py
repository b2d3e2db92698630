"""Evaluate generated videos: VBench metrics + drift per setting → ``OUT/metrics.{parquet,csv}`` and MLflow.

    python -m jobs.evaluate --config tiny --videos DIR --out DIR [--reference DIR] [--backend vbench] [overrides]
    python -m jobs.evaluate --config tiny [overrides] --compare RUN_ID RUN_ID ...   # the paper's tables, MLflow runs
    python -m jobs.evaluate --compare-dirs OUT1 OUT2 ...                            # output folders side by side

(``--compare``/``--compare-dirs`` take every following word, so put overrides before them;
``--table all`` lists every summary metric instead of the paper's layout.)

Built-in metrics run only when ``evaluate.weights.<name>`` points to local weights; ``--backend
vbench`` runs the official ``vbench`` package from ``evaluate.vbench_python`` with weights from
``evaluate.vbench_cache``. Metrics that cannot run are listed as not computed (never faked). Exit 0
when at least one video was scored, 1 when none was, 2 on bad input (before Ray starts).
"""
from __future__ import annotations

import sys
from typing import Dict, List

from jobs.cli import base_parser, parse, run_main


def compare_runs(cfg, run_ids: List[str]) -> Dict[str, Dict[str, float]]:
    """``{label: summary metrics}`` for MLflow runs (label: run name + short id)."""
    from mlflow.tracking import MlflowClient

    from semanticgen.tracking import tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri(cfg))
    out = {}
    for rid in run_ids:
        run = client.get_run(rid)
        out[f"{run.info.run_name}:{rid[:8]}"] = {k: v for k, v in run.data.metrics.items()
                                                 if not k.startswith("video/")}
    return out


def compare_dirs(dirs: List[str]) -> Dict[str, Dict[str, float]]:
    from pipelines.evaluate import dir_aggregate

    return {d: dir_aggregate(d) for d in dirs}


def print_compare(cfg, args) -> int:
    from semanticgen.metrics.paper import paper_table
    from semanticgen.metrics.report import format_comparison

    cols = compare_runs(cfg, args.compare) if args.compare else compare_dirs(args.compare_dirs)
    text = paper_table(cols) if args.table == "paper" else format_comparison(cols)
    print(text)
    if args.compare:                       # logged as a run of its own, tagged with the runs it compares
        from semanticgen.tracking import mlflow_run

        with mlflow_run(cfg, "eval", run_name=f"compare-{cfg.run.name}") as mlf:
            if mlf is not None:
                mlf.set_tag("compared_runs", ",".join(args.compare))
                mlf.log_text(text, f"compare/{args.table}_table.txt")
    return 0


def preflight(cfg, args) -> str:
    """Problems that need no Ray: missing/empty folders, a vbench python without vbench ('' if none)."""
    from pipelines.evaluate import discover_videos

    try:
        for d in filter(None, [args.videos, args.reference]):
            discover_videos(d, cfg.evaluate.extensions)
        if cfg.evaluate.backend == "vbench":
            from pipelines.evaluate_vbench import check_vbench_python

            check_vbench_python(cfg.evaluate.vbench_python)
    except (FileNotFoundError, ValueError) as e:
        return str(e)
    return ""


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--videos", help="folder of videos to evaluate (recursive, symlinked folders followed)")
    p.add_argument("--out", help="output folder for metrics.parquet / metrics.csv")
    p.add_argument("--reference", default=None, help="folder of reference (e.g. real) videos, same metrics")
    p.add_argument("--backend", choices=["builtin", "vbench"], default=None, help="sets evaluate.backend")
    p.add_argument("--compare", nargs="+", metavar="RUN_ID", help="the paper's tables for MLflow eval runs")
    p.add_argument("--compare-dirs", nargs="+", metavar="DIR", help="output folders side by side")
    p.add_argument("--table", choices=["paper", "all"], default="paper", help="layout of --compare tables")
    args, cfg = parse(p, argv, extra=lambda a: [f"evaluate.backend={a.backend}"] if a.backend else [],
                      check=lambda a, _: "" if (a.videos and a.out) or a.compare or a.compare_dirs else
                      "--videos and --out are required (or use --compare / --compare-dirs)")
    if args.compare or args.compare_dirs:
        return print_compare(cfg, args)
    problem = preflight(cfg, args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from pipelines.evaluate import run_evaluate
    from semanticgen.metrics.paper import paper_table
    from semanticgen.ray_helpers import init_ray
    from semanticgen.tracking import mlflow_run

    init_ray(cfg)
    label = f"eval-{cfg.run.name}"
    with mlflow_run(cfg, "eval", run_name=label) as mlf:
        result = run_evaluate(cfg, args.videos, args.out, args.reference)
        if mlf is not None:
            _log_mlflow(mlf, result, args, label)
            print(f"mlflow run: {mlf.active_run().info.run_id}")
    print("== evaluate summary ==")
    for line in result.lines():
        print(line)
    cols = {"videos": result.aggregate, **({"reference": result.reference.aggregate} if result.reference else {})}
    print(paper_table(cols))
    if result.scored == 0:
        print(f"error: no video in {args.videos} could be scored ({result.table.num_rows} found; "
              f"see the errors and not-computed reasons above)", file=sys.stderr)
        return 1
    return 0


def _log_mlflow(mlf, result, args, label: str) -> None:
    from semanticgen.metrics.mlflow_report import log_evaluation

    mlf.log_params({"eval.videos_dir": args.videos, "eval.reference_dir": args.reference or ""})
    log_evaluation(mlf, result, label)
    for path in result.files.values():
        mlf.log_artifact(str(path), artifact_path="metrics")
    if result.reference is not None:
        mlf.log_metrics({f"ref/{k}": v for k, v in result.reference.aggregate.items()})
        for path in result.reference.files.values():
            mlf.log_artifact(str(path), artifact_path="metrics/reference")


if __name__ == "__main__":
    run_main(main)
