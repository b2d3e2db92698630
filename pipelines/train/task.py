"""What a training stage plugs into the generic Ray Train loop."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from semanticgen.config import Config


class TrainTask:
    """A stage: a model whose ``forward(batch)`` returns ``(loss, metrics, tokens)``, its data and artifacts.

    ``build`` must return one ``nn.Module`` (so DDP/FSDP wrap one thing); sub-modules with a
    ``blocks`` ModuleList are sharded per block under FSDP2.
    """

    stage: str = "task"            # MLflow experiment suffix
    source = None                  # a pipelines.train.buckets.BucketedSource when the task trains on store buckets

    def build(self, cfg: Config) -> nn.Module:
        raise NotImplementedError

    def collate(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def dataset(self, cfg: Config, store: str):
        """What to train on (built on the driver): a Ray Dataset (split over the workers by Ray Train), or a
        ``BucketedSource`` (every data rank streams its own planned batches; set ``self.source`` to it)."""
        raise NotImplementedError

    def bucket_stats(self) -> List[dict]:
        """Per training bucket: key, shapes, clips, batch size (empty without a bucketed source)."""
        if self.source is None:
            return []
        from semanticgen.store.buckets import bucket_stats

        return bucket_stats(self.source.index, self.source.plan.sizes)

    def write_checkpoint_files(self, folder: str) -> None:
        """Rank 0, into every checkpoint folder: the bucket statistics (``buckets.json``) generation reads."""
        if self.source is not None:
            from semanticgen.store.buckets import BUCKETS_FILE, write_stats

            write_stats(os.path.join(folder, BUCKETS_FILE), self.bucket_stats(), self.stage)

    def shard_targets(self, model: nn.Module):
        """Sub-modules that own a ``blocks`` list (FSDP2 shards each block)."""
        return [m for m in model.children() if isinstance(getattr(m, "blocks", None), nn.ModuleList)]

    def finalize(self, model: nn.Module, cfg: Config, out_dir: str) -> Optional[Tuple[str, ...]]:
        """Rank 0 after training: write artifacts (sample videos, plots) into ``out_dir``; return paths."""
        return None
