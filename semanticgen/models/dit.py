"""Shared DiT trunk: embeddings, blocks, head, initialisation (Wan2.1 parameter names).

Context parallelism (``semanticgen.parallel``): :func:`semanticgen.parallel.enable_context_parallel` sets
``trunk.cp``; :meth:`DiTTrunk.shard` then gives each rank its windows of the sequence and the attention of
each layer type, and the output is gathered whole. Without it (``cp=None``) the shard is the whole sequence.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from ..parallel import sequence as seq_parallel   # module import: semanticgen.parallel imports models back
from .blocks import DiTBlock, Head, sinusoidal
from .registry import DiTSize


class DiTTrunk(nn.Module):
    """Text/time conditioning + a stack of :class:`DiTBlock` + output head."""

    # kept in fp32 under FSDP mixed precision (their own FSDP units): the timestep embedding is fp32 in Wan2.1
    fp32_modules = ("time_embedding", "time_projection")

    def __init__(self, size: DiTSize, text_dim: int, out_dim: int, qk_norm: bool = True,
                 attn_backend: str = "auto"):
        super().__init__()
        self.size, self.dim, self.attn_backend = size, size.dim, attn_backend
        if size.dim % size.heads:
            raise ValueError(f"dim {size.dim} is not divisible by heads {size.heads}")
        self.head_dim = size.dim // size.heads
        d = size.dim
        self.text_embedding = nn.Sequential(nn.Linear(text_dim, d), nn.GELU(approximate="tanh"), nn.Linear(d, d))
        self.time_embedding = nn.Sequential(nn.Linear(size.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList(DiTBlock(d, size.heads, size.ffn_dim, qk_norm) for _ in range(size.layers))
        self.head = Head(d, out_dim)
        self.cp = None               # a semanticgen.parallel.comm.ContextGroup under context parallelism

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for seq in (self.text_embedding, self.time_embedding):
            for m in seq:
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=0.02)
        nn.init.zeros_(self.head.head.weight)

    def time(self, t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Timestep (B,) in [0, 1] → (e (B, D), e0 (B, 6, D)), computed in fp32."""
        with torch.autocast(device_type=t.device.type, enabled=False):
            w = self.time_embedding[0].weight
            e = self.time_embedding(sinusoidal(t, self.size.freq_dim).to(w.dtype))
            e0 = self.time_projection(e).unflatten(1, (6, -1))
        return e.float(), e0.float()

    def text(self, text: torch.Tensor) -> torch.Tensor:
        return self.text_embedding(text)

    def shard(self, time_pos: torch.Tensor, nv: int, frames: int, window: Optional[int]):
        """This rank's part of the sequence (``time_pos`` (N,): grid tokens t-major over ``frames`` rows, then
        in-context tokens) and the attention of each layer: Swin windows of ``window`` rows, or full (None)."""
        return seq_parallel.shard_sequence(time_pos, nv, frames, window, self.cp)

    def run_blocks(self, x, segs, angles, ctx, ctx_mask, layouts, key_mask=None) -> torch.Tensor:
        """Blocks in order; layer i uses ``layouts[i % len(layouts)]`` (None: full attention; see ``blocks.attend``)."""
        for i, block in enumerate(self.blocks):
            layout = None if layouts is None else layouts[i % len(layouts)]
            x = block(x, segs, angles, ctx, ctx_mask, layout, self.attn_backend, key_mask)
        return x


def null_mask(mask: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """A text mask that is all-True is dropped (lets the flash path be used)."""
    if mask is None or bool(mask.all()):
        return None
    return mask.bool()
