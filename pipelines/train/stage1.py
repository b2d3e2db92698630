"""Stage 1 (paper §4.2.2) as a training task: the stage-1 model (``semanticgen.models.build.Stage1Model``:
latent DiT + compressor) on ``STORE/features`` — dataset, collate and the reconstruction samples."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from semanticgen.config import Config
from semanticgen.models.build import build_stage1
from semanticgen.store.table import Table

from .data import bucketed_source, pad_text, read_null_text, stack
from .samples import stage1_samples
from .task import TrainTask


def latent_tokens(shapes) -> int:
    """VAE tokens of one clip (1×2×2 patches of latents (C, T, H, W)), what the stage-1 budget counts."""
    c, t, h, w = shapes[0]
    return t * (h // 2) * (w // 2)


def sample_clips(index, n: int) -> list:
    """Clip ids for ``n`` reconstruction samples: the first clip of each bucket, largest buckets first."""
    counts = index.counts()
    order = sorted(range(len(counts)), key=lambda b: -counts[b])
    first = {b: index.clip_ids[index.bucket_of.index(b)] for b in order[:n]}
    return [first[b] for b in order[:n]]


class LatentTask(TrainTask):
    stage = "latent"

    def __init__(self, null_text: Optional[torch.Tensor] = None):
        self.null_text, self.store = null_text, None

    def build(self, cfg: Config) -> nn.Module:
        return build_stage1(cfg, pretrained=True)

    def dataset(self, cfg: Config, store: str):
        """Every clip of ``STORE/features``, batched by (latent shape, Qwen feature shape): the clip's bucket and the
        z_sem grid it implies (just the latent shape for ``models.compressor.input=vae``)."""
        self.names = ["latents", "sem"] if cfg.models.compressor.input == "semantic" else ["latents"]
        self.source = bucketed_source(cfg, Table(store, "features"), self.names, [*self.names, "text"],
                                      latent_tokens)
        self.store, self.sample_ids = store, sample_clips(self.source.index, cfg.train.num_sample_videos)
        self.null_text = read_null_text(store) if self.null_text is None else self.null_text
        return self.source

    def collate(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        return {**{n: stack(batch, n) for n in getattr(self, "names", ["latents", "sem"])},
                **pad_text(batch, self.null_text)}

    def finalize(self, model: nn.Module, cfg: Config, out_dir: str):
        """A reconstruction sample: the trained latent DiT renders a stored clip's z_sem; decoded to mp4."""
        import pyarrow.dataset as pads

        os.makedirs(out_dir, exist_ok=True)
        wanted = pads.field("clip_id").isin(list(self.sample_ids))     # read only the sample rows
        rows = Table(self.store, "features").read(filter=wanted).to_pylist()
        return stage1_samples(model, cfg, out_dir, rows)
