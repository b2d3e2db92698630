"""Ray helpers (the only library module that imports Ray): connect or start a local Ray."""
from __future__ import annotations

import logging
import os

from .config import Config

log = logging.getLogger(__name__)


def init_ray(cfg: Config, **kwargs):
    """Connect to ``cfg.ray.address`` / ``$RAY_ADDRESS``; otherwise start an embedded local Ray.

    Under ``ray job submit`` the driver already has ``RAY_ADDRESS`` set, so the same
    job code runs locally and on a cluster.
    """
    import ray

    if ray.is_initialized():
        return ray
    address = cfg.ray.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True, **kwargs)
    else:
        if cfg.ray.temp_dir:
            os.makedirs(cfg.ray.temp_dir, exist_ok=True)
        ray.init(num_cpus=cfg.ray.num_cpus, _temp_dir=cfg.ray.temp_dir and os.path.abspath(cfg.ray.temp_dir),
                 include_dashboard=False, log_to_driver=True, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = cfg.ray.progress_bars
    log.info("ray: %s", ray.cluster_resources())
    return ray
