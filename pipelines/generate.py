"""Ray Data generation: prompts → mp4 + its record ``<video>.json`` (one actor per model replica, models loaded
once per actor)."""
from __future__ import annotations

import json
import os
import re
from typing import List, Optional

import pandas as pd
import pyarrow as pa

from semanticgen.config import Config
from semanticgen.inference.record import generation_record, write_record


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
    def __init__(self, cfg: Config, latent_ckpt: str, semantic_ckpt: Optional[str], out_dir: str,
                 runs: Optional[dict] = None):
        import torch

        from semanticgen.inference.pipeline import SemanticGenPipeline

        device = "cuda" if cfg.generate.num_gpus > 0 and torch.cuda.is_available() else "cpu"
        if device == "cpu":      # a fixed thread count keeps CPU float reductions (and so videos) reproducible
            torch.set_num_threads(max(1, int(cfg.generate.num_cpus)))
        self.pipe = SemanticGenPipeline(cfg, latent_ckpt, semantic_ckpt, device)
        self.cfg, self.out_dir = cfg, out_dir
        self.runs = {**(runs or {}), "latent_checkpoint": latent_ckpt, "semantic_checkpoint": semantic_ckpt}

    def _run(self, rows: List[dict]) -> List[dict]:
        paths = [os.path.join(self.out_dir, f"{r['index']:04d}-{slug(r['prompt'])}-seed{r['seed']}.mp4") for r in rows]
        r0 = rows[0]
        infos = self.pipe.generate_batch([r["prompt"] for r in rows], paths, [r["seed"] for r in rows],
                                         r0["num_frames"], r0["height"], r0["width"], long=r0["long"])
        for r, info in zip(rows, infos):
            info["record"] = write_record(info["path"], generation_record(self.cfg, r, info, self.runs))
        return [{**r, **info, "error": None} for r, info in zip(rows, infos)]

    @staticmethod
    def _failed(r: dict, e: Exception) -> dict:
        return {**r, "path": None, "frames": 0, "attention": None, "z_sem_shape": None, "latent_shape": None,
                "z_sem_grid_from": None, "record": None, "error": f"{type(e).__name__}: {e}"}

    def _try(self, rows: List[dict]) -> List[dict]:
        try:
            return self._run(rows)
        except Exception as e:  # noqa: BLE001 - recorded as an error row
            return [self._failed(rows[0], e)]

    def __call__(self, batch: pd.DataFrame) -> pa.Table:
        """Prompts of one size run as one DiT batch; if a batch fails, its prompts are retried one by one
        so that one bad prompt does not stop the others. Arrow output keeps ``error``/``path`` nulls as
        ``None`` (pandas would turn them into NaN beside strings)."""
        groups: dict = {}
        for r in batch.to_dict("records"):
            groups.setdefault((r["num_frames"], r["height"], r["width"], r["long"]), []).append(r)
        out = []
        for rows in groups.values():
            done = self._try(rows)
            if len(rows) > 1 and done[0]["error"]:          # find the bad prompt(s): retry one by one
                done = [x for r in rows for x in self._try([r])]
            out += done
        return pa.Table.from_pylist(out)


def run_generate(cfg: Config, prompts: List[dict], out_dir: str, latent_ckpt: str,
                 semantic_ckpt: Optional[str], runs: Optional[dict] = None) -> List[dict]:
    import ray

    os.makedirs(out_dir, exist_ok=True)
    gc = cfg.generate
    ds = ray.data.from_items(prompts, override_num_blocks=max(1, -(-len(prompts) // gc.batch_size)))
    ds = ds.map_batches(GenerateStage, fn_constructor_args=(cfg, latent_ckpt, semantic_ckpt, out_dir, runs),
                        batch_size=gc.batch_size,
                        batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=gc.actors),
                        num_gpus=gc.num_gpus, num_cpus=gc.num_cpus)
    return sorted(ds.take_all(), key=lambda r: r["index"])
