"""Feature encoders: Qwen2.5-VL vision tower (semantic), Wan2.1 VAE, text encoder, captioner."""
