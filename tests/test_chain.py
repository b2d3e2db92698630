"""The pipeline chain shared by the demo and jobs.submit_chain: order, paths, and argument lists each job accepts."""
import importlib

import pytest

from jobs.chain import chain_steps, write_prompts
from jobs.submit_chain import submit_command

ORDER = ["jobs.ingest", "jobs.tiny_models", "jobs.encode", "jobs.train_latent",
         "jobs.encode_semantic", "jobs.train_semantic", "jobs.generate", "jobs.evaluate"]


def test_order_and_paths(tmp_path):
    steps = chain_steps("tiny", ["run.seed=3"], str(tmp_path), ["/data/a.mp4", "/data/b.mp4"], name="x")
    assert [s.module for s in steps] == ORDER
    ingest, _, features, s1, zsem, s2, gen, ev = (list(s.args) for s in steps)
    assert ingest[-5:] == ["--input", "/data/a.mp4", "/data/b.mp4", "--output", f"{tmp_path}/store"]
    assert f"run.work_dir={tmp_path}" in s1 and "run.seed=3" in s1       # checkpoints land under --out
    assert s1[s1.index("--name") + 1] == "x-latent" == zsem[zsem.index("--name") + 1]
    assert gen[gen.index("--latent-run") + 1] == "x-latent" and gen[gen.index("--semantic-run") + 1] == "x-semantic"
    assert features[features.index("--models") + 1] == f"{tmp_path}/models"
    assert ev[ev.index("--videos") + 1] == gen[gen.index("--out") + 1] == f"{tmp_path}/videos"
    real = chain_steps("short", [], str(tmp_path), ["/data/a.mp4"], models="/weights")
    assert "jobs.tiny_models" not in [s.module for s in real]       # real weights: no tiny build
    assert all(s.args[s.args.index("--models") + 1] == "/weights" for s in real if "--models" in s.args)


def test_bad_chain_inputs_fail_before_anything_runs():
    with pytest.raises(ValueError, match="absolute"):
        chain_steps("tiny", [], "relative/out", ["/data/a.mp4"])
    with pytest.raises(ValueError, match="--input"):
        chain_steps("tiny", [], "/abs/out", [])


def test_every_step_is_accepted_by_its_job(tmp_path, capsys):
    (tmp_path / "models").mkdir()
    for step in chain_steps("tiny", ["ingest.max_clip_s=5"], str(tmp_path), [str(tmp_path / "m.mp4")]):
        if not step.module.startswith("jobs."):
            continue
        with pytest.raises(SystemExit) as e:
            importlib.import_module(step.module).main([*step.args, "--dry-run"])
        assert e.value.code == 0, (step.module, capsys.readouterr().err)


def test_submit_command_and_prompts(tmp_path):
    cmd = submit_command(["python", "-m", "jobs.ingest", "--config", "tiny"], "http://h:8265", "jobs/runtime_env.yaml",
                         "sid-1")
    assert cmd[:3] == ["ray", "job", "submit"] and cmd[cmd.index("--submission-id") + 1] == "sid-1"
    assert "--entrypoint-num-gpus=0" in cmd and "--entrypoint-num-cpus=1" in cmd
    assert cmd[cmd.index("--") + 1:] == ["python", "-m", "jobs.ingest", "--config", "tiny"]
    p = write_prompts(str(tmp_path / "p" / "prompts.jsonl"))
    first = open(p).read()
    assert len(first.splitlines()) == 2 and '"long": true' in first
    (tmp_path / "p" / "prompts.jsonl").write_text('{"prompt": "mine", "seed": 9}\n')
    write_prompts(p)                                                   # a user's own prompts are kept
    assert open(p).read() == '{"prompt": "mine", "seed": 9}\n'
