"""Run the OFFICIAL ``vbench`` package on one shard of videos; executed by ``evaluate.vbench_python``.

    <vbench venv>/bin/python vbench_runner.py SPEC.json RESULT.json

This file is a standalone script for VBench's own virtualenv (it pins old transformers/numpy),
so at module level it imports the standard library only; the project imports it just to find
its path and to unit-test the pure helpers. ``VBENCH_CACHE_DIR`` (``evaluate.vbench_cache``)
must hold the weights of every dimension asked for — VBench would otherwise ``wget`` them; a
dimension whose files are missing is reported as not computed instead. ``TORCH_HOME`` is set to
``<cache>/torch_home``: DINO's ``hubconf.py`` (which VBench's subject consistency loads) fetches its
checkpoint through ``torch.hub.load_state_dict_from_url``, so it must sit in
``torch_home/hub/checkpoints/`` too.

Per video (``spec["videos"]``: ``id``, ``path``) and dimension it scores, with VBench's own
``compute_<dimension>`` functions on a custom-input info file:

- short setting (video not longer than ``long_split_s``): the video file itself, as VBench does;
- long setting: VBench-Long's clips (``vbench2_beta_long.utils.split_video_into_clips`` when that
  imports — it needs moviepy<2, scenedetect and a torchvision with ``io.write_video`` —, else a
  replica of it: ``int(fps) * clip_s`` frames, last clip extended backwards, written by
  ``clip_io.write_clip`` — libx264/yuv420p at ``int(fps)``, one encoder thread); the video's value
  is the mean of its clip values (``reorganize_clips_results``);
- drift: the first and last ``drift_fraction`` of the frames (decoded by VBench's ``load_video``)
  scored the same way: short-setting ends written losslessly (libx264rgb, qp 0), long-setting ends
  cut into re-encoded clips like the whole video (clips written by ``clip_io.py``: x264 on one thread).

Temporal flickering applies VBench's RAFT static filter (``vbench.cli.static_filter``) when
``raft_model/models/raft-things.pth`` is in the cache: a non-static video (or clip) is left out,
as in VBench's protocol; without the weights every video is scored and a note says so.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

CACHE_FILES: Dict[str, List[str]] = {          # dimension → files VBench needs under VBENCH_CACHE_DIR
    "subject_consistency": ["dino_model/facebookresearch_dino_main/hubconf.py",     # DINO's hub repo
                            "dino_model/dino_vitbase16_pretrain.pth",               # what VBench checks
                            "torch_home/hub/checkpoints/dino_vitbase16_pretrain.pth"],  # what DINO's hubconf loads
    "background_consistency": ["clip_model/ViT-B-32.pt"],
    "temporal_flickering": [],
    "motion_smoothness": ["amt_model/amt-s.pth"],
    "imaging_quality": ["pyiqa_model/musiq_spaq_ckpt-358bb6af.pth"],
    "aesthetic_quality": ["clip_model/ViT-L-14.pt", "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth"],
}
RAFT_FILE = "raft_model/models/raft-things.pth"
PER_VIDEO_SCALE = {"imaging_quality": 0.01}    # VBench divides only the set score by 100; per video here too


def missing_files(cache: str, dimension: str) -> List[str]:
    return [f for f in CACHE_FILES[dimension] if not os.path.exists(os.path.join(cache, f))]


def load_sibling(name: str):
    """A standalone module of this folder loaded by path (``spans.py``: drift ends and VBench-Long clip spans;
    ``clip_io.py``: how clips are written): one rule, one place, without importing the package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"semanticgen_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SPANS, CLIP_IO = load_sibling("spans"), load_sibling("clip_io")


def combine(values: Dict[str, float], units: Dict[str, List[str]]) -> Dict[str, float]:
    """``{unit: mean of its files' values}`` for the units whose files all have a value."""
    out = {}
    for unit, files in units.items():
        have = [values[f] for f in files if f in values]
        if files and len(have) == len(files):
            out[unit] = sum(have) / len(have)
    return out


