"""Seconds per video when an actor runs B prompts as one DiT batch vs the same prompts one by one.

    python -m jobs.benchmark generate_batch [--bs 1,2,4,8] [--threads 1] [overrides...]

Tiny models (built from the real config classes) and randomly initialised stage-1/stage-2 checkpoints
written in the real checkpoint format, loaded by ``SemanticGenPipeline`` as generation does. Both paths
decode every video and write its mp4. Last line: ``generate_batch: speedup_B<max>=...`` (one-by-one
seconds per video / batched seconds per video).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time


def random_checkpoints(cfg, root: str):
    import torch
    from safetensors.torch import save_file

    from semanticgen.models.build import Stage1Model, Stage2Model
    from semanticgen.models.checkpoint import MODEL

    torch.manual_seed(0)
    paths = []
    for name, model in (("latent", Stage1Model(cfg)), ("semantic", Stage2Model(cfg))):
        d = os.path.join(root, name)
        os.makedirs(d)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(d, MODEL))
        paths.append(d)
    return paths


def main(argv=None) -> int:
    import torch

    from semanticgen.config import load_config
    from semanticgen.encoders.tiny_models import build_all
    from semanticgen.inference.pipeline import SemanticGenPipeline

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bs", default="1,2,4,8")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("overrides", nargs="*", help="config overrides on the tiny preset")
    a = p.parse_args(argv)
    bs = [int(b) for b in a.bs.split(",")]
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as d:
        build_all(os.path.join(d, "models"))
        cfg = load_config("tiny", [f"features.models_dir={d}/models", *a.overrides])
        gc = cfg.generate
        pipe = SemanticGenPipeline(cfg, *random_checkpoints(cfg, d))
        prompts = [f"prompt number {i}: a boat on a lake, wide shot" for i in range(max(bs))]
        pipe.generate(prompts[0], f"{d}/warm.mp4", 0, gc.num_frames, gc.height, gc.width)    # warm-up
        rows = []
        for b in bs:
            t0 = time.perf_counter()
            for i in range(b):
                pipe.generate(prompts[i], f"{d}/one-{b}-{i}.mp4", i, gc.num_frames, gc.height, gc.width)
            one = (time.perf_counter() - t0) / b
            t0 = time.perf_counter()
            pipe.generate_batch(prompts[:b], [f"{d}/bat-{b}-{i}.mp4" for i in range(b)], list(range(b)),
                                gc.num_frames, gc.height, gc.width)
            rows.append((b, one, (time.perf_counter() - t0) / b))
    print(f"tiny models, {gc.num_frames} frames {gc.height}x{gc.width}, {a.threads} thread(s), "
          f"{cfg.models.flow.steps} steps, CFG on")
    print(f"{'B':>3s} {'one-by-one s/video':>19s} {'batched s/video':>16s} {'speedup':>8s}")
    for b, one, bat in rows:
        print(f"{b:3d} {one:19.3f} {bat:16.3f} {one / bat:8.2f}")
    b, one, bat = rows[-1]
    print(f"generate_batch: speedup_B{b}={one / bat:.2f}")
    return 0
