"""Captioning through vLLM with ``ray.data.llm`` (``features.caption_backend=vllm``, GPU clusters).

Same prompt and answer cleaning as the ``transformers`` backend (``semanticgen.encoders.captioner``):
the chat-templated prompt is rendered once on the driver with the checkpoint's own processor; each
row sends its caption frames (uint8 (T, H, W, 3), T even) as ``multimodal_data={"video": ...}``
with greedy sampling. Rows that already carry a caption, or failed earlier, bypass the engine. A row
the engine fails on (``should_continue_on_error``) or answers with nothing becomes an error row of
stage ``features.caption``. Not exercised here (no vLLM on CPU); the row functions are tested.
"""
from __future__ import annotations

import importlib.util
from typing import Callable

import numpy as np

from semanticgen.config import Config
from semanticgen.encoders.captioner import DEFAULT_PROMPT, build_messages, clean_caption
from semanticgen.store.tensor_columns import unpack_row

STAGE = "features.caption"
KEEP = "_vllm_keep"                     # the row's own columns, restored after the engine
VLLM_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def needs_caption(row: dict) -> bool:
    return not row.get("error") and not row.get("caption")


def chat_prompt(model: str, prompt: str) -> str:
    """The Qwen2.5-VL chat text (one video placeholder + ``prompt``) from the checkpoint's processor."""
    from transformers import AutoProcessor

    from semanticgen.encoders.weights import resolve_local

    proc = AutoProcessor.from_pretrained(resolve_local(model))
    return proc.apply_chat_template(build_messages(prompt), tokenize=False, add_generation_prompt=True)


def make_preprocess(text: str, cfg: Config) -> Callable[[dict], dict]:
    fc = cfg.features

    def preprocess(row: dict) -> dict:
        frames = unpack_row(row, "cap_u8").numpy()
        if len(frames) % 2:                                  # Qwen's temporal patch of 2
            frames = np.concatenate([frames, frames[-1:]], axis=0)
        return {**row, KEEP: list(row.keys()), "prompt": text,
                "multimodal_data": {"video": np.ascontiguousarray(frames)},
                "mm_processor_kwargs": {"max_pixels": fc.caption_max_pixels,
                                        "min_pixels": min(4 * 28 * 28, fc.caption_max_pixels)},
                "sampling_params": {"temperature": 0.0, "max_tokens": fc.caption_max_new_tokens,
                                    "min_tokens": fc.caption_min_new_tokens}}
    return preprocess


def postprocess(row: dict) -> dict:
    out = {k: row.get(k) for k in row[KEEP]}
    caption = clean_caption(row.get("generated_text") or "")
    failure = row.get("__inference_error__")
    if failure or not caption:
        out["error"], out["error_stage"] = f"vLLM: {failure or 'empty caption'}"[:1500], STAGE
    else:
        out["caption"], out["caption_source"] = caption, "model"
    return out


def caption_with_vllm(ds, cfg: Config):
    """``ds`` after the decode stage → the same rows with ``caption`` filled by a vLLM engine pool."""
    if importlib.util.find_spec("vllm") is None:
        raise RuntimeError("features.caption_backend=vllm needs vllm (pip install 'ray[llm]') on the workers; "
                           "use features.caption_backend=transformers otherwise")
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    fc = cfg.features
    model = fc.resolve(fc.captioner or fc.qwen_vl)
    res = fc.captioner_stage
    config = vLLMEngineProcessorConfig(
        model_source=model, batch_size=res.batch_size, concurrency=res.actors, should_continue_on_error=True,
        chat_template_stage=False, tokenize_stage=False, detokenize_stage=False,
        engine_kwargs={"dtype": VLLM_DTYPES[fc.dtype], "limit_mm_per_prompt": {"video": 1, "image": 0}})
    text = chat_prompt(model, fc.caption_prompt or DEFAULT_PROMPT)
    processor = build_processor(config, preprocess=make_preprocess(text, cfg), postprocess=postprocess)
    return processor(ds.filter(needs_caption)).union(ds.filter(lambda r: not needs_caption(r)))
