"""Backend ``vbench``: the official package (its own virtualenv) scores the videos, results land in the table.

- With the real ``vbench`` 0.1.5 (built once by ``tests/vbench_env.py``; skipped with the reason when it
  cannot be installed): temporal flickering and its drift equal the built-in backend's to 1e-6 on short
  (whole video) and long (VBench-Long clips) videos, through ``jobs.evaluate --backend vbench``.
- Always: a fake ``vbench`` stand-in records the calls the runner makes (info files, device, submodules)
  and returns known values, so the spec, the shard tasks and the import of results are checked.
"""
import json
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs import evaluate as job
from pipelines.evaluate import evaluate_videos
from semanticgen.config import load_config
from semanticgen.metrics import VideoEvaluator
from semanticgen.video.mp4 import write_video
from vbench_env import build


def texture(h, w, seed):
    blocks = np.random.default_rng(seed).integers(0, 256, (h // 8, w // 8 + 8, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8, 1), np.uint8))


def moving(t, h=64, w=128, seed=0, flicker_from=None):     # x264 is deterministic from ~128x64 up
    """A texture panning one pixel a frame; from ``flicker_from`` on every other frame is inverted."""
    tex = texture(h, w, seed)
    frames = [tex[:, i:i + w] for i in range(t)]
    if flicker_from is not None:
        frames = [255 - f if i >= flicker_from and i % 2 else f for i, f in enumerate(frames)]
    return np.stack(frames)


@pytest.fixture()
def media(tmp_path):
    vids = tmp_path / "videos"
    write_video(vids / "short.mp4", moving(20, seed=1, flicker_from=12), fps=8)       # 2.5 s: short setting
    write_video(vids / "long" / "long.mp4", moving(52, seed=2, flicker_from=40), fps=8)  # 6.5 s > 4 s: long
    (vids / "broken.mp4").write_bytes(b"\x00garbage" * 64)
    return vids


@pytest.fixture(scope="module")
def vbench_python():
    python, why = build()
    if python is None:
        pytest.skip(f"the official vbench package cannot be installed here: {why}")
    return python


def rows_of(out):
    return {r["video_id"]: r for r in pq.read_table(out / "metrics.parquet").to_pylist()}


def test_vbench_backend_flickering_equals_builtin(ray_local, tmp_path, media, vbench_python, capsys):
    cache = tmp_path / "vbench-cache"
    cache.mkdir()
    ov = [f"run.work_dir={tmp_path}", "evaluate.num_actors=1", f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
          "evaluate.metrics=[temporal_flickering,linear_interp_smoothness,subject_consistency]"]
    assert job.main(["--config", "tiny", "--videos", str(media), "--out", str(tmp_path / "vbench"), *ov,
                     "--backend", "vbench", f"evaluate.vbench_python={vbench_python}",
                     f"evaluate.vbench_cache={cache}"]) == 0
    run_id = capsys.readouterr().out.split("mlflow run: ")[-1].split()[0]
    builtin = VideoEvaluator(load_config("tiny", ov).evaluate)
    ours = {v: builtin.evaluate_path(str(media / v), v) for v in ["short.mp4", "long/long.mp4"]}
    theirs = rows_of(tmp_path / "vbench")
    assert sorted(theirs) == ["broken.mp4", "long/long.mp4", "short.mp4"]
    assert theirs["broken.mp4"]["error"] and theirs["broken.mp4"]["backend"] == "vbench"
    for vid, setting, clips in [("short.mp4", "short", 1), ("long/long.mp4", "long", 4)]:
        a, b = ours[vid], theirs[vid]
        assert (a["setting"], b["setting"], a["clips"], b["clips"]) == (setting, setting, clips, clips)
        assert b["backend"] == "vbench" and b["num_frames"] == a["num_frames"]
        assert b["temporal_flickering"] == pytest.approx(a["temporal_flickering"], abs=1e-6), vid
        assert b["drift_temporal_flickering"] == pytest.approx(a["drift_temporal_flickering"], abs=1e-6), vid
        assert a["drift_temporal_flickering"] > 0.1                     # the flickering end really differs
        assert b["drift_mean"] == pytest.approx(b["drift_temporal_flickering"])
        assert b["not_computed"] == ["linear_interp_smoothness", "subject_consistency"]
        assert "no dino_model/facebookresearch_dino_main/hubconf.py" in b["notes"]
        assert "static filter not applied: no raft_model/models/raft-things.pth" in b["notes"]
    from mlflow.tracking import MlflowClient

    run = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(run_id)
    assert run.data.tags["backend"] == "vbench" and run.data.tags["settings"] == "long,short"
    assert run.data.metrics["video/short.mp4/temporal_flickering"] == pytest.approx(
        theirs["short.mp4"]["temporal_flickering"])
    assert run.data.metrics["long/temporal_flickering"] == pytest.approx(theirs["long/long.mp4"]["temporal_flickering"])


FAKE_UTILS = '''
import json, os
import numpy as np
from decord import VideoReader

def load_video(path, data_transform=None, num_frames=None, return_tensor=True):
    return VideoReader(path, num_threads=1).get_batch(range(len(VideoReader(path)))).asnumpy()

def init_submodules(dims, local=False, read_frame=False):
    with open(os.path.join(os.environ["VBENCH_CACHE_DIR"], "calls.jsonl"), "a") as f:
        f.write(json.dumps({"init": dims, "local": local, "cache": os.environ["VBENCH_CACHE_DIR"]}) + "\\n")
    return {d: ["sub", d] for d in dims}
'''
FAKE_DIM = '''
import json, os

def compute_{dim}(json_dir, device, submodules_list, **kwargs):
    info = json.load(open(json_dir))
    with open(os.path.join(os.environ["VBENCH_CACHE_DIR"], "calls.jsonl"), "a") as f:
        f.write(json.dumps({{"dim": "{dim}", "info": info, "device": device, "sub": submodules_list,
                            "kwargs": kwargs}}) + "\\n")
    paths = [p for item in info for p in item["video_list"]]
    res = [{{"video_path": p, "video_results": {value}}} for p in paths]
    return 0.0, res
'''


@pytest.fixture()
def fake_vbench(tmp_path):
    """A ``vbench_python`` that runs this interpreter with a fake ``vbench`` package first on the path."""
    pkg = tmp_path / "fake" / "vbench"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "utils.py").write_text(FAKE_UTILS)
    (pkg / "temporal_flickering.py").write_text(FAKE_DIM.format(dim="temporal_flickering",
                                                                value="0.9 if 'last' in p else 0.95"))
    (pkg / "imaging_quality.py").write_text(FAKE_DIM.format(dim="imaging_quality", value="55.0"))
    python = tmp_path / "fake-python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={tmp_path / 'fake'} exec {sys.executable} \"$@\"\n")
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    cache = tmp_path / "cache"
    (cache / "pyiqa_model").mkdir(parents=True)
    (cache / "pyiqa_model" / "musiq_spaq_ckpt-358bb6af.pth").write_bytes(b"fake")
    return python, cache, cache / "calls.jsonl"          # the stand-in logs its calls into the cache folder


