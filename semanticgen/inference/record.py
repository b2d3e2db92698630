"""The generation record: ``<video>.json`` next to every generated video (and logged to MLflow with it).

It says what made the video: prompt, seed, the two training runs and their checkpoints, the requested size and
length, the shapes the models actually produced (``latent_shape`` = [C, T, H, W] of the VAE latents, ``z_sem_shape``
= [T, H, W, d] of the z_sem the semantic DiT sampled), where the z_sem grid came from (the trained buckets, an
extrapolation, or given features), the attention, sampler steps and guidance scales, and the project version.
"""
from __future__ import annotations

import json
import os
from typing import Optional


def project_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("semanticgen")
    except PackageNotFoundError:
        return "unknown"


def record_path(video_path: str) -> str:
    return os.path.splitext(video_path)[0] + ".json"


def generation_record(cfg, request: dict, info: dict, runs: Optional[dict] = None) -> dict:
    """``request``: the prompt row (prompt, seed, num_frames, height, width, long); ``info``: what the pipeline
    returned for it; ``runs``: latent/semantic run names and checkpoint paths."""
    gc, fl = cfg.generate, cfg.models.flow
    runs = runs or {}
    return {"prompt": request["prompt"], "seed": int(request["seed"]),
            "latent_run": runs.get("latent_run"), "semantic_run": runs.get("semantic_run"),
            "latent_checkpoint": runs.get("latent_checkpoint"), "semantic_checkpoint": runs.get("semantic_checkpoint"),
            "num_frames": int(request["num_frames"]), "frames_written": int(info["frames"]),
            "fps": float(cfg.features.vae_fps), "height": int(request["height"]), "width": int(request["width"]),
            "latent_shape": [int(x) for x in info["latent_shape"]], "z_sem_shape": [int(x) for x in info["z_sem_shape"]],
            "z_sem_grid_from": info.get("z_sem_grid_from"), "attention": info["attention"],
            "long": bool(request.get("long", False)), "steps": int(fl.steps), "shift": float(fl.shift),
            "semantic_cfg_scale": float(gc.semantic_cfg_scale), "latent_cfg_scale": float(gc.latent_cfg_scale),
            "use_ema": bool(gc.use_ema), "version": project_version()}


def write_record(video_path: str, record: dict) -> str:
    path = record_path(video_path)
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    return path
