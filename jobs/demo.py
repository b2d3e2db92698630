"""End-to-end demo on the embedded default: local Ray, local store, local MLflow, sample movies.

    python -m jobs.demo --out demo-out [--config tiny] [overrides...]

Stages (``jobs.chain``): ingest → tiny models → features → stage 1 (latent DiT + compressor) → z_sem →
stage 2 (semantic DiT) → generate a short and a long video → evaluate them. Everything is written under
``--out``: ``store/`` (clips, errors, features, z_sem), ``models/``, ``ray_results/`` (checkpoints),
``videos/``, ``eval/``, ``mlflow.db``. Each stage calls, in this process, the same job entrypoint that
``jobs.submit_chain`` submits with ``ray job submit``; re-running skips finished work (stores) and resumes
training runs by name.
"""
from __future__ import annotations

import importlib
import logging
import os
import time
from pathlib import Path

from jobs.chain import chain_steps, demo_inputs, write_prompts
from jobs.cli import base_parser, parse, run_main

log = logging.getLogger("semanticgen.demo")


def print_clip_summary(store: str) -> None:
    from semanticgen.store.table import Table

    rows = Table(store, "clips").read().to_pylist()
    by_src: dict = {}
    for r in rows:
        by_src.setdefault(r["source_uri"], []).append(r)
    print(f"{'source':40s} {'clips':>5s} {'seconds':>8s} {'longest':>8s} {'cuts inside':>11s}")
    for src, rs in sorted(by_src.items()):
        secs = [r["end_s"] - r["start_s"] for r in rs]
        cuts = sum(len(r["shot_boundaries_s"]) for r in rs)
        print(f"{os.path.basename(src)[:40]:40s} {len(rs):5d} {sum(secs):8.1f} {max(secs):8.1f} {cuts:11d}")


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--out", default="demo-out")
    args, _ = parse(p, argv)
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.5")   # Ray Train polls reports at this interval
    out = Path(args.out).resolve()
    steps = chain_steps(args.config, args.overrides, str(out), demo_inputs())
    write_prompts(str(out / "prompts.jsonl"))
    timings = []
    for step in steps:
        t0 = time.time()
        print(f"\n=== demo stage: {step.name} ===", flush=True)
        code = importlib.import_module(step.module).main(list(step.args))
        if code:
            raise RuntimeError(f"{step.module} exited with {code}")
        if step.module == "jobs.ingest":
            print_clip_summary(str(out / "store"))
        timings.append((step.name, time.time() - t0))
    print("\n=== demo done ===")
    for name, secs in timings:
        print(f"{name:24s} {secs:7.1f}s")
    print(f"outputs under {out}")
    print(f"MLflow UI: mlflow ui --backend-store-uri sqlite:///{out}/mlflow.db")
    return 0


if __name__ == "__main__":
    run_main(main)
