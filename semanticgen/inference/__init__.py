"""Inference chain (paper §4.2.4–4.2.5): text → semantic DiT → z_sem → latent DiT → VAE → mp4."""
