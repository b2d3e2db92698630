"""Evaluation graph: one row per video file → metrics table (Parquet + CSV), built-in or vbench backend.

Built-in: discover (driver) → ``map_batches`` on an actor pool (each actor loads the metric models
ONCE, then reads and scores its videos) → one Arrow table, sorted by ``video_id``. Backend
``vbench``: one Ray task per GPU / video shard runs the official package (``evaluate_vbench.py``).
A video that cannot be decoded becomes a row with ``error`` set, never a crash.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from semanticgen.config import Config
from semanticgen.config.evaluate import METRICS, EvaluateConfig
from semanticgen.metrics.registry import missing_reason
from semanticgen.metrics.table import aggregate, compact, rows_to_table

log = logging.getLogger("semanticgen.evaluate")

TABLE_NAME = "metrics"


def walk_videos(root: Path, exts: set) -> Tuple[List[Path], List[str]]:
    """Files under ``root`` with one of ``exts``, following symlinked folders once; ``(files, warnings)``.

    A symlinked folder is followed (and named in a warning); a link back into a folder already
    walked (a loop, or a second way into the same folder) is skipped with a warning.
    """
    files, warnings, seen = [], [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            warnings.append(f"skipped {dirpath}: it leads back to {real}, already searched (symlink loop?)")
            dirnames[:] = []
            continue
        seen.add(real)
        if os.path.islink(dirpath):
            warnings.append(f"followed symlinked folder {dirpath} -> {real}")
        files += [Path(dirpath) / f for f in filenames
                  if Path(f).suffix.lower() in exts and os.path.isfile(os.path.join(dirpath, f))]
        dirnames.sort()
    return sorted(files), warnings


def discover_videos(videos_dir: str, extensions: Sequence[str]) -> Tuple[List[Path], List[str]]:
    """Video files under ``videos_dir`` (recursive, sorted) and discovery warnings; error if none."""
    root = Path(videos_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"evaluate: videos folder not found: {videos_dir}")
    exts = {e.lower() for e in extensions}
    found, warnings = walk_videos(root, exts)
    for w in warnings:
        log.warning("evaluate: %s", w)
    if not found:
        raise FileNotFoundError(f"evaluate: no videos ({', '.join(sorted(exts))}) in {videos_dir}")
    return found, warnings


class EvalActor:
    """Ray Data actor: the metric models are loaded once, in ``__init__``."""

    def __init__(self, ecfg: EvaluateConfig):
        from semanticgen.metrics.evaluator import VideoEvaluator

        self.ev = VideoEvaluator(ecfg)

    def __call__(self, batch: Dict) -> pa.Table:
        rows = [self.ev.evaluate_path(str(p), str(v)) for p, v in zip(batch["path"], batch["video_id"])]
        return rows_to_table(rows, self.ev.metric_names)


def num_workers(ecfg: EvaluateConfig, n_videos: int) -> int:
    """Actors (built-in) or shards (vbench): ``num_actors``, else what the free CPUs/GPUs allow."""
    import ray

    if ecfg.num_actors:
        return min(ecfg.num_actors, n_videos)
    key, per = ("GPU", ecfg.num_gpus) if ecfg.num_gpus > 0 else ("CPU", ecfg.cpus_per_actor)
    free = ray.cluster_resources().get(key, 1.0)
    return max(1, min(n_videos, int(free // per)))


def evaluate_builtin(ecfg: EvaluateConfig, items: List[Dict]) -> Tuple[pa.Table, Dict[str, str]]:
    """Built-in metrics table for ``items`` (``path``, ``video_id``) and ``{not computed: reason}``."""
    import ray

    n_actors = num_workers(ecfg, len(items))
    log.info("evaluate: %d videos, %d actor(s)", len(items), n_actors)
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(EvalActor, fn_constructor_kwargs={"ecfg": ecfg}, batch_size=ecfg.batch_size,
                        batch_format="numpy", compute=ray.data.ActorPoolStrategy(min_size=1, max_size=n_actors),
                        num_cpus=ecfg.cpus_per_actor, num_gpus=ecfg.num_gpus or None)
    tables = [t for t in ray.get(list(ds.to_arrow_refs())) if t.num_rows]
    table = pa.concat_tables(tables) if tables else rows_to_table([], ecfg.metrics)
    return table, {m: r for m in ecfg.metrics if (r := missing_reason(ecfg, m))}


def evaluate_videos(ecfg: EvaluateConfig, videos_dir: str, work_dir: str) -> Tuple[pa.Table, Dict[str, str], List[str]]:
    """Metrics table for every video under ``videos_dir`` (Ray must be initialised), with the not-computed
    reasons and discovery warnings."""
    root = Path(videos_dir)
    paths, warnings = discover_videos(videos_dir, ecfg.extensions)
    items = [{"path": str(p), "video_id": p.relative_to(root).as_posix()} for p in paths]
    if ecfg.backend == "vbench":
        from pipelines.evaluate_vbench import evaluate_vbench

        table, skipped = evaluate_vbench(ecfg, items, str(Path(work_dir) / "vbench"), num_workers(ecfg, len(items)))
    else:
        table, skipped = evaluate_builtin(ecfg, items)
    return table.sort_by("video_id"), skipped, warnings


def write_table(table: pa.Table, metrics: Sequence[str], out_dir: str) -> Dict[str, Path]:
    """``OUT/metrics.parquet`` (fixed schema) and ``OUT/metrics.csv`` (computed columns only, ``not_computed``
    joined with ';')."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": out / f"{TABLE_NAME}.parquet", "csv": out / f"{TABLE_NAME}.csv"}
    pq.write_table(table, paths["parquet"])
    pacsv.write_csv(compact(table, metrics), paths["csv"])
    return paths


