"""Cluster files: launcher YAMLs (Ray's own validation, offline), KubeRay manifests (documented field
schema), runtime envs (parse, env vars, excludes as Ray packs them) and the documented job lines."""
from __future__ import annotations

import contextlib
import copy
import importlib
import io
import os
import re
import shlex
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from kuberay_schema import ManifestError, validate_manifest

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS = ROOT / "clusters"
LAUNCHERS = sorted(CLUSTERS.glob("*.yaml"))
KUBERAY = sorted((CLUSTERS / "kuberay").glob("*.yaml"))
RUNTIME_ENVS = [ROOT / "jobs" / "runtime_env.yaml", ROOT / "jobs" / "runtime_env.cluster.yaml"]
STAGES = {"ingest", "encode", "train_latent", "encode_semantic", "train_semantic", "generate", "evaluate"}
CPU_TYPES, GPU_TYPES = {"cpu_decode", "cpu_scene"}, {"gpu_encode", "gpu_train"}
REQUIRED_ENV = {"MLFLOW_TRACKING_URI", "HF_HUB_OFFLINE", "MLFLOW_DISABLE_TELEMETRY"}
REQUIRED_EXCLUDES = {".venv/", ".git/", "demo-out/", "semanticgen-out/", "mlruns/", "*.mp4", "*.parquet",
                     "*.safetensors"}


def load(path: Path):
    with open(path) as f:
        return yaml.safe_load(f)


