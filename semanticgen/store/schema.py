"""Every table of a store in one place (DESIGN §2): its Arrow schema, by table name in :data:`TABLES`.

- ``clips``    one row per ≤ max-length clip of a source (written by ingest); references, not bytes.
- ``errors``   one row per input or clip that failed, with the stage and the message.
- ``features`` one row per clip: caption, Qwen2.5-VL features ``sem`` (T', H', W', D) at ``sem_fps``,
  normalised Wan VAE latents ``latents`` (16, 1+k, h/8, w/8) of ``vae_frames`` frames at ``vae_fps``
  resized/cropped to the bucket ``vae_height`` × ``vae_width``, and the caption's text embedding
  ``text`` (L, D_text) with ``text_len`` real tokens. The empty-prompt embedding for CFG lives beside the
  parts in :data:`NULL_TEXT_FILE`. ``bucket`` is the clip's shape bucket ``"<frames>x<height>x<width>"``
  (:mod:`.buckets`), ``sem_grid`` its Qwen grid [T', H', W'] (``encoders.grid.semantic_grid``) and
  ``source_height`` × ``source_width`` the decoded source frame size the grid came from.
- ``z_sem``    one row per clip: the frozen compressor's μ and log σ² (the stage-2 targets), the caption
  embedding (so stage 2 trains from one table), the clip's ``bucket`` and the stage-1 checkpoint that produced it.
Tensors are flat binary columns + shape + dtype (:mod:`.tensor_columns`). Row builders and ids: :mod:`.rows`.
"""
from __future__ import annotations

import pyarrow as pa

from .tensor_columns import tensor_fields

SCHEMA_VERSION = 1
CLIPS_SCHEMA = pa.schema([
    ("clip_id", pa.string()),
    ("source_uri", pa.string()),
    ("source_id", pa.string()),
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("num_frames", pa.int64()),
    ("fps", pa.float64()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("rotation", pa.int32()),
    ("codec", pa.string()),
    ("shot_boundaries_s", pa.list_(pa.float64())),
    ("clip_index", pa.int32()),
    ("caption", pa.string()),        # optional user-provided caption (sidecar); null otherwise
])

ERRORS_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("source_id", pa.string()),
    ("clip_id", pa.string()),        # null for source-level errors
    ("stage", pa.string()),          # discover | probe | detect | pack | write | features stages...
    ("error", pa.string()),
])


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
    ("bucket", pa.string()),
    ("sem_grid", pa.list_(pa.int32())),
    ("source_height", pa.int32()),
    ("source_width", pa.int32()),
])

Z_SEM_SCHEMA = pa.schema([("clip_id", pa.string()), *tensor_fields("z_mu"), *tensor_fields("z_logvar"),
                          *tensor_fields("text"), ("text_len", pa.int32()), ("checkpoint", pa.string()),
                          ("bucket", pa.string())])

TABLES = {"clips": CLIPS_SCHEMA, "errors": ERRORS_SCHEMA, "features": FEATURES_SCHEMA, "z_sem": Z_SEM_SCHEMA}
