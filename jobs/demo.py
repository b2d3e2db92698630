"""End-to-end demo on the embedded default: local Ray, local store, local MLflow, sample movies.

    python -m jobs.demo --out demo-out [--config tiny] [overrides...]

Stages: ingest → tiny models → features → stage 1 (latent DiT + compressor) → z_sem → stage 2 (semantic
DiT) → generate a short and a long video → evaluate them. Everything is written under ``--out``:
``store/`` (clips, errors, features, z_sem), ``models/``, ``ray_results/`` (checkpoints), ``artifacts/``,
``videos/``, ``eval/``, ``mlflow.db``. Each stage calls the same job entrypoint a user runs with
``ray job submit``; re-running skips finished work (stores) and resumes training runs by name.
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


def _run(module, args: List[str]) -> None:
    code = module.main(args)
    if code:
        raise RuntimeError(f"{module.__name__} exited with {code}")


def stage_models(ctx: dict) -> None:
    from semanticgen.encoders.tiny_models import build_all

    for name, path in build_all(ctx["models"]).items():
        print(f"{name}: {path}")


def stage_features(ctx: dict) -> None:
    from jobs import encode

    _run(encode, ["--config", ctx["config"], *ctx["overrides"], "--store", ctx["store"], "--models", ctx["models"]])


def stage_train_latent(ctx: dict) -> None:
    from jobs import train_latent

    _run(train_latent, ["--config", ctx["config"], *ctx["overrides"], "--store", ctx["store"], "--name", "demo-latent",
                        "--models", ctx["models"]])


def stage_encode_semantic(ctx: dict) -> None:
    from jobs import encode_semantic

    _run(encode_semantic, ["--config", ctx["config"], *ctx["overrides"], "--store", ctx["store"],
                           "--name", "demo-latent"])


def stage_train_semantic(ctx: dict) -> None:
    from jobs import train_semantic

    _run(train_semantic, ["--config", ctx["config"], *ctx["overrides"], "--store", ctx["store"],
                          "--name", "demo-semantic", "--models", ctx["models"]])


def stage_generate(ctx: dict) -> None:
    import json

    from jobs import generate

    prompts = os.path.join(ctx["out"], "prompts.jsonl")
    with open(prompts, "w") as f:
        f.write(json.dumps({"prompt": "A cyclist rides down a forest trail, the camera follows", "seed": 1}) + "\n")
        f.write(json.dumps({"prompt": "A long take of waves rolling onto a beach at sunset", "seed": 2,
                            "long": True}) + "\n")
    _run(generate, ["--config", ctx["config"], *ctx["overrides"], "--prompts", prompts, "--out", ctx["videos"],
                    "--latent-run", "demo-latent", "--semantic-run", "demo-semantic", "--models", ctx["models"]])


def stage_evaluate(ctx: dict) -> None:
    from jobs import evaluate

    _run(evaluate, ["--config", ctx["config"], *ctx["overrides"], "--videos", ctx["videos"],
                    "--out", os.path.join(ctx["out"], "eval")])


STAGES: List[Tuple[str, Callable[[dict], None]]] = [
    ("ingest", stage_ingest),
    ("tiny models", stage_models),
    ("features", stage_features),
    ("train latent (stage 1)", stage_train_latent),
    ("encode z_sem", stage_encode_semantic),
    ("train semantic (stage 2)", stage_train_semantic),
    ("generate", stage_generate),
    ("evaluate", stage_evaluate),
]


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--out", default="demo-out")
    args, _ = parse(p, argv)
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.5")   # Ray Train polls reports at this interval
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    overrides = [f"run.work_dir={out}", *args.overrides]
    ctx = {"config": args.config, "overrides": overrides, "out": str(out), "store": str(out / "store"),
           "models": str(out / "models"), "videos": str(out / "videos")}
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
