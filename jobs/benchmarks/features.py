"""Features-stage throughput per stage (clips/s) and end to end, on the tiny models, CPU.

    python -m jobs.benchmark features [--video PATH] [--max-clips N] [--models DIR] [--config tiny] [overrides...]

The clips come from ingesting ``--video`` (default: the 212 s sample movie) with the preset. Each stage
(decode → caption → semantic → vae → text) runs once in-process on the same clips, batched as in the
config, with model loading excluded: its rate is one actor's clips/s. A stage's capacity is that rate
× its configured actor count; the stage with the lowest capacity bounds the pipeline. The end-to-end
rate is one ``run_encode`` through Ray Data into a fresh features table (``ray.init`` excluded; actor
start-up and model loading included). The host load average is printed: on a shared machine it inflates
every number, so compare the stages with each other rather than across runs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import List

STAGES = [("decode", "DecodeStage", "decode"), ("caption", "CaptionStage", "captioner_stage"),
          ("semantic", "SemanticStage", "semantic_stage"), ("vae", "VAEStage", "vae_stage"),
          ("text", "TextStage", "text_stage")]


def clip_rows(store: str, max_clips: int) -> List[dict]:
    from semanticgen.store.table import Table

    rows = sorted(Table(store, "clips").read().to_pylist(), key=lambda r: (r["source_uri"], r["start_s"]))
    rows = rows[:max_clips]
    for r in rows:                       # the columns run_encode adds before the stages
        r["caption_source"] = "provided" if r.get("caption") else None
        r["error"], r["error_stage"] = None, None
    return rows


def time_stages(cfg, rows: List[dict]):
    """Run every stage in-process over ``rows``; → [(name, load_s, run_s, clips, actors)], final rows."""
    import pandas as pd

    import pipelines.encode_stages as st

    out = []
    for name, cls_name, section in STAGES:
        res = getattr(cfg.features, section)
        t0 = time.perf_counter()
        stage = getattr(st, cls_name)(cfg)
        load = time.perf_counter() - t0
        done = []
        t0 = time.perf_counter()
        for i in range(0, len(rows), res.batch_size):
            done.extend(stage(pd.DataFrame(rows[i:i + res.batch_size])).to_dict("records"))
        run = time.perf_counter() - t0
        ok = sum(1 for r in done if not r.get("error"))
        out.append((name, load, run, ok, res.actors))
        rows = done
    return out, rows


def main(argv=None) -> int:
    from jobs.cli import setup_env
    from semanticgen.config import load_config
    from semanticgen.encoders.tiny_models import build_all
    from semanticgen.ray_helpers import init_ray
    from semanticgen.samples import sample_videos

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--video", default=None)
    p.add_argument("--max-clips", type=int, default=6)
    p.add_argument("--models", default=None, help="local model folder (default: build the tiny models)")
    p.add_argument("--config", default="tiny")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    setup_env()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = tempfile.mkdtemp(prefix="sg-bench-features-")
    try:
        models = args.models or build_all(os.path.join(tmp, "models")) and os.path.join(tmp, "models")
        cfg = load_config(args.config, ["mlflow.enabled=false", "ray.progress_bars=false",
                                        f"features.models_dir={models}", *args.overrides])
        video = args.video or str(sample_videos()["movie"])
        from pipelines.encode import run_encode
        from pipelines.ingest import run_ingest

        t0 = time.perf_counter()
        init_ray(cfg)
        ray_s = time.perf_counter() - t0
        store = os.path.join(tmp, "store")
        run_ingest(cfg, [video], store)
        rows = clip_rows(store, args.max_clips)
        if not rows:
            print(f"no clips from {video}")
            return 1
        stages, final = time_stages(cfg, rows)
        keep = {r["clip_id"] for r in rows}           # end to end on the same clips only
        from semanticgen.store.schema import CLIPS_SCHEMA
        from semanticgen.store.table import Table

        e2e_store = os.path.join(tmp, "e2e")
        Table(e2e_store, "clips").write_part(
            "bench", [{k: v for k, v in r.items() if k in CLIPS_SCHEMA.names} for r in rows if r["clip_id"] in keep])
        t0 = time.perf_counter()
        s = run_encode(cfg, e2e_store)
        e2e = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import ray

    n = len(rows)
    secs = sum(r["end_s"] - r["start_s"] for r in rows)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    print(f"video: {video}, clips: {n} ({secs:.0f} s of video), Ray CPUs: {cpus}, "
          f"ray.init: {ray_s:.1f}s (excluded), load avg: {os.getloadavg()[0]:.1f}, "
          f"failed in stages: {sum(1 for r in final if r.get('error'))}")
    print(f"{'stage':10s} {'load_s':>7s} {'run_s':>7s} {'clips/s/actor':>14s} {'actors':>7s} {'capacity':>9s}")
    rates = {}
    for name, load, run, ok, actors in stages:
        rate = n / max(run, 1e-9)
        rates[name] = rate * actors
        print(f"{name:10s} {load:7.2f} {run:7.2f} {rate:14.2f} {actors:7d} {rate * actors:9.2f}")
    bound = min(rates, key=rates.get)
    print(f"{'end-to-end (Ray Data)':28s} wall {e2e:6.2f}s  written {s.written}  failed {s.failed}  "
          f"clips/s {s.written / max(e2e, 1e-9):.2f}")
    print("features: " + " ".join(f"{k}_clips_per_s={v:.2f}" for k, v in rates.items())
          + f" e2e_clips_per_s={s.written / max(e2e, 1e-9):.2f} bound={bound}")
    return 0
