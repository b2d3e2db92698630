"""Rectified flow against closed forms: targets, schedule, and exact-velocity sampling."""
import math

import torch

from semanticgen.flow import add_noise, euler_sample, flow_loss, sample_t, shift_t, timesteps, velocity_target


def test_noising_and_target():
    z0, eps = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    zt = add_noise(z0, t, eps)
    torch.testing.assert_close(zt[0], z0[0])
    torch.testing.assert_close(zt[3], eps[3])
    torch.testing.assert_close(zt[1], 0.75 * z0[1] + 0.25 * eps[1])
    torch.testing.assert_close(velocity_target(z0, eps), eps - z0)
    # d z_t / d t along the straight path is exactly the target
    dt = 1e-3
    torch.testing.assert_close((add_noise(z0, t + dt, eps) - zt) / dt, eps - z0, rtol=1e-3, atol=1e-3)


def test_logit_normal_and_shift():
    g = torch.Generator().manual_seed(0)
    t = sample_t(200_000, shift=1.0, generator=g)
    assert 0 < float(t.min()) and float(t.max()) < 1
    assert abs(float(t.median()) - 0.5) < 0.01                 # sigmoid(N(0,1)) has median 1/2
    ts = sample_t(200_000, shift=3.0, generator=torch.Generator().manual_seed(0))
    assert abs(float(ts.median()) - 0.75) < 0.01               # shift: 3·0.5/(1+2·0.5) = 0.75
    sched = timesteps(4, shift=3.0)
    torch.testing.assert_close(sched, shift_t(torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0]), 3.0))


def test_masked_loss():
    pred, tgt = torch.zeros(2, 4), torch.ones(2, 4)
    tgt[:, 2:] = 3.0
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0]])
    assert float(flow_loss(pred, tgt, mask)) == 1.0
    assert float(flow_loss(pred, tgt)) == 5.0


def gaussian_velocity(m, s):
    """Exact velocity of the rectified-flow path from N(m, s²) data to N(0, 1) noise."""
    def v(z, t):
        t = t.reshape(-1, *([1] * (z.dim() - 1)))
        var = (1 - t) ** 2 * s ** 2 + t ** 2
        # E[eps - z0 | z_t = z] for jointly Gaussian (z0, eps)
        mean_zt = (1 - t) * m
        cov_eps = t                       # Cov(eps, z_t)
        cov_z0 = (1 - t) * s ** 2         # Cov(z0, z_t)
        e_eps = cov_eps / var * (z - mean_zt)
        e_z0 = m + cov_z0 / var * (z - mean_zt)
        return e_eps - e_z0
    return v


def test_euler_sampler_reproduces_target_distribution():
    m, s = 2.0, 0.5
    noise = torch.randn(4096, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    noise = (noise - noise.mean()) / noise.std()                 # exact N(0, 1) moments: no sampling error
    for shift in (1.0, 3.0):
        out = euler_sample(gaussian_velocity(m, s), noise, steps=300, shift=shift)
        assert abs(float(out.mean()) - m) < 0.01, shift
        assert abs(float(out.std()) - s) < 0.01, shift
    # a 2-step sampler misses the variance: the tolerance above is not met by any sampler
    coarse = euler_sample(gaussian_velocity(m, s), noise, steps=2, shift=1.0)
    assert abs(float(coarse.std()) - s) > 0.01


def test_noise_from_shape_and_generator():
    v = lambda z, t: torch.zeros_like(z)            # noqa: E731
    a = euler_sample(v, (2, 3), steps=2, generator=torch.Generator().manual_seed(5))
    b = euler_sample(v, (2, 3), steps=2, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, torch.randn(2, 3, generator=torch.Generator().manual_seed(5)))


def test_semantic_guidance_combines_three_branches():
    full = lambda z, t: torch.full_like(z, 3.0)     # noqa: E731  text + z_sem
    sem = lambda z, t: torch.full_like(z, 1.0)      # noqa: E731  z_sem only
    none = lambda z, t: torch.full_like(z, -1.0)    # noqa: E731  neither
    z1 = torch.zeros(2, 2)
    out = euler_sample(full, z1, steps=3, uncond_fn=sem, cfg_scale=2.0, sem_uncond_fn=none, sem_cfg_scale=1.5)
    # v = v_none + 1.5·(v_sem − v_none) + 2·(v_full − v_sem) = −1 + 3 + 4 = 6; z_0 = z_1 − 6
    torch.testing.assert_close(out, torch.full_like(z1, -6.0))
    # sem scale 1 reduces to text-only CFG: v = 1 + 2·(3 − 1) = 5
    only_text = euler_sample(full, z1, steps=3, uncond_fn=sem, cfg_scale=2.0, sem_uncond_fn=none, sem_cfg_scale=1.0)
    torch.testing.assert_close(only_text, torch.full_like(z1, -5.0))


def test_cfg_combines_velocities():
    cond = lambda z, t: torch.ones_like(z)          # noqa: E731
    uncond = lambda z, t: torch.zeros_like(z)       # noqa: E731
    z1 = torch.zeros(3, 2)
    out = euler_sample(cond, z1, steps=4, uncond_fn=uncond, cfg_scale=2.5)
    # integrate v = 0 + 2.5·(1 − 0) from t = 1 to 0: z = −2.5
    torch.testing.assert_close(out, torch.full_like(z1, -2.5))
    assert math.isclose(float(euler_sample(cond, z1, steps=3)[0, 0]), -1.0, rel_tol=1e-6)
