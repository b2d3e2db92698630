"""Load a subset of a (possibly sharded) safetensors checkpoint without touching the other tensors."""
from __future__ import annotations

import json
import os
from typing import Dict, Iterable, Optional

import torch
from safetensors import safe_open


def resolve_local(name_or_path: str, subfolder: Optional[str] = None) -> str:
    """A local dir (its ``subfolder`` when that exists), or a hub name through the HF cache / hub."""
    if os.path.isdir(name_or_path):
        sub = os.path.join(name_or_path, subfolder) if subfolder else ""
        return sub if sub and os.path.isdir(sub) else name_or_path
    from huggingface_hub import snapshot_download

    root = snapshot_download(name_or_path)
    return os.path.join(root, subfolder) if subfolder else root


def load_prefixed(path: str, prefixes: Iterable[str]) -> Dict[str, torch.Tensor]:
    """Tensors whose key starts with one of ``prefixes`` (the first matching prefix is stripped)."""
    prefixes = tuple(prefixes)
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
    out: Dict[str, torch.Tensor] = {}
    for fn in files:
        with safe_open(os.path.join(path, fn), framework="pt") as f:
            for k in f.keys():
                for p in prefixes:
                    if k.startswith(p):
                        out[k[len(p):]] = f.get_tensor(k)
                        break
    if not out:
        raise KeyError(f"no tensors with prefixes {prefixes} under {path}")
    return out
