"""Encoders on the tiny models: tiny builder, Qwen2.5-VL vision tower, Wan VAE, text encoder, captioner.

Shapes are checked against the analytic formulas (Qwen tokens = T/2 · H/28 · W/28; VAE 1+(T−1)/4,
H/8, W/8, 16 ch) and values against direct calls of the underlying models.
"""
import json
import os

import numpy as np
import pytest
import torch

from semanticgen.encoders.captioner import BOILERPLATE, Captioner, build_messages, clean_caption
from semanticgen.encoders.semantic import SemanticEncoder, sample_times
from semanticgen.encoders.text import TextEncoder
from semanticgen.encoders.tiny_models import QWEN_TINY, build_all
from semanticgen.encoders.vae import VideoVAE, pick_bucket, resize_cover_crop, vae_frame_count

MIN_PX, MAX_PX = 4 * 28 * 28, 16 * 28 * 28          # the tiny preset's per-frame pixel budget


@pytest.fixture(scope="module")
def tiny_models(tiny_model_dir):
    """The session's tiny models (``tiny_model_dir`` in conftest) as named folders."""
    return {"root": tiny_model_dir, **{k: os.path.join(tiny_model_dir, k) for k in ("qwen_vl", "vae", "text_encoder")}}


def frames(t, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def semantic(tiny_models):
    return SemanticEncoder.from_pretrained(tiny_models["qwen_vl"], min_pixels=MIN_PX, max_pixels=MAX_PX)


@pytest.fixture(scope="module")
def vae(tiny_models):
    return VideoVAE.from_pretrained(tiny_models["vae"])


@pytest.fixture(scope="module")
def text(tiny_models):
    return TextEncoder.from_pretrained(tiny_models["text_encoder"], max_length=16)


# ---------------------------------------------------------------- tiny builder

def test_tiny_models_use_real_config_classes_and_are_idempotent(tiny_models):
    from transformers import AutoConfig, Qwen2_5_VLConfig, UMT5Config

    qcfg = AutoConfig.from_pretrained(tiny_models["qwen_vl"])
    assert isinstance(qcfg, Qwen2_5_VLConfig)
    v = qcfg.vision_config
    assert (v.patch_size, v.temporal_patch_size, v.spatial_merge_size) == (14, 2, 2)
    assert v.out_hidden_size == qcfg.text_config.hidden_size == QWEN_TINY["text_hidden"]
    assert all(0 <= i < v.depth for i in v.fullatt_block_indexes)
    assert isinstance(AutoConfig.from_pretrained(tiny_models["text_encoder"]), UMT5Config)
    with open(os.path.join(tiny_models["vae"], "config.json")) as f:
        vcfg = json.load(f)
    assert vcfg["_class_name"] == "AutoencoderKLWan" and vcfg["z_dim"] == 16
    assert len(vcfg["latents_mean"]) == len(vcfg["latents_std"]) == 16
    stamp = {p: os.path.getmtime(os.path.join(root, p))
             for root, _, files in os.walk(tiny_models["root"]) for p in files}
    again = build_all(tiny_models["root"])              # second call: nothing rebuilt
    assert again == {k: tiny_models[k] for k in ("qwen_vl", "vae", "text_encoder")}
    assert stamp == {p: os.path.getmtime(os.path.join(root, p))
                     for root, _, files in os.walk(tiny_models["root"]) for p in files}


def test_qwen_tokenizer_is_the_real_one(tiny_models):
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_models["qwen_vl"])
    tok = proc.tokenizer
    assert tok.convert_tokens_to_ids("<|video_pad|>") == 151656       # Qwen2.5-VL special-token ids
    assert tok.convert_tokens_to_ids("<|im_end|>") == 151645
    assert tok.decode(tok("A red car drives past.")["input_ids"]) == "A red car drives past."


# ---------------------------------------------------------------- semantic encoder

@pytest.mark.parametrize("span,fps,count", [((0.0, 5.0), 1.6, 8), ((2.0, 3.0), 1.6, 2), ((0.0, 60.0), 1.6, 96),
                                            ((10.0, 12.5), 2.0, 4)])
def test_sample_times_cover_the_clip_at_fps(span, fps, count):
    t = sample_times(*span, fps)
    assert len(t) == count and len(t) % 2 == 0
    assert span[0] <= t.min() and t.max() < span[1]
    assert np.allclose(np.diff(t), (span[1] - span[0]) / count)      # uniform over the whole span


@pytest.mark.parametrize("span,fps", [((5.0, 5.0), 1.6), ((5.0, 4.0), 1.6), ((0.0, 1.0), 0.0)])
def test_sample_times_rejects_empty_span(span, fps):
    with pytest.raises(ValueError, match="sample_times"):
        sample_times(*span, fps)


@pytest.mark.parametrize("bad", [np.zeros((4, 56, 56), np.uint8), np.zeros((0, 56, 56, 3), np.uint8),
                                 np.zeros((2, 56, 56, 3), np.float32)])
