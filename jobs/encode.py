"""Features stage on an existing clip store: captions, Qwen2.5-VL semantic features, Wan VAE latents,
text embeddings → ``STORE/features``.

    python -m jobs.encode --config tiny --store STORE [--models DIR] [overrides...]

``--models DIR`` points at local model folders (e.g. built by ``python -m semanticgen.encoders.tiny_models``);
real weights: ``features.qwen_vl=Qwen/Qwen2.5-VL-3B-Instruct`` etc. (local dirs or hub names).
"""
from __future__ import annotations

from jobs.cli import base_parser, parse, run_main
from semanticgen.ray_helpers import init_ray
from semanticgen.tracking import mlflow_run


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--store", required=True)
    p.add_argument("--models", default=None, help="folder with local models (sets features.models_dir)")
    args, cfg = parse(p, argv, extra=lambda a: [f"features.models_dir={a.models}"] if a.models else [])
    from pipelines.encode import run_encode

    init_ray(cfg)
    with mlflow_run(cfg, "features", run_name=f"features-{cfg.run.name}") as mlf:
        s = run_encode(cfg, args.store)
        if mlf is not None:
            mlf.log_metrics({"clips": s.clips, "computed": s.written, "failed": s.failed, "wall_s": s.wall_s,
                             "clips_per_s": s.written / max(s.wall_s, 1e-9)})
    print("== features summary ==")
    for line in s.lines():
        print(line)
    return 0 if s.written + (s.clips - s.todo) > 0 or s.clips == 0 else 1


if __name__ == "__main__":
    run_main(main)
