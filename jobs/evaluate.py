"""Evaluate generated videos: VBench-style metrics + drift → ``OUT/metrics.{parquet,csv}`` and MLflow.

    python -m jobs.evaluate --config tiny --videos DIR --out DIR [--reference DIR] [overrides]
    python -m jobs.evaluate --config tiny [overrides] --compare RUN_ID RUN_ID ...   # MLflow runs side by side
    python -m jobs.evaluate --compare-dirs OUT1 OUT2 ...                            # output folders side by side

(``--compare``/``--compare-dirs`` take every following word, so put overrides before them.)

Weight-based metrics run only when ``evaluate.weights.<name>`` points to local weights;
otherwise they are listed as not computed (never faked). Exit 0 when at least one video
was scored, 1 otherwise.
"""
from __future__ import annotations

import sys
from typing import Dict, List

from jobs.cli import base_parser, parse, run_main


def compare_runs(cfg, run_ids: List[str]) -> Dict[str, Dict[str, float]]:
    """``{label: aggregate metrics}`` for MLflow runs (label: run name + short id)."""
    from mlflow.tracking import MlflowClient

    from semanticgen.tracking import tracking_uri

    client = MlflowClient(tracking_uri=tracking_uri(cfg))
    out = {}
    for rid in run_ids:
        run = client.get_run(rid)
        out[f"{run.info.run_name}:{rid[:8]}"] = dict(run.data.metrics)
    return out


def compare_dirs(dirs: List[str]) -> Dict[str, Dict[str, float]]:
    from pipelines.evaluate import dir_aggregate

    return {d: dir_aggregate(d) for d in dirs}


def _log_mlflow(mlf, result, args) -> None:
    mlf.log_params({"eval.videos_dir": args.videos, "eval.reference_dir": args.reference or ""})
    mlf.log_metrics(result.aggregate)
    if result.reference is not None:
        mlf.log_metrics({f"ref/{k}": v for k, v in result.reference.aggregate.items()})
    mlf.set_tag("not_computed", ",".join(result.not_computed) or "none")
    for path in result.files.values():
        mlf.log_artifact(str(path), artifact_path="metrics")
    if result.reference is not None:
        for path in result.reference.files.values():
            mlf.log_artifact(str(path), artifact_path="metrics/reference")


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--videos", help="folder of videos to evaluate (recursive)")
    p.add_argument("--out", help="output folder for metrics.parquet / metrics.csv")
    p.add_argument("--reference", default=None, help="folder of reference (e.g. real) videos, same metrics")
    p.add_argument("--compare", nargs="+", metavar="RUN_ID", help="print MLflow eval runs side by side")
    p.add_argument("--compare-dirs", nargs="+", metavar="DIR", help="print output folders side by side")
    args, cfg = parse(p, argv, check=lambda a, _: "" if (a.videos and a.out) or a.compare or a.compare_dirs else
                      "--videos and --out are required (or use --compare / --compare-dirs)")
    from semanticgen.metrics.report import format_comparison

    if args.compare or args.compare_dirs:
        cols = compare_runs(cfg, args.compare) if args.compare else compare_dirs(args.compare_dirs)
        print(format_comparison(cols))
        return 0

    from pipelines.evaluate import discover_videos, run_evaluate
    from semanticgen.ray_helpers import init_ray

    try:                                   # fail before starting Ray when there is nothing to evaluate
        for d in filter(None, [args.videos, args.reference]):
            discover_videos(d, cfg.evaluate.extensions)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from semanticgen.tracking import mlflow_run

    init_ray(cfg)
    with mlflow_run(cfg, "eval", run_name=f"eval-{cfg.run.name}") as mlf:
        result = run_evaluate(cfg, args.videos, args.out, args.reference)
        if mlf is not None:
            _log_mlflow(mlf, result, args)
            print(f"mlflow run: {mlf.active_run().info.run_id}")
    print("== evaluate summary ==")
    for line in result.lines():
        print(line)
    cols = {"videos": result.aggregate}
    if result.reference is not None:
        cols["reference"] = result.reference.aggregate
    print(format_comparison(cols))
    ok = result.aggregate["videos"] - result.aggregate["videos_failed"]
    return 0 if ok > 0 else 1


if __name__ == "__main__":
    run_main(main)