def _write_mp4(path: str, frames, fps: float, lossless: bool) -> str:
    CLIP_IO.write_clip(path, frames, fps, lossless)
    return path


def _official_splitter():
    try:
        from vbench2_beta_long.utils import split_video_into_clips
        return split_video_into_clips
    except Exception as e:  # noqa: BLE001 - moviepy/scenedetect/torchvision.io.write_video may be missing
        return e


class Shard:
    """Builds the files VBench scores (``units``: ``video/part`` → files) for one shard."""

    def __init__(self, spec: dict):
        self.spec, self.work = spec, Path(spec["work_dir"])
        self.units: Dict[str, List[str]] = {}
        self.info: Dict[str, dict] = {}
        self.notes: Dict[str, List[str]] = {}
        self.splitter = _official_splitter()

    def add_video(self, vid: str, path: str) -> None:
        from decord import VideoReader
        from vbench.utils import load_video

        vr = VideoReader(path, num_threads=1)
        n, fps = len(vr), float(vr.get_avg_fps())
        del vr
        limit = self.spec.get("long_split_s")
        setting = "long" if limit is not None and n / fps > limit else "short"
        self.info[vid] = {"num_frames": n, "fps": fps, "setting": setting, "clips": 1}
        vdir = self.work / f"v{len(self.info):05d}"
        vdir.mkdir(parents=True, exist_ok=True)
        frames = load_video(path, return_tensor=False)            # VBench's own decode (decord), uint8 THWC
        if setting == "long":
            self.units[f"{vid}/whole"] = self._long_clips(path, frames, fps, vdir / "whole")
            self.info[vid]["clips"] = len(self.units[f"{vid}/whole"])
        else:
            self.units[f"{vid}/whole"] = [path]
        try:
            k = SPANS.edge_frames(n, self.spec["drift_fraction"], self.spec["drift_min_frames"])
        except SPANS.TooFewFramesError as e:
            self.notes.setdefault(vid, []).append(f"drift: {e}")
            return
        for part, sl in (("first", slice(0, k)), ("last", slice(n - k, n))):
            if setting == "long":
                self.units[f"{vid}/{part}"] = self._replica_clips(frames[sl], fps, vdir / part)
            else:
                self.units[f"{vid}/{part}"] = [_write_mp4(str(vdir / f"{part}.mp4"), frames[sl], int(fps), True)]

    def drop(self, vid: str) -> None:
        """Forget a video that failed half-way (no partial units are scored)."""
        self.info.pop(vid, None)
        for part in ("whole", "first", "last"):
            self.units.pop(f"{vid}/{part}", None)

    def _long_clips(self, path: str, frames, fps: float, out: Path) -> List[str]:
        if callable(self.splitter):
            folder = self.splitter(path, str(out), duration=int(self.spec["clip_s"]))
            return sorted(str(p) for p in Path(folder).glob("*.mp4"))
        return self._replica_clips(frames, fps, out)

    def _replica_clips(self, frames, fps: float, out: Path) -> List[str]:
        out.mkdir(parents=True, exist_ok=True)
        spans = SPANS.clip_ranges(len(frames), fps, self.spec["clip_s"])
        return [_write_mp4(str(out / f"clip_{i:03d}.mp4"), frames[a:b], int(fps), False)
                for i, (a, b) in enumerate(spans)]


def _static_filter(files: List[str], cache: str, device: str) -> Tuple[List[str], Optional[str]]:
    """VBench's RAFT static filter on ``files``; ``(kept, note)``."""
    raft = os.path.join(cache, RAFT_FILE)
    if not os.path.exists(raft):
        return files, f"static filter not applied: no {RAFT_FILE} in evaluate.vbench_cache"
    import vbench.cli.static_filter as sf

    sf.DEVICE = device
    args = type("Args", (), {"model": raft, "small": False, "mixed_precision": False, "alternate_corr": False})()
    filt = sf.StaticFilter(args, device=device)
    kept = [f for f in files if filt.infer(f)]
    return kept, f"static filter: {len(files) - len(kept)} of {len(files)} files not static, left out"


