"""Every ``python -m jobs.<name> ...`` line in the docs and manifests parses: flags and config checked
with ``--dry-run`` (the same parse a submitted job does first), so a documented command cannot rot."""
import importlib
import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "clusters" / "README.md", *sorted((ROOT / "clusters" / "kuberay").glob("*.yaml")),
        *sorted((ROOT / "jobs").glob("runtime_env*.yaml"))]
STAGES = {"jobs.ingest", "jobs.encode", "jobs.train_latent", "jobs.encode_semantic", "jobs.train_semantic",
          "jobs.generate", "jobs.evaluate"}


def documented_commands():
    for doc in DOCS:
        text = doc.read_text().replace("\\\n", " ")
        for m in re.finditer(r"python -m (jobs\.[a-z_]+)([^\n`]*)", text):
            args = m.group(2).split(" #", 1)[0]
            if any(c in args for c in "<[") or "..." in args:      # placeholders and optional syntax
                continue
            yield pytest.param(m.group(1), os.path.expandvars(args.strip()),
                               id=f"{doc.relative_to(ROOT)}:{m.group(1)}:{text[:m.start()].count(chr(10)) + 1}")


COMMANDS = list(documented_commands())


def test_every_stage_is_documented_for_a_cluster():
    cluster_docs = {p.id.split(":")[0] for p in COMMANDS}
    assert "clusters/README.md" in cluster_docs
    for doc in ("README.md", "clusters/README.md"):
        assert STAGES <= {p.values[0] for p in COMMANDS if p.id.startswith(doc + ":")}, doc
    kuberay = {p.values[0] for p in COMMANDS if p.id.startswith("clusters/kuberay/")}
    assert STAGES <= kuberay


@pytest.mark.parametrize("module,args", COMMANDS)
def test_documented_command_parses(module, args, capsys, tmp_path):
    (tmp_path / "models").mkdir()                 # the shared mount of the docs: folders must exist
    args = args.replace("/mnt/shared", str(tmp_path))
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as e:
        main([*shlex.split(args), "--dry-run"])
    out = capsys.readouterr()
    assert e.value.code == 0, f"python -m {module} {args}\n{out.err[-2000:]}"
    assert "nothing started" in out.out


def test_dry_run_names_the_bad_flag_and_field(capsys):
    from jobs import generate, ingest

    with pytest.raises(SystemExit) as e:
        generate.main(["--prompts", "p.txt", "--out", "/tmp/x", "--dry-run"])
    assert e.value.code == 2 and "--latent-run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        ingest.main(["--input", "a.mp4", "--output", "/tmp/s", "ingest.max_clip_s=-1", "--dry-run"])
    assert e.value.code == 2 and "ingest.max_clip_s" in capsys.readouterr().err
