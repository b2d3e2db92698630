"""Stage-1 training-loop throughput: streaming the feature store through Ray Data vs pre-loaded tensors.

    python -m jobs.benchmark loader [--rows 256] [--steps 60] [--batch 4] [--store STORE] [overrides...]

Without ``--store`` a store of random tiny-shaped feature rows is written first. Both loops run the same
Stage-1 model steps (forward, backward, AdamW) on the driver; ``ratio`` = streaming / pre-loaded samples/s.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch


def synthetic_store(path: str, rows: int) -> None:
    from semanticgen.store.table import Table
    from semanticgen.store.tensor_columns import pack

    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(rows):
        out.append({"clip_id": f"c{i:05d}", "source_uri": "synthetic", "start_s": 0.0, "end_s": 4.0,
                    "caption": "synthetic", "caption_source": "provided",
                    **pack("sem", torch.randn(3, 3, 5, 64, generator=g)), "sem_fps": 1.6,
                    **pack("latents", torch.randn(16, 9, 6, 10, generator=g)), "vae_fps": 8.0, "vae_frames": 33,
                    "vae_height": 48, "vae_width": 80, **pack("text", torch.randn(8, 32, generator=g)), "text_len": 8})
    t = Table(path, "features")
    for k in range(0, rows, 16):
        t.write_part(f"part{k:05d}", out[k:k + 16])


def run_steps(model, opt, batches, steps: int) -> float:
    n, t0 = 0, None
    for i, b in enumerate(batches):
        if i == 2:
            t0, n = time.perf_counter(), 0          # skip warm-up batches
        loss, _, _ = model(b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += b["latents"].shape[0]
        if i + 1 >= steps:
            break
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    import ray

    from pipelines.train.stage1 import LatentTask
    from semanticgen.models.build import Stage1Model
    from semanticgen.config import load_config
    from semanticgen.ray_helpers import init_ray

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--store", default=None)
    p.add_argument("overrides", nargs="*", help="config overrides on the tiny preset, e.g. ray.read_cpus=1")
    a = p.parse_args(argv)
    cfg = load_config("tiny", ["mlflow.enabled=false", "ray.progress_bars=false", "train.text_dropout=0.1",
                               *a.overrides])
    init_ray(cfg)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        store = a.store or d
        if not a.store:
            synthetic_store(store, a.rows)
        task = LatentTask(null_text=torch.zeros(1, 32))
        ds = task.dataset(cfg, store)

        def streamed():
            while True:
                yield from ds.iter_torch_batches(batch_size=a.batch, collate_fn=task.collate, drop_last=True,
                                                 prefetch_batches=4)

        pre = [task.collate(b) for b in ds.iter_batches(batch_size=a.batch, drop_last=True, batch_format="numpy")]

        def preloaded():
            while True:
                yield from pre

        rates = {}
        for name, gen in (("pre-loaded tensors", preloaded), ("Ray Data streaming", streamed)):
            torch.manual_seed(0)
            model = Stage1Model(cfg)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            rates[name] = run_steps(model, opt, gen(), a.steps)
    print(f"stage-1 tiny loop, batch {a.batch}, {a.steps} steps, {int(ray.cluster_resources().get('CPU', 0))} Ray CPUs")
    print(f"{'input':22s} {'samples/s':>10s}")
    for k, v in rates.items():
        print(f"{k:22s} {v:10.1f}")
    print(f"loader: ratio={rates['Ray Data streaming'] / rates['pre-loaded tensors']:.2f}")
    return 0
