"""Build the tiny random models (real config classes, real Qwen2.5 tokenizer) into a local folder.

    python -m jobs.tiny_models --out DIR [--seed N]

Writes ``DIR/qwen_vl``, ``DIR/vae`` and ``DIR/text_encoder`` (``semanticgen.encoders.tiny_models.build_all``);
the demo, the tests and ``--models DIR`` of every job load them with ``from_pretrained``. Idempotent.
"""
from __future__ import annotations

from jobs.cli import base_parser, parse, run_main


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    args, _ = parse(p, argv)
    from semanticgen.encoders.tiny_models import build_all

    for name, path in build_all(args.out, args.seed).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    run_main(main)
