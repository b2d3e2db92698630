"""``STORE/features`` (DESIGN §2–3): one row per clip with its caption and three tensors.

- ``sem``: Qwen2.5-VL vision-tower features (T', H', W', D), sampled at ``sem_fps``.
- ``latents``: normalised Wan VAE latents (16, 1+k, h/8, w/8) of ``vae_frames`` frames at ``vae_fps``,
  resized/cropped to the bucket ``vae_height`` × ``vae_width``.
- ``text``: text-encoder embedding of the caption (L, D_text), ``text_len`` = L real tokens.
The empty-prompt embedding for CFG lives beside the parts in ``_null_text.safetensors``.
"""
from __future__ import annotations

import pyarrow as pa

from .tensor_columns import tensor_fields

NULL_TEXT_FILE = "_null_text.safetensors"

FEATURES_SCHEMA = pa.schema([
    ("clip_id", pa.string()),
    ("source_uri", pa.string()),
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("caption", pa.string()),
    ("caption_source", pa.string()),      # provided | model
    *tensor_fields("sem"),
    ("sem_fps", pa.float64()),
    *tensor_fields("latents"),
    ("vae_fps", pa.float64()),
    ("vae_frames", pa.int32()),
    ("vae_height", pa.int32()),
    ("vae_width", pa.int32()),
    *tensor_fields("text"),
    ("text_len", pa.int32()),
])
