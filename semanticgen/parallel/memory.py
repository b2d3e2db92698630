"""Analytic peak memory of one training step on one GPU (stage 1 or 2), from the tensors autograd keeps.

Model states (sharded over the FSDP ranks; whole under DDP): fp32 weights, fp32 gradients, AdamW's two moments
and the EMA — 20 bytes per parameter — plus the unsharded bf16 (fp32) copies FSDP gathers: the root unit for the
whole step and two blocks at a time (current + prefetched), with their fp32 gradients before the reduce-scatter.

Activations per token of a DiT block are counted tensor by tensor below (:data:`BLOCK_TENSORS`), from what
autograd saves in ``semanticgen/models/blocks.py`` (a multiplication by a tensor without gradient — RoPE's cos/sin
— keeps only that tensor; an autocast cast to bf16 is a new tensor the matmul keeps; CUDA autocast runs layer
norms in fp32 on an fp32 copy of their input). Under activation checkpointing a block keeps only its input
(the residual stream, bf16 under autocast) and one block is recomputed at a time during the backward; without
it every block keeps everything. The backward of a block adds its gradient buffers (:data:`GRAD_WORKSPACE`).
Outside the blocks: the flow-matching tensors of the whole clip (latents, noise, noisy input, prediction,
target, error), replicated on the context ranks, and the compressor's activations of the whole z_sem sequence.
A CUDA context + NCCL/allocator reserve (:data:`RUNTIME_GB`) is added on GPUs only.

The fp32 table is checked against measured peaks on CPU (``python -m jobs.benchmark memory``); the bf16 table
is the CUDA autocast one and is checked on a GPU when one is lent.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict

from ..models.registry import DiTSize

GB = 1024 ** 3
RUNTIME_GB = 3.0            # CUDA context, NCCL buffers, allocator fragmentation reserve (GPU only)

# Per token of one block: (tensor, width in "D" / "F" / "Dh" / "H" units, bytes per element in fp32, in bf16).
# A 0 marks a tensor that exists only in the other mode.
BLOCK_TENSORS = [
    ("norm1 input (fp32 copy under autocast)", "D", 0, 4),
    ("norm1 output, kept by the adaLN multiply", "D", 4, 4),
    ("adaLN output cast to bf16 for q, k, v (3 copies)", "D", 0, 6),
    ("adaLN output kept by q, k, v (fp32)", "D", 4, 0),
    ("q, k projections (kept by RMSNorm)", "D", 8, 8),
    ("q, k normalised, kept by the RMSNorm weight", "D", 8, 4),
    ("q, k after RoPE, v (kept by attention)", "D", 12, 6),
    ("RoPE cos, sin of q and k (fp32)", "Dh", 8, 8),
    ("attention output", "D", 4, 2),
    ("attention output in token order (Swin)", "Dswin", 4, 2),
    ("attention log-sum-exp (self + cross)", "H", 8, 8),
    ("o projection output, kept by the gate", "D", 4, 4),
    ("norm3 input (residual)", "D", 4, 4),
    ("cross-attn q input", "D", 4, 2),
    ("cross-attn q projection, normalised, normalised·weight", "D", 12, 8),
    ("cross-attn output", "D", 4, 2),
    ("norm2 input (residual)", "D", 4, 4),
    ("norm2 output, kept by the adaLN multiply", "D", 4, 4),
    ("FFN input", "D", 4, 2),
    ("FFN hidden before and after GELU", "F", 8, 4),
    ("FFN output, kept by the gate", "D", 4, 4),
    ("block output (next block's input)", "D", 4, 0),
]
# gradients alive at once during one block's backward, per token (fp32 bytes, bf16 bytes): about three of width D —
# the backward frees each saved tensor as it makes the gradients that need it (measured on CPU, fp32)
GRAD_WORKSPACE = {"D": (12, 8)}
IO_TENSORS = 6              # latents, noise, noisy latents, prediction, target, squared error (fp32, whole clip)
COMPRESSOR_TENSORS = 4      # layer-norm input, hidden before/after GELU, output (per z_sem token, fp32)
OPTIMIZER_TEMPS = 2         # gradients + AdamW's foreach temporaries, in fp32 parameter-sized tensors


@dataclass(frozen=True)
class Step:
    """What one GPU runs in one training step."""
    size: DiTSize
    tokens: int                  # tokens per sample through this rank's blocks (its share, halo included)
    params: int                  # trainable parameters of the whole stage model
    block_params: int            # parameters of one DiT block
    root_params: int             # parameters outside the blocks (the root FSDP unit + fp32 units)
    shards: int = 1              # FSDP ranks the states are sharded over (1: DDP / one GPU)
    batch: int = 1
    precision: str = "bf16"
    swin: bool = True
    checkpointing: bool = True
    io_values: int = 0           # values of the whole clip's latents per sample (loss tensors)
    sem_values: int = 0          # values of the whole z_sem input per sample (compressor)
    gpu: bool = True


def _width(size: DiTSize, unit: str, swin: bool) -> int:
    return {"D": size.dim, "Dswin": size.dim if swin else 0, "F": size.ffn_dim,
            "Dh": size.dim // size.heads, "H": size.heads}[unit]


def block_bytes_per_token(size: DiTSize, precision: str, swin: bool) -> int:
    col = 3 if precision == "bf16" else 2
    return sum(t[col] * _width(size, t[1], swin) for t in BLOCK_TENSORS)


def estimate(s: Step) -> Dict[str, float]:
    """Bytes of each part and the ``peak`` of one training step: the larger of the activation peak (start of the
    backward: every saved activation, one block's recompute and gradients) and the optimizer step (every
    gradient plus AdamW's temporaries)."""
    bf16 = s.precision == "bf16"
    act = 2 if bf16 else 4
    n = s.batch * s.tokens
    block = block_bytes_per_token(s.size, s.precision, s.swin) * n
    grads = sum(v[1 if bf16 else 0] * _width(s.size, k, s.swin) for k, v in GRAD_WORKSPACE.items()) * n
    layers, S = s.size.layers, s.shards
    parts = {
        "states": 16.0 * s.params / S,                   # fp32 weights, AdamW moments, EMA (sharded by FSDP)
        "gathered": (act * (s.root_params + 2 * s.block_params) + 4 * 2 * s.block_params) if S > 1 else
                    (2.0 * s.params if bf16 else 4.0 * s.block_params),   # FSDP units / autocast copies, grads
        "saved": (layers * n * s.size.dim * act) if s.checkpointing else layers * block,
        "block": (block + grads) if s.checkpointing else grads,
        "io": 4.0 * s.batch * (IO_TENSORS * s.io_values + COMPRESSOR_TENSORS * s.sem_values),
    }
    optimizer = parts["states"] + OPTIMIZER_TEMPS * 4.0 * s.params / S
    activations = sum(parts.values())
    parts["optimizer"] = optimizer
    parts["runtime"] = RUNTIME_GB * GB if s.gpu else 0.0
    parts["peak"] = max(activations, optimizer) + parts["runtime"]
    return parts


def with_tokens(s: Step, tokens: int) -> Step:
    return replace(s, tokens=tokens)
