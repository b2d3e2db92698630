"""FLOPs of a DiT step (matmul/conv FLOPs, 2 per multiply-add), for MFU on GPUs.

Per sample, with width ``D``, FFN width ``F``, ``N`` = tokens through the blocks (VAE + z_sem),
``L`` = text tokens (width ``Dt``), ``P`` = attention (query, key) pairs of a layer
(full: ``N²``; Swin: ``Σ_w n_w²`` over its windows, alternating unshifted/shifted layers):

    block   = 8·N·D²  +  4·P·D          self-attention: q, k, v, o projections; QKᵀ and AV
            + 4·N·D² + 4·L·D² + 4·N·L·D  text cross-attention: q, o; k, v on the text; QKᵀ and AV
            + 4·N·D·F                    MLP
    forward = Σ_layers block
            + 2·N_in·C_in·D + 2·N_out·D·C_out    input projections / patch embedding, output head
            + 2·L·(Dt·D + D²)                    text embedding
            + k·2·(f·D + D² + 6·D²)              time embedding + projection (k = 2 with z_sem at t=0)

A training step costs ≈ 3× forward (backward = 2× forward), 4× with activation checkpointing.
``MFU = step FLOPs / (step time · peak FLOP/s)``. Elementwise work (norms, RoPE, softmax, adaLN)
is left out, as usual; the formula equals ``torch.utils.flop_counter`` on the model (tested).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

from ..config.models import DiTConfig
from .registry import DiTSize, get_size

Grid = Tuple[int, int, int]


def block_flops(size: DiTSize, tokens: int, text_tokens: int, attn_pairs: int) -> int:
    D, N, L = size.dim, tokens, text_tokens
    self_attn = 8 * N * D * D + 4 * attn_pairs * D
    cross_attn = 4 * N * D * D + 4 * L * D * D + 4 * N * L * D
    return self_attn + cross_attn + 4 * N * D * size.ffn_dim


def dit_forward_flops(size: DiTSize, *, tokens: int, text_tokens: int, text_dim: int,
                      attn_pairs: Union[int, Sequence[int], None] = None,
                      in_proj: Sequence[Tuple[int, int]] = (), out_tokens: int = 0, out_dim: int = 0,
                      time_evals: int = 1) -> int:
    """Forward FLOPs of one sample. ``attn_pairs``: per layer, cycled (None = full attention, N²);
    ``in_proj``: (tokens, input width) of each input projection."""
    D = size.dim
    pairs = [tokens * tokens] if attn_pairs is None else (
        [attn_pairs] if isinstance(attn_pairs, int) else list(attn_pairs))
    total = sum(block_flops(size, tokens, text_tokens, pairs[i % len(pairs)]) for i in range(size.layers))
    total += sum(2 * n * c * D for n, c in in_proj) + 2 * out_tokens * D * out_dim
    total += 2 * text_tokens * (text_dim * D + D * D)
    total += time_evals * 2 * (size.freq_dim * D + D * D + 6 * D * D)
    return total


def swin_pairs(latent_grid: Grid, sem_grid: Optional[Grid], window: int) -> Tuple[int, int]:
    """Attention pairs of an unshifted and a shifted Swin layer (window sizes from the real layout)."""
    import torch

    from .latent_dit import semantic_positions, swin_window_ids
    from .rope import grid_positions

    pos = grid_positions(*latent_grid)
    if sem_grid is not None:
        pos = torch.cat([pos, semantic_positions(sem_grid, latent_grid)])
    out = []
    for shifted in (False, True):
        counts = torch.bincount(swin_window_ids(pos[:, 0], latent_grid[0], window, shifted))
        out.append(int((counts.long() ** 2).sum()))
    return out[0], out[1]


def latent_dit_flops(cfg: DiTConfig, *, latent_channels: int, latent_shape: Grid, sem_grid: Optional[Grid],
                     sem_dim: int, text_dim: int, text_tokens: int, batch: int = 1) -> int:
    """Forward FLOPs of the latent DiT for ``batch`` samples of latents (T, H, W) and z_sem (Ts, Hs, Ws)."""
    size = get_size(cfg.size, cfg.layers)
    T, H, W = latent_shape
    grid = (T, H // 2, W // 2)
    nv = grid[0] * grid[1] * grid[2]
    ns = 0 if sem_grid is None else sem_grid[0] * sem_grid[1] * sem_grid[2]
    pairs = None if cfg.attention == "full" else swin_pairs(grid, sem_grid, cfg.swin_window)
    c = latent_channels * 4
    in_proj = [(nv, c)] + ([(ns, sem_dim)] if ns else [])
    return batch * dit_forward_flops(size, tokens=nv + ns, text_tokens=text_tokens, text_dim=text_dim,
                                     attn_pairs=pairs, in_proj=in_proj, out_tokens=nv, out_dim=c,
                                     time_evals=2 if ns else 1)


def semantic_dit_flops(cfg: DiTConfig, *, sem_grid: Grid, z_dim: int, text_dim: int, text_tokens: int,
                       batch: int = 1) -> int:
    """Forward FLOPs of the semantic DiT (full attention over all z_sem tokens)."""
    size = get_size(cfg.size, cfg.layers)
    n = sem_grid[0] * sem_grid[1] * sem_grid[2]
    return batch * dit_forward_flops(size, tokens=n, text_tokens=text_tokens, text_dim=text_dim,
                                     in_proj=[(n, z_dim)], out_tokens=n, out_dim=z_dim)


def train_step_flops(forward_flops: int, activation_checkpointing: bool = False) -> int:
    """Forward + backward (2× forward), plus one recomputed forward under activation checkpointing."""
    return forward_flops * (4 if activation_checkpointing else 3)


def mfu(step_flops: float, step_seconds: float, peak_flops_per_s: float, num_devices: int = 1) -> float:
    """Model FLOPs utilisation, e.g. peak 989e12 for one H100 SXM in bf16 (dense)."""
    return step_flops / (step_seconds * peak_flops_per_s * num_devices)
