"""Ingest movies/episodes into scene-aware ≤ max_clip_s clips: ``STORE/clips`` + ``STORE/errors``.

    python -m jobs.ingest --config tiny --input PATH_OR_GLOB_OR_URI ... --output STORE [overrides]

Exit 0 when at least one input has clips (failures are reported), 1 otherwise.
"""
from __future__ import annotations

import logging

from jobs.cli import base_parser, parse, run_main
from semanticgen.ray_helpers import init_ray
from semanticgen.tracking import mlflow_run

log = logging.getLogger("semanticgen.ingest")


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--input", nargs="+", required=True, help="files, folders, globs or s3://, gs:// URIs")
    p.add_argument("--output", required=True, help="store root (local dir or s3://, gs:// URI)")
    args, cfg = parse(p, argv)
    from pipelines.ingest import run_ingest

    init_ray(cfg)
    with mlflow_run(cfg, "ingest", run_name=f"ingest-{cfg.run.name}") as mlf:
        summary = run_ingest(cfg, args.input, args.output)
        if mlf is not None:
            mlf.log_metrics({"sources": summary.inputs, "sources_ok": summary.sources_ok,
                             "sources_failed": summary.sources_failed, "clips": summary.clips,
                             "video_hours": summary.video_s / 3600, "wall_s": summary.wall_s,
                             "video_s_per_wall_s": summary.processed_video_s / max(summary.wall_s, 1e-9)})
    print("== ingest summary ==")
    for line in summary.lines():
        print(line)
    return 0 if summary.sources_ok > 0 else 1


if __name__ == "__main__":
    run_main(main)
