"""End-to-end demo on the embedded default: local Ray, local store, local MLflow, sample movies.

    python -m jobs.demo --out demo-out [--config tiny] [overrides...]

Everything is written under ``--out``: ``store/`` (clips, errors, ...), ``mlflow.db``.
Each stage calls the same job entrypoint a user runs with ``ray job submit``.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable, List, Tuple

from jobs.cli import base_parser, parse, run_main
from semanticgen.samples import sample_videos

log = logging.getLogger("semanticgen.demo")


def stage_ingest(ctx: dict) -> None:
    from jobs import ingest

    videos = [str(p) for p in sample_videos().values()]
    if not videos:
        raise RuntimeError("no sample videos found: install the dev extra (pip install -e '.[dev]')")
    code = ingest.main(["--config", ctx["config"], *ctx["overrides"], "--input", *videos,
                        "--output", ctx["store"]])
    if code != 0:
        raise RuntimeError("ingest failed")
    print_clip_summary(ctx["store"])


def print_clip_summary(store: str) -> None:
    from semanticgen.store.schema import CLIPS_SCHEMA
    from semanticgen.store.table import Table

    rows = Table(store, "clips", CLIPS_SCHEMA).read().to_pylist()
    by_src: dict = {}
    for r in rows:
        by_src.setdefault(r["source_uri"], []).append(r)
    print(f"{'source':40s} {'clips':>5s} {'seconds':>8s} {'longest':>8s} {'cuts inside':>11s}")
    for src, rs in sorted(by_src.items()):
        secs = [r["end_s"] - r["start_s"] for r in rs]
        cuts = sum(len(r["shot_boundaries_s"]) for r in rs)
        print(f"{os.path.basename(src)[:40]:40s} {len(rs):5d} {sum(secs):8.1f} {max(secs):8.1f} {cuts:11d}")


STAGES: List[Tuple[str, Callable[[dict], None]]] = [
    ("ingest", stage_ingest),
]


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--out", default="demo-out")
    args, _ = parse(p, argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    overrides = [f"run.work_dir={out}", *args.overrides]
    ctx = {"config": args.config, "overrides": overrides, "out": str(out), "store": str(out / "store")}
    timings = []
    for name, fn in STAGES:
        t0 = time.time()
        print(f"\n=== demo stage: {name} ===", flush=True)
        fn(ctx)
        timings.append((name, time.time() - t0))
    print("\n=== demo done ===")
    for name, secs in timings:
        print(f"{name:20s} {secs:7.1f}s")
    print(f"outputs under {out}")
    print(f"MLflow UI: mlflow ui --backend-store-uri sqlite:///{out}/mlflow.db")
    return 0


if __name__ == "__main__":
    run_main(main)
