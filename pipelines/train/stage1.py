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

from .data import bucket_dataset, pad_text, read_null_text, stack
from .samples import stage1_samples
from .task import TrainTask


class LatentTask(TrainTask):
    stage = "latent"

    def __init__(self, null_text: Optional[torch.Tensor] = None):
        self.null_text, self.store = null_text, None

    def build(self, cfg: Config) -> nn.Module:
        return build_stage1(cfg, pretrained=True)

    def dataset(self, cfg: Config, store: str):
        table = Table(store, "features")
        ids, _, ds = bucket_dataset(cfg, table, ["latents", "sem"], ["latents", "sem", "text"])
        self.store, self.sample_ids = store, ids[: cfg.train.num_sample_videos]
        self.null_text = read_null_text(store) if self.null_text is None else self.null_text
        return ds

    def collate(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        return {"latents": stack(batch, "latents"), "sem": stack(batch, "sem"), **pad_text(batch, self.null_text)}

    def finalize(self, model: nn.Module, cfg: Config, out_dir: str):
        """A reconstruction sample: the trained latent DiT renders a stored clip's z_sem; decoded to mp4."""
        import pyarrow.dataset as pads

        os.makedirs(out_dir, exist_ok=True)
        wanted = pads.field("clip_id").isin(list(self.sample_ids))     # read only the sample rows
        rows = Table(self.store, "features").read(filter=wanted).to_pylist()
        return stage1_samples(model, cfg, out_dir, rows)
