"""The resolved plan of a training job, from its config alone (``--dry-run`` prints it; rank 0 logs it at start).

World size, the data × context mesh, FSDP units, precision, the attention of each layer type, tokens per sample
and per GPU, and the analytic peak memory per GPU (:mod:`.memory`) for the longest clip the config admits
(the longest temporal bucket at the largest spatial bucket; stage 2: its z_sem grid). The model is built on the meta
device: exact parameter counts and FSDP units, no weights in memory.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch

from ..config import Config
from ..models.attention import HAS_FLASH
from ..models.build import Stage1Model, Stage2Model
from ..models.registry import get_size
from ..train.parallel import fsdp_units
from .memory import GB, Step, estimate
from .sequence import frame_bounds, rank_loads

Grid = Tuple[int, int, int]


def clip_grids(cfg: Config) -> Tuple[Grid, Grid]:
    """(latent token grid, z_sem grid) of the longest clip at the largest bucket the config admits."""
    from ..encoders.grid import z_sem_grid

    fc = cfg.features
    h, w = max(fc.buckets, key=lambda b: b[0] * b[1])
    frames = max(fc.frame_buckets)
    return (1 + (frames - 1) // 4, h // 16, w // 16), z_sem_grid(cfg, None, (h, w), frames)


def meta_model(cfg: Config, stage: str) -> torch.nn.Module:
    with torch.device("meta"):
        return Stage1Model(cfg) if stage == "latent" else Stage2Model(cfg)


def sequence(grid: Grid, sem: Optional[Grid]) -> Tuple[torch.Tensor, int]:
    """Time positions of a sequence's tokens (grid rows, then z_sem tokens) and the grid token count."""
    from ..models.latent_dit import semantic_positions
    from ..models.rope import grid_positions

    pos = grid_positions(*grid)
    if sem is not None:
        pos = torch.cat([pos, semantic_positions(sem, grid)])
    return pos[:, 0], grid[0] * grid[1] * grid[2]


def tokens_per_rank(grid: Grid, sem: Optional[Grid], window: Optional[int], context: int) -> int:
    """The most tokens one context rank computes (its share of the sequence, plus the halo of shifted layers)."""
    tpos, nv = sequence(grid, sem)
    return max(rank_loads(tpos, nv, grid[0], window, context))


def stage_step(cfg: Config, stage: str, world: int, context: int, model=None) -> Tuple[Step, dict]:
    """The memory-model :class:`.memory.Step` of one GPU for a training stage, and facts for the plan."""
    mc, tc = cfg.models, cfg.train
    model = meta_model(cfg, stage) if model is None else model
    dit_cfg = mc.latent_dit if stage == "latent" else mc.semantic_dit
    dit = model.latent_dit if stage == "latent" else model.semantic_dit
    latent, sem = clip_grids(cfg)
    swin = stage == "latent" and dit_cfg.attention == "swin"
    grid, extra = (latent, sem) if stage == "latent" else (sem, None)
    per_sample = grid[0] * grid[1] * grid[2] + (extra[0] * extra[1] * extra[2] if extra else 0)
    tokens = tokens_per_rank(grid, extra, dit_cfg.swin_window if swin else None, context)
    params = sum(p.numel() for p in model.parameters())
    block = sum(p.numel() for p in dit.blocks[0].parameters())
    size = get_size(dit_cfg.size, dit_cfg.layers)
    sem_values = sem[0] * sem[1] * sem[2] * mc.compressor.in_dim if stage == "latent" else 0
    io_values = (latent[0] * latent[1] * latent[2] * mc.latent_channels * 4) if stage == "latent" else \
        sem[0] * sem[1] * sem[2] * (mc.compressor.out_dim or mc.compressor.in_dim)
    step = Step(size=size, tokens=tokens, params=params, block_params=block, root_params=params - size.layers * block,
                shards=world if tc.parallel == "fsdp" else 1, batch=tc.batch_size, precision=tc.precision, swin=swin,
                checkpointing=tc.activation_checkpointing, io_values=io_values, sem_values=sem_values,
                gpu=tc.use_gpu)
    return step, {"per_sample": per_sample, "latent": latent, "sem": sem, "swin": swin, "size": size}


