"""Ray Data ingest graph: discover → probe → per-segment shot detection → per-source pack + write.

Stages (one small function each, wired in :func:`run_ingest`):
1. discover (driver): files, folders, globs, ``s3://``/``gs://`` prefixes; finished sources skipped.
2. probe (Ray Data ``map``): container headers + one frame; failures become error rows.
3. detect (Ray Data ``map``, one block per time segment): one decode pass per segment, so one long
   movie spreads over every free CPU and many movies interleave.
4. pack + write (driver, streaming): as soon as all segments of a source are back, its clips are
   packed and written as one atomic Parquet part; progress is logged per source.
Only paths, time spans and cut lists travel between stages, never video bytes.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from semanticgen.config import Config, config_hash
from semanticgen.io.uri import file_size
from semanticgen.store.rows import clip_rows, error_row, source_id
from semanticgen.store.table import Table
from semanticgen.video.discover import discover
from semanticgen.video.probe import probe
from semanticgen.video.segments import assemble_source, plan_segments
from semanticgen.video.shots import detect_segment

log = logging.getLogger("semanticgen.ingest")


@dataclass
class IngestSummary:
    inputs: int = 0
    skipped: int = 0                 # already finished in an earlier run
    sources_ok: int = 0              # sources with clips (this run + earlier runs)
    sources_failed: int = 0
    clips: int = 0
    video_s: float = 0.0             # seconds of clips in the store
    errors: List[dict] = field(default_factory=list)
    wall_s: float = 0.0
    processed_video_s: float = 0.0   # decoded source seconds processed in this run

    def lines(self) -> List[str]:
        out = [f"sources: {self.inputs} ({self.sources_ok} with clips, {self.sources_failed} failed, "
               f"{self.skipped} already done)",
               f"clips: {self.clips}  hours of video: {self.video_s / 3600:.3f}",
               f"errors: {len(self.errors)}  wall: {self.wall_s:.1f}s"]
        for e in self.errors[:20]:
            out.append(f"  [{e['stage']}] {e['source_uri']}: {e['error'][:160]}")
        return out


def _probe_row(row: dict) -> dict:
    try:
        p = probe(row["uri"]).to_dict()
        return {"uri": row["uri"], "key": row["key"], "probe": p, "error": None}
    except Exception as e:  # noqa: BLE001 - every failure becomes an error row
        return {"uri": row["uri"], "key": row["key"], "probe": None, "error": f"{type(e).__name__}: {e}"}


def _detect_fn(cfg: Config):
    ing = cfg.ingest

    def detect(row: dict) -> dict:
        out = {"key": row["key"], "start_s": row["start_s"], "end_s": row["end_s"], "cuts_s": [],
               "luma_bins": [], "first_frame_s": None, "last_frame_s": None, "frames": 0, "error": None,
               "decode_error": None}
        try:
            thr = ing.transnet_threshold if ing.detector == "transnetv2" else ing.threshold
            r = detect_segment(row["uri"], row["start_s"], row["end_s"], row["fps"], kind=ing.detector,
                               threshold=thr, min_shot_s=ing.min_shot_s, width=ing.detect_width,
                               context_s=ing.segment_overlap_s, threads=ing.decode_threads)
            out.update(cuts_s=r.cuts_s, luma_bins=r.luma_bins, first_frame_s=r.first_frame_s,
                       last_frame_s=r.last_frame_s, frames=r.frames, decode_error=r.decode_error)
        except Exception as e:  # noqa: BLE001
            out["error"] = f"{type(e).__name__}: {e}"
        return out

    return detect


def _todo(uris: Sequence[str], clips: Table, errors: Table, summary: IngestSummary) -> List[dict]:
    done = clips.keys()
    todo = []
    for u in uris:
        try:
            key = source_id(u, file_size(u))
        except OSError as e:
            key = source_id(u, -1)
            errors.write_part(key, [error_row(u, "discover", f"cannot stat: {e}", key)])
            continue
        if key in done:
            summary.skipped += 1
        else:
            todo.append({"uri": u, "key": key})
    return todo


def run_ingest(cfg: Config, inputs: Sequence[str], store: str) -> IngestSummary:
    """Ingest ``inputs`` into ``store``; idempotent and resumable per source."""
    import ray

    t0 = time.time()
    summary = IngestSummary()
    clips = Table(store, "clips")
    errors = Table(store, "errors")
    clips.clean_temp()
    errors.clean_temp()
    uris, missing = discover(inputs, cfg.ingest.extensions)
    for item, msg in missing:
        key = source_id(item, -1)
        errors.write_part(key, [error_row(item, "discover", msg, key)])
    summary.inputs = len(uris) + len(missing)
    todo = _todo(uris, clips, errors, summary)
    log.info("ingest: %d inputs, %d to do, %d already done", summary.inputs, len(todo), summary.skipped)

    probes: Dict[str, dict] = {}
    if todo:
        ds = ray.data.from_items(todo, override_num_blocks=min(len(todo), 256)).map(_probe_row)
        for r in ds.take_all():
            if r["error"]:
                errors.write_part(r["key"], [error_row(r["uri"], "probe", r["error"], r["key"])])
                clips.delete_part(r["key"])
                log.warning("ingest: probe failed %s: %s", r["uri"], r["error"])
            else:
                probes[r["key"]] = r["probe"]

    segments = []
    for key, p in probes.items():
        for a, b in plan_segments(p["duration_s"], cfg.ingest.segment_s):
            segments.append({"key": key, "uri": p["uri"], "fps": p["fps"], "start_s": a, "end_s": b})
    expected = defaultdict(int)
    for s in segments:
        expected[s["key"]] += 1
    got: Dict[str, List[dict]] = defaultdict(list)
    if segments:
        ds = ray.data.from_items(segments, override_num_blocks=len(segments))
        ds = ds.map(_detect_fn(cfg), num_cpus=1)
        for r in ds.iter_rows():
            key = r["key"]
            got[key].append(dict(r))
            if len(got[key]) == expected[key]:
                _finish_source(probes[key], got.pop(key), cfg, key, clips, errors, summary)

    _summarize(cfg, clips, errors, summary)
    summary.wall_s = time.time() - t0
    return summary


def _finish_source(p: dict, segs: List[dict], cfg: Config, key: str, clips: Table, errors: Table,
                   summary: IngestSummary) -> None:
    res = assemble_source(p, segs, cfg.ingest)
    rows, stats = clip_rows(p, res.clips, key), res.stats
    errs = [error_row(p["uri"], *res.error, key)] if res.error else []
    if rows:
        clips.write_part(key, rows)
        errors.delete_part(key)      # a source that failed before and succeeds now
        summary.processed_video_s += stats.get("decoded_s", 0.0)
        log.info("ingest: %s → %d clips (%.1fs kept of %.1fs, %d cuts)", p["uri"], len(rows),
                 stats["kept_s"], stats["decoded_s"], int(stats["cuts"]))
    if errs:
        errors.write_part(key, errs)
        log.warning("ingest: %s failed at %s: %s", p["uri"], errs[0]["stage"], errs[0]["error"])


def _summarize(cfg: Config, clips: Table, errors: Table, summary: IngestSummary) -> None:
    ct = clips.read(columns=["source_id", "duration_s"])
    et = errors.read()
    summary.clips = ct.num_rows
    summary.video_s = float(sum(ct.column("duration_s").to_pylist())) if ct.num_rows else 0.0
    ok_keys = set(ct.column("source_id").to_pylist())
    summary.sources_ok = len(ok_keys)
    summary.errors = et.to_pylist()
    summary.sources_failed = len({(e["source_id"] or e["source_uri"]) for e in summary.errors
                                  if e["clip_id"] is None} - ok_keys)
    h = config_hash(cfg.ingest.__dict__)
    clips.write_manifest(h, {"clips": summary.clips, "sources": summary.sources_ok},
                         {"video_s": summary.video_s})
    errors.write_manifest(h, {"errors": len(summary.errors), "sources": summary.sources_failed})
