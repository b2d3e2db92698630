"""Named DiT sizes (like facebookresearch/DiT's registry)."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DiTSize:
    dim: int
    layers: int
    heads: int
    ffn_dim: int
    freq_dim: int = 256


SIZES = {
    "tiny": DiTSize(dim=64, layers=2, heads=4, ffn_dim=128, freq_dim=32),
    "small": DiTSize(dim=384, layers=6, heads=6, ffn_dim=1024, freq_dim=128),
    # the semantic DiT: a smaller transformer over the compact z_sem tokens
    "semantic-base": DiTSize(dim=768, layers=12, heads=12, ffn_dim=3072, freq_dim=256),
    # Wan2.1-T2V-1.3B: dim 1536, 30 layers, 12 heads, ffn 8960 (the `short`/`long` latent DiT)
    "wan-1.3b": DiTSize(dim=1536, layers=30, heads=12, ffn_dim=8960, freq_dim=256),
    "wan-14b": DiTSize(dim=5120, layers=40, heads=40, ffn_dim=13824, freq_dim=256),
}


def get_size(name: str, layers: int = 0) -> DiTSize:
    if name not in SIZES:
        raise KeyError(f"unknown DiT size {name!r}; known: {', '.join(sorted(SIZES))}")
    s = SIZES[name]
    return replace(s, layers=layers) if layers else s
