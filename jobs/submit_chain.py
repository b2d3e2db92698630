"""Submit the whole pipeline to a running Ray cluster, one ``ray job submit`` per step, in order.

    python -m jobs.submit_chain --address http://127.0.0.1:8265 --out /abs/path/chain \\
        [--input VIDEO ...] [--models DIR] [--config tiny] [--runtime-env jobs/runtime_env.yaml] \\
        [mlflow.tracking_uri=http://127.0.0.1:5000] [overrides...]

Each step (``jobs.chain``) is printed as the exact ``ray job submit`` line it runs, waits for its job
(the CLI tails the logs) and stops the chain at the first failed job. The driver of each job reserves
``--entrypoint-num-cpus`` CPUs and never a GPU. ``--out`` must be an absolute path every node can read
(one box, or a shared mount). Without ``--input`` the packaged sample movies are used; without
``--models`` the chain builds tiny models first.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from typing import List, Sequence

from jobs.chain import Step, chain_steps, demo_inputs, write_prompts
from jobs.cli import base_parser, parse, run_main


class JobFailed(RuntimeError):
    pass


def submit_command(entrypoint: Sequence[str], address: str, runtime_env: str, submission_id: str,
                   entrypoint_num_cpus: float = 1) -> List[str]:
    return ["ray", "job", "submit", "--address", address, "--submission-id", submission_id,
            "--working-dir", ".", "--runtime-env", runtime_env,
            f"--entrypoint-num-cpus={entrypoint_num_cpus:g}", "--entrypoint-num-gpus=0",
            "--", *entrypoint]


def submit_steps(steps: Sequence[Step], address: str, runtime_env: str = "jobs/runtime_env.yaml",
                 entrypoint_num_cpus: float = 1, tag: str = "", cwd: str = ".", env=None,
                 timeout_s: float = 3600) -> List[str]:
    """Run each step as a job, in order; returns the submission ids. Raises ``JobFailed`` at the first failure."""
    tag = tag or time.strftime("%Y%m%d-%H%M%S")
    ids = []
    for i, step in enumerate(steps):
        sid = f"semanticgen-{tag}-{i}-{step.module.rsplit('.', 1)[-1]}"
        cmd = submit_command(step.entrypoint(), address, runtime_env, sid, entrypoint_num_cpus)
        print(f"\n=== step {i + 1}/{len(steps)}: {step.name} ===\n$ {shlex.join(cmd)}", flush=True)
        t0 = time.time()
        code = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout_s).returncode
        if code != 0:
            raise JobFailed(f"step {step.name!r} (job {sid}) failed with exit code {code}: "
                            f"ray job logs --address {address} {sid}")
        print(f"=== {step.name}: succeeded in {time.time() - t0:.1f}s (job {sid}) ===", flush=True)
        ids.append(sid)
    return ids


def main(argv=None) -> int:
    p = base_parser(__doc__)
    p.add_argument("--address", default=os.environ.get("RAY_ADDRESS", "http://127.0.0.1:8265"),
                   help="the cluster's dashboard address (default: $RAY_ADDRESS or the local head)")
    p.add_argument("--out", required=True, help="absolute output folder every node can read")
    p.add_argument("--input", nargs="+", help="videos, folders or globs (default: the packaged sample movies)")
    p.add_argument("--models", help="folder with qwen_vl/ vae/ text_encoder/ (default: build tiny models)")
    p.add_argument("--name", default="chain", help="prefix of the two training run names")
    p.add_argument("--runtime-env", default="jobs/runtime_env.yaml")
    p.add_argument("--entrypoint-num-cpus", type=float, default=1)
    p.add_argument("--tag", default="", help="part of each submission id (default: the time)")
    args, _ = parse(p, argv)
    inputs = args.input or demo_inputs()
    out = os.path.abspath(os.path.expanduser(args.out))
    steps = chain_steps(args.config, args.overrides, out, inputs, models=args.models, name=args.name)
    write_prompts(os.path.join(out, "prompts.jsonl"))
    try:
        submit_steps(steps, args.address, args.runtime_env, args.entrypoint_num_cpus, args.tag)
    except JobFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"\nchain done: videos in {out}/videos, scores in {out}/eval")
    return 0


if __name__ == "__main__":
    run_main(main)
