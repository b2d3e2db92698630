"""Ray Data generation: prompts → mp4 (one actor per model replica, models loaded once per actor)."""
from __future__ import annotations

import json
import os
import re
from typing import List, Optional

import pandas as pd

from semanticgen.config import Config


def read_prompts(path: str, cfg: Config) -> List[dict]:
    """One prompt per line, or JSONL objects with ``prompt`` and optional ``seed``, ``num_frames``,
    ``height``, ``width``, ``long`` (true → the long length and Swin attention)."""
    gc = cfg.generate
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(l for l in f if l.strip()):
            line = line.strip()
            item = json.loads(line) if line.startswith("{") else {"prompt": line}
            if not isinstance(item.get("prompt"), str):
                raise ValueError(f"{path}: line {i + 1} has no string 'prompt'")
            long = bool(item.get("long", False))
            rows.append({"index": i, "prompt": item["prompt"], "seed": int(item.get("seed", gc.seed + i)),
                         "num_frames": int(item.get("num_frames", gc.long_num_frames if long else gc.num_frames)),
                         "height": int(item.get("height", gc.height)), "width": int(item.get("width", gc.width)),
                         "long": long})
    return rows


def slug(text: str, n: int = 40) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:n].lower() or "video"


class GenerateStage:
    def __init__(self, cfg: Config, latent_ckpt: str, semantic_ckpt: Optional[str], out_dir: str):
        import torch

        from semanticgen.inference.pipeline import SemanticGenPipeline

        device = "cuda" if cfg.generate.num_gpus > 0 and torch.cuda.is_available() else "cpu"
        if device == "cpu":      # a fixed thread count keeps CPU float reductions (and so videos) reproducible
            torch.set_num_threads(max(1, int(cfg.generate.num_cpus)))
        self.pipe = SemanticGenPipeline(cfg, latent_ckpt, semantic_ckpt, device)
        self.out_dir = out_dir

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = []
        for r in batch.to_dict("records"):
            path = os.path.join(self.out_dir, f"{r['index']:04d}-{slug(r['prompt'])}-seed{r['seed']}.mp4")
            try:
                info = self.pipe.generate(r["prompt"], path, r["seed"], r["num_frames"], r["height"], r["width"],
                                          long=r["long"])
                out.append({**r, **info, "error": None})
            except Exception as e:  # noqa: BLE001 - one bad prompt does not stop the others
                out.append({**r, "path": None, "frames": 0, "attention": None, "z_sem_shape": None,
                            "latent_shape": None, "error": f"{type(e).__name__}: {e}"})
        return pd.DataFrame(out)


def run_generate(cfg: Config, prompts: List[dict], out_dir: str, latent_ckpt: str,
                 semantic_ckpt: Optional[str]) -> List[dict]:
    import ray

    os.makedirs(out_dir, exist_ok=True)
    gc = cfg.generate
    ds = ray.data.from_items(prompts, override_num_blocks=max(1, len(prompts)))
    ds = ds.map_batches(GenerateStage, fn_constructor_args=(cfg, latent_ckpt, semantic_ckpt, out_dir), batch_size=1,
                        batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=gc.actors),
                        num_gpus=gc.num_gpus, num_cpus=gc.num_cpus)
    return sorted(ds.take_all(), key=lambda r: r["index"])
