"""Model section: compressor, latent DiT, semantic DiT sizes and attention."""
from __future__ import annotations

from dataclasses import dataclass

from .base import check  # noqa: F401  (used by validate once fields are added)


@dataclass
class ModelsConfig:
    pass
