"""Ray Data job: the frozen stage-1 compressor over stored features → ``STORE/z_sem`` (μ, log σ² per clip).

These are the targets of stage 2. Each output row also carries the caption embedding, so the semantic
DiT trains from one table. Idempotent per clip (only clips without a z_sem row are computed).
"""
from __future__ import annotations

import time
from typing import Dict

import pandas as pd
import torch

from pipelines.store_read import read_rows
from semanticgen.config import Config, config_hash
from semanticgen.models.build import compressor_input, load_compressor
from semanticgen.store.table import Table
from semanticgen.store.tensor_columns import STORE_DTYPES, pack, unpack_row


class CompressStage:
    def __init__(self, cfg: Config, checkpoint: str, store: str):
        self.cfg, self.checkpoint, self.store = cfg, checkpoint, store
        self.comp = load_compressor(cfg, checkpoint)          # EMA weights when the checkpoint has them
        self.dtype = STORE_DTYPES[cfg.features.store_dtype]

    @torch.no_grad()
    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        out = []
        vae = self.cfg.models.compressor.input == "vae"
        for r in batch.to_dict("records"):
            x = compressor_input(self.cfg, unpack_row(r, "latents").float()[None] if vae else None,
                                 None if vae else unpack_row(r, "sem").float()[None])
            mu, logvar = self.comp.encode(x[0])
            out.append({"clip_id": r["clip_id"], **pack("z_mu", mu, self.dtype), **pack("z_logvar", logvar, self.dtype),
                        "text": r["text"], "text_shape": r["text_shape"], "text_dtype": r["text_dtype"],
                        "text_len": r["text_len"], "checkpoint": self.checkpoint, "bucket": r.get("bucket")})
        Table(self.store, "z_sem").write_rows(out)
        return pd.DataFrame([{"written": len(out)}])


def run_encode_semantic(cfg: Config, store: str, checkpoint: str) -> Dict[str, float]:
    import ray

    t0 = time.time()
    feats = Table(store, "features")
    z = Table(store, "z_sem")
    z.clean_temp()
    done = set(z.read(columns=["clip_id"]).column("clip_id").to_pylist())
    ids = [c for c in feats.read(columns=["clip_id"]).column("clip_id").to_pylist() if c not in done]
    written = 0
    if ids:
        src = "latents" if cfg.models.compressor.input == "vae" else "sem"
        cols = ["clip_id", src, f"{src}_shape", f"{src}_dtype", "text", "text_shape", "text_dtype", "text_len",
                "bucket"]
        ds = read_rows(feats, cols, ids, cfg.ray.read_cpus, cfg.ray.read_tasks)
        ds = ds.map_batches(CompressStage, fn_constructor_args=(cfg, checkpoint, store), batch_size=64,
                            batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=1),
                            num_cpus=0.5)
        written = sum(int(r["written"]) for r in ds.iter_rows())
    n = z.count()
    z.write_manifest(config_hash(cfg.models.compressor.__dict__), {"z_sem": n}, {"checkpoint": checkpoint})
    return {"clips": len(ids) + len(done), "computed": written, "wall_s": time.time() - t0}
