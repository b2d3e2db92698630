"""The vLLM caption backend's row functions (``pipelines/encode_vllm.py``); vLLM itself is not installed here."""
import importlib.util
import os

import numpy as np
import pytest
import torch

from pipelines.encode_vllm import (KEEP, STAGE, caption_with_vllm, chat_prompt, make_preprocess, needs_caption,
                                   postprocess)
from semanticgen.config import load_config
from semanticgen.encoders.captioner import DEFAULT_PROMPT
from semanticgen.store.tensor_columns import pack


@pytest.fixture(scope="module")
def cfg(tiny_model_dir):
    return load_config("tiny", [f"features.models_dir={tiny_model_dir}", "features.caption_backend=vllm"])


def decoded_row(n_frames=3, **extra):
    frames = np.random.default_rng(0).integers(0, 256, (n_frames, 56, 84, 3), dtype=np.uint8)
    return {"clip_id": "c1", "source_uri": "file:///x.mp4", "caption": None, "caption_source": None,
            "error": None, "error_stage": None, **pack("cap_u8", torch.from_numpy(frames)), **extra}


def test_chat_prompt_has_one_video_placeholder(cfg):
    text = chat_prompt(os.path.join(cfg.features.models_dir, "qwen_vl"), DEFAULT_PROMPT)
    assert text.count("<|video_pad|>") == 1 and DEFAULT_PROMPT in text
    assert text.rstrip().endswith("<|im_start|>assistant")


def test_preprocess_sends_even_frames_and_config_sampling(cfg):
    row = decoded_row(n_frames=3)
    out = make_preprocess("PROMPT", cfg)(row)
    video = out["multimodal_data"]["video"]
    assert video.shape == (4, 56, 84, 3) and video.dtype == np.uint8       # padded to a 2-frame patch
    assert np.array_equal(video[3], video[2])
    sp = out["sampling_params"]
    assert sp == {"temperature": 0.0, "max_tokens": cfg.features.caption_max_new_tokens,
                  "min_tokens": cfg.features.caption_min_new_tokens}
    assert out["prompt"] == "PROMPT" and out["mm_processor_kwargs"]["max_pixels"] == cfg.features.caption_max_pixels
    assert out[KEEP] == list(row.keys())


def test_postprocess_restores_columns_and_cleans_caption(cfg):
    row = decoded_row()
    engine_row = {**make_preprocess("P", cfg)(row), "generated_text": "The video shows a red car.",
                  "num_generated_tokens": 7}
    out = postprocess(engine_row)
    assert set(out) == set(row)
    assert out["caption"] == "A red car." and out["caption_source"] == "model" and not out["error"]
    assert out["cap_u8"] == row["cap_u8"]


@pytest.mark.parametrize("engine", [{"generated_text": "", "__inference_error__": ""},
                                    {"generated_text": None, "__inference_error__": "CUDA out of memory"}])
def test_postprocess_failure_becomes_error_row(cfg, engine):
    out = postprocess({**make_preprocess("P", cfg)(decoded_row()), **engine})
    assert out["error_stage"] == STAGE and out["error"].startswith("vLLM: ")
    assert not out["caption"]
    if engine["__inference_error__"]:
        assert "out of memory" in out["error"]


def test_only_uncaptioned_healthy_rows_go_to_the_engine():
    assert needs_caption({"caption": None, "error": None})
    assert not needs_caption({"caption": "provided", "error": None})
    assert not needs_caption({"caption": None, "error": "decode failed"})


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm installed")
def test_vllm_backend_without_vllm_fails_clearly(cfg):
    with pytest.raises(RuntimeError, match="caption_backend=vllm"):
        caption_with_vllm(None, cfg)
