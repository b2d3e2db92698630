"""`ray job submit` against a real local head, with the repository's runtime env, as the docs tell users.

The head runs under ``ray start --block`` in its own process group; teardown signals that group only
(never ``ray stop``, which would stop every Ray on the machine). Token authentication is on, with a
token of the test's own (Ray 2.60 turns it on for a head when a token exists), as on a real cluster.
The whole chain (ingest → … → evaluate) is submitted job by job with ``python -m jobs.submit_chain``,
as the README tells users, and tracked by a real ``mlflow server`` on loopback.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from jobs.submit_chain import submit_command

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 90
JOB_TIMEOUT_S = 120
CHAIN_TIMEOUT_S = 900


def _free_ports(n: int):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _env(token_path: Path) -> dict:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_TOKEN", None)
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"   # the job's `python` is this venv's
    env.update(RAY_USAGE_STATS_ENABLED="0", MLFLOW_DISABLE_TELEMETRY="true", HF_HUB_OFFLINE="1")
    return env


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM our `ray start --block` (it tears its processes down), then SIGKILL what is left of its group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # stragglers of our own group only
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _wait_http(proc: subprocess.Popen, log_path: Path, url: str, headers=None, what: str = "server") -> None:
    """Poll ``url`` until it answers 200; fail with the process log if the process exits or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not up after {START_TIMEOUT_S}s: {log_path.read_text()[-2000:]}")
        time.sleep(0.5)


def _start(cmd, cwd: str, env: dict, log_path: Path) -> subprocess.Popen:
    with open(log_path, "w") as log:   # the child keeps its own descriptor
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


@pytest.fixture(scope="module")
def ray_head():
    gcs, dash, client, agent, agent_grpc, metrics, rt_agent, nm, om = _free_ports(9)
    temp_dir = tempfile.mkdtemp(prefix="sgj-")            # short: Ray's socket paths have a length cap
    token_path = Path(temp_dir) / "auth_token"
    token_path.write_text(secrets.token_hex(32))
    env = _env(token_path)
    cmd = [str(BIN / "ray"), "start", "--head", "--block", f"--port={gcs}",
           "--num-cpus=2",                        # a 2-core box: a job driver holds one of the two
           f"--temp-dir={temp_dir}", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
           f"--dashboard-port={dash}", f"--ray-client-server-port={client}",
           f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
           f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={rt_agent}",
           f"--node-manager-port={nm}", f"--object-manager-port={om}", "--disable-usage-stats",
           "--object-store-memory=200000000"]
    log_path = Path(temp_dir) / "ray-start.log"
    proc = _start(cmd, temp_dir, env, log_path)
    address = f"http://127.0.0.1:{dash}"
    try:
        _wait_http(proc, log_path, f"{address}/api/version",
                   {"Authorization": f"Bearer {token_path.read_text()}"}, "ray start")
        yield address, env, token_path.read_text()
    finally:
        _stop(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real tracking server on loopback: sqlite backend, artifacts proxied through the server."""
    d = tmp_path_factory.mktemp("mlflow-server")
    (port,) = _free_ports(1)
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{d}/mlflow.db", "--artifacts-destination", str(d / "artifacts")]
    log_path = d / "server.log"
    proc = _start(cmd, str(d), env, log_path)
    try:
        _wait_http(proc, log_path, f"http://127.0.0.1:{port}/health", what="mlflow server")
        yield f"http://127.0.0.1:{port}", d
    finally:
        _stop(proc)


JOB_CODE = (
    "import os, jobs.cli, semanticgen; "
    "assert os.environ['HF_HUB_OFFLINE'] == '1', os.environ['HF_HUB_OFFLINE']; "
    "print('TRACKING', os.environ['MLFLOW_TRACKING_URI']); "
    "print('MODULE', semanticgen.__file__); "
    "print('SEMANTICGEN_JOB_OK')"
)


def submit(ray_head, name: str, entrypoint):
    """``ray job submit`` as clusters/README.md documents it; returns (client, submission id, logs)."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    address, env, token = ray_head
    sid = f"sg-{name}-{os.getpid()}-{time.time_ns()}"
    cmd = submit_command(entrypoint, address, "jobs/runtime_env.yaml", sid)   # `ray` is this venv's (PATH)
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=JOB_TIMEOUT_S)
    client = JobSubmissionClient(address, headers={"Authorization": f"Bearer {token}"})
    status = client.get_job_status(sid)
    logs = client.get_job_logs(sid)
    assert status == JobStatus.SUCCEEDED, f"{status}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}\n{logs}"
    return client, sid, logs


def test_submit_with_local_runtime_env(ray_head):
    client, sid, logs = submit(ray_head, "env", ["python", "-c", JOB_CODE])
    assert "SEMANTICGEN_JOB_OK" in logs
    # the runtime env's env_vars reach the driver, with ${HOME} expanded on the node
    assert f"TRACKING sqlite:///{os.environ['HOME']}/semanticgen-out/mlflow.db" in logs
    # the code imported is the uploaded working_dir copy, not the checkout
    module = next(line.split(" ", 1)[1] for line in logs.splitlines() if line.startswith("MODULE "))
    assert "runtime_resources" in module and not module.startswith(str(ROOT)), module
    runtime_env = client.get_job_info(sid).runtime_env   # as the cluster recorded it
    assert runtime_env["working_dir"].startswith("gcs://")   # the checkout was packed and uploaded
    assert runtime_env["env_vars"]["HF_HUB_OFFLINE"] == "1"




CHAIN_EXPERIMENTS = {"ingest": "ingest-chain", "features": "features-chain", "latent": "chain-latent",
                     "semantic": "chain-semantic", "generate": "generate-chain", "eval": "eval-chain"}


