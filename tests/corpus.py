"""A mixed test corpus (DEVELOPERS: "mixed, not uniform"): landscape, portrait, square and ultra-wide sources at
different frame rates and lengths, plus the real ``bikes.mp4`` sample — and the chain run over it by the session
fixtures of ``conftest.py`` (one store, one trained tiny stage-1/stage-2 pair shared by the heavy tests)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List

from synth_video import shot_frames, write_frames

# name, width, height, fps, frames per shot
MIXED_SOURCES = (
    ("landscape.mp4", 160, 90, 25.0, (110, 115)),      # 16:9, 4.4 s + 4.6 s
    ("portrait.mp4", 72, 128, 30.0, (90, 75)),         # 9:16, 3.0 s + 2.5 s
    ("square.mp4", 96, 96, 24.0, (60, 130)),           # 1:1, 2.5 s + 5.4 s (split in two under a 5 s max)
    ("lowfps.mp4", 128, 72, 12.0, (40,)),              # 12 fps, 3.3 s
)
# ingest overrides of the corpus: short clips, so every source gives several of different lengths
MIXED_INGEST = ("ingest.max_clip_s=5", "ingest.min_clip_s=1")


def write_mixed_corpus(folder: Path) -> List[str]:
    """Write the synthetic sources into ``folder`` (and copy the real ``bikes.mp4`` sample: 640×272, 25 fps, 10 s,
    5 cuts, when installed); → the video paths."""
    from semanticgen.samples import sample_videos

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, w, h, fps, shots) in enumerate(MIXED_SOURCES):
        paths.append(str(write_frames(folder / name, shot_frames(shots, width=w, height=h, seed=10 + i), fps=fps)))
    bikes = sample_videos().get("bikes")
    if bikes is not None:
        paths.append(shutil.copy(bikes, folder / "bikes.mp4"))
    return sorted(os.path.abspath(p) for p in paths)
