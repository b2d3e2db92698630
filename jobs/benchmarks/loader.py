"""Stage-1 training-loop throughput: bucketed batches streamed from the feature store through Ray Data vs the same
batches pre-loaded as tensors.

    python -m jobs.benchmark loader [--rows 256] [--steps 60] [--batch 4] [--buckets 1|4|1,4] [--repeats 3]
                                    [--store STORE] [overrides...]

Without ``--store`` a store of random tiny-shaped feature rows is written first, its rows spread over ``--buckets``
shape buckets (1: every clip 33 frames at 48×80; 4: also 33 at 80×48, 17 at 48×144 and 57 at 48×48, all with the
same tokens per clip). Both loops run the
same Stage-1 model steps (forward, backward, AdamW) on the driver over the same planned batches (the task's own
``BucketedSource``: one bucket per batch, buckets interleaved), alternately ``--repeats`` times, the best run of
each counting; ``ratio`` = streaming / pre-loaded samples/s.
``--buckets 1,4`` builds both stores and alternates all four loops in one process: ``buckets_4_vs_1_tokens`` is the
streaming tokens/s over four buckets relative to one (the cost of bucketing).
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


def loops(cfg, store: str, steps: int) -> dict:
    """The two inputs of one store: name → (batch iterator factory, model, optimizer)."""
    from pipelines.train.stage1 import LatentTask
    from semanticgen.models.build import Stage1Model

    task = LatentTask(null_text=torch.zeros(1, 32))
    source = task.dataset(cfg, store)

    def streamed():
        return (batch for _, _, batch in source.batches(0, 0, steps + 2, task.collate, prefetch=4))

    pre = list(streamed())                                  # the same planned batches, in memory
    out = {}
    for name, gen in (("pre-loaded tensors", lambda: iter(pre)), ("Ray Data streaming", streamed)):
        torch.manual_seed(0)
        model = Stage1Model(cfg)
        out[name] = (gen, model, torch.optim.AdamW(model.parameters(), lr=1e-4))
    return out


def main(argv=None) -> int:
    import ray

    from semanticgen.config import load_config
    from semanticgen.ray_helpers import init_ray

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--buckets", default="1", help="bucket count(s) of the synthetic store, e.g. 4 or 1,4 (compared "
                                                   "in one process, runs alternating)")
    p.add_argument("--store", default=None)
    p.add_argument("--repeats", type=int, default=3, help="alternating runs of every loop; the best of each counts")
    p.add_argument("overrides", nargs="*", help="config overrides on the tiny preset, e.g. ray.read_cpus=1")
    a = p.parse_args(argv)
    counts = [int(x) for x in a.buckets.split(",")]
    if not all(1 <= n <= len(BUCKETS) for n in counts):
        p.error(f"--buckets: counts from 1 to {len(BUCKETS)}")
    cfg = load_config("tiny", ["mlflow.enabled=false", "ray.progress_bars=false", "train.text_dropout=0.1",
                               f"train.batch_size={a.batch}", *a.overrides])
    init_ray(cfg)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        stores = {n: a.store or f"{d}/b{n}" for n in counts[:1 if a.store else None]}
        for n, store in stores.items():
            if not a.store:
                synthetic_store(store, a.rows, n)
        runs = {(n, name): loop for n, store in stores.items() for name, loop in loops(cfg, store, a.steps).items()}
        rates = {k: (0.0, 0.0) for k in runs}
        for _ in range(a.repeats):            # alternating, best of N: robust to other load on the machine
            for k, (gen, model, opt) in runs.items():
                rates[k] = max(rates[k], run_steps(model, opt, gen(), a.steps))
    print(f"stage-1 tiny loop, batch <= {a.batch}, {a.steps} steps, best of {a.repeats}, "
          f"{int(ray.cluster_resources().get('CPU', 0))} Ray CPUs")
    print(f"{'buckets':>7s} {'input':22s} {'samples/s':>10s} {'tokens/s':>10s}")
    for (n, name), (smp, tok) in rates.items():
        print(f"{n:7d} {name:22s} {smp:10.1f} {tok:10.0f}")
    n = list(stores)[-1]
    stream, pre = rates[(n, "Ray Data streaming")], rates[(n, "pre-loaded tensors")]
    extra = ""
    if len(stores) > 1:
        first = rates[(list(stores)[0], "Ray Data streaming")]
        extra = f" buckets_{n}_vs_{list(stores)[0]}_tokens={stream[1] / first[1]:.2f}"
    print(f"loader: ratio={stream[0] / pre[0]:.2f} samples_per_s={stream[0]:.1f} tokens_per_s={stream[1]:.0f} "
          f"buckets={n}{extra}")
    return 0
