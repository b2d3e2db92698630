"""Model weights: safetensors files, training-checkpoint folders, and initialisation from a pretrained Wan2.1 DiT.

A training checkpoint is a folder (written by ``semanticgen.train.state.save_checkpoint``)::

    model.safetensors      trainable weights, keys prefixed by module name (``latent_dit.``, ``compressor.``)
    ema.safetensors        EMA of the parameters, same keys (buffers live in model.safetensors only)
    optimizer.pt           optimizer state_dict
    trainer_state.pt       step, epoch, batches consumed in the epoch, RNG states, MLflow run id

:func:`load_stage_weights` is the one way every reader (training resume, z_sem encoding, generation,
benchmarks) gets weights out of such a folder, local or on an object store.

Our parameter names follow the original Wan2.1 checkpoints (``wan/modules/model.py``), so those
tensors map one to one. Diffusers-format checkpoints (``WanTransformer3DModel``; a pipeline folder's
``transformer/``) are renamed with :data:`DIFFUSERS_TO_OURS`; single files with a :data:`KNOWN_PREFIXES` prefix
(ComfyUI's ``model.diffusion_model.``) lose it first. :func:`init_from_pretrained` is loud: it logs loaded /
missing / shape-mismatched / unexpected counts and, unless told otherwise, fails when fewer than all the
expected tensors load — every tensor but the model's own additions (``pretrained_new``: the latent DiT's
``sem_embedding``, the semantic DiT's z_sem input and output projections).

| diffusers (WanTransformer3DModel)        | ours / original Wan2.1              |
|------------------------------------------|-------------------------------------|
| condition_embedder.text_embedder.linear_1/2 | text_embedding.0 / text_embedding.2 |
| condition_embedder.time_embedder.linear_1/2 | time_embedding.0 / time_embedding.2 |
| condition_embedder.time_proj             | time_projection.1                   |
| blocks.N.attn1.to_q/k/v, to_out.0        | blocks.N.self_attn.q/k/v/o          |
| blocks.N.attn1.norm_q/norm_k             | blocks.N.self_attn.norm_q/norm_k    |
| blocks.N.attn2.*                         | blocks.N.cross_attn.*               |
| blocks.N.norm2 (cross-attn norm)         | blocks.N.norm3                      |
| blocks.N.ffn.net.0.proj / ffn.net.2      | blocks.N.ffn.0 / blocks.N.ffn.2     |
| blocks.N.scale_shift_table               | blocks.N.modulation                 |
| proj_out / scale_shift_table             | head.head / head.modulation         |
"""
from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..io.checkpoints import local_checkpoint

MODEL, EMA_FILE, OPTIM, STATE = "model.safetensors", "ema.safetensors", "optimizer.pt", "trainer_state.pt"
# key prefixes of single-file DiT checkpoints (ComfyUI / LDM "model.diffusion_model.", wrappers' "model.")
KNOWN_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "model.")
log = logging.getLogger("semanticgen.models")

DIFFUSERS_TO_OURS = [
    (r"^condition_embedder\.text_embedder\.linear_1\.", "text_embedding.0."),
    (r"^condition_embedder\.text_embedder\.linear_2\.", "text_embedding.2."),
    (r"^condition_embedder\.time_embedder\.linear_1\.", "time_embedding.0."),
    (r"^condition_embedder\.time_embedder\.linear_2\.", "time_embedding.2."),
    (r"^condition_embedder\.time_proj\.", "time_projection.1."),
    (r"^blocks\.(\d+)\.attn1\.to_out\.0\.", r"blocks.\1.self_attn.o."),
    (r"^blocks\.(\d+)\.attn1\.to_([qkv])\.", r"blocks.\1.self_attn.\2."),
    (r"^blocks\.(\d+)\.attn1\.norm_([qk])\.", r"blocks.\1.self_attn.norm_\2."),
    (r"^blocks\.(\d+)\.attn2\.to_out\.0\.", r"blocks.\1.cross_attn.o."),
    (r"^blocks\.(\d+)\.attn2\.to_([qkv])\.", r"blocks.\1.cross_attn.\2."),
    (r"^blocks\.(\d+)\.attn2\.norm_([qk])\.", r"blocks.\1.cross_attn.norm_\2."),
    (r"^blocks\.(\d+)\.norm2\.", r"blocks.\1.norm3."),
    (r"^blocks\.(\d+)\.ffn\.net\.0\.proj\.", r"blocks.\1.ffn.0."),
    (r"^blocks\.(\d+)\.ffn\.net\.2\.", r"blocks.\1.ffn.2."),
    (r"^blocks\.(\d+)\.scale_shift_table$", r"blocks.\1.modulation"),
    (r"^proj_out\.", "head.head."),
    (r"^scale_shift_table$", "head.modulation"),
]


