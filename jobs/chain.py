"""The pipeline as an ordered chain of job steps, written once.

``jobs.demo`` runs these steps in one process; ``jobs.submit_chain`` submits each as a ``ray job submit``
job to a running cluster. A step is a job module and its argument list, so the entrypoint a user types is
``python -m <module> <args>`` for every step.

Layout under ``out`` (absolute; on a multi-node cluster a shared mount): ``store/`` (clips, errors,
features, z_sem), ``models/`` (tiny models, unless ``models`` names real weights), ``ray_results/``
(checkpoints, via ``run.work_dir``), ``prompts.jsonl``, ``videos/``, ``eval/``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

DEFAULT_PROMPTS = (
    {"prompt": "A cyclist rides down a forest trail, the camera follows", "seed": 1},
    {"prompt": "A long take of waves rolling onto a beach at sunset", "seed": 2, "long": True},
)


@dataclass(frozen=True)
class Step:
    name: str
    module: str
    args: Tuple[str, ...]

    def entrypoint(self) -> List[str]:
        return ["python", "-m", self.module, *self.args]


def demo_inputs() -> List[str]:
    """The sample movies that ship inside installed packages (the default input of the demo and the chain)."""
    from semanticgen.samples import sample_videos

    videos = [str(p) for p in sample_videos().values()]
    if not videos:
        raise RuntimeError("no sample videos found: install the dev extra (pip install -e '.[dev]')")
    return videos


def chain_paths(out: str) -> Dict[str, str]:
    """Where each step reads and writes, under the absolute folder ``out``."""
    if not os.path.isabs(out):
        raise ValueError(f"--out must be an absolute path (jobs run in a copy of the working dir): {out!r}")
    paths = {name: os.path.join(out, name) for name in ("store", "models", "videos", "eval")}
    return {**paths, "out": out, "prompts": os.path.join(out, "prompts.jsonl")}


def write_prompts(path: str, prompts: Sequence[dict] = DEFAULT_PROMPTS) -> str:
    """The generation step's JSONL (prompt, seed, long); kept if the user already wrote one there."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.writelines(json.dumps(p) + "\n" for p in prompts)
    return path


def chain_steps(config: str, overrides: Sequence[str], out: str, inputs: Sequence[str],
                models: Optional[str] = None, name: str = "demo") -> List[Step]:
    """ingest → (tiny models) → features → stage 1 → z_sem → stage 2 → generate → evaluate.

    ``models``: a folder with ``qwen_vl/ vae/ text_encoder/`` (real weights); ``None`` builds tiny ones.
    ``name``: prefix of the two training run names (``<name>-latent``, ``<name>-semantic``), which the
    later steps resolve through MLflow.
    """
    if not inputs:
        raise ValueError("the chain needs at least one input video (--input)")
    p = chain_paths(out)
    common = ("--config", config, f"run.work_dir={out}", *overrides)
    model_dir = models or p["models"]
    latent, semantic = f"{name}-latent", f"{name}-semantic"
    steps = [Step("ingest", "jobs.ingest", (*common, "--input", *inputs, "--output", p["store"]))]
    if models is None:
        steps.append(Step("tiny models", "jobs.tiny_models", ("--out", p["models"])))
    steps += [
        Step("features", "jobs.encode", (*common, "--store", p["store"], "--models", model_dir)),
        Step("train latent (stage 1)", "jobs.train_latent",
             (*common, "--store", p["store"], "--name", latent, "--models", model_dir)),
        Step("encode z_sem", "jobs.encode_semantic", (*common, "--store", p["store"], "--name", latent)),
        Step("train semantic (stage 2)", "jobs.train_semantic",
             (*common, "--store", p["store"], "--name", semantic, "--models", model_dir)),
        Step("generate", "jobs.generate",
             (*common, "--prompts", p["prompts"], "--out", p["videos"], "--latent-run", latent,
              "--semantic-run", semantic, "--models", model_dir)),
        Step("evaluate", "jobs.evaluate", (*common, "--videos", p["videos"], "--out", p["eval"])),
    ]
    return steps
