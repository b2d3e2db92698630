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


def brute_window_sizes(T, hw, sem_t, window, shifted):
    """Tokens per Swin window, from the definition: frames of a window + z_sem time rows whose centre falls in it."""
    shift = window // 2 if shifted else 0
    count = {}
    for p in [float(f) for f in range(T) for _ in range(hw)] + sem_t:
        w = int((min(max(p, 0.0), T - 1) + shift) // window)
        count[w] = count.get(w, 0) + 1
    return [count[w] for w in sorted(count)]


@pytest.fixture
def recording_flash(monkeypatch):
    """Stand-ins for flash-attn on CPU that record what reaches them (and compute it with plain math); the
    "usable" check keeps its dtype condition only (CUDA is what this machine lacks)."""
    import semanticgen.models.attention as attn

    calls = []

    def varlen(q, k, v, cu_q, cu_k, max_q, max_k):
        calls.append({"dtypes": {q.dtype, k.dtype, v.dtype}, "cu_q": cu_q.tolist(), "cu_k": cu_k.tolist(),
                      "max_q": max_q, "max_k": max_k})
        return reference_varlen(q.float(), k.float(), v.float(), cu_q, cu_k, max_q, max_k).to(q.dtype)

    def dense(q, k, v):
        calls.append({"dtypes": {q.dtype, k.dtype, v.dtype}, "dense": q.shape[1]})
        return attn._sdpa(q, k, v)

    monkeypatch.setattr(attn, "flash_attn_varlen_func", varlen)
    monkeypatch.setattr(attn, "flash_attn_func", dense)
    monkeypatch.setattr(attn, "flash_usable", lambda q: q.dtype in (torch.float16, torch.bfloat16))
    return calls


@pytest.mark.parametrize("backend", ["auto", "flash"])
def test_bf16_autocast_reaches_flash_with_window_cu_seqlens(recording_flash, backend):
    """Under bf16 autocast (training and generation on GPU) q, k, v reach flash-attn in bf16: Swin and
    shifted-Swin layers as one packed varlen call with cu_seqlens at the windows of every batch item, text
    cross-attention with cu_seqlens_k at the caption lengths, full attention dense or (with a key mask) varlen."""
    torch.manual_seed(0)
    B, T, H, W, sem, window = 2, 5, 4, 4, (3, 1, 2), 2
    model = LatentDiT(DiTConfig(size="tiny", attention="swin", swin_window=window), 4, 6, 16, attn_backend=backend)
    torch.nn.init.normal_(model.head.head.weight, std=0.1)
    x, t, z = torch.randn(B, 4, T, H, W), torch.rand(B), torch.randn(B, *sem, 6)
    text, text_mask = torch.randn(B, 3, 16), torch.tensor([[True, True, False], [True, True, True]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, t, text, text_mask, z)
    sem_t = [(i + 0.5) * T / sem[0] - 0.5 for i in range(sem[0]) for _ in range(sem[1] * sem[2])]
    hw = (H // 2) * (W // 2)
    cum = lambda sizes: [0] + torch.tensor(sizes * B).cumsum(0).tolist()   # noqa: E731 - every batch item
    unshifted, shifted = (brute_window_sizes(T, hw, sem_t, window, s) for s in (False, True))
    assert unshifted == [10, 12, 4] and shifted == [6, 10, 10]            # ragged windows, z_sem inside
    self_calls, cross_calls = recording_flash[0::2], recording_flash[1::2]
    assert len(recording_flash) == 4 and all(c["dtypes"] == {torch.bfloat16} for c in recording_flash)
    assert [c["cu_q"] for c in self_calls] == [cum(unshifted), cum(shifted)]
    assert [c["cu_k"] for c in self_calls] == [cum(unshifted), cum(shifted)]
    assert [c["max_q"] for c in self_calls] == [12, 10]
    for c in cross_calls:                                   # each item's queries vs its own caption tokens
        assert c["cu_q"] == [0, T * hw + 6, 2 * (T * hw + 6)] and c["cu_k"] == [0, 2, 5]
    ref = LatentDiT(DiTConfig(size="tiny", attention="swin", swin_window=window), 4, 6, 16, attn_backend="sdpa")
    ref.load_state_dict(model.state_dict())
    torch.testing.assert_close(out.float(), ref(x, t, text, text_mask, z), rtol=0.05, atol=0.05)
    recording_flash.clear()
    sem_mask = torch.tensor([[True, False, True, True, True, True], [True] * 6]).view(B, *sem)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(x, t, text, None, z, attention="full")
        model(x, t, text, None, z, sem_mask, attention="full")
    N = T * hw + 6
    assert all(c["dtypes"] == {torch.bfloat16} for c in recording_flash)
    assert [c.get("dense") for c in recording_flash[:4]] == [N] * 4            # no mask: flash_attn_func
    masked = [c for c in recording_flash[4:] if "cu_q" in c]                    # the key-masked self-attention
    assert [(c["cu_q"], c["cu_k"]) for c in masked] == [([0, N, 2 * N], [0, N - 1, 2 * N - 1])] * 2
