"""SemanticGen models: compressor, latent DiT (in-context z_sem, full/Swin attention), semantic DiT.

Modules: ``compressor`` (μ, log σ², KL), ``registry`` (named DiT sizes), ``rope`` (3D RoPE),
``attention`` (full/window attention, flash-attn or SDPA), ``blocks`` / ``dit`` (Wan2.1-style
trunk), ``latent_dit``, ``semantic_dit``, ``checkpoint`` (safetensors, Wan2.1 init), ``flops``
(FLOPs per step, MFU). Rectified flow lives in :mod:`semanticgen.flow`.
"""
from .compressor import Compressor, kl_to_standard_normal
from .latent_dit import LatentDiT
from .registry import SIZES, DiTSize, get_size
from .semantic_dit import SemanticDiT

__all__ = ["Compressor", "kl_to_standard_normal", "LatentDiT", "SemanticDiT", "SIZES", "DiTSize", "get_size"]