def plan_problem(cfg: Config, stage: str) -> Optional[str]:
    """Why ``train.context_parallel`` cannot split this stage's sequence (one line), or None."""
    cp = cfg.train.context_parallel
    if cp == 1:
        return None
    part = "latent_dit" if stage == "latent" else "semantic_dit"
    dit_cfg = getattr(cfg.models, part)
    size = get_size(dit_cfg.size, dit_cfg.layers)
    swin = stage == "latent" and dit_cfg.attention == "swin"
    if not swin and size.heads % cp:
        return (f"train.context_parallel={cp}: full attention in models.{part} splits its {size.heads} heads over the "
                f"context ranks (Ulysses); use a divisor of {size.heads}")
    latent, sem = clip_grids(cfg)
    try:
        frame_bounds(latent[0] if stage == "latent" else sem[0], dit_cfg.swin_window if swin else None, cp)
    except ValueError as e:
        return f"train.context_parallel={cp}: {e}"
    return None


def backend_on_workers(cfg: Config) -> str:
    be = cfg.models.attn_backend
    if be != "auto":
        return be
    return "flash" if cfg.train.use_gpu and cfg.train.precision == "bf16" else "sdpa"


def attention_lines(cfg: Config, facts: dict, context: int) -> List[str]:
    be = backend_on_workers(cfg)
    kernel = "flash_attn_varlen_func (one packed call)" if be == "flash" else "SDPA per window"
    heads = facts["size"].heads
    if facts["swin"]:
        lines = [f"self-attention, Swin (unshifted layers): {kernel}" + (", windows local: no communication"
                                                                      if context > 1 else ""),
                 f"self-attention, Swin (shifted layers): {kernel}" + (", halo exchange of the half-windows at "
                                                                    "each rank boundary" if context > 1 else "")]
    else:
        ulysses = "" if context == 1 else (f", Ulysses all-to-all: {heads // context} of {heads} heads per rank"
                                           if heads % context == 0 else
                                           f", NOT POSSIBLE: {heads} heads do not split over {context} ranks")
        lines = [f"self-attention, full: {'flash_attn_func' if be == 'flash' else 'SDPA'}{ulysses}"]
    return lines + [f"text cross-attention: {be} (local queries, all caption tokens)"]


def training_plan(cfg: Config, stage: str) -> List[str]:
    """The plan as printable lines (``key=value`` facts first)."""
    tc = cfg.train
    world, context = tc.num_workers, tc.context_parallel
    model = meta_model(cfg, stage)
    units = len(fsdp_units(model)) + 1 if tc.parallel == "fsdp" else 0
    step, facts = stage_step(cfg, stage, world, context, model)
    est = estimate(step)
    fits = est["peak"] <= tc.gpu_memory_gb * GB
    grid = facts["latent"] if stage == "latent" else facts["sem"]
    lines = [f"plan ({stage} stage): world_size={world} mesh=data×context={world // context}×{context} "
             f"parallel={tc.parallel} fsdp_units={units} precision={tc.precision} "
             f"activation_checkpointing={str(tc.activation_checkpointing).lower()} use_gpu={str(tc.use_gpu).lower()}",
             f"  tokens per sample: {facts['per_sample']} (grid {'×'.join(map(str, grid))}"
             + (f" + z_sem {'×'.join(map(str, facts['sem']))}" if stage == "latent" else "")
             + f"), per GPU: {step.tokens}; parameters {step.params / 1e6:,.1f} M "
             f"({facts['size'].layers} blocks × {facts['size'].dim})"]
    lines += [f"  {line}" for line in attention_lines(cfg, facts, context)]
    parts = ", ".join(f"{k} {est[k] / GB:.1f}" for k in ("states", "gathered", "saved", "block", "io", "runtime"))
    lines.append(f"  estimated peak memory per GPU: {est['peak'] / GB:.1f} GB ({parts}) — "
                 + (f"fits train.gpu_memory_gb={tc.gpu_memory_gb:g}" if fits else
                    f"DOES NOT FIT train.gpu_memory_gb={tc.gpu_memory_gb:g}: raise train.context_parallel"))
    if backend_on_workers(cfg) == "flash" and not HAS_FLASH:
        lines.append("  note: flash-attn is not installed here; the GPU workers need the 'gpu' extra")
    return lines
