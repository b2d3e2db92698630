"""Feature extraction section (captioner, Qwen2.5-VL semantic encoder, Wan VAE, text encoder)."""
from __future__ import annotations

from dataclasses import dataclass

from .base import check  # noqa: F401  (used by validate once fields are added)


@dataclass
class FeaturesConfig:
    pass
