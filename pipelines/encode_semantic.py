"""Ray Data job: the frozen stage-1 compressor over stored features → ``STORE/z_sem`` (μ, log σ² per clip).

These are the targets of stage 2. Each output row also carries the caption embedding, so the semantic
DiT trains from one table. Idempotent per clip (only clips without a z_sem row are computed).
"""
from __future__ import annotations

import hashlib
import os
import time
from typing import Dict

import pandas as pd
import pyarrow as pa
import torch

from pipelines.store_read import read_rows
from semanticgen.config import Config, config_hash
from semanticgen.models import Compressor
from semanticgen.store.features_schema import FEATURES_SCHEMA
from semanticgen.store.table import Table
from semanticgen.store.tensor_columns import STORE_DTYPES, pack, tensor_fields, unpack_row
from semanticgen.train.locate import local_checkpoint
from semanticgen.train.state import EMA_FILE, MODEL, split_prefixed

Z_SEM_SCHEMA = pa.schema([("clip_id", pa.string()), *tensor_fields("z_mu"), *tensor_fields("z_logvar"),
                          *tensor_fields("text"), ("text_len", pa.int32()), ("checkpoint", pa.string())])


def load_compressor(cfg: Config, checkpoint: str, use_ema: bool = True) -> Compressor:
    from safetensors.torch import load_file

    from pipelines.train.stage1 import compressor_in_dim

    checkpoint = local_checkpoint(checkpoint)
    path = os.path.join(checkpoint, EMA_FILE if use_ema and os.path.exists(os.path.join(checkpoint, EMA_FILE))
                        else MODEL)
    comp = Compressor(compressor_in_dim(cfg), cfg.models.compressor.out_dim)
    comp.load_state_dict(split_prefixed(load_file(path), "compressor"))
    return comp.eval()


class CompressStage:
    def __init__(self, cfg: Config, checkpoint: str, store: str):
        self.cfg, self.checkpoint, self.store = cfg, checkpoint, store
        self.comp = load_compressor(cfg, checkpoint)
        self.dtype = STORE_DTYPES[cfg.features.store_dtype]

    @torch.no_grad()
    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from pipelines.train.data import patchify_latents
        from pipelines.train.stage1 import VAE_BASELINE_PATCH

        out = []
        for r in batch.to_dict("records"):
            if self.cfg.models.compressor.input == "vae":
                x = patchify_latents(unpack_row(r, "latents").float()[None], VAE_BASELINE_PATCH)[0]
            else:
                x = unpack_row(r, "sem").float()
            mu, logvar = self.comp.encode(x)
            out.append({"clip_id": r["clip_id"], **pack("z_mu", mu, self.dtype), **pack("z_logvar", logvar, self.dtype),
                        "text": r["text"], "text_shape": r["text_shape"], "text_dtype": r["text_dtype"],
                        "text_len": r["text_len"], "checkpoint": self.checkpoint})
        key = hashlib.sha1("|".join(sorted(o["clip_id"] for o in out)).encode()).hexdigest()[:20]
        Table(self.store, "z_sem", Z_SEM_SCHEMA).write_part(key, out)
        return pd.DataFrame([{"written": len(out)}])


def run_encode_semantic(cfg: Config, store: str, checkpoint: str) -> Dict[str, float]:
    import ray

    t0 = time.time()
    feats = Table(store, "features", FEATURES_SCHEMA)
    z = Table(store, "z_sem", Z_SEM_SCHEMA)
    z.clean_temp()
    done = set(z.read(columns=["clip_id"]).column("clip_id").to_pylist())
    ids = [c for c in feats.read(columns=["clip_id"]).column("clip_id").to_pylist() if c not in done]
    written = 0
    if ids:
        src = "latents" if cfg.models.compressor.input == "vae" else "sem"
        cols = ["clip_id", src, f"{src}_shape", f"{src}_dtype", "text", "text_shape", "text_dtype", "text_len"]
        ds = read_rows(feats, cols, ids, cfg.ray.read_cpus, cfg.ray.read_tasks)
        ds = ds.map_batches(CompressStage, fn_constructor_args=(cfg, checkpoint, store), batch_size=64,
                            batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=1),
                            num_cpus=0.5)
        written = sum(int(r["written"]) for r in ds.iter_rows())
    n = z.count()
    z.write_manifest(config_hash(cfg.models.compressor.__dict__), {"z_sem": n}, {"checkpoint": checkpoint})
    return {"clips": len(ids) + len(done), "computed": written, "wall_s": time.time() - t0}
