"""Swin (window) attention equals brute-force masked full attention; backends agree."""
import pytest
import torch

import semanticgen.models.blocks as blocks_mod
from semanticgen.config.models import DiTConfig
from semanticgen.models import LatentDiT
from semanticgen.models.attention import (HAS_FLASH, WindowLayout, full_attention, masked_reference,
                                          resolve_backend, window_attention)
from semanticgen.models.latent_dit import semantic_positions, swin_window_ids
from semanticgen.models.rope import grid_positions


def token_layout(T, H, W, sem, window, shifted):
    pos = grid_positions(T, H, W)
    if sem is not None:
        pos = torch.cat([pos, semantic_positions(sem, (T, H, W))])
    return WindowLayout.from_window_ids(swin_window_ids(pos[:, 0], T, window, shifted)), pos


def drop_semantic_keys(B, N, num_sem, seed=0):
    """(B, N) key mask: VAE tokens kept, about half the semantic tokens dropped at random."""
    m = torch.ones(B, N, dtype=torch.bool)
    if num_sem:
        m[:, N - num_sem:] = torch.rand(B, num_sem, generator=torch.Generator().manual_seed(seed)) < 0.5
    return m


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("T,window,sem", [(7, 4, (3, 2, 2)), (8, 4, None), (9, 2, (5, 1, 1)), (3, 4, (1, 1, 1))])
def test_swin_equals_masked_full_attention(T, window, sem, shifted, masked):
    torch.manual_seed(0)
    layout, pos = token_layout(T, 2, 3, sem, window, shifted)
    N = pos.shape[0]
    key_mask = drop_semantic_keys(2, N, N - T * 6) if masked else None
    q, k, v = (torch.randn(2, N, 3, 8, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out = window_attention(q, k, v, layout, backend="sdpa", key_mask=key_mask)
    ref = masked_reference(q, k, v, layout, key_mask)
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
    monkeypatch.setattr(blocks_mod, "window_attention",
                        lambda q, k, v, layout, backend, key_mask=None: masked_reference(q, k, v, layout, key_mask))
    ref = model(x, t, text, None, z)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    full = LatentDiT(DiTConfig(size="tiny", attention="full", swin_window=2), 4, 6, 16, attn_backend="sdpa").double()
    full.load_state_dict(model.state_dict())
    assert not torch.allclose(full(x, t, text, None, z), out)   # windows do restrict attention
    # one model serves both modes per call (generation keeps one copy of the weights)
    torch.testing.assert_close(full(x, t, text, None, z, attention="swin"), out, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(model(x, t, text, None, z, attention="full"), full(x, t, text, None, z), rtol=0, atol=0)


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
    for key_mask in (None, drop_semantic_keys(2, pos.shape[0], 20).cuda()):
        a = window_attention(q, k, v, layout, "flash", key_mask=key_mask).float()
        b = window_attention(q, k, v, layout, "sdpa", key_mask=key_mask).float()
        torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(full_attention(q, k, v, "flash").float(), full_attention(q, k, v, "sdpa").float(),
                               rtol=2e-2, atol=2e-2)


def reference_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                     softmax_scale=None, causal=False):
    """flash-attn 2's documented ``flash_attn_varlen_func`` semantics, written out with plain math:
    packed (total, H, D) tensors, segment i = rows cu[i]:cu[i+1], softmax(QKᵀ/√D)·V per segment."""
    assert q.dim() == k.dim() == v.dim() == 3 and not causal and dropout_p == 0.0
    assert cu_seqlens_q.dtype == cu_seqlens_k.dtype == torch.int32
    assert cu_seqlens_q.numel() == cu_seqlens_k.numel() and int(cu_seqlens_k[-1]) == k.shape[0]
    lq, lk = cu_seqlens_q.diff(), cu_seqlens_k.diff()
    assert max_seqlen_q == int(lq.max()) and max_seqlen_k == int(lk.max())
    scale = softmax_scale or q.shape[-1] ** -0.5
    out = torch.empty_like(q)
    for i in range(cu_seqlens_q.numel() - 1):
        a, b = int(cu_seqlens_q[i]), int(cu_seqlens_q[i + 1])
        c, d = int(cu_seqlens_k[i]), int(cu_seqlens_k[i + 1])
        w = torch.einsum("qhd,khd->hqk", q[a:b], k[c:d]).mul(scale).softmax(-1)
        out[a:b] = torch.einsum("hqk,khd->qhd", w, v[c:d])
    return out


@pytest.fixture
def flash_path_on_cpu(monkeypatch):
    """Route the flash backend's packing (cu_seqlens, key gathering) through reference kernels."""
    import semanticgen.models.attention as attn

    monkeypatch.setattr(attn, "flash_attn_varlen_func", reference_varlen)
    monkeypatch.setattr(attn, "flash_attn_func", lambda q, k, v: attn._sdpa(q, k, v))
    monkeypatch.setattr(attn, "flash_usable", lambda q: True)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("shifted", [False, True])
def test_flash_packing_agrees_with_sdpa_fp32(flash_path_on_cpu, shifted, masked):
    torch.manual_seed(0)
    layout, pos = token_layout(9, 2, 2, (5, 1, 1), 4, shifted)
    N = pos.shape[0]
    key_mask = drop_semantic_keys(3, N, 5, seed=1) if masked else None
    q, k, v = (torch.randn(3, N, 2, 16) for _ in range(3))
    a = window_attention(q, k, v, layout, "flash", key_mask=key_mask)
    b = window_attention(q, k, v, layout, "sdpa", key_mask=key_mask)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    text_mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3, [True] + [False] * 5])
    kt, vt = torch.randn(3, 6, 2, 16), torch.randn(3, 6, 2, 16)
    torch.testing.assert_close(full_attention(q, kt, vt, "flash", key_mask=text_mask),
                               full_attention(q, kt, vt, "sdpa", key_mask=text_mask), rtol=1e-5, atol=1e-6)
    assert resolve_backend("auto", q) == "flash"


