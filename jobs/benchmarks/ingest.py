"""Ingest throughput vs one plain decode pass of the same file (video-seconds per wall-second).

    python -m jobs.benchmark ingest [--video PATH] [--config tiny] [overrides...]

``ratio_to_decode`` = ingest throughput / plain single-threaded decode throughput; ≥ 0.5 means
the source is decoded about once. Ray start-up is excluded (reported separately).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import av


def plain_decode_s(path: str) -> float:
    t0 = time.perf_counter()
    with av.open(path) as c:
        for _ in c.decode(c.streams.video[0]):
            pass
    return time.perf_counter() - t0


def looped_copy(src: str, dst: str, loops: int) -> str:
    """Concatenate ``src`` ``loops`` times by stream copy (no re-encode): a longer real clip."""
    with av.open(src) as inp, av.open(dst, "w") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist)
        packets = [p for p in inp.demux(ist) if p.dts is not None]
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.pts for p in packets)
        for k in range(loops):
            for p in packets:
                p.stream = ost
                p.pts, p.dts = p.pts + (span if k else 0), p.dts + (span if k else 0)
                out.mux(p)
    return dst


def main(argv=None) -> int:
    from jobs.cli import setup_env
    from semanticgen.config import load_config
    from semanticgen.ray_helpers import init_ray
    from semanticgen.samples import sample_videos
    from semanticgen.video.probe import probe

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--video", default=None)
    p.add_argument("--loops", type=int, default=1, help="concatenate the video N times (stream copy)")
    p.add_argument("--config", default="tiny")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    setup_env()
    cfg = load_config(args.config, ["mlflow.enabled=false", "ray.progress_bars=false", *args.overrides])
    video = args.video or str(sample_videos()["movie"])
    tmpdir = tempfile.TemporaryDirectory()
    if args.loops > 1:
        video = looped_copy(video, f"{tmpdir.name}/looped.mp4", args.loops)
    dur = probe(video).duration_s
    from pipelines.ingest import run_ingest

    t0 = time.perf_counter()
    init_ray(cfg)
    ray_s = time.perf_counter() - t0
    plain = min(plain_decode_s(video) for _ in range(2))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        s = run_ingest(cfg, [video], d)
        ingest = time.perf_counter() - t0
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))
    rows = [("plain decode (1 thread)", plain, dur / plain), ("ingest (probe+detect+pack+write)", ingest, dur / ingest)]
    print(f"video: {video} ({dur:.1f}s), Ray CPUs: {cpus}, ray.init: {ray_s:.1f}s (excluded), clips: {s.clips}")
    print(f"{'pass':36s} {'wall_s':>8s} {'video_s/wall_s':>15s}")
    for name, w, r in rows:
        print(f"{name:36s} {w:8.2f} {r:15.1f}")
    print(f"ingest: ratio_to_decode={(dur / ingest) / (dur / plain):.2f} video_s_per_s={dur / ingest:.1f} "
          f"decode_video_s_per_s={dur / plain:.1f}")
    return 0
