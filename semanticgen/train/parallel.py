"""Parallelism applied in one place: DDP for small models, FSDP2 (``fully_shard`` per block) for large ones.

Also activation checkpointing (per block) and full (unsharded) state dicts for checkpoints.
"""
from __future__ import annotations

from typing import Dict, Iterable

import torch
import torch.distributed as dist
from torch import nn


def _blocks(module: nn.Module) -> Iterable[nn.Module]:
    blocks = getattr(module, "blocks", None)
    return list(blocks) if isinstance(blocks, (nn.ModuleList, list)) else []


def apply_activation_checkpointing(module: nn.Module) -> None:
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    blocks = getattr(module, "blocks", None)
    if isinstance(blocks, nn.ModuleList):
        for i, b in enumerate(blocks):
            blocks[i] = checkpoint_wrapper(b)


def wrap(module: nn.Module, mode: str, device: torch.device) -> nn.Module:
    """Wrap a trainable module for data parallel training (no-op without a process group)."""
    module.to(device)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return module
    if not any(p.requires_grad for p in module.parameters()):
        return module
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in _blocks(module):
            fully_shard(block)
        fully_shard(module)
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def full_state_dict(module: nn.Module) -> Dict[str, torch.Tensor]:
    """Unsharded CPU state dict (collective under FSDP2: call on every rank)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    m = unwrap(module)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        sd = get_model_state_dict(m, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        sd = m.state_dict()
    return {k.replace("_checkpoint_wrapped_module.", ""): v.detach().cpu() for k, v in sd.items()}


def load_full_state_dict(module: nn.Module, sd: Dict[str, torch.Tensor]) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    m = unwrap(module)
    own = m.state_dict().keys()
    wrapped = {k: k.replace("_checkpoint_wrapped_module.", "") for k in own}
    remapped = {k: sd[v] for k, v in wrapped.items() if v in sd}
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        set_model_state_dict(m, remapped, options=StateDictOptions(full_state_dict=True))
    else:
        m.load_state_dict(remapped)


def full_optim_state(module: nn.Module, optim: torch.optim.Optimizer) -> dict:
    """Unsharded optimizer state keyed by parameter names (collective under FSDP2)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(unwrap(module), optim,
                                    options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_full_optim_state(module: nn.Module, optim: torch.optim.Optimizer, state: dict) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(unwrap(module), optim, state, options=StateDictOptions(full_state_dict=True))
