"""Ray Data evaluation graph: one row per video file → metrics table (Parquet + CSV).

discover (driver) → ``map_batches`` on an actor pool (each actor loads the metric models
ONCE, then reads and scores its videos) → one Arrow table, sorted by ``video_id``. A video
that cannot be decoded becomes a row with ``error`` set, never a crash.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from semanticgen.config import Config
from semanticgen.config.evaluate import METRICS, EvaluateConfig
from semanticgen.metrics.registry import missing_reason
from semanticgen.metrics.table import aggregate, rows_to_table, to_csv_table

log = logging.getLogger("semanticgen.evaluate")

TABLE_NAME = "metrics"


def discover_videos(videos_dir: str, extensions: Sequence[str]) -> List[Path]:
    """Video files under ``videos_dir`` (recursive, sorted); error if none."""
    root = Path(videos_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"evaluate: videos folder not found: {videos_dir}")
    exts = {e.lower() for e in extensions}
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts)
    if not found:
        raise FileNotFoundError(f"evaluate: no videos ({', '.join(sorted(exts))}) in {videos_dir}")
    return found


class EvalActor:
    """Ray Data actor: the metric models are loaded once, in ``__init__``."""

    def __init__(self, ecfg: EvaluateConfig):
        from semanticgen.metrics.evaluator import VideoEvaluator

        self.ev = VideoEvaluator(ecfg)

    def __call__(self, batch: Dict) -> pa.Table:
        rows = [self.ev.evaluate_path(str(p), str(v)) for p, v in zip(batch["path"], batch["video_id"])]
        return rows_to_table(rows, self.ev.metric_names)


def _num_actors(ecfg: EvaluateConfig, n_videos: int) -> int:
    import ray

    if ecfg.num_actors:
        return min(ecfg.num_actors, n_videos)
    key, per = ("GPU", ecfg.num_gpus) if ecfg.num_gpus > 0 else ("CPU", ecfg.cpus_per_actor)
    free = ray.cluster_resources().get(key, 1.0)
    return max(1, min(n_videos, int(free // per)))


def evaluate_videos(ecfg: EvaluateConfig, videos_dir: str) -> pa.Table:
    """Metrics table for every video under ``videos_dir`` (Ray must be initialised)."""
    import ray

    root = Path(videos_dir)
    paths = discover_videos(videos_dir, ecfg.extensions)
    items = [{"path": str(p), "video_id": p.relative_to(root).as_posix()} for p in paths]
    n_actors = _num_actors(ecfg, len(items))
    log.info("evaluate: %d videos in %s, %d actor(s)", len(items), videos_dir, n_actors)
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(EvalActor, fn_constructor_kwargs={"ecfg": ecfg}, batch_size=ecfg.batch_size,
                        batch_format="numpy", compute=ray.data.ActorPoolStrategy(min_size=1, max_size=n_actors),
                        num_cpus=ecfg.cpus_per_actor, num_gpus=ecfg.num_gpus or None)
    tables = [t for t in ray.get(list(ds.to_arrow_refs())) if t.num_rows]
    table = pa.concat_tables(tables) if tables else rows_to_table([], ecfg.metrics)
    return table.sort_by("video_id")


def write_table(table: pa.Table, out_dir: str) -> Dict[str, Path]:
    """``OUT/metrics.parquet`` and ``OUT/metrics.csv`` (CSV: ``not_computed`` joined with ';')."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"parquet": out / f"{TABLE_NAME}.parquet", "csv": out / f"{TABLE_NAME}.csv"}
    pq.write_table(table, paths["parquet"])
    pacsv.write_csv(to_csv_table(table), paths["csv"])
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


@dataclass
class EvalResult:
    table: pa.Table
    aggregate: Dict[str, float]
    not_computed: Dict[str, str]                  # metric → reason (for every video)
    files: Dict[str, Path]
    wall_s: float
    reference: Optional["EvalResult"] = None

    def lines(self) -> List[str]:
        t = self.table
        failed = t.filter(pc.invert(pc.is_null(t.column("error"))))
        out = [f"videos: {t.num_rows} ({failed.num_rows} failed)  wall: {self.wall_s:.1f}s",
               f"table: {self.files.get('parquet')}"]
        for name, reason in self.not_computed.items():
            out.append(f"  not computed: {name}: {reason}")
        for vid, err in zip(failed.column("video_id").to_pylist(), failed.column("error").to_pylist()):
            out.append(f"  [error] {vid}: {err[:160]}")
        return out


def run_evaluate(cfg: Config, videos_dir: str, out_dir: str, reference_dir: Optional[str] = None) -> EvalResult:
    """Evaluate ``videos_dir`` (and ``reference_dir`` into ``OUT/reference``); write the tables."""
    ecfg = cfg.evaluate
    t0 = time.perf_counter()
    table = evaluate_videos(ecfg, videos_dir)
    files = write_table(table, out_dir)
    skipped = {m: r for m in ecfg.metrics if (r := missing_reason(ecfg, m))}
    ref = None
    if reference_dir:
        ref = run_evaluate(cfg, reference_dir, str(Path(out_dir) / "reference"))
    return EvalResult(table=table, aggregate=aggregate(table, ecfg.metrics), not_computed=skipped,
                      files=files, wall_s=time.perf_counter() - t0, reference=ref)
