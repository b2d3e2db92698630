"""Token-grid shapes of a requested video (size × frames) for the latent and the semantic DiT.

Generation samples z_sem on the grid that the TRAINING clips of the requested bucket have. Each training
checkpoint carries the bucket statistics of the table it trained on (``buckets.json``, written from the z_sem table
by stage 2 and from the features table by stage 1; ``semanticgen.store.buckets``): per bucket its frames, size,
z_sem grid and clip count. For a request of ``F`` frames at ``H`` × ``W``:

- ``H × W`` must be a spatial bucket some training clip had; else the request is refused (:class:`UncoveredSize`)
  unless ``generate.extrapolate=true``, which takes the grid of the pixel budget at that aspect
  (``encoders.grid.z_sem_grid`` with a source above the budget);
- the spatial grid (H', W') is the one most of that bucket's training clips have (sources smaller than the pixel
  budget give smaller grids; ties go to the larger grid);
- the time axis T' comes from the same grid function for ``F`` frames (it depends on ``F`` only), so a trained
  length gets exactly its training grid and longer videos stay allowed (Swin attention is local in time).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..config import Config
from ..encoders.grid import z_sem_grid
from ..store.buckets import BUCKETS_FILE, parse_bucket, read_stats

log = logging.getLogger("semanticgen.inference")


class UncoveredSize(ValueError):
    """A requested frame size that no trained spatial bucket covers."""


def latent_shape(cfg: Config, height: int, width: int, num_frames: int) -> Tuple[int, int, int, int]:
    """Wan VAE latents: (16, 1+(T−1)/4, H/8, W/8)."""
    return cfg.models.latent_channels, 1 + (num_frames - 1) // 4, height // 8, width // 8


@dataclass(frozen=True)
class TrainedBucket:
    frames: int
    height: int
    width: int
    grid: Tuple[int, int, int]
    clips: int


def _row_buckets(cfg: Config, row: dict) -> List[TrainedBucket]:
    """A ``buckets.json`` row of either stage → the (frames, size, z_sem grid) buckets it stands for."""
    if "z_mu_shape" in row:                                   # stage 2: batched by z_sem grid
        grid = tuple(int(x) for x in row["z_mu_shape"][:3])
    elif cfg.models.compressor.input == "vae":
        from ..models.build import vae_patch_grid

        grid = tuple(vae_patch_grid(row["latents_shape"][1:]))
    else:
        grid = tuple(int(x) for x in row["sem_shape"][:3])
    keys = [k for k in (row.get("bucket") or "").split("+") if k]
    if not keys:                                              # a store written before the bucket column
        _, t, h, w = row["latents_shape"]
        keys = [f"{1 + 4 * (t - 1)}x{8 * h}x{8 * w}"]
    return [TrainedBucket(*parse_bucket(k), grid, int(row["clips"])) for k in keys]


class TrainedBuckets:
    """The buckets a checkpoint was trained on, and the z_sem grid generation uses for a requested size."""

    def __init__(self, cfg: Config, buckets: Sequence[TrainedBucket], source: str = ""):
        self.cfg, self.buckets, self.source = cfg, list(buckets), source

    @classmethod
    def from_checkpoint(cls, cfg: Config, checkpoint: str) -> Optional["TrainedBuckets"]:
        """From ``<checkpoint>/buckets.json`` (None for a checkpoint written before bucket statistics)."""
        from ..io.checkpoints import local_checkpoint

        doc = read_stats(os.path.join(local_checkpoint(checkpoint), BUCKETS_FILE))
        if doc is None:
            return None
        return cls(cfg, [b for row in doc["buckets"] for b in _row_buckets(cfg, row)], checkpoint)

    def sizes(self) -> List[Tuple[int, int]]:
        return sorted({(b.height, b.width) for b in self.buckets})

    def check(self, height: int, width: int) -> None:
        if (height, width) not in self.sizes() and not self.cfg.generate.extrapolate:
            trained = ", ".join(f"{h}x{w}" for h, w in self.sizes())
            raise UncoveredSize(f"{height}x{width} is not a trained frame size (trained: {trained}); "
                                f"generate one of those or set generate.extrapolate=true")

    def grid(self, height: int, width: int, num_frames: int) -> Tuple[Tuple[int, int, int], str]:
        """(z_sem grid (T', H', W'), how it was chosen: ``trained`` or ``extrapolated``)."""
        self.check(height, width)
        t = z_sem_grid(self.cfg, None, (height, width), num_frames)[0]
        votes: dict = {}
        for b in self.buckets:
            if (b.height, b.width) == (height, width):
                votes[b.grid[1:]] = votes.get(b.grid[1:], 0) + b.clips
        if not votes:
            log.warning("%dx%d: no trained bucket; extrapolating the z_sem grid (generate.extrapolate)", height, width)
            return (t, *z_sem_grid(self.cfg, None, (height, width), num_frames)[1:]), "extrapolated"
        hw = max(votes, key=lambda g: (votes[g], g))
        return (t, *hw), "trained"


def generation_grid(cfg: Config, trained: Optional[TrainedBuckets], height: int, width: int,
                    num_frames: int) -> Tuple[Tuple[int, int, int], str]:
    """The z_sem grid of a request: from the checkpoint's trained buckets, or (a checkpoint without bucket
    statistics) the grid function at the pixel budget, with a warning."""
    if trained is not None:
        return trained.grid(height, width, num_frames)
    log.warning("the checkpoint has no %s (trained before bucket statistics): z_sem grid from the pixel budget",
                BUCKETS_FILE)
    return tuple(z_sem_grid(cfg, None, (height, width), num_frames)), "budget"
