"""Tiny models overfit one batch on CPU (loss falls ≥ 10×) through the real stage losses."""
import torch

from semanticgen.config.models import DiTConfig
from semanticgen.models import Compressor, LatentDiT, SemanticDiT
from semanticgen.train.losses import stage1_loss, stage2_loss


def fit(params, step_fn, steps, lr=2e-3):
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        loss = step_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
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

    losses = fit(list(dit.parameters()) + list(comp.parameters()), step, 300)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_semantic_dit_overfits_one_batch():
    torch.manual_seed(0)
    dit = SemanticDiT(DiTConfig(size="tiny"), 4, 16, attn_backend="sdpa")
    batch = {"z_mu": torch.randn(2, 3, 2, 2, 4), "z_logvar": None, "text": torch.randn(2, 5, 16)}
    t, eps = torch.tensor([0.4, 0.6]), torch.randn(2, 3, 2, 2, 4)

    def step():
        loss, _ = stage2_loss(dit, batch, shift=1.0, t=t, eps=eps)
        return loss

    losses = fit(list(dit.parameters()), step, 300)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
