"""Stage-1 training-loop throughput: bucketed batches streamed from the feature store through Ray Data vs the same
batches pre-loaded as tensors.

    python -m jobs.benchmark loader [--rows 256] [--steps 60] [--batch 4] [--buckets 1|2|3|4] [--repeats 3]
                                    [--store STORE] [overrides...]

Without ``--store`` a store of random tiny-shaped feature rows is written first, its rows spread over ``--buckets``
shape buckets (1: every clip 33 frames at 48×80; 4: also 33 at 80×48, 17 at 48×144 and 57 at 48×48, all with the
same tokens per clip). Both loops run the
same Stage-1 model steps (forward, backward, AdamW) on the driver over the same planned batches (the task's own
``BucketedSource``: one bucket per batch, buckets interleaved), alternately ``--repeats`` times, the best run of
each counting; ``ratio`` = streaming / pre-loaded samples/s.
Run it once with ``--buckets 1`` and once with ``--buckets 4`` to compare one bucket against four (tokens/s).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

# (latents (C, T, H, W), Qwen features (T', H', W', D)) of the synthetic buckets: different shapes, the same
# 135 VAE + 45 z_sem tokens per clip, so tokens/s compares one bucket with four at equal cost per clip
BUCKETS = [((16, 9, 6, 10), (3, 3, 5, 64)), ((16, 9, 10, 6), (3, 5, 3, 64)), ((16, 5, 6, 18), (1, 5, 9, 64)),
           ((16, 15, 6, 6), (5, 3, 3, 64))]
KEYS = ["33x48x80", "33x80x48", "17x48x144", "57x48x48"]


def synthetic_store(path: str, rows: int, buckets: int = 1) -> None:
    from semanticgen.store.table import Table
    from semanticgen.store.tensor_columns import pack

    g = torch.Generator().manual_seed(0)
    order = torch.randperm(rows, generator=g).tolist()         # buckets mixed across the parts
    out = []
    for i in range(rows):
        b = order[i] % buckets
        lat, sem = BUCKETS[b]
        f, h, w = (int(x) for x in KEYS[b].split("x"))
        out.append({"clip_id": f"c{i:05d}", "source_uri": "synthetic", "start_s": 0.0, "end_s": 4.0,
                    "caption": "synthetic", "caption_source": "provided",
                    **pack("sem", torch.randn(*sem, generator=g)), "sem_fps": 1.6,
                    **pack("latents", torch.randn(*lat, generator=g)), "vae_fps": 8.0, "vae_frames": f,
                    "vae_height": h, "vae_width": w, **pack("text", torch.randn(8, 32, generator=g)), "text_len": 8,
                    "bucket": KEYS[b], "sem_grid": list(sem[:3]), "source_height": 1080, "source_width": 1920})
    t = Table(path, "features")
    for k in range(0, rows, 16):
        t.write_part(f"part{k:05d}", out[k:k + 16])


def run_steps(model, opt, batches, steps: int):
    """(samples/s, tokens/s) over ``steps`` training steps after 2 warm-up steps."""
    n, tokens, t0 = 0, 0, None
    for i, b in enumerate(batches):
        if i == 2:
            t0, n, tokens = time.perf_counter(), 0, 0          # skip warm-up batches
        loss, _, tok = model(b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += b["latents"].shape[0]
        tokens += int(tok)
        if i + 1 >= steps + 2:
            break
    dt = time.perf_counter() - t0
    return n / dt, tokens / dt


def main(argv=None) -> int:
    import ray

    from pipelines.train.stage1 import LatentTask
    from semanticgen.config import load_config
    from semanticgen.models.build import Stage1Model
    from semanticgen.ray_helpers import init_ray

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--buckets", type=int, default=1, choices=[1, 2, 3, 4])
    p.add_argument("--store", default=None)
    p.add_argument("--repeats", type=int, default=3, help="alternating runs of both loops; the best of each counts")
    p.add_argument("overrides", nargs="*", help="config overrides on the tiny preset, e.g. ray.read_cpus=1")
    a = p.parse_args(argv)
    cfg = load_config("tiny", ["mlflow.enabled=false", "ray.progress_bars=false", "train.text_dropout=0.1",
                               f"train.batch_size={a.batch}", *a.overrides])
    init_ray(cfg)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        store = a.store or d
        if not a.store:
            synthetic_store(store, a.rows, a.buckets)
        task = LatentTask(null_text=torch.zeros(1, 32))
        source = task.dataset(cfg, store)
        rounds = a.steps + 2

        def streamed():
            return (batch for _, _, batch in source.batches(0, 0, rounds, task.collate, prefetch=4))

        pre = [batch for batch in streamed()]                  # the same planned batches, in memory

        modes = {"pre-loaded tensors": lambda: iter(pre), "Ray Data streaming": streamed}
        models = {}
        for name in modes:
            torch.manual_seed(0)
            model = Stage1Model(cfg)
            models[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4))
        rates = {name: (0.0, 0.0) for name in modes}
        for _ in range(a.repeats):            # alternating, best of N: robust to other load on the machine
            for name, gen in modes.items():
                rates[name] = max(rates[name], run_steps(*models[name], gen(), a.steps))
    counts = source.index.counts()
    print(f"stage-1 tiny loop, batch <= {a.batch}, {a.steps} steps, {len(counts)} bucket(s) {counts}, "
          f"{int(ray.cluster_resources().get('CPU', 0))} Ray CPUs")
    print(f"{'input':22s} {'samples/s':>10s} {'tokens/s':>10s}")
    for k, (s, t) in rates.items():
        print(f"{k:22s} {s:10.1f} {t:10.0f}")
    stream, pre_s = rates["Ray Data streaming"], rates["pre-loaded tensors"]
    print(f"loader: ratio={stream[0] / pre_s[0]:.2f} samples_per_s={stream[0]:.1f} tokens_per_s={stream[1]:.0f} "
          f"buckets={len(counts)}")
    return 0
