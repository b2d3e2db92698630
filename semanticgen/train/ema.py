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
        for k in self.shadow:
            self.shadow[k].copy_(state[k])
