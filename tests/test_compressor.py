import torch

from semanticgen.models import Compressor, kl_to_standard_normal


def test_kl_matches_closed_form_and_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.randn(3, 8), torch.randn(3, 8) * 0.3
    var = logvar.exp()
    closed = (0.5 * (mu ** 2 + var - 1 - logvar)).sum(-1).mean()
    torch.testing.assert_close(kl_to_standard_normal(mu, logvar), closed)
    # Monte-Carlo estimate of E_q[log q − log p]
    z = mu + var.sqrt() * torch.randn(200_000, 3, 8)
    log_q = -0.5 * ((z - mu) ** 2 / var + logvar + torch.log(torch.tensor(2 * torch.pi)))
    log_p = -0.5 * (z ** 2 + torch.log(torch.tensor(2 * torch.pi)))
    mc = (log_q - log_p).sum(-1).mean()
    assert abs(float(mc) - float(closed)) < 0.02
    assert float(kl_to_standard_normal(torch.zeros(4, 8), torch.zeros(4, 8))) == 0.0


def test_compressor_shapes_sampling_and_identity_mode():
    torch.manual_seed(0)
    c = Compressor(32, 8)
    x = torch.randn(2, 3, 4, 4, 32)
    z, mu, logvar = c(x)
    assert z.shape == mu.shape == logvar.shape == (2, 3, 4, 4, 8)
    z2, mu2, _ = c(x, sample=False)
    torch.testing.assert_close(z2, mu2)
    assert not torch.allclose(z, mu)                        # reparameterised sample
    # z = mu + sigma * eps exactly
    g = torch.Generator().manual_seed(3)
    z3, mu3, lv3 = c(x, generator=g)
    eps = torch.randn(mu3.shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(z3, mu3 + (0.5 * lv3).exp() * eps)
    ident = Compressor(32, None)
    zi, mui, _ = ident(x)
    assert torch.equal(zi, x) and ident.z_dim == 32 and float(ident.kl(mui, mui)) == 0.0
