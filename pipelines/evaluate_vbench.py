"""Backend ``vbench``: the official VBench package scores the videos; results land in the metrics table.

The driver splits the videos into shards — one per GPU (``evaluate.num_gpus`` each) or per CPU
worker — and runs one Ray task per shard. Each task writes a spec JSON and runs
``semanticgen/metrics/vbench_runner.py`` with ``evaluate.vbench_python`` (VBench's own virtualenv,
``VBENCH_CACHE_DIR=evaluate.vbench_cache``); the per-video results it writes are imported into
the same table as the built-in backend (``backend = vbench``).
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pyarrow as pa

from semanticgen.config.evaluate import EvaluateConfig
from semanticgen.metrics import vbench_runner
from semanticgen.metrics.registry import VBENCH
from semanticgen.metrics.table import rows_to_table

log = logging.getLogger("semanticgen.evaluate")

RUNNER = Path(vbench_runner.__file__)
NOT_VBENCH = "not a VBench dimension (the built-in backend's stand-in)"


def check_vbench_python(python: str) -> None:
    """Fail early (before Ray) when ``python`` cannot find the ``vbench`` package."""
    probe = "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('vbench') else 3)"
    try:
        rc = subprocess.run([python, "-c", probe], capture_output=True, timeout=120).returncode
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ValueError(f"evaluate.vbench_python: cannot run {python}: {e}") from e
    if rc != 0:
        raise ValueError(f"evaluate.vbench_python: {python} has no `vbench` package "
                         "(pip install vbench in that virtualenv)")


def shard_spec(ecfg: EvaluateConfig, items: List[Dict], work_dir: str, device: str) -> Dict:
    dims = [m for m in ecfg.metrics if m in VBENCH]
    return {"videos": [{"id": it["video_id"], "path": os.path.abspath(it["path"])} for it in items],
            "dimensions": dims, "cache": os.path.abspath(ecfg.vbench_cache or os.path.join(work_dir, "cache")),
            "device": device, "work_dir": os.path.abspath(work_dir), "clip_s": ecfg.long_clip_s,
            "long_split_s": ecfg.long_split_s, "drift_fraction": ecfg.drift_fraction,
            "drift_min_frames": ecfg.drift_min_frames}


def run_shard(python: str, spec: Dict) -> Dict:
    """Run the runner on one shard (in this process: called inside the Ray task)."""
    work = Path(spec["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    spec_path, out_path = work / "spec.json", work / "result.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "VBENCH_CACHE_DIR": spec["cache"]}
    proc = subprocess.run([python, str(RUNNER), str(spec_path), str(out_path)], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0 or not out_path.is_file():
        tail = (proc.stderr or proc.stdout or "")[-1500:]
        return {"failed": f"vbench runner exited {proc.returncode}: {tail}"}
    return json.loads(out_path.read_text())


def to_rows(ecfg: EvaluateConfig, items: List[Dict], result: Dict) -> List[Dict]:
    """Runner output → metrics-table rows (the same columns as the built-in backend)."""
    rows = []
    skipped = {**result.get("not_computed", {}), **{m: NOT_VBENCH for m in ecfg.metrics if m not in VBENCH}}
    shared = result.get("notes", {}).get("*", [])
    for it in items:
        vid = it["video_id"]
        base = {"video_id": vid, "path": it["path"], "backend": "vbench"}
        err = result.get("failed") or result.get("errors", {}).get(vid)
        if err or vid not in result.get("videos", {}):
            rows.append({**base, "error": err or "vbench returned no result", "not_computed": list(ecfg.metrics)})
            continue
        v = result["videos"][vid]
        row = {**base, **{k: v[k] for k in ("num_frames", "fps", "setting", "clips")}, "error": None}
        row["duration_s"] = v["num_frames"] / v["fps"]
        nc = [m for m in ecfg.metrics if m in skipped or m not in v]
        drifts = []
        for m in ecfg.metrics:
            if m in v:
                row[m] = v[m]
            if f"drift_{m}" in v:
                row[f"drift_{m}"] = v[f"drift_{m}"]
                drifts.append(v[f"drift_{m}"])
        row["drift_mean"] = sum(drifts) / len(drifts) if drifts else None
        notes = [f"{m}: {skipped.get(m, 'vbench gave no value')}" for m in nc] + shared + result["notes"].get(vid, [])
        row.update(not_computed=nc, notes="; ".join(notes) or None)
        rows.append(row)
    return rows


def evaluate_vbench(ecfg: EvaluateConfig, items: List[Dict], work_dir: str, n: int) -> Tuple[pa.Table, Dict[str, str]]:
    """Score ``items`` with the official VBench in ``n`` shards (one Ray task each); the table and not-computed
    reasons."""
    import ray

    shards = [items[i::n] for i in range(n)]
    device = "cuda" if ecfg.num_gpus > 0 else "cpu"
    task = ray.remote(run_shard).options(num_cpus=ecfg.cpus_per_actor, num_gpus=ecfg.num_gpus or None)
    log.info("evaluate: %d videos, backend vbench, %d shard(s)", len(items), n)
    refs = [task.remote(ecfg.vbench_python, shard_spec(ecfg, s, f"{work_dir}/shard{i:03d}", device))
            for i, s in enumerate(shards)]
    rows, skipped = [], {}
    for shard, result in zip(shards, ray.get(refs)):
        rows += to_rows(ecfg, shard, result)
        skipped.update(result.get("not_computed", {}))
    skipped.update({m: NOT_VBENCH for m in ecfg.metrics if m not in VBENCH})
    return rows_to_table(rows, ecfg.metrics), skipped