def prepared(path: Path) -> dict:
    """What ``ray up`` validates: the file merged with the provider defaults, then Ray's JSON schema."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = prepare_config(load(path))
    validate_config(cfg)
    return cfg


# ---------------------------------------------------------------- cluster launcher (AWS, GCP)

def test_launcher_files_present():
    assert {p.name for p in LAUNCHERS} == {"aws.yaml", "gcp.yaml"}


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
def test_launcher_validates_with_ray_schema(path):
    cfg = prepared(path)
    assert cfg["provider"]["type"] == path.stem
    assert cfg["cluster_name"] == "semanticgen"


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
@pytest.mark.parametrize("where", ["top", "node_type", "docker"])
def test_launcher_unknown_key_fails(path, where):
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = load(path)
    if where == "top":
        cfg["max_worker"] = 3                                   # typo of max_workers
    elif where == "node_type":
        cfg["available_node_types"]["gpu_train"]["min_worker"] = 1
    else:
        cfg["docker"] = {"image": "x", "container_name": "c", "imagee": "y"}
    with pytest.raises(jsonschema.ValidationError, match="min_worker|max_worker|imagee"):
        validate_config(prepare_config(cfg))


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
def test_launcher_sum_of_min_workers_checked(path):
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = load(path)
    cfg["available_node_types"]["cpu_decode"]["min_workers"] = cfg["max_workers"] + 1
    with pytest.raises(ValueError, match="max_workers"):
        validate_config(prepare_config(cfg))


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
def test_launcher_node_types(path):
    cfg = prepared(path)
    types = cfg["available_node_types"]
    head = types[cfg["head_node_type"]]
    assert head["resources"] == {"CPU": 0} and head["max_workers"] == 0
    assert set(types) == {cfg["head_node_type"]} | CPU_TYPES | GPU_TYPES
    for name in CPU_TYPES:
        assert types[name]["resources"]["CPU"] > 0 and types[name]["resources"].get("GPU", 0) == 0
    for name in GPU_TYPES:
        assert types[name]["resources"]["GPU"] >= 1
        assert any("[gpu]" in c for c in types[name]["worker_setup_commands"]), name
    for name in CPU_TYPES | GPU_TYPES:
        t = types[name]
        assert 0 == t["min_workers"] < t["max_workers"] <= cfg["max_workers"], name
    assert cfg["idle_timeout_minutes"] > 0


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
def test_launcher_dashboard_not_public(path):
    cfg = prepared(path)   # after the defaults merge: the default head command binds 0.0.0.0
    commands = [c for key in ("head_start_ray_commands", "worker_start_ray_commands", "setup_commands",
                              "head_setup_commands", "worker_setup_commands") for c in cfg[key]]
    assert not any("0.0.0.0" in c for c in commands)
    head_start = " ".join(cfg["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start and "--head" in head_start
    # token authentication on every node, with the token file synced from the launching machine
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [c for c in cfg[key] if "ray start" in c]
        assert start and all("RAY_AUTH_MODE=token" in c for c in start), key
    assert cfg["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    # the launcher's default setup installs a nightly Ray wheel: ours must replace it
    assert not any("ray-wheels" in c for c in cfg["setup_commands"])
    assert any("semanticgen" in c for c in cfg["setup_commands"])


def test_launchers_agree():
    aws, gcp = (prepared(CLUSTERS / n)["available_node_types"] for n in ("aws.yaml", "gcp.yaml"))
    assert set(aws) == set(gcp)
    for name in aws:
        custom = lambda r: {k for k in r if k not in ("CPU", "GPU")}  # noqa: E731
        assert custom(aws[name]["resources"]) == custom(gcp[name]["resources"]), name
        assert aws[name]["resources"].get("GPU", 0) == gcp[name]["resources"].get("GPU", 0), name


# ---------------------------------------------------------------- KubeRay

def kuberay_docs():
    return {p.name: list(yaml.safe_load_all(p.read_text())) for p in KUBERAY}


def test_kuberay_files_present():
    names = {p.name for p in KUBERAY}
    assert {"raycluster.yaml", "configmap.yaml"} <= names
    assert {n[len("rayjob-"):-len(".yaml")] for n in names if n.startswith("rayjob-")} == STAGES


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_kuberay_manifest_valid(path):
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 1
    validate_manifest(docs[0])


def _raycluster():
    return load(CLUSTERS / "kuberay" / "raycluster.yaml")


def _rayjob(stage):
    return load(CLUSTERS / "kuberay" / f"rayjob-{stage}.yaml")


BREAKERS = {
    "unknown spec field": (_raycluster, lambda d: d["spec"].update(enableInTreeAutoscale=True),
                           "enableInTreeAutoscale"),
    "unknown worker field": (_raycluster, lambda d: d["spec"]["workerGroupSpecs"][0].update(maxReplica=3),
                             "maxReplica"),
    "unknown container field": (_raycluster, lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]
                                ["containers"][0].update(imagePolicy="Always"), "imagePolicy"),
    "missing headGroupSpec": (_raycluster, lambda d: d["spec"].pop("headGroupSpec"), "headGroupSpec"),
    "missing minReplicas": (_raycluster, lambda d: d["spec"]["workerGroupSpecs"][1].pop("minReplicas"),
                            "minReplicas"),
    "missing rayStartParams": (_raycluster, lambda d: d["spec"]["headGroupSpec"].pop("rayStartParams"),
                               "rayStartParams"),
    "no containers": (_raycluster, lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]
                      .update(containers=[]), "containers"),
    "non-string rayStartParams": (_raycluster, lambda d: d["spec"]["headGroupSpec"]["rayStartParams"]
                                  .update({"num-cpus": 0}), "num-cpus"),
    "min > max": (_raycluster, lambda d: d["spec"]["workerGroupSpecs"][0].update(minReplicas=99), "minReplicas"),
    "duplicate group": (_raycluster, lambda d: d["spec"]["workerGroupSpecs"].append(
        copy.deepcopy(d["spec"]["workerGroupSpecs"][0])), "duplicate"),
    "bad auth mode": (_raycluster, lambda d: d["spec"]["authOptions"].update(mode="password"), "authOptions"),
    "wrong apiVersion": (_raycluster, lambda d: d.update(apiVersion="ray.io/v1alpha1"), "apiVersion"),
    "unknown rayjob field": (lambda: _rayjob("encode"), lambda d: d["spec"].update(shutdownAfterJobFinish=True),
                             "shutdownAfterJobFinish"),
    "bad submissionMode": (lambda: _rayjob("encode"), lambda d: d["spec"].update(submissionMode="Shell"),
                           "submissionMode"),
    "missing entrypoint": (lambda: _rayjob("encode"), lambda d: d["spec"].pop("entrypoint"), "entrypoint"),
    "selector and spec": (lambda: _rayjob("encode"), lambda d: d["spec"].update(
        rayClusterSpec=_raycluster()["spec"]), "exactly one"),
    "shutdown with selector": (lambda: _rayjob("encode"), lambda d: d["spec"].update(
        shutdownAfterJobFinishes=True), "shutdownAfterJobFinishes"),
    "ttl without shutdown": (lambda: _rayjob("ingest"), lambda d: d["spec"].pop("shutdownAfterJobFinishes"),
                             "ttlSecondsAfterFinished"),
    "unknown nested cluster field": (lambda: _rayjob("ingest"), lambda d: d["spec"]["rayClusterSpec"]
                                     ["workerGroupSpecs"][0].update(replica=1), "replica"),
}


@pytest.mark.parametrize("case", sorted(BREAKERS))
def test_kuberay_schema_rejects(case):
    make, breaker, needle = BREAKERS[case]
    doc = make()
    validate_manifest(doc)              # valid before the change
    breaker(doc)
    with pytest.raises(ManifestError, match=needle):
        validate_manifest(doc)


def _containers(cluster_spec):
    groups = [cluster_spec["headGroupSpec"]] + cluster_spec.get("workerGroupSpecs", [])
    return [(g.get("groupName", "head"), c) for g in groups for c in g["template"]["spec"]["containers"]]


def test_raycluster_layout():
    doc = _raycluster()
    spec = doc["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["authOptions"] == {"mode": "token"}
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head.get("serviceType", "ClusterIP") == "ClusterIP" and not head.get("enableIngress", False)
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {n.replace("_", "-") for n in CPU_TYPES | GPU_TYPES}
    for name, g in groups.items():
        assert g["minReplicas"] == 0 < g["maxReplicas"], name
        gpus = g["template"]["spec"]["containers"][0]["resources"]["limits"].get("nvidia.com/gpu", "0")
        assert (int(gpus) > 0) == name.startswith("gpu-"), name


def test_kuberay_env_from_configmap():
    cm = load(CLUSTERS / "kuberay" / "configmap.yaml")
    assert REQUIRED_ENV <= set(cm["data"]) and cm["data"]["HF_HUB_OFFLINE"] == "1"
    jobs = [_rayjob(s)["spec"] for s in sorted(STAGES)]
    specs = [_raycluster()["spec"]] + [j["rayClusterSpec"] for j in jobs if "rayClusterSpec" in j]
    assert len(specs) == 2                     # the shared cluster + ingest's own
    for spec in specs:
        for group, c in _containers(spec):
            refs = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
            assert cm["metadata"]["name"] in refs, group


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_rayjob_stage(stage):
    from ray.runtime_env import RuntimeEnv

    spec = _rayjob(stage)["spec"]
    argv = shlex.split(spec["entrypoint"])
    assert argv[:3] == ["python", "-m", f"jobs.{stage}"]
    assert spec.get("entrypointNumGpus", 0) == 0 and spec["entrypointNumCpus"] > 0
    if "clusterSelector" in spec:
        assert spec["clusterSelector"] == {"ray.io/cluster": _raycluster()["metadata"]["name"]}
    else:
        assert spec["shutdownAfterJobFinishes"] is True
        assert spec["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
        assert spec["rayClusterSpec"]["authOptions"] == {"mode": "token"}
    if "runtimeEnvYAML" in spec:
        RuntimeEnv(**yaml.safe_load(spec["runtimeEnvYAML"]))   # Ray's own runtime-env validation


# ---------------------------------------------------------------- runtime envs

@pytest.mark.parametrize("path", RUNTIME_ENVS, ids=lambda p: p.name)
def test_runtime_env_parses(path):
    from ray.runtime_env import RuntimeEnv

    env = load(path)
    RuntimeEnv(**env)
    assert env["working_dir"] == "."
    assert REQUIRED_ENV <= set(env["env_vars"])
    assert all(isinstance(v, str) for v in env["env_vars"].values())
    assert env["env_vars"]["HF_HUB_OFFLINE"] == "1"
    assert REQUIRED_EXCLUDES <= set(env["excludes"])


def test_runtime_envs_share_excludes():
    local, cluster = (load(p) for p in RUNTIME_ENVS)
    assert local["excludes"] == cluster["excludes"]
    assert cluster["env_vars"]["MLFLOW_TRACKING_URI"].startswith("http")


def test_local_tracking_uri_expands_on_the_node(monkeypatch, tmp_path):
    """Ray expands ${HOME} in env_vars on the node: the local store lands in the box's home."""
    from ray._private.utils import update_envs

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset")       # recorded, so teardown restores the original state
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    update_envs({"MLFLOW_TRACKING_URI": load(RUNTIME_ENVS[0])["env_vars"]["MLFLOW_TRACKING_URI"]})
    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path}/semanticgen-out/mlflow.db"


