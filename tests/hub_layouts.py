"""Real hub layouts, written from the tiny models: what a user's downloaded checkpoints look like.

- Qwen2.5-VL as on the hub: original key layout (``visual.blocks…``, ``model.layers…``, ``lm_head``), sharded in two
  files with ``model.safetensors.index.json``, the flat (transformers 4) ``config.json`` and an old-style
  ``preprocessor_config.json`` whose ``min_pixels``/``max_pixels`` differ from our budget;
- Wan VAE as ONE file in the original Wan layout (``encoder.downsamples…``, ``decoder.upsamples…``, ``conv1``):
  :func:`wan_original_state` inverts diffusers' ``convert_wan_vae_to_diffusers`` (checked by converting back);
- a diffusers pipeline folder with ``text_encoder/`` (weights only) and ``tokenizer/`` side by side;
- a umT5 tokenizer folder holding only ``spiece.model`` (a tiny sentencepiece model trained here).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

HUB_MIN_PIXELS, HUB_MAX_PIXELS = 3136, 12845056        # Qwen2.5-VL's hub preprocessor_config.json
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


def qwen_hub_folder(src: Path, out: Path) -> Path:
    """The tiny Qwen2.5-VL of ``src`` (a ``save_pretrained`` folder) in the hub's layout under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    state = load_file(str(src / "model.safetensors"))
    assert any(k.startswith("visual.") for k in state) and any(k.startswith("model.layers.") for k in state)
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    for name, ks in shards.items():
        save_file({k: state[k].contiguous() for k in ks}, str(out / name), metadata={"format": "pt"})
    weight_map = {k: name for name, ks in shards.items() for k in ks}
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    cfg = json.loads((src / "config.json").read_text())
    text = cfg.pop("text_config")
    mrope = text.pop("rope_parameters")
    flat = {**{k: v for k, v in text.items() if k not in ("model_type", "layer_types")}, **cfg,
            "rope_theta": mrope["rope_theta"], "rope_scaling": {"type": "mrope", "mrope_section": mrope["mrope_section"]},
            "transformers_version": "4.49.0"}
    flat["vision_config"] = {k: v for k, v in cfg["vision_config"].items() if k != "rope_parameters"}
    (out / "config.json").write_text(json.dumps(flat, indent=1))
    (out / "preprocessor_config.json").write_text(json.dumps({
        "min_pixels": HUB_MIN_PIXELS, "max_pixels": HUB_MAX_PIXELS, "patch_size": 14, "temporal_patch_size": 2,
        "merge_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor"}, indent=1))
    for f in (*TOKENIZER_FILES, "generation_config.json"):
        if (src / f).exists():
            shutil.copy(src / f, out / f)
    return out


def _resnet(prefix_new: str, prefix_old: str) -> list:
    names = [("norm1.gamma", "residual.0.gamma"), ("conv1.", "residual.2."), ("norm2.gamma", "residual.3.gamma"),
             ("conv2.", "residual.6."), ("conv_shortcut.", "shortcut.")]
    return [(re.escape(prefix_new) + re.escape(a), prefix_old + b) for a, b in names]


def _wan_rules() -> list:
    rules = [(r"^encoder\.conv_in\.", "encoder.conv1."), (r"^decoder\.conv_in\.", "decoder.conv1."),
             (r"^quant_conv\.", "conv1."), (r"^post_quant_conv\.", "conv2."),
             (r"^(en|de)coder\.norm_out\.", r"\1coder.head.0."), (r"^(en|de)coder\.conv_out\.", r"\1coder.head.2."),
             (r"^(en|de)coder\.mid_block\.attentions\.0\.", r"\1coder.middle.1.")]
    for j in (0, 1):
        for side in ("encoder", "decoder"):
            rules += [("^" + a, b) for a, b in _resnet(f"{side}.mid_block.resnets.{j}.", f"{side}.middle.{2 * j}.")]
    for b in range(4):
        for r in range(3):
            rules += [("^" + a, c) for a, c in _resnet(f"decoder.up_blocks.{b}.resnets.{r}.",
                                                       f"decoder.upsamples.{4 * b + r}.")]
        rules.append((rf"^decoder\.up_blocks\.{b}\.upsamplers\.0\.", f"decoder.upsamples.{4 * b + 3}."))
    rules += [(r"^encoder\.down_blocks\.(\d+)\." + re.escape(a), r"encoder.downsamples.\1." + c)
              for a, c in [("norm1.gamma", "residual.0.gamma"), ("conv1.", "residual.2."),
                           ("norm2.gamma", "residual.3.gamma"), ("conv2.", "residual.6."),
                           ("conv_shortcut.", "shortcut.")]]
    rules.append((r"^encoder\.down_blocks\.", "encoder.downsamples."))
    return rules


def _first_rule(key: str, rules: list) -> str:
    """``key`` rewritten by the first rule whose pattern matches it (unchanged when none does)."""
    hit = next(((pat, rep) for pat, rep in rules if re.match(pat, key)), None)
    return re.sub(hit[0], hit[1], key, count=1) if hit else key


def wan_original_state(diffusers_state: dict) -> dict:
    """Diffusers ``AutoencoderKLWan`` tensors → the original Wan2.1 VAE key layout (for a real-structure VAE:
    4 levels, 2 residual blocks per level)."""
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    rules = _wan_rules()
    out = {_first_rule(k, rules): v for k, v in diffusers_state.items()}
    back = convert_wan_vae_to_diffusers(out)
    assert set(back) == set(diffusers_state), sorted(set(back) ^ set(diffusers_state))[:6]
    assert all(back[k] is diffusers_state[k] for k in back)
    return out


def real_structure_vae(out: Path, seed: int = 0):
    """A tiny VAE with the real Wan2.1 structure (4 levels, 2 residual blocks) — what single files hold."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                           temperal_downsample=[False, True, True]).eval()
    vae.save_pretrained(out)
    return vae


def pipeline_text_folder(text_src: Path, out: Path) -> Path:
    """A diffusers pipeline folder: ``text_encoder/`` (config + weights only) and ``tokenizer/`` side by side."""
    (out / "text_encoder").mkdir(parents=True, exist_ok=True)
    (out / "tokenizer").mkdir(exist_ok=True)
    for f in text_src.iterdir():
        dest = "tokenizer" if f.name in TOKENIZER_FILES else "text_encoder"
        shutil.copy(f, out / dest / f.name)
    (out / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline", "text_encoder":
                                                      ["transformers", "UMT5EncoderModel"],
                                                      "tokenizer": ["transformers", "T5TokenizerFast"]}))
    return out


def spiece_only_tokenizer(out: Path) -> Path:
    """A folder holding only ``spiece.model`` (a tiny unigram sentencepiece model, umT5's tokenizer format)."""
    import sentencepiece as spm

    out.mkdir(parents=True, exist_ok=True)
    corpus = out.parent / "spm-corpus.txt"
    corpus.write_text("\n".join(["a red kite over a green hill", "rain on a window at night, close up",
                                 "a dog runs in the park", "the camera follows a cyclist"] * 50))
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(out / "spiece"), vocab_size=60,
                                   model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   hard_vocab_limit=False, minloglevel=2)
    (out / "spiece.vocab").unlink()
    return out
