"""Swin (window) attention equals brute-force masked full attention; backends agree."""
import pytest
import torch

import semanticgen.models.blocks as blocks_mod
from semanticgen.config.models import DiTConfig
from semanticgen.models import LatentDiT
from semanticgen.models.attention import (HAS_FLASH, WindowLayout, full_attention, masked_reference,
                                          window_attention)
from semanticgen.models.latent_dit import semantic_positions, swin_window_ids
from semanticgen.models.rope import grid_positions


def token_layout(T, H, W, sem, window, shifted):
    pos = grid_positions(T, H, W)
    if sem is not None:
        pos = torch.cat([pos, semantic_positions(sem, (T, H, W))])
    return WindowLayout.from_window_ids(swin_window_ids(pos[:, 0], T, window, shifted)), pos


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("T,window,sem", [(7, 4, (3, 2, 2)), (8, 4, None), (9, 2, (5, 1, 1)), (3, 4, (1, 1, 1))])
def test_swin_equals_masked_full_attention(T, window, sem, shifted):
    torch.manual_seed(0)
    layout, pos = token_layout(T, 2, 3, sem, window, shifted)
    N = pos.shape[0]
    q, k, v = (torch.randn(2, N, 3, 8, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out = window_attention(q, k, v, layout, backend="sdpa")
    ref = masked_reference(q, k, v, layout)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, (q, k, v), g)
    grads_ref = torch.autograd.grad(ref, (q, k, v), g)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_windows_are_ragged_shifted_and_hold_their_semantic_tokens():
    T, window = 7, 4
    layout, pos = token_layout(T, 1, 1, (4, 1, 1), window, shifted=False)
    # z_sem token centres on the latent time axis: (i + 0.5) * 7/4 - 0.5
    assert pos[T:, 0].tolist() == pytest.approx([0.375, 2.125, 3.875, 5.625])
    assert layout.sizes() == [4 + 3, 3 + 1]                    # frames 0-3 | 4-6, each with its z_sem tokens
    layout, _ = token_layout(T, 1, 1, (4, 1, 1), window, shifted=True)
    assert layout.sizes() == [2 + 1, 4 + 3, 1]                 # shifted by T_w/2: ragged first and last


def test_latent_dit_swin_equals_dit_with_masked_full_attention(monkeypatch):
    torch.manual_seed(0)
    cfg = DiTConfig(size="tiny", attention="swin", swin_window=2)
    model = LatentDiT(cfg, 4, 6, 16, attn_backend="sdpa").double()
    for p in model.head.parameters():                         # non-zero head so outputs depend on attention
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(2, 4, 5, 4, 4, dtype=torch.float64)
    t, text = torch.rand(2, dtype=torch.float64), torch.randn(2, 3, 16, dtype=torch.float64)
    z = torch.randn(2, 3, 1, 2, 6, dtype=torch.float64)
    out = model(x, t, text, None, z)
    monkeypatch.setattr(blocks_mod, "window_attention", lambda q, k, v, layout, backend: masked_reference(q, k, v, layout))
    ref = model(x, t, text, None, z)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    full = LatentDiT(DiTConfig(size="tiny", attention="full"), 4, 6, 16, attn_backend="sdpa").double()
    full.load_state_dict(model.state_dict())
    assert not torch.allclose(full(x, t, text, None, z), out)   # windows do restrict attention


def test_full_attention_key_mask_ignores_padding():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 5, 2, 8) for _ in range(3))
    mask = torch.tensor([[True, True, True, False, False]])
    out = full_attention(q, k, v, "sdpa", key_mask=mask)
    ref = full_attention(q, k[:, :3], v[:, :3], "sdpa")
    torch.testing.assert_close(out, ref)


def test_unknown_or_unavailable_backend_is_a_clear_error():
    q = torch.randn(1, 4, 2, 8)
    with pytest.raises(ValueError, match="backend"):
        full_attention(q, q, q, "magic")
    if not HAS_FLASH:
        with pytest.raises(RuntimeError, match="flash"):
            full_attention(q, q, q, "flash")


@pytest.mark.skipif(not (HAS_FLASH and torch.cuda.is_available()), reason="needs flash-attn and a CUDA GPU")
@pytest.mark.parametrize("shifted", [False, True])
def test_flash_matches_sdpa_on_gpu(shifted):
    torch.manual_seed(0)
    layout, pos = token_layout(9, 4, 4, (5, 2, 2), 4, shifted)
    layout = WindowLayout(*(x.cuda() if torch.is_tensor(x) else x for x in
                            (layout.perm, layout.inv, layout.cu_seqlens, layout.max_seqlen, layout.window_id)))
    q, k, v = (torch.randn(2, pos.shape[0], 4, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    a = window_attention(q, k, v, layout, "flash").float()
    b = window_attention(q, k, v, layout, "sdpa").float()
    torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(full_attention(q, k, v, "flash").float(), full_attention(q, k, v, "sdpa").float(),
                               rtol=2e-2, atol=2e-2)
