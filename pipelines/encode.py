"""Ray Data features graph: STORE/clips → decode → caption → semantic → vae → text → STORE/features.

Each model stage is an actor pool (``compute=ActorPoolStrategy``) that loads its model once per actor
and requests ``num_gpus`` from the config (fractional for small models); decoding and resizing run in
their own CPU stage so the GPU stages are fed. Only clips without a features row are computed, so a
re-run computes nothing. Failed clips become rows in ``STORE/errors`` (stage ``features.*``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

import pandas as pd

from semanticgen.config import Config, config_hash
from semanticgen.store.rows import error_row
from semanticgen.store.schema import FEATURES_SCHEMA, NULL_TEXT_FILE
from semanticgen.store.table import Table

from .encode_stages import CaptionStage, DecodeStage, SemanticStage, TextStage, VAEStage

log = logging.getLogger("semanticgen.encode")
FEATURE_COLUMNS = [f.name for f in FEATURES_SCHEMA]


@dataclass
class EncodeSummary:
    clips: int = 0
    todo: int = 0                    # clips without features and without a recorded failure
    written: int = 0
    failed: int = 0
    wall_s: float = 0.0
    captions_given: int = 0          # clips to compute that took their caption from the sidecar
    captions_unknown: int = 0        # sidecar entries whose clip_id is not in the store

    def lines(self) -> List[str]:
        out = [f"clips in store: {self.clips}  to compute: {self.todo}  written: {self.written}  "
               f"failed: {self.failed}  wall: {self.wall_s:.1f}s"]
        if self.captions_given or self.captions_unknown:
            out.append(f"sidecar captions used: {self.captions_given}  unknown clip ids: {self.captions_unknown}")
        return out


def _writer(store: str):
    def write(batch: pd.DataFrame) -> pd.DataFrame:
        rows = batch.to_dict("records")
        ok = [r for r in rows if not r.get("error")]
        bad = [r for r in rows if r.get("error")]
        if ok:
            Table(store, "features").write_rows([{c: r.get(c) for c in FEATURE_COLUMNS} for r in ok])
        if bad:
            Table(store, "errors").write_rows([error_row(r["source_uri"], r["error_stage"], r["error"],
                                                         r["source_id"], r["clip_id"]) for r in bad], "features-")
        return pd.DataFrame([{"written": len(ok), "failed": len(bad)}])
    return write


def write_null_text(cfg: Config, store: str) -> None:
    """Empty-prompt embedding for classifier-free guidance (computed once, on a text-stage worker)."""
    import os

    import ray

    table = Table(store, "features")
    path = f"{table.path}/{NULL_TEXT_FILE}"
    if table.fs.get_file_info(path).type.name == "File":
        return

    @ray.remote(num_gpus=cfg.features.text_stage.num_gpus, num_cpus=cfg.features.text_stage.num_cpus)
    def null_text(cfg: Config) -> bytes:
        import tempfile

        from safetensors.torch import save_file

        from semanticgen.encoders.text import TextEncoder

        fc = cfg.features
        enc = TextEncoder.from_features(fc)
        emb, mask = enc.encode([""])
        with tempfile.TemporaryDirectory() as d:
            save_file({"text": emb[0, : int(mask.sum())].contiguous()}, os.path.join(d, "n.safetensors"))
            with open(os.path.join(d, "n.safetensors"), "rb") as f:
                return f.read()

    data = ray.get(null_text.remote(cfg))
    with table.fs.open_output_stream(path) as f:
        f.write(data)


def run_encode(cfg: Config, store: str, captions: Optional[Dict[str, str]] = None) -> EncodeSummary:
    """``captions``: clip_id → caption (``semanticgen.store.captions.read_captions``); those clips keep it."""
    import ray

    t0 = time.time()
    fc = cfg.features
    summary = EncodeSummary()
    clips = Table(store, "clips").read().to_pylist()
    features = Table(store, "features")
    features.clean_temp()
    done = set(features.read(columns=["clip_id"]).column("clip_id").to_pylist())
    if not fc.retry_errors:
        errs = Table(store, "errors").read(columns=["clip_id", "stage"]).to_pylist()
        done |= {e["clip_id"] for e in errs if e["clip_id"] and e["stage"].startswith("features.")}
    todo = [c for c in clips if c["clip_id"] not in done]
    summary.clips, summary.todo = len(clips), len(todo)
    if captions:
        known = {c["clip_id"] for c in clips}
        summary.captions_unknown = sum(1 for k in captions if k not in known)
        if summary.captions_unknown:
            log.warning("features: %d sidecar caption(s) name clip ids that are not in %s/clips",
                        summary.captions_unknown, store)
        for c in todo:
            if c["clip_id"] in captions:
                c["caption"] = captions[c["clip_id"]]
                summary.captions_given += 1
    write_null_text(cfg, store)
    if todo:
        for c in todo:
            c["caption_source"] = "provided" if c.get("caption") else None
            c["error"], c["error_stage"] = None, None
        ds = ray.data.from_items(todo, override_num_blocks=max(1, len(todo) // fc.decode.batch_size))

        def pool(res):
            return dict(compute=ray.data.ActorPoolStrategy(size=res.actors), batch_size=res.batch_size,
                        num_gpus=res.num_gpus, num_cpus=res.num_cpus, batch_format="pandas", fn_constructor_args=(cfg,))

        ds = ds.map_batches(DecodeStage, **pool(fc.decode))
        if fc.caption and fc.caption_backend == "transformers":
            ds = ds.map_batches(CaptionStage, **pool(fc.captioner_stage))
        elif fc.caption:
            from .encode_vllm import caption_with_vllm
            ds = caption_with_vllm(ds, cfg)
        ds = ds.map_batches(SemanticStage, **pool(fc.semantic_stage))
        ds = ds.map_batches(VAEStage, **pool(fc.vae_stage))
        ds = ds.map_batches(TextStage, **pool(fc.text_stage))
        ds = ds.map_batches(_writer(store), batch_size=max(1, fc.decode.batch_size), batch_format="pandas",
                            num_cpus=0.25)
        for r in ds.iter_rows():
            summary.written += int(r["written"])
            summary.failed += int(r["failed"])
            log.info("features: %d/%d written, %d failed", summary.written, summary.todo, summary.failed)
    n = features.count()
    features.write_manifest(config_hash(fc.__dict__), {"features": n, "clips": len(clips)})
    summary.wall_s = time.time() - t0
    return summary
