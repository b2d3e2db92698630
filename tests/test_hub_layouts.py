"""Real hub layouts load through the normal paths with no missing or unexpected keys, and compute what the tiny
models they were made from compute (``hub_layouts.py`` writes them)."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import hub_layouts as hub
from semanticgen.config import load_config
from semanticgen.encoders.semantic import SemanticEncoder, checkpoint_budget
from semanticgen.encoders.text import TextEncoder, load_tokenizer, text_paths
from semanticgen.encoders.vae import VideoVAE

MIN_PX, MAX_PX = 4 * 28 * 28, 16 * 28 * 28          # the tiny preset's budget


@pytest.fixture(scope="module")
def layouts(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    tiny = Path(tiny_model_dir)
    vae = hub.real_structure_vae(root / "vae_diffusers")
    original = hub.wan_original_state(vae.state_dict())
    torch.save(original, root / "Wan2.1_VAE.pth")
    save_file({k: v.contiguous() for k, v in original.items()}, str(root / "Wan2.1_VAE.safetensors"))
    return {"root": root, "tiny": tiny, "qwen": hub.qwen_hub_folder(tiny / "qwen_vl", root / "Qwen2.5-VL-3B-Instruct"),
            "pipeline": hub.pipeline_text_folder(tiny / "text_encoder", root / "Wan2.1-T2V-Diffusers")}


def frames(t, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_qwen_hub_folder_is_the_hub_layout(layouts):
    q = layouts["qwen"]
    files = sorted(os.listdir(q))
    assert "model.safetensors.index.json" in files and "model.safetensors" not in files
    assert sum(f.startswith("model-0000") for f in files) == 2
    assert checkpoint_budget(str(q)) == {"file": "preprocessor_config.json", "min_pixels": hub.HUB_MIN_PIXELS,
                                         "max_pixels": hub.HUB_MAX_PIXELS}


def test_qwen_hub_folder_gives_the_same_features_and_our_budget(layouts, caplog):
    tiny = SemanticEncoder.from_pretrained(str(layouts["tiny"] / "qwen_vl"), min_pixels=MIN_PX, max_pixels=MAX_PX)
    with caplog.at_level("WARNING", logger="semanticgen.encoders"):
        hubbed = SemanticEncoder.from_pretrained(str(layouts["qwen"]), min_pixels=MIN_PX, max_pixels=MAX_PX)
    assert "preprocessor_config.json asks for" in caplog.text and str(hub.HUB_MAX_PIXELS) in caplog.text
    a, b = tiny.tower.state_dict(), hubbed.tower.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    clip = frames(4, 180, 320, seed=2)                 # larger than the budget: the budget decides the grid
    got = hubbed.encode(clip)
    torch.testing.assert_close(got, tiny.encode(clip), rtol=0, atol=0)
    assert got.shape[1] * got.shape[2] <= MAX_PX // 784


def test_qwen_hub_folder_loads_whole_for_the_captioner(layouts):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from semanticgen.encoders.captioner import Captioner

    _, info = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(layouts["qwen"]), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    caps = []
    for path in (layouts["qwen"], layouts["tiny"] / "qwen_vl"):
        cap = Captioner.from_pretrained(str(path), max_new_tokens=4, min_new_tokens=4)
        cap.set_max_pixels(MAX_PX)
        caps.append(cap.caption([frames(4, 56, 84, seed=1)]))
    assert caps[0] == caps[1] and caps[0][0]


@pytest.mark.parametrize("name", ["Wan2.1_VAE.pth", "Wan2.1_VAE.safetensors"])
def test_wan_vae_single_original_file_equals_the_diffusers_folder(layouts, name):
    root = layouts["root"]
    folder = VideoVAE.from_pretrained(str(root / "vae_diffusers"))
    single = VideoVAE.from_pretrained(str(root / name), config=str(root / "vae_diffusers"))
    a, b = folder.vae.state_dict(), single.vae.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    video = torch.rand(3, 5, 32, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    z = folder.encode(video)
    torch.testing.assert_close(single.encode(video), z, rtol=0, atol=0)
    assert np.array_equal(single.decode(z), folder.decode(z))


def test_wan_vae_single_file_through_the_features_config(layouts):
    root = layouts["root"]
    fc = load_config("tiny", [f"features.models_dir={root}", "features.vae=Wan2.1_VAE.pth",
                              "features.vae_config=vae_diffusers"]).features
    assert VideoVAE.from_features(fc).vae.config.num_res_blocks == 2


def test_wan_vae_single_file_that_does_not_fit_fails_clearly(layouts, tmp_path):
    root = layouts["root"]
    with pytest.raises(ValueError, match="features.vae_config"):        # the class defaults are full-size Wan2.1
        VideoVAE.from_pretrained(str(root / "Wan2.1_VAE.safetensors"))
    state = torch.load(root / "Wan2.1_VAE.pth", weights_only=True)
    state.pop("decoder.head.2.weight")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(KeyError, match=r"1 missing \['decoder.conv_out.weight'\], 1 unexpected"):
        VideoVAE.from_pretrained(str(tmp_path / "broken.pth"), config=str(root / "vae_diffusers"))


def test_text_encoder_and_tokenizer_as_sibling_folders(layouts):
    tiny = TextEncoder.from_pretrained(str(layouts["tiny"] / "text_encoder"), max_length=16)
    pipe = layouts["pipeline"]
    assert text_paths(str(pipe)) == (str(pipe / "text_encoder"), str(pipe / "tokenizer"))
    texts = ["a red kite over a green hill", ""]
    want = tiny.encode(texts)
    for enc in (TextEncoder.from_pretrained(str(pipe), max_length=16),                       # the pipeline folder
                TextEncoder.from_pretrained(str(pipe / "text_encoder"), max_length=16),      # a sibling tokenizer/
                TextEncoder.from_features(load_config("tiny", [f"features.models_dir={pipe}",   # features.text_tokenizer
                                                               "features.text_encoder=text_encoder",
                                                               "features.text_tokenizer=tokenizer",
                                                               "features.text_max_length=16"]).features)):
        got = enc.encode(texts)
        torch.testing.assert_close(got[0], want[0], rtol=0, atol=0)
        assert torch.equal(got[1], want[1])


def test_umt5_tokenizer_from_spiece_model_alone(layouts, tmp_path):
    tok_dir = hub.spiece_only_tokenizer(tmp_path / "tokenizer")
    assert os.listdir(tok_dir) == ["spiece.model"]
    tok = load_tokenizer(str(tok_dir))
    import sentencepiece as spm

    ref = spm.SentencePieceProcessor(model_file=str(tok_dir / "spiece.model"))
    text = "a red kite over a green hill"
    assert tok(text)["input_ids"] == ref.encode(text) + [ref.eos_id()]            # T5: pieces + </s>
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="spiece.model"):
        load_tokenizer(str(empty))
