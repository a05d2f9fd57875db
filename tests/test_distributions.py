"""The reference math against independent truths: torch.distributions, brute force, Monte Carlo,
finite differences."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Categorical, Independent, Normal, kl_divergence

from vaelab import reference as d
from vaelab.nets import gaussian_parameters


@pytest.fixture(autouse=True)
def _float64():
    # Exact comparisons in double precision; restored so that other test modules see the default.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _rand(*shape, seed=0, positive=False):
    g = _gen(seed)
    t = torch.randn(*shape, generator=g)
    return F.softplus(t) + 0.05 if positive else t


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 7)])
def test_log_normal_matches_torch_distributions(shape):
    x, m, v = _rand(*shape, seed=1), _rand(*shape, seed=2), _rand(*shape, seed=3, positive=True)
    expected = Independent(Normal(m, v.sqrt()), 1).log_prob(x)
    torch.testing.assert_close(d.log_normal(x, m, v), expected)


def test_log_normal_broadcasts_like_the_mixture_needs():
    z, m, v = _rand(6, 1, 4, seed=1), _rand(1, 3, 4, seed=2), _rand(1, 3, 4, seed=3, positive=True)
    expected = Normal(m, v.sqrt()).log_prob(z).sum(-1)
    assert d.log_normal(z, m, v).shape == (6, 3)
    torch.testing.assert_close(d.log_normal(z, m, v), expected)


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 5, 6)])
def test_kl_normal_matches_torch_distributions(shape):
    qm, pm = _rand(*shape, seed=1), _rand(*shape, seed=2)
    qv, pv = _rand(*shape, seed=3, positive=True), _rand(*shape, seed=4, positive=True)
    expected = kl_divergence(Independent(Normal(qm, qv.sqrt()), 1), Independent(Normal(pm, pv.sqrt()), 1))
    torch.testing.assert_close(d.kl_normal(qm, qv, pm, pv), expected)


def test_kl_normal_is_zero_for_equal_arguments_and_positive_otherwise():
    m, v = _rand(10, 4, seed=1), _rand(10, 4, seed=2, positive=True)
    torch.testing.assert_close(d.kl_normal(m, v, m, v), torch.zeros(10))
    assert (d.kl_normal(m, v, torch.zeros(1, 4), torch.ones(1, 4)) > 0).all()


def test_kl_normal_agrees_with_a_monte_carlo_estimate():
    qm, qv = torch.tensor([0.3, -1.0]), torch.tensor([0.5, 2.0])
    pm, pv = torch.tensor([0.0, 0.5]), torch.tensor([1.0, 0.7])
    z = d.sample_gaussian(qm.expand(400_000, 2), qv.expand(400_000, 2), generator=_gen(5))
    mc = (d.log_normal(z, qm, qv) - d.log_normal(z, pm, pv)).mean()
    assert abs(mc - d.kl_normal(qm, qv, pm, pv)) < 0.01


@pytest.mark.parametrize("shape", [(8,), (3, 8), (2, 3, 8)])
def test_log_bernoulli_with_logits_matches_torch_distributions(shape):
    logits = 3 * _rand(*shape, seed=1)
    x = torch.bernoulli(torch.sigmoid(_rand(*shape, seed=2)), generator=_gen(3))
    expected = Independent(Bernoulli(logits=logits), 1).log_prob(x)
    torch.testing.assert_close(d.log_bernoulli_with_logits(x, logits), expected)


def test_log_bernoulli_with_logits_is_stable_for_extreme_logits():
    logits = torch.tensor([[1000.0, -1000.0, 80.0, -80.0]])
    x = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    out = d.log_bernoulli_with_logits(x, logits)
    # log(1 - sigmoid(1000)) = -1000, log(sigmoid(-1000)) = -1000, the others are ~ -exp(-80).
    torch.testing.assert_close(out, torch.tensor([-2000.0]))
    assert torch.isfinite(out).all()


def test_log_bernoulli_with_logits_accepts_grey_levels():
    # For x in (0, 1) the same formula is the (negative) cross-entropy, still finite and correct.
    x, logits = torch.tensor([[0.25, 0.75]]), torch.tensor([[0.4, -1.2]])
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    torch.testing.assert_close(d.log_bernoulli_with_logits(x, logits), expected)


def test_sample_gaussian_moments_and_reparameterised_gradients():
    m = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    v = torch.tensor([0.25, 4.0, 1.0], requires_grad=True)
    n = 200_000
    z = d.sample_gaussian(m.expand(n, 3), v.expand(n, 3), generator=_gen(7))
    torch.testing.assert_close(z.mean(0), m.detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), v.detach(), atol=0.05, rtol=0.02)
    # d/dm E[z] = 1 and d/dv E[z^2] = d/dv (m^2 + v) = 1: only a pathwise sample gives both.
    (gm,) = torch.autograd.grad(z.mean(0).sum(), m, retain_graph=True)
    (gv,) = torch.autograd.grad(z.pow(2).mean(0).sum(), v)
    torch.testing.assert_close(gm, torch.ones(3))
    torch.testing.assert_close(gv, torch.ones(3), atol=0.03, rtol=0)


def test_sample_gaussian_is_the_mean_when_variance_is_zero_and_respects_the_generator():
    m = _rand(4, 3, seed=1)
    torch.testing.assert_close(d.sample_gaussian(m, torch.zeros_like(m)), m)
    v = _rand(4, 3, seed=2, positive=True)
    torch.testing.assert_close(d.sample_gaussian(m, v, generator=_gen(3)), d.sample_gaussian(m, v, generator=_gen(3)))


def test_log_normal_mixture_matches_a_brute_force_loop():
    z, m, v = _rand(5, 3, seed=1), _rand(1, 4, 3, seed=2), _rand(1, 4, 3, seed=3, positive=True)
    brute = torch.empty(5)
    for b in range(5):
        density = sum(math.exp(Independent(Normal(m[0, k], v[0, k].sqrt()), 1).log_prob(z[b])) for k in range(4)) / 4
        brute[b] = math.log(density)
    torch.testing.assert_close(d.log_normal_mixture(z, m, v), brute)


def test_log_normal_mixture_matches_torch_mixture_and_survives_far_points():
    z, m, v = 50 * _rand(6, 2, seed=1), _rand(1, 3, 2, seed=2), _rand(1, 3, 2, seed=3, positive=True)
    from torch.distributions import MixtureSameFamily

    mix = MixtureSameFamily(Categorical(logits=torch.zeros(3)), Independent(Normal(m[0], v[0].sqrt()), 1))
    out = d.log_normal_mixture(z, m, v)
    assert torch.isfinite(out).all()  # exp() of these log-densities underflows to 0
    torch.testing.assert_close(out, mix.log_prob(z))


def test_duplicate_is_repetition_major():
    x = torch.arange(6.0).reshape(3, 2)
    out = d.duplicate(x, 4)
    assert out.shape == (12, 2)
    for r in range(4):
        torch.testing.assert_close(out[3 * r : 3 * (r + 1)], x)
    with pytest.raises(ValueError):
        d.duplicate(x, 0)


def test_log_mean_exp_matches_the_naive_formula_and_is_stable():
    x = _rand(4, 5, seed=1)
    torch.testing.assert_close(d.log_mean_exp(x, 1), x.exp().mean(1).log())
    torch.testing.assert_close(d.log_mean_exp(x, 0), x.exp().mean(0).log())
    big = torch.tensor([[1000.0, 1000.0 + math.log(3.0)]])
    torch.testing.assert_close(d.log_mean_exp(big, 1), torch.tensor([1000.0 + math.log(2.0)]))


def test_kl_cat_matches_torch_distributions():
    q_logits, p_logits = _rand(6, 10, seed=1), _rand(6, 10, seed=2)
    q, log_q, log_p = q_logits.softmax(-1), q_logits.log_softmax(-1), p_logits.log_softmax(-1)
    expected = kl_divergence(Categorical(logits=q_logits), Categorical(logits=p_logits))
    torch.testing.assert_close(d.kl_cat(q, log_q, log_p), expected)


def test_gaussian_parameters_finite_difference_gradient():
    h = _rand(3, 8, seed=1).requires_grad_()
    m, v = gaussian_parameters(h)
    assert m.shape == v.shape == (3, 4) and (v > 0).all()
    torch.autograd.gradcheck(lambda t: gaussian_parameters(t)[1], (h,))


@pytest.mark.parametrize(
    "fn,args",
    [
        (d.log_normal, lambda: (_rand(3, 4, seed=1), _rand(3, 4, seed=2), _rand(3, 4, seed=3, positive=True))),
        (
            d.kl_normal,
            lambda: (
                _rand(3, 4, seed=1),
                _rand(3, 4, seed=2, positive=True),
                _rand(3, 4, seed=3),
                _rand(3, 4, seed=4, positive=True),
            ),
        ),
        (d.log_bernoulli_with_logits, lambda: (torch.rand(3, 4, generator=_gen(1)), _rand(3, 4, seed=2))),
        (d.log_mean_exp, lambda: (_rand(3, 4, seed=1), 1)),
    ],
)
def test_gradients_match_finite_differences(fn, args):
    a = [t.clone().requires_grad_() if isinstance(t, torch.Tensor) else t for t in args()]
    tensors = tuple(t for t in a if isinstance(t, torch.Tensor))

    def f(*ts):
        it = iter(ts)
        return fn(*[next(it) if isinstance(t, torch.Tensor) else t for t in a])

    torch.autograd.gradcheck(f, tensors)
