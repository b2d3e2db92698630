"""Features stage on a real clip store: analytic shapes, equality with direct encoder calls, round trips."""
import json
import os

import numpy as np
import pyarrow.dataset as pads
import pytest
import torch

from pipelines.encode import run_encode
from pipelines.ingest import run_ingest
from semanticgen.config import load_config
from semanticgen.encoders.clip_frames import clip_frames
from semanticgen.encoders.semantic import SemanticEncoder, sample_times
from semanticgen.encoders.vae import VideoVAE
from semanticgen.store.captions import read_captions
from semanticgen.store.table import Table
from semanticgen.store.tensor_columns import shape_of, unpack_row
from synth_video import movie_with_cuts


@pytest.fixture(scope="module")
def encoded(ray_local, tiny_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("enc")
    # shots: 3.2 s, 0.4 s (a clip too short for the VAE), 3.2 s; frames 96x64
    movie_with_cuts(d / "movie.mp4", [80, 10, 80], fps=25.0, seed=3)
    cfg = load_config("tiny", ["mlflow.enabled=false", f"features.models_dir={tiny_model_dir}",
                               "ingest.min_clip_s=0", "ingest.max_clip_s=3.3", "ingest.min_shot_s=0.2"])
    store = str(d / "store")
    run_ingest(cfg, [str(d / "movie.mp4")], store)
    clips = Table(store, "clips")
    rows = clips.read().to_pylist()
    rows.sort(key=lambda r: r["start_s"])
    rows[-1]["caption"] = "a provided caption"            # a clip that already carries a caption keeps it
    clips.write_part(rows[0]["source_id"], rows)
    sidecar = d / "captions.jsonl"                        # ... and so does one named in a captions sidecar
    sidecar.write_text(json.dumps({"clip_id": rows[0]["clip_id"], "caption": "a sidecar caption"}) + "\n" +
                       json.dumps({"clip_id": "not-a-clip", "caption": "ignored"}) + "\n")
    summary = run_encode(cfg, store, read_captions(str(sidecar)))
    return cfg, store, rows, summary


def features(store):
    return {r["clip_id"]: r for r in pads.dataset(f"{store}/features", format="parquet").to_table().to_pylist()}


def test_every_clip_accounted_and_captioned(encoded):
    cfg, store, clips, s = encoded
    feats = features(store)
    errors = [e for e in pads.dataset(f"{store}/errors", format="parquet").to_table().to_pylist()
              if e["stage"].startswith("features")]
    assert s.todo == len(clips) and s.written + s.failed == len(clips)
    assert len(feats) + len(errors) == len(clips)
    short = [c for c in clips if c["end_s"] - c["start_s"] < 0.5]
    assert [e["clip_id"] for e in errors] == [c["clip_id"] for c in short]
    assert errors[0]["stage"] == "features.decode" and "shortest temporal bucket" in errors[0]["error"]
    for r in feats.values():
        assert r["caption"] and r["caption_source"] in ("model", "provided")
    assert feats[clips[-1]["clip_id"]]["caption"] == "a provided caption"
    assert feats[clips[0]["clip_id"]]["caption"] == "a sidecar caption"
    assert feats[clips[0]["clip_id"]]["caption_source"] == "provided"
    assert (s.captions_given, s.captions_unknown) == (1, 1)


def test_shapes_match_the_analytic_formulas(encoded):
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    cfg, store, clips, _ = encoded
    fc = cfg.features
    for r in features(store).values():
        T = r["vae_frames"]
        assert (T - 1) % 4 == 0 and T in fc.frame_buckets                     # trimmed to a temporal bucket
        assert T <= (r["end_s"] - r["start_s"]) * fc.vae_fps + 1               # never padded
        assert [b for b in fc.frame_buckets if T < b <= (r["end_s"] - r["start_s"]) * fc.vae_fps] == []  # the largest
        assert shape_of(r, "latents") == (16, 1 + (T - 1) // 4, r["vae_height"] // 8, r["vae_width"] // 8)
        n_sem = len(sample_times(r["start_s"], r["start_s"] + T / fc.vae_fps, fc.semantic_fps))
        h, w = smart_resize(r["vae_height"] * 4, r["vae_width"] * 4, factor=28, min_pixels=fc.semantic_min_pixels,
                            max_pixels=fc.semantic_max_pixels)   # the semantic frames keep the bucket's aspect
        sem = shape_of(r, "sem")
        assert sem[0] == n_sem // 2 and sem[3] == 64
        assert sem[1] * sem[2] <= fc.semantic_max_pixels // (28 * 28)
        assert abs(sem[2] / sem[1] - w / h) < 0.5
        assert shape_of(r, "text") == (r["text_len"], 32)


def test_semantic_features_equal_a_direct_tower_call(encoded, tiny_model_dir):
    cfg, store, clips, _ = encoded
    fc = cfg.features
    enc = SemanticEncoder.from_pretrained(os.path.join(tiny_model_dir, "qwen_vl"), min_pixels=fc.semantic_min_pixels,
                                          max_pixels=fc.semantic_max_pixels)
    for cid, r in features(store).items():
        frames = clip_frames(r["source_uri"], r["start_s"], r["end_s"], fc)
        direct = enc.encode(frames.semantic)
        torch.testing.assert_close(unpack_row(r, "sem").float(), direct, rtol=1e-4, atol=1e-5)


def test_latents_decode_back_to_the_clip_shape(encoded, tiny_model_dir):
    cfg, store, _, _ = encoded
    vae = VideoVAE.from_pretrained(os.path.join(tiny_model_dir, "vae"))
    r = next(iter(features(store).values()))
    video = vae.decode(unpack_row(r, "latents"))
    assert video.shape == (r["vae_frames"], r["vae_height"], r["vae_width"], 3) and video.dtype == np.uint8


def test_rerun_computes_nothing(encoded):
    cfg, store, clips, _ = encoded
    before = sorted(os.listdir(f"{store}/features"))
    s = run_encode(cfg, store)
    assert s.todo == 0 and s.written == 0 and s.failed == 0
    assert sorted(os.listdir(f"{store}/features")) == before
