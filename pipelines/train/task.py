"""What a training stage plugs into the generic Ray Train loop."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

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

    def build(self, cfg: Config) -> nn.Module:
        raise NotImplementedError

    def collate(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def dataset(self, cfg: Config, store: str):
        """The Ray Dataset to train on (built on the driver)."""
        raise NotImplementedError

    def shard_targets(self, model: nn.Module):
        """Sub-modules that own a ``blocks`` list (FSDP2 shards each block)."""
        return [m for m in model.children() if isinstance(getattr(m, "blocks", None), nn.ModuleList)]

    def finalize(self, model: nn.Module, cfg: Config, out_dir: str) -> Optional[Tuple[str, ...]]:
        """Rank 0 after training: write artifacts (sample videos, plots) into ``out_dir``; return paths."""
        return None