def test_auto_backend_falls_back_to_sdpa_without_flash():
    q = torch.randn(1, 4, 2, 8)
    assert resolve_backend("auto", q) == "sdpa"                 # CPU (and fp32): flash never applies
    assert resolve_backend("auto", q.half()) == "sdpa"
    assert resolve_backend("sdpa", q) == "sdpa"


def test_latent_dit_flash_backend_equals_sdpa(flash_path_on_cpu):
    torch.manual_seed(0)
    cfg = DiTConfig(size="tiny", attention="swin", swin_window=2)
    sdpa = LatentDiT(cfg, 4, 6, 16, attn_backend="sdpa")
    torch.nn.init.normal_(sdpa.head.head.weight, std=0.1)
    flash = LatentDiT(cfg, 4, 6, 16, attn_backend="flash")
    flash.load_state_dict(sdpa.state_dict())
    x, t, text, z = torch.randn(2, 4, 5, 4, 4), torch.rand(2), torch.randn(2, 3, 16), torch.randn(2, 3, 1, 2, 6)
    text_mask = torch.tensor([[True, True, False], [True, True, True]])
    sem_mask = torch.tensor([[True, False, True, True, False, True]] * 2).view(2, 3, 1, 2)
    torch.testing.assert_close(flash(x, t, text, text_mask, z, sem_mask), sdpa(x, t, text, text_mask, z, sem_mask),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attention", ["full", "swin"])
def test_sem_mask_false_equals_no_semantic_tokens(attention):
    torch.manual_seed(0)
    model = LatentDiT(DiTConfig(size="tiny", attention=attention, swin_window=2), 4, 6, 16,
                      attn_backend="sdpa").double()
    torch.nn.init.normal_(model.head.head.weight, std=0.1)
    x, t = torch.randn(2, 4, 5, 4, 4, dtype=torch.float64), torch.tensor([0.2, 0.9], dtype=torch.float64)
    text, z = torch.randn(2, 3, 16, dtype=torch.float64), torch.randn(2, 3, 1, 2, 6, dtype=torch.float64)
    sem_mask = torch.ones(2, 3, 1, 2, dtype=torch.bool)
    sem_mask[0] = False                                            # sample 0: semantic condition dropped
    out = model(x, t, text, None, z, sem_mask)
    torch.testing.assert_close(out[:1], model(x[:1], t[:1], text[:1]), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out[1:], model(x[1:], t[1:], text[1:], None, z[1:]), rtol=1e-10, atol=1e-10)
    assert not torch.allclose(out[:1], model(x[:1], t[:1], text[:1], None, z[:1]))
    with pytest.raises(ValueError, match="sem_mask"):
        model(x, t, text, None, z, sem_mask[:, :2])


@pytest.mark.parametrize("attention", ["full", "swin"])
def test_flop_formula_equals_flop_counter(attention):
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    from semanticgen.models.flops import latent_dit_flops, semantic_dit_flops, train_step_flops
    from semanticgen.models import SemanticDiT

    # CPU SDPA is not in the counter's registry: count it with the counter's own attention formula
    cpu_sdpa = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu:
                lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v)}
    cfg = DiTConfig(size="tiny", attention=attention, swin_window=2)
    model = LatentDiT(cfg, 4, 6, 16, attn_backend="sdpa")
    x, z, text = torch.randn(2, 4, 5, 4, 6), torch.randn(2, 3, 1, 2, 6), torch.randn(2, 7, 16)
    with FlopCounterMode(display=False, custom_mapping=cpu_sdpa) as fc:
        model(x, torch.rand(2), text, None, z)
    expected = latent_dit_flops(cfg, latent_channels=4, latent_shape=(5, 4, 6), sem_grid=(3, 1, 2), sem_dim=6,
                                text_dim=16, text_tokens=7, batch=2)
    assert fc.get_total_flops() == expected
    sem = SemanticDiT(DiTConfig(size="tiny"), 6, 16, "sdpa")
    with FlopCounterMode(display=False, custom_mapping=cpu_sdpa) as fc:
        sem(torch.randn(2, 3, 2, 2, 6), torch.rand(2), text)
    assert fc.get_total_flops() == semantic_dit_flops(DiTConfig(size="tiny"), sem_grid=(3, 2, 2), z_dim=6,
                                                      text_dim=16, text_tokens=7, batch=2)
    assert train_step_flops(expected) == 3 * expected
