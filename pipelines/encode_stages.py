"""One small class per feature stage (Ray Data ``map_batches`` callables, pandas batches).

decode (CPU) → caption → semantic → vae → text (model actor pools, GPUs when configured) → write.
A row that fails keeps flowing with ``error``/``error_stage`` set; later stages skip it and the write
stage turns it into an error row. Intermediate tensors travel as packed columns (bytes + shape + dtype).
"""
from __future__ import annotations

from typing import List

import pandas as pd
import torch

from semanticgen.config import Config
from semanticgen.store.tensor_columns import STORE_DTYPES, pack, unpack_row

_DT = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
INTERMEDIATE = ["vae_u8", "sem_pix", "cap_u8"]


def _device(num_gpus: float) -> str:
    return "cuda" if num_gpus > 0 and torch.cuda.is_available() else "cpu"


def _fail(row: dict, stage: str, e: BaseException) -> None:
    row["error"] = f"{type(e).__name__}: {e}"[:1500]
    row["error_stage"] = stage


def _ok(row: dict) -> bool:
    return not row.get("error")


class _Stage:
    name = "stage"

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        rows = batch.to_dict("records")
        todo = [r for r in rows if _ok(r) and self.wanted(r)]
        if todo:
            try:
                self.process(todo)
            except Exception:  # noqa: BLE001 - a failing batch: retry row by row to isolate the bad one
                for r in todo:
                    try:
                        self.process([r])
                    except Exception as e:  # noqa: BLE001
                        _fail(r, self.name, e)
        return pd.DataFrame(rows)

    def wanted(self, row: dict) -> bool:
        return True

    def process(self, rows: List[dict]) -> None:
        raise NotImplementedError


class _ModelStage(_Stage):
    """A model stage: its device (GPU when the stage asks for one), compute dtype and stored-tensor dtype."""
    resources = "semantic_stage"           # the FeaturesConfig field with this stage's resources

    def __init__(self, cfg: Config):
        fc = self.fc = cfg.features
        self.device = _device(getattr(fc, self.resources).num_gpus)
        self.dtype = _DT[fc.dtype]
        self.store_dtype = STORE_DTYPES[fc.store_dtype]
        self.model = self.load(fc)                 # once per actor

    def load(self, fc):
        raise NotImplementedError


class DecodeStage(_Stage):
    """Decode each clip once; VAE frames (bucketed), Qwen pixel patches, captioner frames."""
    name = "features.decode"

    def __init__(self, cfg: Config):
        from semanticgen.encoders.semantic import SemanticEncoder

        self.cfg = cfg.features
        self.proc = SemanticEncoder.load_processor(self.cfg.resolve(self.cfg.qwen_vl), self.cfg.semantic_min_pixels,
                                                   self.cfg.semantic_max_pixels)

    def process(self, rows: List[dict]) -> None:
        from semanticgen.encoders.clip_frames import clip_frames
        from semanticgen.encoders.grid import MERGE, semantic_grid
        from semanticgen.encoders.semantic import preprocess_frames
        from semanticgen.store.buckets import bucket_key

        fc = self.cfg
        for r in rows:
            try:
                f = clip_frames(r["source_uri"], r["start_s"], r["end_s"], fc)
                pix, thw = preprocess_frames(self.proc, f.semantic)
                n = int(f.vae.shape[0])
                grid = [int(thw[0][0]), int(thw[0][1]) // MERGE, int(thw[0][2]) // MERGE]
                want = list(semantic_grid(f.source_hw, f.bucket, n, fc.vae_fps, fc.semantic_fps,
                                          fc.semantic_min_pixels, fc.semantic_max_pixels))
                if grid != want:
                    raise ValueError(f"the semantic processor gave grid {grid}, the grid contract "
                                     f"(encoders.grid.semantic_grid) says {want}")
            except Exception as e:  # noqa: BLE001
                _fail(r, self.name, e)
                continue
            r.update(pack("vae_u8", torch.from_numpy(f.vae)), **pack("sem_pix", pix),
                     **pack("cap_u8", torch.from_numpy(f.caption)))
            r.update(sem_thw=[int(x) for x in thw[0]], sem_grid=grid, vae_height=f.bucket[0], vae_width=f.bucket[1],
                     vae_frames=n, bucket=bucket_key(n, *f.bucket), source_height=f.source_hw[0],
                     source_width=f.source_hw[1])


class CaptionStage(_ModelStage):
    name, resources = "features.caption", "captioner_stage"

    def load(self, fc):
        from semanticgen.encoders.captioner import DEFAULT_PROMPT, Captioner

        model = Captioner.from_pretrained(fc.resolve(fc.captioner or fc.qwen_vl), device=self.device,
                                          dtype=self.dtype, prompt=fc.caption_prompt or DEFAULT_PROMPT,
                                          max_new_tokens=fc.caption_max_new_tokens,
                                          min_new_tokens=fc.caption_min_new_tokens)
        model.set_max_pixels(fc.caption_max_pixels)
        return model

    def wanted(self, row: dict) -> bool:
        return not row.get("caption")

    def process(self, rows: List[dict]) -> None:
        caps = self.model.caption([unpack_row(r, "cap_u8").numpy() for r in rows])
        for r, c in zip(rows, caps):
            if not c:
                raise ValueError("the captioner returned an empty caption")
            r["caption"], r["caption_source"] = c, "model"


class SemanticStage(_ModelStage):
    name, resources = "features.semantic", "semantic_stage"

    def load(self, fc):
        from semanticgen.encoders.semantic import SemanticEncoder

        return SemanticEncoder.from_pretrained(fc.resolve(fc.qwen_vl), device=self.device, dtype=self.dtype,
                                               min_pixels=fc.semantic_min_pixels, max_pixels=fc.semantic_max_pixels)

    def process(self, rows: List[dict]) -> None:
        for r in rows:
            grid = torch.tensor([r["sem_thw"]])
            feats = self.model.encode_pixels(unpack_row(r, "sem_pix"), grid)
            r.update(pack("sem", feats, self.store_dtype), sem_fps=self.fc.semantic_fps)


class VAEStage(_ModelStage):
    name, resources = "features.vae", "vae_stage"

    def load(self, fc):
        from semanticgen.encoders.vae import VideoVAE

        return VideoVAE.from_features(fc, device=self.device, dtype=self.dtype)

    def process(self, rows: List[dict]) -> None:
        for r in rows:
            u8 = unpack_row(r, "vae_u8")
            video = u8.permute(3, 0, 1, 2).float() / 127.5 - 1.0
            r.update(pack("latents", self.model.encode(video), self.store_dtype), vae_fps=self.fc.vae_fps)


class TextStage(_ModelStage):
    name, resources = "features.text", "text_stage"

    def load(self, fc):
        from semanticgen.encoders.text import TextEncoder

        return TextEncoder.from_features(fc, device=self.device, dtype=self.dtype)

    def process(self, rows: List[dict]) -> None:
        missing = [r for r in rows if not r.get("caption")]
        for r in missing:
            _fail(r, self.name, ValueError("clip has no caption (captioning disabled and none provided)"))
        rows = [r for r in rows if r.get("caption")]
        if not rows:
            return
        emb, mask = self.model.encode([r["caption"] for r in rows])
        for r, e, m in zip(rows, emb, mask):
            n = int(m.sum())
            r.update(pack("text", e[:n], self.store_dtype), text_len=n)

