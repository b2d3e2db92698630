"""Evaluation throughput of the weight-free metrics on CPU: videos/s per setting, in one process.

    python -m jobs.benchmark evaluate [--videos N] [--size HxW] [--fps F] [--frames T] [--long-frames T]
                                      [--metrics m1,m2] [--no-reencode]

Writes ``--videos`` synthetic mp4s (a panning texture) of ``--frames`` frames (short setting) and of
``--long-frames`` frames (long setting: VBench-Long clips, re-encoded unless ``--no-reencode``), then times
``VideoEvaluator.evaluate_path`` (decode + metrics + drift) on each; model loading is not involved (no weights).
Defaults are the demo's videos (48x80, 17 and 65 frames at 8 fps).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import List, Tuple

import numpy as np


def make_videos(root: str, n: int, frames: int, hw: Tuple[int, int], fps: float, tag: str) -> List[str]:
    from semanticgen.video.mp4 import write_video

    h, w = hw
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        tex = np.kron(rng.integers(0, 256, (h // 8 + 1, (w + frames) // 8 + 2, 3), dtype=np.uint8),
                      np.ones((8, 8, 1), np.uint8))
        video = np.stack([tex[:h, t:t + w] for t in range(frames)])
        paths.append(str(write_video(os.path.join(root, f"{tag}_{i}.mp4"), video, fps=fps)))
    return paths


def time_setting(args, root: str, tag: str, frames: int, long: bool) -> Tuple[float, float]:
    from semanticgen.config import load_config
    from semanticgen.metrics import VideoEvaluator

    paths = make_videos(root, args.videos, frames, args.hw, args.fps, tag)
    ov = [f"evaluate.metrics=[{args.metrics}]", f"evaluate.long_split_s={0 if long else 'null'}",
          f"evaluate.long_reencode={str(not args.no_reencode).lower()}"]
    ev = VideoEvaluator(load_config("tiny", ov).evaluate)
    t0 = time.perf_counter()
    rows = [ev.evaluate_path(p) for p in paths]
    secs = time.perf_counter() - t0
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows]
    return secs, rows[0]["clips"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--size", default="48x80", help="HxW")
    p.add_argument("--fps", type=float, default=8.0)
    p.add_argument("--frames", type=int, default=17)
    p.add_argument("--long-frames", type=int, default=65)
    p.add_argument("--metrics", default="temporal_flickering,linear_interp_smoothness")
    p.add_argument("--no-reencode", action="store_true")
    args = p.parse_args(argv)
    args.hw = tuple(int(v) for v in args.size.lower().split("x"))
    print(f"{'setting':8s} {'videos':>6s} {'frames':>6s} {'size':>9s} {'clips':>5s} {'s/video':>8s} "
          f"{'videos/s':>9s} {'frames/s':>9s}")
    rates = {}
    with tempfile.TemporaryDirectory(prefix="sg-bench-eval-") as root:
        for setting, frames in (("short", args.frames), ("long", args.long_frames)):
            secs, clips = time_setting(args, root, setting, frames, setting == "long")
            rates[setting] = args.videos / secs
            print(f"{setting:8s} {args.videos:6d} {frames:6d} {args.size:>9s} {clips:5d} {secs / args.videos:8.3f} "
                  f"{rates[setting]:9.2f} {rates[setting] * frames:9.0f}")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"evaluate: short_videos_per_s={rates['short']:.2f} long_videos_per_s={rates['long']:.2f}")
    return 0
