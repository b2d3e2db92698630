"""Safetensors round trip and initialisation from a (tiny) Wan2.1 transformer: diffusers and original names,
ComfyUI-prefixed single files, diffusers pipeline folders; loud, strict loading (counts in the error and the log)."""
import pytest
import torch

from semanticgen.config.models import DiTConfig
from semanticgen.models import LatentDiT, SemanticDiT
from semanticgen.models.checkpoint import PretrainedMismatch, init_from_pretrained, load_model, save_model


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
    # a different text width: the text projection cannot load — an error naming the counts, unless not strict
    other = LatentDiT(DiTConfig(size="tiny"), 4, 6, 24)
    with pytest.raises(PretrainedMismatch, match=r"loaded 68 of 69 expected tensors.*shape mismatch 1.*"
                                                 r"text_embedding\.0\.weight.*pretrained_strict=false"):
        init_from_pretrained(other, str(tmp_path / "wan"))
    rep2 = init_from_pretrained(other, str(tmp_path / "wan"), strict=False)
    assert rep2.shape_mismatch == ["text_embedding.0.weight"] and rep2.unfilled == ["text_embedding.0.weight"]


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
    assert rep.counts() == {"loaded": len(state) - 1, "expected": len(state) - 1, "missing": 2, "shape_mismatch": 0,
                            "unexpected": 1}
    assert "missing 2" in rep.summary() and "unexpected 1" in rep.summary()


def wan_like_state(channels=4, text_dim=16):
    """An original-format Wan2.1 DiT (our names, no z_sem projection)."""
    torch.manual_seed(1)
    return {k: v.clone() for k, v in LatentDiT(DiTConfig(size="tiny"), channels, None, text_dim).state_dict().items()}


def test_prefixed_single_file_and_pipeline_folder_load_fully(tmp_path, caplog):
    """A ComfyUI-style file (``model.diffusion_model.`` + a VAE inside) and a diffusers pipeline folder
    (``model_index.json`` + ``transformer/``) fill every expected tensor; the counts go to the log."""
    from diffusers import WanTransformer3DModel
    from safetensors.torch import save_file

    state = wan_like_state()
    comfy = {f"model.diffusion_model.{k}": v for k, v in state.items()}
    comfy["first_stage_model.decoder.conv.weight"] = torch.zeros(2)                 # the VAE in the same file
    save_file(comfy, str(tmp_path / "comfy.safetensors"))
    ours = LatentDiT(DiTConfig(size="tiny"), 4, 6, 16)
    with caplog.at_level("INFO", logger="semanticgen.models"):
        rep = init_from_pretrained(ours, str(tmp_path / "comfy.safetensors"), field="models.latent_dit.pretrained")
    assert rep.prefix == "model.diffusion_model." and rep.complete and rep.unused == ["first_stage_model.decoder.conv.weight"]
    assert all(torch.equal(ours.state_dict()[k], v) for k, v in state.items())
    assert f"loaded {len(state)} of {len(state)} expected tensors" in caplog.text
    wan = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=4, attention_head_dim=16, in_channels=4,
                                out_channels=4, text_dim=16, freq_dim=32, ffn_dim=128, num_layers=2)
    wan.save_pretrained(tmp_path / "pipe" / "transformer")
    (tmp_path / "pipe" / "model_index.json").write_text("{}")
    rep = init_from_pretrained(LatentDiT(DiTConfig(size="tiny"), 4, 6, 16), str(tmp_path / "pipe"))
    assert rep.complete and rep.counts()["loaded"] == len(state)


def test_mismatched_size_fails_with_counts(tmp_path):
    """A semantic DiT of another width than the file: nothing fits — strict loading refuses, naming the counts."""
    from safetensors.torch import save_file

    save_file(wan_like_state(), str(tmp_path / "wan.safetensors"))
    sdit = SemanticDiT(DiTConfig(size="small"), 8, 16)
    expected = sum(not k.startswith(("patch_embedding.", "head.head.")) for k in sdit.state_dict())
    with pytest.raises(PretrainedMismatch, match=rf"models\.semantic_dit\.pretrained: loaded 0 of {expected} expected"):
        init_from_pretrained(sdit, str(tmp_path / "wan.safetensors"), field="models.semantic_dit.pretrained")


def test_training_job_refuses_a_mismatched_pretrained_before_any_work(tmp_path, capsys):
    """The job checks the file headers against the model built on the meta device: exit 2, counts named."""
    from safetensors.torch import save_file

    from jobs import train_latent

    # the tiny preset's latent DiT: 16 channels, text width 32; this file's text projection is 24 wide
    save_file({f"model.{k}": v for k, v in wan_like_state(16, text_dim=24).items()}, str(tmp_path / "w.safetensors"))
    args = ["--config", "tiny", "--store", str(tmp_path / "none"), "--name", "r", "--dry-run",
            "models.latent_dit.size=tiny", f"models.latent_dit.pretrained={tmp_path / 'w.safetensors'}"]
    with pytest.raises(SystemExit) as e:
        train_latent.main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "models.latent_dit.pretrained: loaded 68 of 69 expected tensors" in err
    assert "shape mismatch 1" in err and "text_embedding.0.weight" in err
    with pytest.raises(SystemExit) as e:
        train_latent.main([*args, "models.latent_dit.pretrained_strict=false"])
    assert e.value.code == 0 and "nothing started" in capsys.readouterr().out
