"""Artifacts written at the end of training (rank 0): decoded sample videos / z_sem pictures."""
from __future__ import annotations

import logging
import os
from typing import List, Optional

import numpy as np
import torch

from semanticgen.config import Config
from semanticgen.flow import euler_sample

log = logging.getLogger("semanticgen.train")


def _load_vae(cfg: Config):
    from semanticgen.encoders.vae import VideoVAE

    fc = cfg.features
    try:
        return VideoVAE.from_features(fc)
    except Exception as e:  # noqa: BLE001 - samples are best effort; training already succeeded
        log.warning("no VAE for sample videos (%s): writing latents only", e)
        return None


@torch.no_grad()
def render_latents(latent_dit, z_sem: torch.Tensor, text, text_mask, null_text, null_mask, shape, cfg: Config,
                   seed: int) -> torch.Tensor:
    """Euler sampling of VAE latents (1, C, T, H, W) conditioned on z_sem and text, with text CFG."""
    fl = cfg.models.flow
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn((1, *shape), generator=g)
    cond = lambda x, t: latent_dit(x, t, text, text_mask, z_sem)            # noqa: E731
    uncond = None
    if null_text is not None:
        uncond = lambda x, t: latent_dit(x, t, null_text, null_mask, z_sem)  # noqa: E731
    return euler_sample(cond, noise, fl.steps, fl.shift, uncond, fl.cfg_scale)


def stage1_samples(model, cfg: Config, out_dir: str, rows: List[dict]) -> List[str]:
    """Render stored clips' z_sem back to video (the paper's stage-1 reconstruction check)."""
    from semanticgen.models.build import compressor_input
    from semanticgen.store.tensor_columns import unpack_row
    from semanticgen.video.mp4 import write_video

    vae = _load_vae(cfg)
    paths = []
    for i, r in enumerate(rows):
        lat = unpack_row(r, "latents").float()[None]
        sem = unpack_row(r, "sem").float()[None] if cfg.models.compressor.input == "semantic" else None
        _, mu, _ = model.compressor(compressor_input(cfg, lat, sem), sample=False)
        text = unpack_row(r, "text").float()[None]
        out = render_latents(model.latent_dit, mu, text, None, None, None, tuple(lat.shape[1:]), cfg, seed=i)
        torch.save(out[0].clone(), os.path.join(out_dir, f"sample{i}_latents.pt"))
        paths.append(os.path.join(out_dir, f"sample{i}_latents.pt"))
        if vae is not None:
            video = vae.decode(out[0])
            paths.append(str(write_video(os.path.join(out_dir, f"sample{i}.mp4"), video, r.get("vae_fps") or 8.0)))
    return paths


def stage2_samples(model, cfg: Config, out_dir: str, null_text: Optional[torch.Tensor], shape) -> List[str]:
    """The semantic DiT's z_sem for the empty prompt: the tensor and a picture."""
    fl = cfg.models.flow
    text = null_text if null_text is not None else torch.zeros(1, cfg.models.text_dim)
    g = torch.Generator().manual_seed(cfg.run.seed)
    noise = torch.randn((1, *shape), generator=g)
    with torch.no_grad():
        z = euler_sample(lambda x, t: model.semantic_dit(x, t, text[None].float(), None), noise, fl.steps, fl.shift)
    torch.save(z[0].clone(), os.path.join(out_dir, "z_sem_sample.pt"))
    return [zsem_picture(z[0], os.path.join(out_dir, "z_sem_sample.png"))]


def zsem_picture(z: torch.Tensor, path: str) -> str:
    """(Ts, Hs, Ws, d) → PNG: the first 3 channels (min-max normalised) tiled over time."""
    from PIL import Image

    z = z.float()[..., :3]
    if z.shape[-1] < 3:
        z = torch.cat([z, z[..., :1].expand(*z.shape[:-1], 3 - z.shape[-1])], -1)
    z = (z - z.amin()) / (z.amax() - z.amin() + 1e-8)
    img = torch.cat(list(z), dim=1)                        # (Hs, Ts·Ws, 3)
    arr = (img.numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).resize((arr.shape[1] * 16, arr.shape[0] * 16), Image.NEAREST).save(path)
    return path