class PretrainedMismatch(ValueError):
    """A pretrained file fills fewer than all the tensors expected from it (and the load is strict)."""


@dataclass
class InitReport:
    loaded: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)       # ours, not in the checkpoint: newly initialised
    unused: List[str] = field(default_factory=list)        # checkpoint tensors we have no place for (unexpected)
    expected: int = 0                                      # ours that the pretrained file should fill
    unfilled: List[str] = field(default_factory=list)      # expected ones it did not fill
    prefix: str = ""                                       # key prefix removed from the file

    @property
    def complete(self) -> bool:
        return not self.unfilled

    def counts(self) -> Dict[str, int]:
        return {"loaded": len(self.loaded), "expected": self.expected, "missing": len(self.missing),
                "shape_mismatch": len(self.shape_mismatch), "unexpected": len(self.unused)}

    def summary(self) -> str:
        c = self.counts()
        return (f"loaded {c['loaded']} of {c['expected']} expected tensors, missing {c['missing']}, "
                f"shape mismatch {c['shape_mismatch']}, unexpected {c['unexpected']}"
                + (f" (prefix '{self.prefix}' removed)" if self.prefix else ""))


def save_model(model: nn.Module, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, path)


def load_model(model: nn.Module, path: str, strict: bool = True) -> None:
    model.load_state_dict(load_file(path), strict=strict)


