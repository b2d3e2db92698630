"""Rectified flow (paper §4.2.1): z_t = (1−t)·z0 + t·ε, velocity target v = ε − z0, t=1 is noise.

Training: logit-normal t with a shift; loss = masked MSE between predicted and target velocity.
Sampling: Euler from t=1 to 0 on a shifted schedule, with classifier-free guidance.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch


def shift_t(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Timestep shift (SD3/Wan): t' = s·t / (1 + (s−1)·t); s > 1 spends more time at high noise."""
    return shift * t / (1.0 + (shift - 1.0) * t)


def sample_t(n: int, shift: float = 1.0, mean: float = 0.0, std: float = 1.0,
             generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
    """Logit-normal timesteps in (0, 1), then shifted."""
    u = torch.randn(n, generator=generator, device=device) * std + mean
    return shift_t(torch.sigmoid(u), shift)


def _bcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], *([1] * (like.dim() - 1))).to(like.dtype)


def add_noise(z0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    tt = _bcast(t, z0)
    return (1.0 - tt) * z0 + tt * eps


def velocity_target(z0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    return eps - z0


def flow_loss(pred: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean squared error; ``mask`` (broadcastable to pred, 1 = counted) restricts it to real tokens."""
    err = (pred.float() - target.float()) ** 2
    if mask is None:
        return err.mean()
    m = mask.to(err.dtype).expand_as(err)
    return (err * m).sum() / m.sum().clamp_min(1.0)


def timesteps(steps: int, shift: float = 1.0, device=None) -> torch.Tensor:
    """``steps + 1`` decreasing times from 1 to 0 on the shifted schedule."""
    return shift_t(torch.linspace(1.0, 0.0, steps + 1, device=device), shift)


VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Shape = Union[Sequence[int], torch.Size]


@torch.no_grad()
def euler_sample(cond_fn: VelocityFn, noise: Union[torch.Tensor, Shape], steps: int, shift: float = 1.0,
                 uncond_fn: Optional[VelocityFn] = None, cfg_scale: float = 1.0, *,
                 sem_uncond_fn: Optional[VelocityFn] = None, sem_cfg_scale: float = 1.0,
                 generator: Optional[torch.Generator] = None, dtype: torch.dtype = torch.float32,
                 device=None) -> torch.Tensor:
    """Integrate dz = v dt from t=1 (noise) to t=0 on the ``shift``-ed schedule; returns z at t=0.

    ``noise`` is the starting tensor, or a shape to draw it from N(0, I) with ``generator`` (then
    moved to ``device``). ``cond_fn(z, t)`` returns the fully conditioned velocity (``t`` (B,)).
    Classifier-free guidance:

    - text only: ``uncond_fn`` drops the text → v = v_u + s·(v_c − v_u), s = ``cfg_scale``;
    - text and the semantic condition (latent DiT): ``uncond_fn`` drops the text but keeps z_sem,
      ``sem_uncond_fn`` drops both → v = v_∅ + s_sem·(v_sem − v_∅) + s·(v_c − v_sem).

    A scale of 1 switches its term off (that branch is not evaluated).
    """
    if not torch.is_tensor(noise):
        noise = torch.randn(tuple(noise), generator=generator, dtype=dtype)
        noise = noise.to(device) if device is not None else noise
    use_text = uncond_fn is not None and cfg_scale != 1.0
    use_sem = sem_uncond_fn is not None and sem_cfg_scale != 1.0
    if use_sem and uncond_fn is None:
        raise ValueError("semantic guidance needs uncond_fn (text dropped, z_sem kept) as well")
    z = noise
    ts = timesteps(steps, shift, device=noise.device)
    for i in range(steps):
        t, t_next = ts[i], ts[i + 1]
        tb = t.expand(z.shape[0])
        v = cond_fn(z, tb)
        if use_text or use_sem:
            v_sem = uncond_fn(z, tb)
            v = v_sem + cfg_scale * (v - v_sem)
            if use_sem:
                v_none = sem_uncond_fn(z, tb)
                v = v + (sem_cfg_scale - 1.0) * (v_sem - v_none)
        z = z + (t_next - t) * v
    return z
