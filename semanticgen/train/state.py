"""Writing and reading whole training checkpoints (weights, EMA, optimizer, trainer state, RNG).

Safetensors for weights, ``torch.load(weights_only=True)`` for the rest; the folder layout and the weight
readers are in :mod:`semanticgen.models.checkpoint`.
"""
from __future__ import annotations

import os
import random
from typing import Dict, Optional

import numpy as np
import torch
from safetensors.torch import save_file

from ..models.checkpoint import EMA_FILE, MODEL, OPTIM, STATE, read_weights


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:])}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(tuple(state["python"]) if not isinstance(state["python"], tuple) else state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def _contig(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in sd.items()}


def save_checkpoint(path: str, model_state: Dict[str, torch.Tensor], ema_state: Optional[Dict[str, torch.Tensor]],
                    optim_state: Optional[dict], trainer_state: dict) -> None:
    os.makedirs(path, exist_ok=True)
    save_file(_contig(model_state), os.path.join(path, MODEL))
    if ema_state is not None:
        save_file(_contig(ema_state), os.path.join(path, EMA_FILE))
    if optim_state is not None:
        torch.save(optim_state, os.path.join(path, OPTIM))
    torch.save(trainer_state, os.path.join(path, STATE))


def load_checkpoint(path: str) -> dict:
    out = {"model": read_weights(path, MODEL),
           "trainer": torch.load(os.path.join(path, STATE), weights_only=True)}
    if os.path.exists(os.path.join(path, EMA_FILE)):
        out["ema"] = read_weights(path, EMA_FILE)
    if os.path.exists(os.path.join(path, OPTIM)):
        out["optimizer"] = torch.load(os.path.join(path, OPTIM), weights_only=True)
    return out

