"""Materialise z_sem: the frozen stage-1 compressor over ``STORE/features`` → ``STORE/z_sem``.

    python -m jobs.encode_semantic --config tiny --store STORE (--checkpoint DIR | --name STAGE1_RUN)
"""
from __future__ import annotations

from jobs.cli import base_parser, parse, run_main
from semanticgen.ray_helpers import init_ray


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--store", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--checkpoint", help="a stage-1 checkpoint directory")
    g.add_argument("--name", help="stage-1 run name: its latest checkpoint is used")
    args, cfg = parse(p, argv)
    from pipelines.encode_semantic import run_encode_semantic
    from pipelines.train.run import storage_root
    from semanticgen.io.checkpoints import latest_checkpoint

    ckpt = args.checkpoint or latest_checkpoint(storage_root(cfg), args.name)
    init_ray(cfg)
    s = run_encode_semantic(cfg, args.store, ckpt)
    print(f"== z_sem ==\ncheckpoint: {ckpt}\nclips: {s['clips']}  computed: {s['computed']}  wall: {s['wall_s']:.1f}s")
    return 0


if __name__ == "__main__":
    run_main(main)
