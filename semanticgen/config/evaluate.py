"""Evaluation section: VBench-style metrics, drift, weights locations."""
from __future__ import annotations

from dataclasses import dataclass

from .base import check  # noqa: F401  (used by validate once fields are added)


@dataclass
class EvaluateConfig:
    pass
