"""SemanticGen models: compressor, latent DiT (in-context z_sem, full/Swin attention), semantic DiT."""
from .compressor import Compressor, kl_to_standard_normal
from .latent_dit import LatentDiT
from .registry import SIZES, DiTSize, get_size
from .semantic_dit import SemanticDiT

__all__ = ["Compressor", "kl_to_standard_normal", "LatentDiT", "SemanticDiT", "SIZES", "DiTSize", "get_size"]
