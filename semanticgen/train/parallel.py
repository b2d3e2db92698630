"""Parallelism applied in one place: DDP for small models, FSDP2 (``fully_shard`` per DiT block) for large ones.

FSDP2 (:func:`wrap` with ``mode="fsdp"``): every DiT block of every DiT in the model (latent and semantic) is its
own unit, the modules a model keeps in fp32 (``fp32_modules``: the DiTs' timestep embeddings, the stage-1
compressor) are units of their own, then the root holds the rest (patch/text embeddings, head). With
``precision="bf16"`` the units use ``MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32)``: parameters
are all-gathered and computed in bf16, gradients reduced in fp32 into the fp32 sharded master weights that AdamW updates. Forward inputs are
not cast by FSDP (``cast_forward_inputs=False``): RoPE angles and the adaLN time modulation stay fp32 and the
activations follow autocast. Parameters are sharded over every rank (data × context).

Activation checkpointing (:func:`apply_activation_checkpointing`, per block) is applied first, so each
checkpointed block is the FSDP unit. Checkpoints gather the full state (``full_state_dict`` /
``full_optim_state``, offloaded to CPU, written by rank 0 as safetensors + ``torch.save``) and are scattered
back on load — one portable file set that generation and z_sem encoding read without a process group, the
same on any world size (DCP sharded files would write faster at 14B but need the same loader everywhere).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import torch
import torch.distributed as dist
from torch import nn

WRAPPER_PREFIX = "_checkpoint_wrapped_module."


def apply_activation_checkpointing(module: nn.Module) -> None:
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    blocks = getattr(module, "blocks", None)
    if isinstance(blocks, nn.ModuleList):
        for i, b in enumerate(blocks):
            blocks[i] = checkpoint_wrapper(b)


def fsdp_units(root: nn.Module) -> List[Tuple[str, nn.Module, bool]]:
    """(name, module, keep fp32) of every FSDP unit below the root, in wrapping order: each block of each
    ``blocks`` list, and the sub-modules a module names in its ``fp32_modules``. The root is one more unit."""
    units = []
    for name, m in root.named_modules():
        prefix = f"{name}." if name else ""
        blocks = getattr(m, "blocks", None)
        if isinstance(blocks, nn.ModuleList):
            units += [(f"{prefix}blocks.{i}", b, False) for i, b in enumerate(blocks)]
        units += [(f"{prefix}{n}", getattr(m, n), True) for n in getattr(m, "fp32_modules", ())
                  if isinstance(getattr(m, n, None), nn.Module)]
    return units


def mixed_precision(precision: str, keep_fp32: bool = False):
    """FSDP2 policy: bf16 parameters and fp32 gradient reduction for ``precision="bf16"`` (None for fp32)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    if precision != "bf16":
        return None
    param = torch.float32 if keep_fp32 else torch.bfloat16
    return MixedPrecisionPolicy(param_dtype=param, reduce_dtype=torch.float32, cast_forward_inputs=False)


def shard(module: nn.Module, precision: str = "fp32") -> nn.Module:
    """``fully_shard`` every unit of :func:`fsdp_units`, then the root (needs a process group)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    for _, unit, keep_fp32 in fsdp_units(module):
        fully_shard(unit, mp_policy=mixed_precision(precision, keep_fp32) or MixedPrecisionPolicy())
    fully_shard(module, mp_policy=mixed_precision(precision) or MixedPrecisionPolicy())
    return module


def count_fsdp_modules(module: nn.Module) -> int:
    from torch.distributed.fsdp import FSDPModule

    return sum(isinstance(m, FSDPModule) for m in module.modules())


def wrap(module: nn.Module, mode: str, device: torch.device, precision: str = "fp32") -> nn.Module:
    """Wrap a trainable module for data parallel training (no-op without a process group; DDP on one rank is
    skipped, FSDP2 applies on any world size so the mixed-precision policy is the same on one GPU)."""
    module.to(device)
    if not (dist.is_available() and dist.is_initialized()):
        return module
    if not any(p.requires_grad for p in module.parameters()):
        return module
    if mode == "fsdp":
        return shard(module, precision)
    if dist.get_world_size() == 1:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def full_state_dict(module: nn.Module) -> Dict[str, torch.Tensor]:
    """Unsharded CPU state dict (collective under FSDP2: call on every rank)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    m = unwrap(module)
    if dist.is_available() and dist.is_initialized():      # FSDP2 (any world size) or a plain module
        sd = get_model_state_dict(m, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        sd = m.state_dict()
    return {k.replace(WRAPPER_PREFIX, ""): v.detach().cpu() for k, v in sd.items()}


def load_full_state_dict(module: nn.Module, sd: Dict[str, torch.Tensor]) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    m = unwrap(module)
    own = m.state_dict().keys()
    wrapped = {k: k.replace(WRAPPER_PREFIX, "") for k in own}
    remapped = {k: sd[v] for k, v in wrapped.items() if v in sd}
    if dist.is_available() and dist.is_initialized():
        set_model_state_dict(m, remapped, options=StateDictOptions(full_state_dict=True))
    else:
        m.load_state_dict(remapped)


def full_optim_state(module: nn.Module, optim: torch.optim.Optimizer) -> dict:
    """Unsharded optimizer state keyed by parameter names (collective under FSDP2)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(unwrap(module), optim,
                                    options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_full_optim_state(module: nn.Module, optim: torch.optim.Optimizer, state: dict) -> None:
    """Scatter a full optimizer state back. Every tensor is copied first: a gathered state can hold one ``step``
    tensor for several parameters (and ``torch.save``/``load`` keep the sharing), which AdamW would then advance
    once per parameter — a resumed run would use the wrong bias correction."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict
    from torch.utils._pytree import tree_map

    state = tree_map(lambda t: t.clone() if torch.is_tensor(t) else t, state)
    set_optimizer_state_dict(unwrap(module), optim, state, options=StateDictOptions(full_state_dict=True))
