"""Kill -9 of the ingest driver mid-way, then re-run: exactly the clip set of an uninterrupted run."""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from synth_video import movie_with_cuts

N_SOURCES = 10
ROOT = Path(__file__).resolve().parents[1]


def clip_set(store):
    t = pads.dataset(f"{store}/clips", format="parquet").to_table(
        columns=["clip_id", "source_uri", "start_s", "end_s"])
    rows = t.to_pylist()
    return sorted((r["clip_id"], r["source_uri"], round(r["start_s"], 6), round(r["end_s"], 6)) for r in rows)


def ingest_cmd(inputs, store):
    return [sys.executable, "-m", "jobs.ingest", "--config", "tiny", "--input", str(inputs), "--output", str(store),
            "mlflow.enabled=false", "ray.num_cpus=2", "ray.progress_bars=false", "ingest.max_clip_s=4",
            "ingest.min_clip_s=0", "ingest.detect_width=320"]


def run_env(tmp):
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env["RAY_TMPDIR"] = tmp
    return env


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume-movies")
    for i in range(N_SOURCES):
        movie_with_cuts(d / f"m{i:02d}.mp4", [60, 90, 45, 120, 75, 90], seed=100 + i)
    return d


def test_kill9_then_resume_equals_uninterrupted(corpus, tmp_path):
    ray_tmp = tempfile.mkdtemp(prefix="sg-k9-")
    env = run_env(ray_tmp)
    ref_store = tmp_path / "ref"
    subprocess.run(ingest_cmd(corpus, ref_store) + [f"ray.temp_dir={ray_tmp}/a"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    reference = clip_set(ref_store)
    assert len({r[1] for r in reference}) == N_SOURCES

    store = tmp_path / "killed"
    proc = subprocess.Popen(ingest_cmd(corpus, store) + [f"ray.temp_dir={ray_tmp}/b"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    parts_at_kill = 0
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            clips_dir = store / "clips"
            parts = list(clips_dir.glob("[!.]*.parquet")) if clips_dir.exists() else []
            if parts:
                parts_at_kill = len(parts)
                break
            time.sleep(0.01)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)      # the driver and the local Ray it started
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)
    assert 0 < parts_at_kill < N_SOURCES, f"kill landed at {parts_at_kill} parts: not mid-way"
    # a crash may leave a temp file behind: readers must ignore it and the re-run must clean it
    done_before = {p.name: p.stat().st_mtime for p in (store / "clips").glob("[!.]*.parquet")}
    (store / "clips" / ".tmp-deadbeef-1234.parquet").write_bytes(b"partial")

    r = subprocess.run(ingest_cmd(corpus, store) + [f"ray.temp_dir={ray_tmp}/c"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{len(done_before)} already done" in r.stdout
    assert clip_set(store) == reference                    # no duplicates, nothing missing
    assert not list((store / "clips").glob(".tmp-*"))
    for name, mtime in done_before.items():                # finished sources were not redone
        assert (store / "clips" / name).stat().st_mtime == mtime
