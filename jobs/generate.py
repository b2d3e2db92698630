"""Text → video: semantic DiT → z_sem → latent DiT → Wan VAE → mp4.

    python -m jobs.generate --config tiny --prompts prompts.txt --out DIR
        [--latent-run NAME | generate.latent_checkpoint=DIR] [--semantic-run NAME | generate.semantic_checkpoint=DIR]
        [--models DIR] [--z-sem FEATURES.pt --prompt TEXT]

Prompts: one per line, or JSONL ``{"prompt": ..., "seed": 1, "long": true, "num_frames": 65}``.
``--z-sem`` renders from given semantic features (e.g. a real clip's stored Qwen features: the paper's
stage-1 reconstruction check) instead of sampling them with the semantic DiT.
"""
from __future__ import annotations

import json
import os

from jobs.cli import add_models_flag, base_parser, models_override, parse, run_main
from semanticgen.ray_helpers import init_ray
from semanticgen.tracking import mlflow_run


def checkpoints(cfg, args):
    from pipelines.train.run import storage_root
    from semanticgen.io.checkpoints import latest_checkpoint

    lat = cfg.generate.latent_checkpoint or (args.latent_run and latest_checkpoint(storage_root(cfg), args.latent_run))
    sem = cfg.generate.semantic_checkpoint or (args.semantic_run and
                                               latest_checkpoint(storage_root(cfg), args.semantic_run))
    return lat, sem or None


def render_z_sem(cfg, args, lat, out_dir) -> dict:
    """Stage-1 reconstruction check: given semantic features → compressor μ → latent DiT → mp4."""
    import torch

    from pipelines.generate import slug
    from semanticgen.inference.pipeline import SemanticGenPipeline

    feats = torch.load(args.z_sem, weights_only=True)
    feats = feats["sem"] if isinstance(feats, dict) else feats
    pipe = SemanticGenPipeline(cfg, lat, None)
    z = pipe.compress(feats)
    gc = cfg.generate
    path = os.path.join(out_dir, f"zsem-{slug(args.prompt)}-seed{gc.seed}.mp4")
    return pipe.generate(args.prompt, path, gc.seed, gc.num_frames, gc.height, gc.width, z_sem=z)


def check_flags(args, cfg) -> str:
    if not args.prompts and not args.z_sem:
        return "give --prompts FILE or --z-sem FEATURES"
    if not (args.latent_run or cfg.generate.latent_checkpoint):
        return "give --latent-run NAME or generate.latent_checkpoint=DIR"
    return ""


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--prompts", help="text file (one prompt per line) or JSONL")
    p.add_argument("--out", required=True)
    p.add_argument("--latent-run", help="stage-1 run name (its latest checkpoint)")
    p.add_argument("--semantic-run", help="stage-2 run name (its latest checkpoint)")
    add_models_flag(p)
    p.add_argument("--z-sem", help="render from these semantic features (.pt tensor (T', H', W', D))")
    p.add_argument("--prompt", default="", help="caption used with --z-sem")
    args, cfg = parse(p, argv, extra=models_override,
                      check=check_flags)
    from pipelines.generate import read_prompts, run_generate

    lat, sem = checkpoints(cfg, args)
    if args.z_sem:
        print(json.dumps(render_z_sem(cfg, args, lat, args.out)))
        return 0
    prompts = read_prompts(args.prompts, cfg)
    init_ray(cfg)
    with mlflow_run(cfg, "generate", run_name=f"generate-{cfg.run.name}") as mlf:
        rows = run_generate(cfg, prompts, args.out, lat, sem)
        ok = [r for r in rows if not r["error"]]
        if mlf is not None:
            mlf.log_params({"latent_checkpoint": lat, "semantic_checkpoint": sem or ""})
            mlf.log_metrics({"videos": len(ok), "failed": len(rows) - len(ok)})
            for r in ok:
                mlf.log_artifact(r["path"], artifact_path="videos")
    for r in rows:
        print(f"[{r['index']}] {r['path'] or 'FAILED'} frames={r['frames']} attention={r['attention']} "
              f"z_sem={r['z_sem_shape']} {r['error'] or ''}")
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(main)