def read_weights(folder: str, name: str = MODEL) -> Dict[str, torch.Tensor]:
    """One safetensors file of a checkpoint folder; a missing or unreadable file is named in the error."""
    path = os.path.join(folder, name)
    try:
        return load_file(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint file missing: {path}") from None
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types for corrupt files
        raise ValueError(f"checkpoint file unreadable: {path} ({type(e).__name__}: {e})") from None


def overlay_ema(model_state: Dict[str, torch.Tensor], ema_state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The plain weights with every EMA-tracked parameter replaced by its average (cast to the weight's
    dtype); buffers and untracked tensors keep their plain values."""
    return {**model_state, **{k: v.to(model_state[k].dtype) for k, v in ema_state.items() if k in model_state}}


def split_prefixed(state: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    """Sub-dict of ``prefix.``-keys with the prefix removed (e.g. the compressor out of a stage-1 checkpoint)."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in state.items() if k.startswith(p)}


def load_stage_weights(checkpoint: str, which: Optional[str] = None, ema: bool = True) -> Dict[str, torch.Tensor]:
    """Weights of a training checkpoint folder (local path or ``s3://``/``gs://``/``file://`` URI).

    ``ema``: the EMA parameters overlaid on the plain weights when the checkpoint has them (buffers always
    come from the plain weights). ``which``: a sub-module prefix (``compressor``, ``latent_dit``,
    ``semantic_dit``) → only its tensors, prefix removed; ``None`` → every tensor with its prefix.
    """
    folder = local_checkpoint(checkpoint)            # a local copy of a remote checkpoint
    state = read_weights(folder, MODEL)
    if ema and os.path.exists(os.path.join(folder, EMA_FILE)):
        state = overlay_ema(state, read_weights(folder, EMA_FILE))
    if which is None:
        return state
    sub = split_prefixed(state, which)
    if not sub:
        raise KeyError(f"checkpoint {checkpoint} has no '{which}.' weights (it holds: "
                       f"{sorted({k.split('.')[0] for k in state})})")
    return sub


def pretrained_files(path: str) -> List[str]:
    """The ``.safetensors`` of a pretrained DiT: a file, a folder of shards (``save_pretrained``, Wan2.1's own
    repo), or a diffusers pipeline folder (``model_index.json`` + ``transformer/``)."""
    if os.path.isfile(path):
        return [path]
    sub = os.path.join(path, "transformer")
    folder = sub if os.path.isdir(sub) and (os.path.exists(os.path.join(path, "model_index.json"))
                                            or not glob.glob(os.path.join(path, "*.safetensors"))) else path
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    if not files:
        raise FileNotFoundError(f"no .safetensors in {path} (nor in {sub})")
    return files


def read_safetensors(path: str, shapes_only: bool = False) -> Dict[str, object]:
    """Every tensor of :func:`pretrained_files` (or only their shapes, from the headers: nothing is read)."""
    out: Dict[str, object] = {}
    for f in pretrained_files(path):
        if not shapes_only:
            out.update(load_file(f))
            continue
        with safe_open(f, "pt") as h:
            out.update({k: tuple(h.get_slice(k).get_shape()) for k in h.keys()})
    return out


def strip_prefix(state: Dict[str, object]) -> Tuple[Dict[str, object], str]:
    """Remove the first of :data:`KNOWN_PREFIXES` that the file uses (ComfyUI / LDM-style single files) from the
    keys that carry it; other keys (a VAE or text encoder in the same file) keep theirs and stay unused."""
    for prefix in KNOWN_PREFIXES:
        if any(k.startswith(prefix) for k in state):
            return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}, prefix
    return dict(state), ""


def to_our_names(state: Dict[str, object]) -> Dict[str, object]:
    if not any(k.startswith("condition_embedder.") for k in state):
        return dict(state)                                    # original Wan2.1 names == ours
    out = {}
    for k, v in state.items():
        new = k
        for pat, rep in DIFFUSERS_TO_OURS:
            new, n = re.subn(pat, rep, new)
            if n:
                break
        out[new] = v
    return out


def match_pretrained(own: Dict[str, Tuple[int, ...]], theirs: Dict[str, Tuple[int, ...]],
                     new_by_design: Sequence[str] = ()) -> InitReport:
    """Which of our tensors (name → shape) a pretrained file (name → shape, our names) fills."""
    report = InitReport()
    for k, shape in own.items():
        if k not in theirs:
            report.missing.append(k)
        elif tuple(theirs[k]) != tuple(shape):
            report.shape_mismatch.append(k)
        else:
            report.loaded.append(k)
    report.unused = sorted(set(theirs) - set(own))
    ours = [k for k in own if not k.startswith(tuple(new_by_design))]
    report.expected = len(ours)
    report.unfilled = [k for k in ours if k not in set(report.loaded)]
    return report


def pretrained_state(path: str, shapes_only: bool = False) -> Tuple[Dict[str, object], str]:
    """A pretrained DiT's tensors (or shapes) under our names, and the prefix that was removed."""
    state, prefix = strip_prefix(read_safetensors(path, shapes_only))
    return to_our_names(state), prefix


def pretrained_report(model: nn.Module, path: str) -> InitReport:
    """What :func:`init_from_pretrained` would load into ``model`` (may live on the meta device), from the file
    headers only."""
    theirs, prefix = pretrained_state(path, shapes_only=True)
    report = match_pretrained({k: tuple(v.shape) for k, v in model.state_dict().items()}, theirs,
                              getattr(model, "pretrained_new", ()))
    report.prefix = prefix
    return report


def check_report(report: InitReport, path: str, field: str, strict: bool) -> None:
    """Log the load; fail when fewer than all expected tensors were filled and ``strict``."""
    log.info("%s=%s: %s", field, path, report.summary())
    if strict and not report.complete:
        raise PretrainedMismatch(
            f"{field}: {report.summary()} from {path} (not filled: {', '.join(report.unfilled[:3])}"
            f"{' ...' if len(report.unfilled) > 3 else ''}; prefixes "
            f"{', '.join(KNOWN_PREFIXES)} and diffusers names are understood) — set {field}_strict=false to "
            "train from this partial initialisation")


@torch.no_grad()
def init_from_pretrained(model: nn.Module, path: str, strict: bool = True,
                         field: str = "pretrained") -> InitReport:
    """Copy every pretrained tensor whose name and shape match; log the counts; with ``strict`` raise
    :class:`PretrainedMismatch` unless every expected tensor (all but the model's ``pretrained_new``) loads."""
    theirs, prefix = pretrained_state(path)
    own = model.state_dict()
    report = match_pretrained({k: tuple(v.shape) for k, v in own.items()},
                              {k: tuple(v.shape) for k, v in theirs.items()}, getattr(model, "pretrained_new", ()))
    report.prefix = prefix
    check_report(report, path, field, strict)
    for k in report.loaded:
        own[k].copy_(theirs[k].to(own[k].dtype))
    return report
