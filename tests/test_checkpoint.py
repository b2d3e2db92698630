"""Safetensors round trip and initialisation from a (tiny) diffusers Wan2.1 transformer."""
import torch

from semanticgen.config.models import DiTConfig
from semanticgen.models import LatentDiT
from semanticgen.models.checkpoint import init_from_pretrained, load_model, save_model


def test_safetensors_round_trip(tmp_path):
    torch.manual_seed(0)
    a = LatentDiT(DiTConfig(size="tiny"), 4, 6, 16)
    save_model(a, str(tmp_path / "m.safetensors"))
    b = LatentDiT(DiTConfig(size="tiny"), 4, 6, 16)
    load_model(b, str(tmp_path / "m.safetensors"))
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])


def test_init_from_diffusers_wan_checkpoint(tmp_path):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    wan = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=4, attention_head_dim=16, in_channels=4,
                                out_channels=4, text_dim=16, freq_dim=32, ffn_dim=128, num_layers=2)
    wan.save_pretrained(tmp_path / "wan")              # the same path real Wan2.1-*-Diffusers weights take
    ours = LatentDiT(DiTConfig(size="tiny"), 4, 6, 16)
    rep = init_from_pretrained(ours, str(tmp_path / "wan"))
    assert rep.missing == ["sem_embedding.bias", "sem_embedding.weight"] or \
        sorted(rep.missing) == ["sem_embedding.bias", "sem_embedding.weight"]
    assert not rep.shape_mismatch and not rep.unused
    sd = ours.state_dict()
    ref = wan.state_dict()
    assert torch.equal(sd["blocks.1.self_attn.o.weight"], ref["blocks.1.attn1.to_out.0.weight"])
    assert torch.equal(sd["blocks.0.norm3.weight"], ref["blocks.0.norm2.weight"])
    assert torch.equal(sd["head.modulation"], ref["scale_shift_table"])
    assert torch.equal(sd["time_projection.1.weight"], ref["condition_embedder.time_proj.weight"])
    # a different text width: the text projection stays new, the rest still loads
    other = LatentDiT(DiTConfig(size="tiny"), 4, 6, 24)
    rep2 = init_from_pretrained(other, str(tmp_path / "wan"))
    assert rep2.shape_mismatch == ["text_embedding.0.weight"]


def test_same_function_as_diffusers_wan_transformer(tmp_path):
    """Without z_sem, our latent DiT loaded from Wan weights computes diffusers' WanTransformer3DModel."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    wan = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=4, attention_head_dim=16, in_channels=4,
                                out_channels=4, text_dim=16, freq_dim=32, ffn_dim=128, num_layers=2).eval()
    for p in wan.parameters():
        torch.nn.init.normal_(p, std=0.1)
    wan.save_pretrained(tmp_path / "wan")
    ours = LatentDiT(DiTConfig(size="tiny"), 4, 6, 16, attn_backend="sdpa").eval()
    init_from_pretrained(ours, str(tmp_path / "wan"))
    x, t, text = torch.randn(2, 4, 3, 4, 6), torch.tensor([0.3, 0.8]), torch.randn(2, 5, 16)
    with torch.no_grad():
        ref = wan(x, t * 1000, text, return_dict=False)[0]
        out = ours(x, t, text)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_init_from_original_wan_names_reports_new_and_unused(tmp_path):
    """An original-format Wan2.1 file (our names, no z_sem projection, extra I2V tensors)."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    wan_like = LatentDiT(DiTConfig(size="tiny"), 4, None, 16)        # no sem_embedding, like Wan2.1
    state = {k: v.clone() for k, v in wan_like.state_dict().items()}
    state["img_emb.proj.1.weight"] = torch.zeros(3, 3)                  # Wan2.1-I2V image projection
    save_file(state, str(tmp_path / "wan.safetensors"))
    ours = LatentDiT(DiTConfig(size="tiny"), 4, 6, 16)
    rep = init_from_pretrained(ours, str(tmp_path / "wan.safetensors"))
    assert sorted(rep.missing) == ["sem_embedding.bias", "sem_embedding.weight"]
    assert rep.unused == ["img_emb.proj.1.weight"] and not rep.shape_mismatch
    assert len(rep.loaded) == len(state) - 1
    for k in rep.loaded:
        assert torch.equal(ours.state_dict()[k], state[k])
    assert "new 2" in rep.summary() and "unused 1" in rep.summary()
