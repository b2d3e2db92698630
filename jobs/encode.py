"""Features stage on an existing clip store: captions, Qwen2.5-VL semantic features, Wan VAE latents,
text embeddings → ``STORE/features``.

    python -m jobs.encode --config tiny --store STORE [--models DIR] [--captions FILE] [overrides...]

``--models DIR`` points at local model folders (e.g. built by ``python -m jobs.tiny_models``);
real weights: ``features.qwen_vl=Qwen/Qwen2.5-VL-3B-Instruct`` etc. (local dirs or hub names).
``--captions FILE`` (JSONL/CSV/Parquet with ``clip_id``, ``caption``) gives clips their own captions, which
the captioner then skips.
"""
from __future__ import annotations

import sys

from jobs.cli import add_models_flag, base_parser, models_override, parse, run_main
from semanticgen.ray_helpers import init_ray
from semanticgen.tracking import mlflow_run


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--store", required=True)
    add_models_flag(p)
    p.add_argument("--captions", default=None, help="sidecar of clip_id → caption (.jsonl, .csv, .parquet)")
    args, cfg = parse(p, argv, extra=models_override)
    from pipelines.encode import run_encode
    from semanticgen.store.captions import read_captions

    try:
        captions = read_captions(args.captions) if args.captions else None   # a bad file fails before work
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    init_ray(cfg)
    with mlflow_run(cfg, "features", run_name=f"features-{cfg.run.name}") as mlf:
        s = run_encode(cfg, args.store, captions)
        if mlf is not None:
            mlf.log_metrics({"clips": s.clips, "computed": s.written, "failed": s.failed, "wall_s": s.wall_s,
                             "clips_per_s": s.written / max(s.wall_s, 1e-9), "captions_given": s.captions_given})
    print("== features summary ==")
    for line in s.lines():
        print(line)
    return 0 if s.written + (s.clips - s.todo) > 0 or s.clips == 0 else 1


if __name__ == "__main__":
    run_main(main)
