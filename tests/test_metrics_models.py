"""Weight-based VBench metrics with TINY random models built from the real config classes.

The references are VBench's own preprocessing written out in the test (float tensors, torchvision
``Resize(..., antialias=False)``), the torch-hub DINO forward written out (its ``(h0+0.1)/sqrt(N)``
position-embedding interpolation) and VBench's per-frame loop — not the project's helpers.
Frames are 40x56 → resized to 32 short side: a real downscale, so antialiasing and uint8 rounding
would change the numbers.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from safetensors.torch import save_file

from semanticgen.config import ConfigError, load_config
from semanticgen.metrics import VideoEvaluator, consistency_score
from semanticgen.metrics.aesthetic import load_laion_head
from semanticgen.metrics.encoders import ClipEncoder

VIS = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
           intermediate_size=37)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModelWithProjection, ViTConfig, ViTModel

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    ViTModel(ViTConfig(**VIS), add_pooling_layer=False).save_pretrained(root / "dino")
    CLIPVisionModelWithProjection(CLIPVisionConfig(**VIS, projection_dim=16)).save_pretrained(root / "clip_b32")
    full = CLIPConfig(vision_config=VIS, projection_dim=24,
                      text_config=dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=37, vocab_size=99, bos_token_id=0, eos_token_id=1))
    CLIPModel(full).save_pretrained(root / "clip_l14")          # a full CLIPModel folder, like the real L/14
    save_file({"weight": torch.randn(1, 24), "bias": torch.tensor([5.0])}, root / "laion_head.safetensors")
    return root


def video(t=6, h=40, w=56, seed=0):
    """A moving texture with a changing colour: features differ frame to frame."""
    rng = np.random.default_rng(seed)
    tex = rng.integers(0, 256, (h, w + 3 * t, 3), dtype=np.uint8)
    return np.stack([np.clip(tex[:, 3 * i:3 * i + w].astype(int) + 20 * i, 0, 255).astype(np.uint8)
                     for i in range(t)])


def vbench_loop(features):
    """VBench's own per-frame loop (subject/background consistency)."""
    total, first, former = 0.0, None, None
    for i in range(len(features)):
        f = F.normalize(features[i:i + 1], dim=-1, p=2)
        if i == 0:
            first = f
        else:
            total += (max(0.0, F.cosine_similarity(former, f).item())
                      + max(0.0, F.cosine_similarity(first, f).item())) / 2
        former = f
    return total / (len(features) - 1)


def to_tensor(frames):
    return torch.from_numpy(frames).permute(0, 3, 1, 2)


def test_consistency_formula_on_known_features():
    f = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    c = 2 ** -0.5                                            # s1 = (c + c)/2, s2 = (c + 0)/2
    assert consistency_score(f) == pytest.approx((c + c / 2) / 2, abs=1e-12)
    neg = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])   # negative cosines clamp to 0
    assert consistency_score(neg) == pytest.approx((0.0 + (1.0 + 0.0) / 2) / 2, abs=1e-12)
    assert consistency_score(torch.ones(5, 3)) == pytest.approx(1.0)


def vbench_float_frames(frames):
    """vbench.utils.load_video: torch.Tensor(frames) (float32), permuted to (T, C, H, W)."""
    return torch.Tensor(frames).permute(0, 3, 1, 2)


def hub_dino_cls(model, pixels):
    """facebookresearch/dino VisionTransformer.forward on HF ViT weights: patch embed, CLS, positions
    interpolated with scale_factor ((h0 + 0.1) / sqrt(N), (w0 + 0.1) / sqrt(N)), blocks, norm, CLS."""
    emb = model.embeddings
    b, _, h, w = pixels.shape
    x = emb.patch_embeddings.projection(pixels).flatten(2).transpose(1, 2)     # DINO PatchEmbed.proj
    x = torch.cat([emb.cls_token.expand(b, -1, -1), x], dim=1)
    pos, p = emb.position_embeddings, model.config.patch_size
    n = pos.shape[1] - 1
    h0, w0 = h // p + 0.1, w // p + 0.1
    grid = pos[:, 1:].reshape(1, int(math.sqrt(n)), int(math.sqrt(n)), -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(h0 / math.sqrt(n), w0 / math.sqrt(n)), mode="bicubic")
    x = x + torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[-1])], dim=1)
    for block in model.layers:                                     # DINO Block = HF ViTLayer (pre-norm)
        x = block(x, None)
    return model.layernorm(x)[:, 0]


