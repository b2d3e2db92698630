"""Model weights: safetensors files, training-checkpoint folders, and initialisation from a pretrained Wan2.1 DiT.

A training checkpoint is a folder (written by ``semanticgen.train.state.save_checkpoint``)::

    model.safetensors      trainable weights, keys prefixed by module name (``latent_dit.``, ``compressor.``)
    ema.safetensors        EMA of the parameters, same keys (buffers live in model.safetensors only)
    optimizer.pt           optimizer state_dict
    trainer_state.pt       step, epoch, batches consumed in the epoch, RNG states, MLflow run id

:func:`load_stage_weights` is the one way every reader (training resume, z_sem encoding, generation,
benchmarks) gets weights out of such a folder, local or on an object store.

Our parameter names follow the original Wan2.1 checkpoints (``wan/modules/model.py``), so those
tensors map one to one. Diffusers-format checkpoints (``WanTransformer3DModel``) are renamed with
:data:`DIFFUSERS_TO_OURS`. Tensors whose shapes disagree (e.g. the text projection when the text
encoder differs) and our own additions (``sem_embedding``) stay newly initialised.

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
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..io.checkpoints import local_checkpoint

MODEL, EMA_FILE, OPTIM, STATE = "model.safetensors", "ema.safetensors", "optimizer.pt", "trainer_state.pt"

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


@dataclass
class InitReport:
    loaded: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)       # ours, not in the checkpoint: newly initialised
    unused: List[str] = field(default_factory=list)        # checkpoint tensors we have no place for

    def summary(self) -> str:
        return (f"loaded {len(self.loaded)}, shape mismatch {len(self.shape_mismatch)}, "
                f"new {len(self.missing)}, unused {len(self.unused)}")


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


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """A ``.safetensors`` file, or every shard in a directory (diffusers ``save_pretrained`` layout)."""
    files = [path] if os.path.isfile(path) else sorted(glob.glob(os.path.join(path, "*.safetensors")))
    if not files:
        raise FileNotFoundError(f"no .safetensors under {path}")
    out: Dict[str, torch.Tensor] = {}
    for f in files:
        out.update(load_file(f))
    return out


def to_our_names(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
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


@torch.no_grad()
def init_from_pretrained(model: nn.Module, path: str) -> InitReport:
    """Copy every pretrained tensor whose name and shape match; report the rest."""
    theirs = to_our_names(read_safetensors(path))
    report = InitReport()
    own = model.state_dict()
    for k, v in own.items():
        if k not in theirs:
            report.missing.append(k)
        elif tuple(theirs[k].shape) != tuple(v.shape):
            report.shape_mismatch.append(k)
        else:
            v.copy_(theirs[k].to(v.dtype))
            report.loaded.append(k)
    report.unused = sorted(set(theirs) - set(own))
    return report