def test_vbench_backend_calls_and_import_with_a_stand_in(ray_local, tmp_path, media, fake_vbench):
    python, cache, log = fake_vbench
    ecfg = load_config("tiny", ["evaluate.backend=vbench", f"evaluate.vbench_python={python}",
                                f"evaluate.vbench_cache={cache}", "evaluate.num_actors=2",
                                "evaluate.metrics=[temporal_flickering,subject_consistency,imaging_quality,"
                                "linear_interp_smoothness]"]).evaluate
    table, skipped, _ = evaluate_videos(ecfg, str(media), str(tmp_path / "out"))
    rows = {r["video_id"]: r for r in table.to_pylist()}
    calls = [json.loads(li) for li in log.read_text().splitlines()]
    inits = [c for c in calls if "init" in c]
    assert len(inits) == 2 and all(c["init"] == ["temporal_flickering", "imaging_quality"] and c["local"]
                                   and c["cache"] == str(cache) for c in inits)   # one per shard, never online
    dims = [c for c in calls if "dim" in c]
    assert {c["dim"] for c in dims} == {"temporal_flickering", "imaging_quality"}
    assert all(c["device"] == "cpu" and c["sub"] == ["sub", c["dim"]] for c in dims)
    assert all(c["kwargs"] == {"imaging_quality_preprocessing_mode": "longer"} for c in dims)
    scored = sorted(os.path.basename(p) for c in dims if c["dim"] == "imaging_quality"
                    for item in c["info"] for p in item["video_list"])
    assert scored.count("short.mp4") == 1 and scored.count("first.mp4") == 1 and scored.count("last.mp4") == 1
    assert sum(n.startswith("clip_") for n in scored) >= 4 + 2    # long video: 4 clips, its ends' clips
    short, long = rows["short.mp4"], rows["long/long.mp4"]
    assert short["imaging_quality"] == pytest.approx(0.55) and long["imaging_quality"] == pytest.approx(0.55)
    assert short["temporal_flickering"] == pytest.approx(0.95)
    assert short["drift_temporal_flickering"] == pytest.approx(0.05) and short["drift_imaging_quality"] == 0.0
    assert short["drift_mean"] == pytest.approx(0.025)
    assert (short["setting"], long["setting"], long["clips"]) == ("short", "long", 4)
    assert short["not_computed"] == ["subject_consistency", "linear_interp_smoothness"]
    assert skipped["subject_consistency"].startswith("no dino_model/")
    assert skipped["linear_interp_smoothness"].startswith("not a VBench dimension")
    assert "decord" in rows["broken.mp4"]["error"] or rows["broken.mp4"]["error"]


def test_vbench_backend_bad_python_exits_2_before_ray(tmp_path, media, capsys):
    out = ["--videos", str(media), "--out", str(tmp_path / "o"), "--backend", "vbench"]
    with pytest.raises(SystemExit) as e:                                  # no vbench_python at all
        job.main(out)
    assert e.value.code == 2 and "evaluate.vbench_python" in capsys.readouterr().err
    assert job.main([*out, f"evaluate.vbench_python={sys.executable}"]) == 2      # a python without vbench
    assert "has no `vbench` package" in capsys.readouterr().err