@pytest.mark.slow
def test_submit_whole_chain_with_mlflow_server(ray_head, mlflow_server, tmp_path):
    """ingest → tiny models → features → stage 1 → z_sem → stage 2 → generate → evaluate, one job each,
    submitted by ``python -m jobs.submit_chain`` (the README's command) and tracked by ``mlflow server``."""
    import hashlib
    import json

    import pyarrow.dataset as ds
    from mlflow.tracking import MlflowClient
    from ray.job_submission import JobStatus, JobSubmissionClient

    from synth_video import movie_with_cuts

    address, env, token = ray_head
    tracking, server_dir = mlflow_server
    movie_with_cuts(tmp_path / "movie.mp4", [110, 115, 110, 120], fps=25.0, seed=5)   # 4 shots, 4.4-4.8 s
    out = tmp_path / "chain"
    tag = f"t{os.getpid()}"
    cmd = [sys.executable, "-m", "jobs.submit_chain", "--address", address, "--out", str(out),
           "--input", str(tmp_path / "movie.mp4"), "--tag", tag, "--config", "tiny",
           f"mlflow.tracking_uri={tracking}", "run.name=chain", "ingest.max_clip_s=5", "ray.progress_bars=false",
           "train.max_steps=10", "train.report_every=5", "train.checkpoint_every=10"]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHAIN_TIMEOUT_S)
    assert res.returncode == 0, f"{res.stdout[-6000:]}\n{res.stderr[-3000:]}"
    assert "chain done" in res.stdout

    # every step ran as its own job on the cluster; none of their drivers held a GPU
    client = JobSubmissionClient(address, headers={"Authorization": f"Bearer {token}"})
    jobs = [j for j in client.list_jobs() if (j.submission_id or "").startswith(f"semanticgen-{tag}-")]
    assert len(jobs) == 8 and all(j.status == JobStatus.SUCCEEDED for j in jobs), [(j.submission_id, j.status) for j in jobs]
    assert {j.entrypoint.split()[2] for j in jobs} == {
        "jobs.ingest", "jobs.tiny_models", "jobs.encode", "jobs.train_latent",
        "jobs.encode_semantic", "jobs.train_semantic", "jobs.generate", "jobs.evaluate"}
    submitted = [line for line in res.stdout.splitlines() if line.startswith("$ ray job submit")]
    assert len(submitted) == 8 and all(
        {"--entrypoint-num-cpus=1", "--entrypoint-num-gpus=0", "jobs/runtime_env.yaml"} <= set(line.split())
        for line in submitted)
    assert all(j.runtime_env["env_vars"]["HF_HUB_OFFLINE"] == "1" for j in jobs)

    # outputs: exact accounting from 4 shots to 4 clips, 4 feature rows, 4 z_sem rows, 2 videos, 2 scores
    def rows(table):
        return ds.dataset(str(out / "store" / table), format="parquet").to_table().to_pylist()
    clips = rows("clips")
    assert len(clips) == 4 and abs(sum(c["end_s"] - c["start_s"] for c in clips) - 455 / 25) < 0.2
    assert {r["clip_id"] for r in rows("features")} == {c["clip_id"] for c in clips}
    assert {r["clip_id"] for r in rows("z_sem")} == {c["clip_id"] for c in clips}
    videos = sorted((out / "videos").glob("*.mp4"))
    assert len(videos) == 2
    records = [json.loads(v.with_suffix(".json").read_text()) for v in videos]    # every video has its record
    assert [(r["attention"], r["latent_shape"][1], r["z_sem_shape"][-1]) for r in records] == \
        [("full", 5, 8), ("swin", 17, 8)] and all(r["latent_run"] == "chain-latent" for r in records)
    scores = ds.dataset(str(out / "eval" / "metrics.parquet"), format="parquet").to_table().to_pylist()
    assert len(scores) == 2 and all(r["error"] in (None, "") for r in scores), scores

    # MLflow: one finished run per tracked stage on the server, with the resolved config and the artifacts
    mlc = MlflowClient(tracking)
    by_stage = {}
    for stage, run_name in CHAIN_EXPERIMENTS.items():
        exp = mlc.get_experiment_by_name(f"semanticgen/{stage}")
        assert exp is not None, stage
        found = mlc.search_runs([exp.experiment_id])
        assert [r.info.run_name for r in found] == [run_name] and found[0].info.status == "FINISHED", stage
        assert found[0].data.params["mlflow.tracking_uri"] == tracking
        by_stage[stage] = found[0]
    assert by_stage["ingest"].data.metrics["sources_ok"] == 1
    assert by_stage["features"].data.metrics["computed"] == 4
    for stage in ("latent", "semantic"):
        hist = mlc.get_metric_history(by_stage[stage].info.run_id, "loss")
        assert [m.step for m in hist] == [5, 10], stage
    gen = by_stage["generate"]
    assert gen.data.metrics["videos"] == 2 and gen.data.metrics["failed"] == 0
    logged = sorted(a.path for a in mlc.list_artifacts(gen.info.run_id, "videos"))
    assert logged == sorted(f"videos/{v.name}" for v in videos + [v.with_suffix(".json") for v in videos])
    # the artifact went through the server's proxy into its destination, byte for byte
    fetched = mlc.download_artifacts(gen.info.run_id, f"videos/{videos[0].name}", str(tmp_path / "dl"))
    assert hashlib.sha256(Path(fetched).read_bytes()).digest() == hashlib.sha256(videos[0].read_bytes()).digest()
    assert list((server_dir / "artifacts").rglob(videos[0].name))
    assert by_stage["eval"].data.metrics["videos"] == 2