def _packed(src: Path, excludes, include_gitignore: bool, tmp: Path) -> set:
    """Zip ``src`` exactly as ``ray job submit`` packs a working_dir; return the member names."""
    from ray._private.runtime_env.packaging import create_package

    out = tmp / "pkg.zip"
    create_package(str(src), out, include_gitignore=include_gitignore, excludes=excludes)
    with zipfile.ZipFile(out) as z:
        return {n.rstrip("/") for n in z.namelist()}


def test_excludes_as_ray_packs_them(tmp_path):
    tree = tmp_path / "repo"
    keep = ["semanticgen/__init__.py", "jobs/cli.py", "jobs/runtime_env.yaml", "pipelines/ingest.py",
            "semanticgen/config/presets/tiny.yaml", "README.md"]
    drop = [".venv/bin/python", ".git/HEAD", "demo-out/store/clips/a.parquet", "semanticgen-out/mlflow.db",
            "mlruns/0/meta.yaml", "mlflow.db", "semanticgen/__pycache__/x.cpython-311.pyc",
            "tests/media/cut.mp4", "movie.mkv", "ckpt/model.safetensors", "store/features/p.parquet",
            "semanticgen.egg-info/PKG-INFO"]
    for rel in keep + drop:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("x")
    names = _packed(tree, load(RUNTIME_ENVS[1])["excludes"], include_gitignore=False, tmp=tmp_path)
    files = {n for n in names if (tree / n).is_file()}
    assert files == set(keep)


