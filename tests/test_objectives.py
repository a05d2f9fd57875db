"""The reference objectives against independent computations: brute-force loops over labels and
samples, torch.distributions, and Monte Carlo."""

import math

import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal, kl_divergence

from vaelab import reference as objectives
from vaelab.models import FSVAE, GMVAE, SSVAE, VAE


def _g(seed):
    return torch.Generator().manual_seed(seed)


def test_vae_nelbo_terms_and_beta():
    torch.manual_seed(0)
    model, x = VAE(z_dim=3, x_dim=12, hidden=8), torch.bernoulli(torch.full((20, 12), 0.3), generator=_g(1))
    nelbo, kl, rec = objectives.vae_negative_elbo_bound(model, x, beta=2.0, generator=_g(2))
    qm, qv = model.encode(x)
    expected_kl = kl_divergence(
        Independent(Normal(qm, qv.sqrt()), 1), Independent(Normal(0.0, torch.ones_like(qm)), 1)
    ).mean()
    torch.testing.assert_close(kl, expected_kl)
    torch.testing.assert_close(nelbo, rec + 2.0 * kl)


def test_ssvae_nelbo_matches_a_loop_over_labels():
    torch.manual_seed(0)
    model = SSVAE(z_dim=4, y_dim=3, x_dim=10, hidden=8)
    x = torch.bernoulli(torch.full((5, 10), 0.4), generator=_g(1))
    # With the encoder variance scaled to ~0, z is the encoder mean: the loop is deterministic.
    encode = model.encode
    model.encode = lambda x_, y_: (encode(x_, y_)[0], encode(x_, y_)[1] * 1e-14)
    nelbo, kl_z, kl_y, rec = objectives.ssvae_negative_elbo_bound(model, x)
    q = model.classify(x).softmax(-1)
    rec_loop = kl_loop = 0.0
    for label in range(3):
        y = F.one_hot(torch.full((5,), label), 3).float()
        m, v = model.encode(x, y)
        bern = Independent(torch.distributions.Bernoulli(logits=model.decode(m, y)), 1)
        rec_loop = rec_loop + q[:, label] * -bern.log_prob(x)
        kl_loop = kl_loop + q[:, label] * kl_divergence(
            Independent(Normal(m, v.sqrt()), 1), Independent(Normal(0.0, torch.ones_like(m)), 1)
        )
    kl_y_expected = kl_divergence(
        torch.distributions.Categorical(probs=q), torch.distributions.Categorical(probs=torch.full((3,), 1 / 3))
    ).mean()
    torch.testing.assert_close(rec, rec_loop.mean(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(kl_z, kl_loop.mean(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(kl_y, kl_y_expected)
    torch.testing.assert_close(nelbo, rec + kl_z + kl_y)


def test_ssvae_classification_loss_accepts_one_hot_and_integer_labels():
    torch.manual_seed(0)
    model, x = SSVAE(z_dim=2, y_dim=4, x_dim=6, hidden=5), torch.rand(7, 6)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    expected = -model.classify(x).log_softmax(-1)[torch.arange(7), y].mean()
    torch.testing.assert_close(objectives.ssvae_classification_loss(model, x, y), expected)
    torch.testing.assert_close(objectives.ssvae_classification_loss(model, x, F.one_hot(y, 4).float()), expected)


def test_fsvae_nelbo_uses_a_gaussian_with_variance_one_tenth():
    torch.manual_seed(0)
    model = FSVAE(z_dim=2, y_dim=3, image_shape=(3, 2, 2), hidden=6)
    x, y = torch.rand(4, 12, generator=_g(1)), F.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    encode = model.encode
    model.encode = lambda x_, y_: (encode(x_, y_)[0], encode(x_, y_)[1] * 1e-14)
    nelbo, kl, rec = objectives.fsvae_negative_elbo_bound(model, x, y)
    m, _ = model.encode(x, y)
    expected_rec = -Independent(Normal(model.decode(m, y), math.sqrt(0.1)), 1).log_prob(x).mean()
    torch.testing.assert_close(rec, expected_rec, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(nelbo, rec + kl)


def test_sample_grid_shares_styles_across_labels_and_clips():
    torch.manual_seed(0)
    model = FSVAE(z_dim=2, y_dim=10, image_shape=(3, 4, 4), hidden=6)
    grid = objectives.sample_grid(model, n_styles=5, generator=_g(3))
    assert grid.shape == (10, 5, 3, 4, 4) and grid.min() >= 0 and grid.max() <= 1
    z = torch.randn(5, 2, generator=_g(3))
    y = F.one_hot(torch.full((5,), 7), 10).float()
    torch.testing.assert_close(grid[7], model.decode(z, y).reshape(5, 3, 4, 4).clip(0, 1))


def test_iwae_bound_is_between_the_elbo_and_the_likelihood_on_average():
    torch.manual_seed(0)
    model, x = GMVAE(z_dim=2, k=3, x_dim=8, hidden=6), torch.bernoulli(torch.full((30, 8), 0.5), generator=_g(1))
    gen = _g(5)
    elbo = torch.stack([objectives.negative_iwae_bound(model, x, 1, generator=gen)[0] for _ in range(50)]).mean()
    iwae = torch.stack([objectives.negative_iwae_bound(model, x, 50, generator=gen)[0] for _ in range(20)]).mean()
    assert iwae < elbo  # the bound tightens: -L_50 < -L_1
