"""VBench aesthetic quality: LAION linear aesthetic head on CLIP ViT-L/14 image embeddings.

VBench (``aesthetic_quality.py``): per frame, the L2-normalised CLIP image embedding goes
through the LAION ``Linear(768, 1)`` head (``sa_0_4_vit_l_14_linear.pth``); the frame
scores are divided by 10 and averaged over all frames of the video.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F


def load_laion_head(path: str, in_dim: int) -> torch.nn.Linear:
    """A ``Linear(in_dim, 1)`` from a ``.safetensors`` or torch file holding ``weight`` and ``bias``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights.laion_head: no such file: {path}")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = load_file(str(p))
    else:
        sd = torch.load(str(p), map_location="cpu", weights_only=True)
    if not isinstance(sd, dict) or not {"weight", "bias"} <= set(sd):
        keys = sorted(sd)[:8] if isinstance(sd, dict) else type(sd).__name__
        raise ValueError(f"weights.laion_head: {path} must hold 'weight' and 'bias' of a Linear head, found {keys}")
    w, b = sd["weight"], sd["bias"]
    if tuple(w.shape) != (1, in_dim) or tuple(b.shape) != (1,):
        raise ValueError(f"weights.laion_head: {path} has weight {tuple(w.shape)}, bias {tuple(b.shape)}; "
                         f"expected (1, {in_dim}) and (1,) for a {in_dim}-d CLIP embedding")
    head = torch.nn.Linear(in_dim, 1)
    head.load_state_dict({"weight": w.float(), "bias": b.float()})
    return head.eval()


@torch.no_grad()
def frame_aesthetic(embeds: torch.Tensor, head: torch.nn.Linear) -> torch.Tensor:
    """``(T, D)`` CLIP image embeddings → ``(T,)`` per-frame aesthetic scores / 10."""
    x = F.normalize(embeds.float(), dim=-1, p=2)
    return head(x).squeeze(-1) / 10.0


def aesthetic_score(frame_scores: torch.Tensor) -> float:
    """The video's aesthetic quality: mean of the per-frame (already /10) scores."""
    if frame_scores.numel() == 0:
        raise ValueError("aesthetic_quality: no frames")
    return float(frame_scores.double().mean())
