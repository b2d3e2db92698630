"""Text → video: semantic DiT → z_sem → latent DiT → Wan VAE → mp4.

    python -m jobs.generate --config tiny --prompts prompts.txt --out DIR
        [--latent-run NAME | generate.latent_checkpoint=DIR] [--semantic-run NAME | generate.semantic_checkpoint=DIR]
        [--models DIR] [--z-sem FEATURES.pt --prompt TEXT]

Prompts: one per line, or JSONL ``{"prompt": ..., "seed": 1, "long": true, "num_frames": 65}``. A frame size that
no trained bucket of the checkpoint covers is refused before any work (exit 2) unless ``generate.extrapolate=true``.
Each video gets its record ``<video>.json`` beside it (also logged to MLflow).
``--z-sem`` renders from given semantic features (e.g. a real clip's stored Qwen features: the paper's
stage-1 reconstruction check) instead of sampling them with the semantic DiT.
"""
from __future__ import annotations

import json
import os
import sys

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
    from semanticgen.inference.record import generation_record, write_record

    pipe = SemanticGenPipeline(cfg, lat, None)
    z = pipe.compress(feats)
    gc = cfg.generate
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"zsem-{slug(args.prompt)}-seed{gc.seed}.mp4")
    info = pipe.generate(args.prompt, path, gc.seed, gc.num_frames, gc.height, gc.width, z_sem=z)
    request = {"prompt": args.prompt, "seed": gc.seed, "num_frames": gc.num_frames, "height": gc.height,
               "width": gc.width}
    runs = {"latent_run": args.latent_run, "latent_checkpoint": lat}
    return {**info, "record": write_record(path, generation_record(cfg, request, info, runs))}


def check_sizes(cfg, prompts, lat, sem) -> str:
    """The first prompt whose frame size no trained bucket covers (unless generate.extrapolate), as a message."""
    from semanticgen.inference.shapes import TrainedBuckets, UncoveredSize

    trained = TrainedBuckets.from_checkpoint(cfg, sem or lat)
    for p in prompts if trained is not None else ():
        try:
            trained.check(p["height"], p["width"])
        except UncoveredSize as e:
            return f"prompt {p['index'] + 1}: {e}"
    return ""


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
    problem = check_sizes(cfg, prompts, lat, sem)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    init_ray(cfg)
    with mlflow_run(cfg, "generate", run_name=f"generate-{cfg.run.name}") as mlf:
        runs = {"latent_run": args.latent_run, "semantic_run": args.semantic_run}
        rows = run_generate(cfg, prompts, args.out, lat, sem, runs)
        ok = [r for r in rows if not r["error"]]
        if mlf is not None:
            mlf.log_params({"latent_checkpoint": lat, "semantic_checkpoint": sem or ""})
            mlf.log_metrics({"videos": len(ok), "failed": len(rows) - len(ok)})
            for r in ok:
                mlf.log_artifact(r["path"], artifact_path="videos")
                mlf.log_artifact(r["record"], artifact_path="videos")
    for r in rows:
        print(f"[{r['index']}] {r['path'] or 'FAILED'} frames={r['frames']} attention={r['attention']} "
              f"z_sem={r['z_sem_shape']} {r['error'] or ''}")
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(main)
