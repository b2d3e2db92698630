"""Exponential moving average of parameters (kept in fp32 on the parameters' device)."""
from __future__ import annotations

from typing import Dict

import torch


class EMA:
    def __init__(self, named_params: Dict[str, torch.Tensor], decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().float().clone() for k, v in named_params.items()}

    @torch.no_grad()
    def update(self, named_params: Dict[str, torch.Tensor]) -> None:
        for k, v in named_params.items():
            self.shadow[k].lerp_(v.detach().float(), 1.0 - self.decay)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.shadow.items()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)[:5]}")
        for k, dst in self.shadow.items():
            src = state[k].to(dst.device, torch.float32)
            if hasattr(dst, "device_mesh"):           # FSDP2 DTensor shard: re-shard the full tensor
                from torch.distributed.tensor import distribute_tensor

                src = distribute_tensor(src, dst.device_mesh, dst.placements)
            dst.copy_(src)