def read_table(out_dir: str) -> pa.Table:
    path = Path(out_dir) / f"{TABLE_NAME}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"evaluate: no {TABLE_NAME}.parquet in {out_dir}")
    return pq.read_table(path)


def dir_aggregate(out_dir: str) -> Dict[str, float]:
    """Aggregate metrics of an earlier run's output folder (for ``--compare-dirs``)."""
    table = read_table(out_dir)
    return aggregate(table, [m for m in METRICS if m in table.column_names])


def scored_videos(table: pa.Table, metrics: Sequence[str]) -> int:
    """Videos without an error that got at least one metric value."""
    n = 0
    for r in table.to_pylist():
        vals = [r.get(m) for m in metrics]
        n += r["error"] is None and any(v is not None and not math.isnan(v) for v in vals)
    return n


@dataclass
class EvalResult:
    table: pa.Table
    metrics: List[str]
    aggregate: Dict[str, float]
    not_computed: Dict[str, str]                  # metric → reason (for every video)
    files: Dict[str, Path]
    wall_s: float
    warnings: List[str] = field(default_factory=list)
    reference: Optional["EvalResult"] = None

    @property
    def scored(self) -> int:
        return scored_videos(self.table, self.metrics)

    def lines(self) -> List[str]:
        t = self.table
        failed = t.filter(pc.invert(pc.is_null(t.column("error"))))
        out = [f"videos: {t.num_rows} ({self.scored} scored, {failed.num_rows} failed)  wall: {self.wall_s:.1f}s",
               f"table: {self.files.get('parquet')}"]
        out += [f"  warning: {w}" for w in self.warnings]
        out += [f"  not computed: {name}: {reason}" for name, reason in self.not_computed.items()]
        for vid, err in zip(failed.column("video_id").to_pylist(), failed.column("error").to_pylist()):
            out.append(f"  [error] {vid}: {err[:160]}")
        return out


def run_evaluate(cfg: Config, videos_dir: str, out_dir: str, reference_dir: Optional[str] = None) -> EvalResult:
    """Evaluate ``videos_dir`` (and ``reference_dir`` into ``OUT/reference``); write the tables."""
    ecfg = cfg.evaluate
    t0 = time.perf_counter()
    table, skipped, warnings = evaluate_videos(ecfg, videos_dir, out_dir)
    files = write_table(table, ecfg.metrics, out_dir)
    ref = None
    if reference_dir:
        ref = run_evaluate(cfg, reference_dir, str(Path(out_dir) / "reference"))
    return EvalResult(table=table, metrics=list(ecfg.metrics), aggregate=aggregate(table, ecfg.metrics),
                      not_computed=skipped, files=files, wall_s=time.perf_counter() - t0, warnings=warnings,
                      reference=ref)
