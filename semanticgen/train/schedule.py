"""Learning-rate schedule: linear warm-up, then constant or cosine to zero."""
from __future__ import annotations

import math


def lr_factor(step: int, warmup: int, total: int, kind: str = "constant") -> float:
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if kind == "cosine":
        span = max(1, total - warmup)
        prog = min(1.0, (step - warmup) / span)
        return 0.5 * (1.0 + math.cos(math.pi * prog))
    return 1.0
