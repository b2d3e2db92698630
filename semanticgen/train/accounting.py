"""Data accounting of a training run: which of the stage's clips reached the loss (``data/clips_seen``).

Each rank marks the clips of every micro-batch it trained on; at a report the marks are reduced over the ranks
(max), so ``clips_seen`` counts distinct clips, and a checkpoint keeps them, so a resumed run goes on counting.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import torch
import torch.distributed as dist


class ClipsSeen:
    def __init__(self, total: int, device: torch.device, marks: Optional[torch.Tensor] = None):
        self.total, self.device = int(total), device
        self.marks = torch.zeros(self.total, dtype=torch.bool)
        if marks is not None and marks.numel() == self.total:
            self.marks |= marks.bool().cpu()

    def mark(self, clip_indices: Iterable[int]) -> None:
        self.marks[torch.as_tensor(list(clip_indices), dtype=torch.long)] = True

    def reduce(self) -> torch.Tensor:
        """The marks of every rank, or-ed (a collective when distributed: call on every rank)."""
        m = self.marks.to(self.device, torch.int32)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(m, op=dist.ReduceOp.MAX)
        self.marks = m.bool().cpu()
        return self.marks

    def metrics(self) -> Dict[str, float]:
        return {"data/clips_seen": float(int(self.marks.sum())), "data/clips_total": float(self.total)}