def test_subject_consistency_matches_vbench(weights):
    from transformers import ViTModel

    frames = video()
    ev = VideoEvaluator(load_config("tiny", [f"evaluate.weights.dino={weights / 'dino'}",
                                             "evaluate.metrics=[subject_consistency]"]).evaluate)
    row = ev.evaluate_frames(frames, fps=8.0)
    model = ViTModel.from_pretrained(weights / "dino", add_pooling_layer=False).eval()
    tf = T.Compose([T.Resize(size=32, antialias=False), T.Lambda(lambda x: x.float().div(255.0)),  # dino_transform
                    T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    with torch.no_grad():
        pixels = tf(vbench_float_frames(frames))
        assert pixels.shape == (6, 3, 32, 44)                # shorter side → 32, aspect kept, no crop
        feats = hub_dino_cls(model, pixels)
        hf_interp = model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state[:, 0]
        aa = tf.transforms[0].__class__(size=32, antialias=True)
        feats_aa = hub_dino_cls(model, T.Compose([aa, *tf.transforms[1:]])(vbench_float_frames(frames)))
        uint8 = model(pixel_values=T.Compose([T.Resize(32, antialias=False), *tf.transforms[1:]])(
            to_tensor(frames)), interpolate_pos_encoding=True).last_hidden_state[:, 0]
    expected = vbench_loop(feats)
    assert 0 < expected < 1
    assert row["subject_consistency"] == pytest.approx(expected, abs=1e-6)
    for other in (hf_interp, feats_aa, uint8):           # each deviation the issue lists moves the number
        assert abs(vbench_loop(other) - expected) > 1e-5
    first, last = slice(0, 2), slice(4, 6)                   # 6 frames → 2 per end
    assert row["drift_subject_consistency"] == pytest.approx(
        abs(vbench_loop(feats[first]) - vbench_loop(feats[last])), abs=1e-6)
    assert row["not_computed"] == []


def clip_reference(model_dir, frames, projection_dim=None):
    from transformers import CLIPModel, CLIPVisionModelWithProjection

    tf = T.Compose([T.Resize(32, interpolation=T.InterpolationMode.BICUBIC, antialias=False), T.CenterCrop(32),
                    T.Lambda(lambda x: x.float().div(255.0)),                        # VBench clip_transform
                    T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
    with torch.no_grad():
        pixels = tf(vbench_float_frames(frames))
        if projection_dim is None:
            return CLIPVisionModelWithProjection.from_pretrained(model_dir).eval()(pixel_values=pixels).image_embeds
        m = CLIPModel.from_pretrained(model_dir).eval()
        pooled = m.vision_model(pixel_values=pixels).pooler_output
        return m.visual_projection(pooled)


def test_background_consistency_matches_vbench(weights):
    frames = video(seed=3)
    ev = VideoEvaluator(load_config("tiny", [f"evaluate.weights.clip_b32={weights / 'clip_b32'}",
                                             "evaluate.metrics=[background_consistency]"]).evaluate)
    row = ev.evaluate_frames(frames, fps=8.0)
    expected = vbench_loop(clip_reference(weights / "clip_b32", frames))
    assert row["background_consistency"] == pytest.approx(expected, abs=1e-6)


def test_aesthetic_matches_vbench(weights):
    frames = video(t=5, seed=5)
    ev = VideoEvaluator(load_config("tiny", [f"evaluate.weights.clip_l14={weights / 'clip_l14'}",
                                             f"evaluate.weights.laion_head={weights / 'laion_head.safetensors'}",
                                             "evaluate.metrics=[aesthetic_quality]"]).evaluate)
    row = ev.evaluate_frames(frames, fps=8.0)
    from safetensors.torch import load_file

    head = load_file(weights / "laion_head.safetensors")
    emb = F.normalize(clip_reference(weights / "clip_l14", frames, projection_dim=24), dim=-1)
    per_frame = (emb @ head["weight"].T + head["bias"]).squeeze(-1) / 10
    assert row["aesthetic_quality"] == pytest.approx(float(per_frame.mean()), abs=1e-6)
    assert row["drift_aesthetic_quality"] == pytest.approx(
        abs(float(per_frame[:2].mean()) - float(per_frame[3:].mean())), abs=1e-6)


def test_laion_head_shape_and_keys_are_checked(weights, tmp_path):
    with pytest.raises(ValueError, match=r"expected \(1, 768\)"):
        load_laion_head(str(weights / "laion_head.safetensors"), 768)
    bad = tmp_path / "head.pth"
    torch.save({"layers.0.weight": torch.zeros(1, 24)}, bad)
    with pytest.raises(ValueError, match="'weight' and 'bias'"):
        load_laion_head(str(bad), 24)


def test_clip_fp16_like_openai_clip_on_cuda(weights):
    enc = ClipEncoder.load(str(weights / "clip_b32"), half=True)          # what device="cuda" selects
    assert enc.model.visual_projection.weight.dtype == torch.float16
    norms = [m for m in enc.model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(m.weight.dtype == torch.float32 for m in norms)   # clip.model.LayerNorm: fp32 math
    assert ClipEncoder.load(str(weights / "clip_b32")).dtype == torch.float32   # CPU: fp32, as clip.load
    frames = video(seed=4)
    ref = clip_reference(weights / "clip_b32", frames)
    got = enc.encode(frames)
    assert got.dtype == torch.float32 and torch.allclose(got, ref, atol=2e-2)
    assert not torch.equal(got, ref)


def test_clip_encoder_rejects_other_models(weights):
    with pytest.raises(ValueError, match="expected a CLIP model"):
        ClipEncoder.load(str(weights / "dino"))


def test_missing_weights_path_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        load_config("tiny", ["evaluate.weights.dino=/no/such/dino"])
    assert e.value.field == "evaluate.weights.dino"
    with pytest.raises(ConfigError) as e:
        load_config("tiny", ["evaluate.weights.clip_b32=hf://openai/clip-vit-base-patch32"])
    assert e.value.field == "evaluate.weights.clip_b32"
    with pytest.raises(ConfigError) as e:
        load_config("tiny", ["evaluate.drift_fraction=0.7"])
    assert e.value.field == "evaluate.drift_fraction"



@pytest.fixture(scope="module")
def musiq(tmp_path_factory):
    """pyiqa's MUSIQ (VBench's architecture, 1 output like the SPAQ checkpoint), random weights, saved."""
    from pyiqa.archs.musiq_arch import MUSIQ

    torch.manual_seed(0)             # smaller than SPAQ's 14 x 384 (sizes are read off the state dict); 6 heads
    model = MUSIQ(pretrained=False, num_class=1, hidden_size=48, num_layers=2, mlp_dim=64).eval()
    path = tmp_path_factory.mktemp("musiq") / "musiq_spaq.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_imaging_quality_matches_vbench(musiq):
    model, path = musiq
    frames = video(t=4, seed=7)
    ev = VideoEvaluator(load_config("tiny", [f"evaluate.weights.musiq={path}",
                                             "evaluate.metrics=[imaging_quality]"]).evaluate)
    row = ev.evaluate_frames(frames, fps=8.0)
    with torch.no_grad():                       # technical_quality: frames ≤ 512 px, /255, one frame at a time
        images = vbench_float_frames(frames) / 255.0
        scores = [float(model(images[i].unsqueeze(0))) for i in range(len(images))]
    assert row["imaging_quality"] == pytest.approx(sum(scores) / len(scores) / 100.0, abs=1e-6)
    assert len(set(scores)) == 4
    assert row["drift_imaging_quality"] == pytest.approx(abs(scores[0] + scores[1] - scores[2] - scores[3]) / 200.0,
                                                         abs=1e-6)


def test_musiq_preprocess_longer_side_512():
    from semanticgen.metrics.imaging import musiq_preprocess

    frames = np.random.default_rng(0).integers(0, 256, (2, 300, 700, 3), dtype=np.uint8)
    scale = 512.0 / 700                                     # VBench's 'longer' mode, written out
    ref = T.Resize(size=(int(scale * 300), int(scale * 700)), antialias=False)(vbench_float_frames(frames)) / 255.0
    got = musiq_preprocess(frames)
    assert got.shape == (2, 3, 219, 512) and torch.allclose(got, ref, atol=1e-6)
    small = frames[:, :200, :300]
    assert torch.equal(musiq_preprocess(small), vbench_float_frames(small) / 255.0)     # ≤ 512: untouched


def test_musiq_bad_weights_name_the_field(tmp_path):
    from semanticgen.metrics.imaging import load_musiq

    bad = tmp_path / "musiq.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="weights.musiq"):
        load_musiq(str(bad))
    torch.save({"head.weight": torch.zeros(1, 4)}, bad)
    with pytest.raises(ValueError, match="weights.musiq: .* not a 1-output MUSIQ state dict"):
        load_musiq(str(bad))