def test_repository_working_dir_package(tmp_path):
    names = _packed(ROOT, load(RUNTIME_ENVS[1])["excludes"], include_gitignore=True, tmp=tmp_path)
    assert {"jobs/cli.py", "semanticgen/__init__.py", "pyproject.toml"} <= names
    assert not any(n.split("/")[0] in {".venv", ".git", "demo-out", "mlruns"} for n in names)
    size = (tmp_path / "pkg.zip").stat().st_size
    assert size < 20 * 2**20, f"working_dir package is {size / 2**20:.1f} MiB"


# ---------------------------------------------------------------- documented `ray job submit` lines

def submit_lines(text: str):
    """Every ``ray job submit ... -- python -m jobs.<name> ...`` command of a markdown text, as argv."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [shlex.split(line.strip()) for line in joined.splitlines() if line.strip().startswith("ray job submit")]


def split_submit(argv):
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


README_LINES = submit_lines((CLUSTERS / "README.md").read_text())


def test_readme_documents_every_stage_once():
    text = (CLUSTERS / "README.md").read_text()
    assert text.index("export RAY_AUTH_MODE=token") < text.index("ray job submit")
    stages = []
    for argv in README_LINES:
        _, entry = split_submit(argv)
        assert entry[:2] == ["python", "-m"] and entry[2].startswith("jobs."), entry
        stages.append(entry[2][len("jobs."):])
    assert sorted(stages) == sorted(STAGES)


@pytest.mark.parametrize("argv", README_LINES, ids=lambda a: split_submit(a)[1][2])
def test_readme_submit_options(argv):
    opts, _ = split_submit(argv)
    assert opts[:3] == ["ray", "job", "submit"]
    assert opts[opts.index("--address") + 1] == "http://127.0.0.1:8265"   # through the tunnel
    assert (ROOT / opts[opts.index("--runtime-env") + 1]).is_file()
    assert "--entrypoint-num-gpus=0" in opts
    cpus = [o for o in opts if o.startswith("--entrypoint-num-cpus=")]
    assert cpus and float(cpus[0].split("=")[1]) > 0


def _job_help(stage: str) -> str:
    mod = importlib.import_module(f"jobs.{stage}")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        mod.main(["--help"])
    assert exc.value.code == 0
    return buf.getvalue()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_documented_flags_exist_in_job_cli(stage):
    """The flags used in the README line and the RayJob entrypoint are flags of the job's parser."""
    if not (ROOT / "jobs" / f"{stage}.py").is_file():
        pytest.skip(f"jobs/{stage}.py is not written yet")
    entries = [split_submit(a)[1] for a in README_LINES if split_submit(a)[1][2] == f"jobs.{stage}"]
    entries.append(shlex.split(_rayjob(stage)["spec"]["entrypoint"]))
    help_text = _job_help(stage)
    for entry in entries:
        for flag in (a for a in entry[3:] if a.startswith("--")):
            assert re.search(rf"(^|[\s\[,]){re.escape(flag)}\b", help_text), f"{stage}: {flag} not in --help"