def run_dimension(dim: str, files: List[str], spec: dict, submodules: dict) -> Dict[str, float]:
    """``{file: per-file value}`` from ``vbench.<dim>.compute_<dim>`` on a custom-input info file."""
    import importlib

    info = os.path.join(spec["work_dir"], f"{dim}_info.json")
    with open(info, "w") as f:
        json.dump([{"prompt_en": Path(p).stem, "dimension": [dim], "video_list": [p]} for p in files], f)
    fn = getattr(importlib.import_module(f"vbench.{dim}"), f"compute_{dim}")
    _, per_video = fn(info, spec["device"], submodules[dim], imaging_quality_preprocessing_mode="longer")
    scale = PER_VIDEO_SCALE.get(dim, 1.0)
    return {r["video_path"]: float(r["video_results"]) * scale for r in per_video}


def run(spec: dict) -> dict:
    from vbench.utils import init_submodules

    cache, device = spec["cache"], spec["device"]
    result = {"videos": {}, "not_computed": {}, "notes": {}, "errors": {}}
    dims = []
    for dim in spec["dimensions"]:
        miss = missing_files(cache, dim)
        if miss:
            result["not_computed"][dim] = f"no {', '.join(miss)} in evaluate.vbench_cache"
        else:
            dims.append(dim)
    shard = Shard(spec)
    if not callable(shard.splitter):
        result["splitter"] = f"pyav replica (vbench2_beta_long does not import: {shard.splitter})"
    else:
        result["splitter"] = "vbench2_beta_long.utils.split_video_into_clips"
    for v in spec["videos"]:
        try:
            shard.add_video(v["id"], v["path"])
        except Exception as e:  # noqa: BLE001 - one broken video is an error row, not a failed shard
            result["errors"][v["id"]] = f"{type(e).__name__}: {str(e)[:500]}"
            shard.drop(v["id"])
    submodules = init_submodules(dims, local=True) if dims else {}
    files = sorted({f for fs in shard.units.values() for f in fs})
    values: Dict[str, Dict[str, float]] = {}
    for dim in dims:
        todo = files
        if dim == "temporal_flickering":
            todo, note = _static_filter(files, cache, device)
            result["notes"].setdefault("*", []).append(note)
        try:
            values[dim] = run_dimension(dim, todo, spec, submodules) if todo else {}
        except Exception as e:  # noqa: BLE001 - a failing dimension is reported, the others still run
            result["not_computed"][dim] = f"vbench failed: {type(e).__name__}: {str(e)[:300]}"
    for vid, info in shard.info.items():
        row = dict(info)
        for dim, vals in values.items():
            per_unit = combine(vals, {p: shard.units[f"{vid}/{p}"] for p in ("whole", "first", "last")
                                      if f"{vid}/{p}" in shard.units})
            if "whole" in per_unit:
                row[dim] = per_unit["whole"]
            if "first" in per_unit and "last" in per_unit:
                row[f"drift_{dim}"] = abs(per_unit["first"] - per_unit["last"])
        result["videos"][vid] = row
        result["notes"][vid] = shard.notes.get(vid, [])
    return result


def main(argv: List[str]) -> int:
    spec_path, out_path = argv
    with open(spec_path) as f:
        spec = json.load(f)
    os.environ["VBENCH_CACHE_DIR"] = spec["cache"]            # read by vbench.utils at import time
    os.environ["TORCH_HOME"] = os.path.join(spec["cache"], "torch_home")   # DINO's hubconf: load_state_dict_from_url
    result = run(spec)
    with open(out_path, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
