"""Tiny models overfit one batch on CPU (loss falls ≥ 10×) through the real stage losses."""
import pytest
import torch

from semanticgen.config.models import DiTConfig
from semanticgen.models import Compressor, LatentDiT, SemanticDiT
from semanticgen.models.losses import stage1_loss, stage2_loss


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and lose a lot to them on a shared, loaded machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fit(params, step_fn, steps, lr=2e-3):
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        loss = step_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_latent_dit_and_compressor_overfit_one_batch():
    torch.manual_seed(0)
    comp = Compressor(24, 4)
    dit = LatentDiT(DiTConfig(size="tiny", attention="swin", swin_window=2), 4, 4, 16, attn_backend="sdpa")
    batch = {"latents": torch.randn(2, 4, 3, 4, 4), "sem": torch.randn(2, 2, 1, 1, 24),
             "text": torch.randn(2, 5, 16), "text_mask": torch.ones(2, 5, dtype=torch.bool)}
    t, eps = torch.tensor([0.3, 0.7]), torch.randn(2, 4, 3, 4, 4)
    torch.manual_seed(1)

    def step():
        loss, _ = stage1_loss(dit, comp, batch, kl_weight=1e-4, z_noise=0.0, shift=1.0, t=t, eps=eps)
        return loss

    losses = fit(list(dit.parameters()) + list(comp.parameters()), step, 120)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_semantic_dit_overfits_one_batch():
    torch.manual_seed(0)
    dit = SemanticDiT(DiTConfig(size="tiny"), 4, 16, attn_backend="sdpa")
    batch = {"z_mu": torch.randn(2, 3, 2, 2, 4), "z_logvar": None, "text": torch.randn(2, 5, 16)}
    t, eps = torch.tensor([0.4, 0.6]), torch.randn(2, 3, 2, 2, 4)

    def step():
        loss, _ = stage2_loss(dit, batch, shift=1.0, t=t, eps=eps)
        return loss

    losses = fit(list(dit.parameters()), step, 120)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_latent_dit_reads_z_sem_in_context():
    """Two samples with the same noisy input, text and t but different targets: only z_sem tells them
    apart, so the loss can fall far below the best z_sem-blind loss only through the z_sem tokens."""
    from semanticgen.flow import add_noise, flow_loss, velocity_target

    torch.manual_seed(0)
    dit = LatentDiT(DiTConfig(size="tiny", attention="swin", swin_window=2), 4, 4, 16, attn_backend="sdpa")
    x0 = torch.randn(2, 4, 3, 4, 4)
    eps = torch.randn(1, 4, 3, 4, 4).expand(2, -1, -1, -1, -1)
    t = torch.ones(2)                                          # x_t = ε: identical inputs
    text, z_sem = torch.randn(1, 5, 16).expand(2, -1, -1), torch.randn(2, 2, 1, 1, 4)
    target = velocity_target(x0, eps)
    blind_floor = float(flow_loss(target.mean(0, keepdim=True).expand_as(target), target))
    x_t = add_noise(x0, t, eps)
    assert torch.equal(x_t[0], x_t[1])
    losses = fit(list(dit.parameters()), lambda: flow_loss(dit(x_t, t, text, None, z_sem), target), 150, lr=3e-3)
    assert losses[-1] < blind_floor / 10, (blind_floor, losses[-1])