def test_semantic_rejects_bad_frames(semantic, bad):
    with pytest.raises(ValueError, match="semantic frames"):
        semantic.encode(bad)


def test_semantic_loads_a_standalone_tower(semantic, tmp_path):
    semantic.tower.save_pretrained(tmp_path)
    semantic.processor.save_pretrained(tmp_path)
    alone = SemanticEncoder.from_pretrained(str(tmp_path), min_pixels=MIN_PX, max_pixels=MAX_PX)
    clip = frames(4, 56, 56, seed=5)
    torch.testing.assert_close(alone.encode(clip), semantic.encode(clip))


@pytest.mark.parametrize("t,h,w", [(2, 56, 56), (4, 56, 84), (6, 84, 56), (5, 56, 112)])
def test_semantic_shape_formula(semantic, t, h, w):
    feats = semantic.encode(frames(t, h, w))
    t_even = t + t % 2                                   # an odd frame count is padded to a 2-frame patch
    assert feats.shape == (t_even // 2, h // 28, w // 28, semantic.dim)
    assert semantic.dim == QWEN_TINY["text_hidden"] and feats.dtype == torch.float32
    assert torch.isfinite(feats).all()


def test_semantic_pixel_budget_caps_tokens(semantic):
    pv, grid = semantic.preprocess(frames(4, 180, 320))
    t, gh, gw = (int(x) for x in grid[0])
    assert t == 2 and gh % 2 == 0 and gw % 2 == 0
    assert (gh // 2) * (gw // 2) <= MAX_PX // (28 * 28)   # ≤ 16 merged tokens per frame pair
    assert abs(gw / gh - 320 / 180) < 0.5                 # aspect ratio roughly kept
    assert pv.shape == (t * gh * gw, 3 * 2 * 14 * 14)


def test_semantic_equals_direct_vision_tower_of_full_model(tiny_models, semantic):
    from transformers import Qwen2_5_VLForConditionalGeneration

    full = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_models["qwen_vl"]).eval()
    clip = frames(6, 56, 84, seed=3)
    pv, grid = semantic.preprocess(clip)
    with torch.no_grad():
        ref = full.model.visual(pv, grid_thw=grid).pooler_output
    got = semantic.encode(clip)
    assert got.shape == (3, 2, 3, full.config.vision_config.out_hidden_size)
    torch.testing.assert_close(got.reshape(-1, got.shape[-1]), ref.float(), atol=1e-5, rtol=1e-5)
    # the standalone tower holds only the vision weights (no language model)
    n_tower = sum(p.numel() for p in semantic.tower.parameters())
    assert n_tower == sum(p.numel() for p in full.model.visual.parameters())
    assert n_tower < sum(p.numel() for p in full.parameters()) / 2


def test_semantic_token_count_matches_qwen_processor(tiny_models, semantic):
    """The full Qwen2.5-VL processor puts exactly T/2 · H/28 · W/28 video tokens in the prompt."""
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_models["qwen_vl"])
    clip = frames(4, 56, 84)
    text = proc.apply_chat_template(build_messages("Describe."), tokenize=False, add_generation_prompt=True)
    out = proc(text=[text], videos=[torch.from_numpy(clip).permute(0, 3, 1, 2)], return_tensors="pt",
               videos_kwargs={"do_sample_frames": False, "size": {"shortest_edge": MIN_PX, "longest_edge": MAX_PX}})
    n_video = int((out["input_ids"] == proc.tokenizer.convert_tokens_to_ids("<|video_pad|>")).sum())
    assert n_video == (4 // 2) * (56 // 28) * (84 // 28)
    assert n_video == int(np.prod(semantic.encode(clip).shape[:3]))


# ---------------------------------------------------------------- VAE

@pytest.mark.parametrize("hw,bucket", [((720, 1280), (48, 80)), ((1080, 1080), (64, 64)), ((1280, 720), (80, 48)),
                                       ((100, 400), (48, 80)), ((500, 480), (64, 64))])
def test_pick_bucket_nearest_aspect(hw, bucket):
    assert pick_bucket(*hw, [[48, 80], [64, 64], [80, 48]]) == bucket


@pytest.mark.parametrize("avail,cap,n", [(4, 17, 0), (5, 17, 5), (8, 17, 5), (9, 17, 9), (16, 17, 13), (100, 17, 17)])
def test_vae_frame_count_is_1_plus_4k(avail, cap, n):
    assert vae_frame_count(avail, cap) == n


def test_resize_cover_crop_keeps_aspect_and_centre():
    # a 2:1 frame into a square bucket: sides are cropped, never squashed
    img = np.zeros((2, 60, 120, 3), np.uint8)
    img[:, :, :30, 0] = 255                 # red left quarter
    img[:, :, 90:, 2] = 255                 # blue right quarter
    img[:, :, 30:90, 1] = 255               # green centre half
    out = resize_cover_crop(img, (64, 64))
    assert out.shape == (3, 2, 64, 64) and out.min() >= -1 and out.max() <= 1
    inner = out[:, :, :, 2:-2]              # away from the bilinear seam
    assert torch.allclose(inner[1], torch.ones_like(inner[1]), atol=1e-3)
    assert torch.allclose(inner[0], -torch.ones_like(inner[0]), atol=1e-3)
    same = frames(3, 48, 80)                # already bucket-sized: exact [-1, 1] scaling
    ref = torch.from_numpy(same).permute(3, 0, 1, 2).float() / 127.5 - 1
    torch.testing.assert_close(resize_cover_crop(same, (48, 80)), ref)


@pytest.mark.parametrize("t,h,w", [(5, 48, 80), (9, 64, 64), (1, 80, 48)])
def test_vae_shapes_and_decode_round_trip(vae, t, h, w):
    video = resize_cover_crop(frames(t, h, w), (h, w))
    z = vae.encode(video)
    assert z.shape == (16, 1 + (t - 1) // 4, h // 8, w // 8) and z.dtype == torch.float32
    back = vae.decode(z)
    assert back.shape == (t, h, w, 3) and back.dtype == np.uint8


@pytest.mark.parametrize("shape", [(3, 8, 48, 80), (3, 5, 50, 80), (3, 5, 48, 84), (1, 5, 48, 80), (5, 48, 80)])
def test_vae_rejects_bad_video_shapes(vae, shape):
    with pytest.raises(ValueError, match="VAE video"):
        vae.encode(torch.zeros(shape))


def test_vae_latents_are_normalised_per_channel(vae):
    video = resize_cover_crop(frames(5, 48, 80, seed=1), (48, 80))
    with torch.no_grad():
        raw = vae.vae.encode(video[None]).latent_dist.mode()[0]
    cfg = vae.vae.config
    mean = torch.tensor(cfg.latents_mean).view(-1, 1, 1, 1)
    std = torch.tensor(cfg.latents_std).view(-1, 1, 1, 1)
    z = vae.encode(video)
    torch.testing.assert_close(z, (raw - mean) / std, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        ref = vae.vae.decode((z * std + mean)[None]).sample[0]
    ref_u8 = ((ref.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()
    assert np.abs(vae.decode(z).astype(int) - ref_u8.astype(int)).max() <= 1


def test_vae_encode_frames_picks_bucket(vae):
    z, size = vae.encode_frames(frames(5, 90, 160), [[48, 80], [64, 64], [80, 48]])
    assert size == (48, 80) and z.shape == (16, 2, 6, 10)


# ---------------------------------------------------------------- text encoder

def test_text_mask_lengths_and_padding(text):
    texts = ["a cat", "a dog runs in the park at night under the moon", "x " * 50]
    emb, mask = text.encode(texts)
    lengths = [min(len(text.tokenizer(t)["input_ids"]), 16) for t in texts]
    assert mask.dtype == torch.bool and mask.sum(1).tolist() == lengths
    assert emb.shape == (3, max(lengths), text.dim) and text.dim == 32
    assert (emb[~mask] == 0).all() and (emb[mask].abs().sum(-1) > 0).all()
    alone, m1 = text.encode(["a cat"])      # padding in a batch does not change the real tokens
    torch.testing.assert_close(emb[0][mask[0]], alone[0][m1[0]], atol=1e-5, rtol=1e-5)


def test_text_empty_prompt_embedding(text):
    emb, mask = text.encode([""])
    assert mask.shape[0] == 1 and int(mask.sum()) == 1       # one (EOS) token to attend to
    assert emb.abs().sum() > 0
    again, _ = text.encode(["", "a cat"])
    torch.testing.assert_close(again[0, :1], emb[0, :1], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- captioner

@pytest.mark.parametrize("raw,clean", [
    ("The video shows a man walking a dog.", "A man walking a dog."),
    ("In this video, a woman reads.", "A woman reads."),
    ("Sure! Here is a detailed description of the video: two cars race.", "Two cars race."),
    ("This clip depicts  a   storm at sea.", "A storm at sea."),
    ('"A quiet street at dawn."', "A quiet street at dawn."),
    ("A boy shows the video to his friend.", "A boy shows the video to his friend."),
])
def test_clean_caption_strips_boilerplate(raw, clean):
    assert clean_caption(raw) == clean
    assert BOILERPLATE                      # the documented list


def test_captioner_one_nonempty_caption_per_clip(tiny_models):
    cap = Captioner.from_pretrained(tiny_models["qwen_vl"], max_new_tokens=6, min_new_tokens=4)
    cap.set_max_pixels(MAX_PX)
    clips = [frames(4, 56, 84, seed=1), frames(3, 64, 64, seed=2)]    # odd frame count is padded
    out = cap.caption(clips)
    assert len(out) == 2 and all(isinstance(c, str) and c.strip() for c in out)
    assert cap.caption(clips) == out        # greedy decoding is deterministic
