"""VBench imaging quality: MUSIQ (SPAQ checkpoint) per frame, from ``pyiqa``'s MUSIQ architecture.

VBench (``imaging_quality.py``, default ``imaging_quality_preprocessing_mode='longer'``): the
frames as a FLOAT tensor; if the longer side exceeds 512 px, resize to
``(int(s * h), int(s * w))`` with ``s = 512 / max(h, w)`` (bilinear, ``antialias=False``);
/255; MUSIQ scores each frame on its 0–100 scale; the video's value is the frame mean and the
reported number is divided by 100. Here the per-video value is already /100 (range 0–1, like
the other columns). The weights are VBench's ``musiq_spaq_ckpt-358bb6af.pth`` (a plain state
dict), read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF

from .encoders import frames_to_float

LONGER_SIDE = 512


def musiq_preprocess(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` → float ``(T, 3, H', W')`` in [0, 1], longer side ≤ 512 (VBench's 'longer')."""
    x = frames_to_float(frames)
    h, w = x.shape[-2:]
    if max(h, w) > LONGER_SIDE:
        s = LONGER_SIDE / max(h, w)
        x = TF.resize(x, [int(s * h), int(s * w)], antialias=False)
    return x / 255.0


def musiq_shape(sd: dict) -> dict:
    """MUSIQ constructor sizes read off a state dict (the SPAQ checkpoint gives pyiqa's defaults); the head
    count cannot be read off the weights and stays MUSIQ's 6."""
    emb, enc = sd["embedding.weight"], "transformer_encoder.transformer.encoderblock_"
    blocks = [k for k in sd if k.startswith(enc) and k.endswith("norm1.weight")]
    return {"hidden_size": int(emb.shape[0]), "patch_size": 4 * int(round((emb.shape[1] / 256) ** 0.5)),
            "num_layers": len(blocks), "mlp_dim": int(sd[f"{enc}0.mlp.fc1.weight"].shape[0]),
            "num_scales": int(sd["transformer_encoder.scaleembed_input.scale_emb"].shape[0]),
            "spatial_pos_grid_size": int(round(sd["transformer_encoder.posembed_input.position_emb"].shape[1] ** 0.5))}


def load_musiq(path: str, device: str = "cpu") -> torch.nn.Module:
    """pyiqa's MUSIQ (1 output: SPAQ-style MOS) with the state dict at ``path``."""
    try:
        from pyiqa.archs.musiq_arch import MUSIQ
    except ImportError as e:
        raise ImportError(f"weights.musiq: imaging quality needs the `pyiqa` package ({e})") from e
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights.musiq: no such file: {path}")
    try:
        sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file: one clear line naming the field
        raise ValueError(f"weights.musiq: cannot read {path} as a torch state dict: {type(e).__name__}: {e}") from e
    if isinstance(sd, dict) and "params" in sd and isinstance(sd["params"], dict):
        sd = sd["params"]
    if not isinstance(sd, dict):
        raise ValueError(f"weights.musiq: {path} holds a {type(sd).__name__}, expected a MUSIQ state dict")
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
    try:
        model = MUSIQ(pretrained=False, num_class=1, **musiq_shape(sd))
        model.load_state_dict(sd, strict=True)
    except (KeyError, RuntimeError) as e:
        raise ValueError(f"weights.musiq: {path} is not a 1-output MUSIQ state dict: {str(e)[:300]}") from e
    return model.to(device).eval()


@torch.no_grad()
def frame_musiq(frames: np.ndarray, model: torch.nn.Module, device: str = "cpu") -> torch.Tensor:
    """Per-frame MUSIQ scores on its 0–100 scale, ``(T,)`` (one frame per forward, as VBench)."""
    x = musiq_preprocess(frames)
    return torch.stack([model(x[i:i + 1].to(device)).reshape(()).float().cpu() for i in range(len(x))])


def imaging_score(frame_scores: torch.Tensor) -> float:
    """The video's imaging quality: mean MUSIQ frame score / 100."""
    if frame_scores.numel() == 0:
        raise ValueError("imaging_quality: no frames")
    return float(frame_scores.double().mean()) / 100.0
