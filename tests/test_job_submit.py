"""`ray job submit` against a real local head, with the repository's runtime env, as the docs tell users.

The head runs under ``ray start --block`` in its own process group; teardown signals that group only
(never ``ray stop``, which would stop every Ray on the machine). Token authentication is on, with a
token of the test's own (Ray 2.60 turns it on for a head when a token exists), as on a real cluster.
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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 90
JOB_TIMEOUT_S = 120


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


@pytest.fixture(scope="module")
def ray_head():
    gcs, dash, client, agent, agent_grpc, metrics, rt_agent, nm, om = _free_ports(9)
    temp_dir = tempfile.mkdtemp(prefix="sgj-")            # short: Ray's socket paths have a length cap
    token_path = Path(temp_dir) / "auth_token"
    token_path.write_text(secrets.token_hex(32))
    env = _env(token_path)
    cmd = [str(BIN / "ray"), "start", "--head", "--block", f"--port={gcs}", "--num-cpus=2",
           f"--temp-dir={temp_dir}", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
           f"--dashboard-port={dash}", f"--ray-client-server-port={client}",
           f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={agent_grpc}",
           f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={rt_agent}",
           f"--node-manager-port={nm}", f"--object-manager-port={om}", "--disable-usage-stats",
           "--object-store-memory=200000000"]
    log = open(Path(temp_dir) / "ray-start.log", "w")
    proc = subprocess.Popen(cmd, cwd=temp_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    address = f"http://127.0.0.1:{dash}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ray start exited {proc.returncode}: {Path(log.name).read_text()[-2000:]}")
            try:
                req = urllib.request.Request(f"{address}/api/version",
                                             headers={"Authorization": f"Bearer {token_path.read_text()}"})
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dashboard not up after {START_TIMEOUT_S}s: "
                                   f"{Path(log.name).read_text()[-2000:]}")
            time.sleep(0.5)
        yield address, env, token_path.read_text()
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


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
    cmd = [str(BIN / "ray"), "job", "submit", "--address", address, "--submission-id", sid,
           "--working-dir", ".", "--runtime-env", "jobs/runtime_env.yaml",
           "--entrypoint-num-cpus=1", "--entrypoint-num-gpus=0", "--", *entrypoint]
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


@pytest.mark.slow
def test_submit_ingest_job(ray_head, tmp_path):
    """A real stage under ``ray job submit``: the job joins the running cluster and writes the store."""
    import pyarrow.dataset as ds
    from synth_video import movie_with_cuts

    cuts = movie_with_cuts(tmp_path / "m.mp4", [40, 50], fps=25, seed=3)
    store = tmp_path / "store"
    _, _, logs = submit(ray_head, "ingest", [
        "python", "-m", "jobs.ingest", "--config", "tiny", "--input", str(tmp_path / "m.mp4"),
        "--output", str(store), f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db", "ray.progress_bars=false"])
    clips = ds.dataset(str(store / "clips"), format="parquet").to_table().to_pylist()
    assert len(clips) >= 1 and all(c["source_uri"].endswith("m.mp4") for c in clips)
    assert abs(sum(c["end_s"] - c["start_s"] for c in clips) - 90 / 25) < 0.2
    found = [b for c in clips for b in c["shot_boundaries_s"]] + [c["start_s"] for c in clips if c["start_s"] > 0]
    assert any(abs(b - cuts[0]) <= 2 / 25 for b in found), (found, cuts)   # the one cut, at 1.6 s
    assert (tmp_path / "mlflow.db").is_file()
    assert "ingest summary" in logs
