"""The hidden tests of Chapter 2 accept every correct answer and reject wrong ones with a message
that names the mistake. The answers below are written as students write them, from scratch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from autograder.hidden import ch02
from vaelab import reference as ref
from vaelab.checks import check_gmvae_elbo, check_log_normal_mixture

# ---------------------------------------------------------------- log_normal_mixture, correct styles


def lnm_logsumexp(z, m, v):
    log_components = ref.log_normal(z.unsqueeze(1), m, v)
    return torch.logsumexp(log_components, dim=1) - math.log(m.shape[1])


def lnm_explicit(z, m, v):
    # written out, broadcasting (B, 1, Z) against (1, K, Z), log K as a tensor
    z = z[:, None, :]
    log_components = -0.5 * torch.sum(torch.log(2 * math.pi * v) + (z - m) ** 2 / v, dim=-1)
    return torch.logsumexp(log_components, dim=-1) - torch.log(torch.tensor(float(m.shape[-2])))


def lnm_manual_max(z, m, v):
    # the log-sum-exp trick by hand: subtract the largest log-density before exponentiating
    log_components = ref.log_normal(z.unsqueeze(-2), m, v)
    top = log_components.max(dim=-1, keepdim=True).values
    return (top + torch.log(torch.exp(log_components - top).mean(dim=-1, keepdim=True))).squeeze(-1)


def lnm_mixture_same_family(z, m, v):
    mixing = Categorical(logits=torch.zeros(m.shape[:-1], dtype=m.dtype))
    components = Independent(Normal(m, v.sqrt()), 1)
    return MixtureSameFamily(mixing, components).log_prob(z)


def lnm_float64(z, m, v):
    # computed in float64, returned in the input's dtype
    out = lnm_logsumexp(z.double(), m.double(), v.double())
    return out.to(z.dtype)


def lnm_log_softmax_weights(z, m, v):
    # uniform weights through log_softmax of zeros, as a student generalising to learned weights would
    k = m.shape[1]
    log_w = F.log_softmax(torch.zeros(k, dtype=z.dtype), dim=0)
    return torch.logsumexp(ref.log_normal(z.unsqueeze(1), m, v) + log_w, dim=1)


@pytest.mark.parametrize(
    "answer",
    [lnm_logsumexp, lnm_explicit, lnm_manual_max, lnm_mixture_same_family, lnm_float64, lnm_log_softmax_weights],
)
def test_log_normal_mixture_accepts_correct_answers(answer):
    ch02.test_log_normal_mixture(answer)
    check_log_normal_mixture(answer)  # the visible check too


def _components(z, m, v):
    return ref.log_normal(z.unsqueeze(1), m, v)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (
            lambda z, m, v: torch.log(torch.exp(_components(z, m, v)).sum(1)) - math.log(m.shape[1]),
            "underflows to -inf",
        ),
        (lambda z, m, v: torch.log(torch.exp(_components(z, m, v)).mean(1)), "underflows to -inf"),
        (lambda z, m, v: torch.logsumexp(_components(z, m, v), 1), "-log K is missing"),
        (lambda z, m, v: torch.logsumexp(_components(z, m, v), 1) - math.log(m.shape[0]), "-log K is missing"),
        (
            lambda z, m, v: torch.logsumexp(_components(z, m, v), 1) + math.log(m.shape[1]),
            "added instead of subtracted",
        ),
        (lambda z, m, v: _components(z, m, v).mean(1), "mean of logs"),
        (lambda z, m, v: _components(z, m, v).sum(1), "summed (a product of densities)"),
        (lambda z, m, v: _components(z, m, v).max(1).values, "closest component"),
        (lambda z, m, v: torch.logsumexp(_components(z, m, v), 0) - math.log(m.shape[1]), "over the batch dimension"),
        (
            lambda z, m, v: (
                torch.logsumexp(-0.5 * (torch.log(2 * math.pi * v) + (z[:, None] - m) ** 2 / v), 1)
                - math.log(m.shape[1])
            ).sum(-1),
            "each latent coordinate is mixed separately",
        ),
        (lambda z, m, v: torch.logsumexp(ref.log_normal(z, m, v), -1) - math.log(m.shape[1]), "z.unsqueeze(1)"),
        (lambda z, m, v: -lnm_logsumexp(z, m, v), "sign is flipped"),
        (lambda z, m, v: lnm_logsumexp(z, m, v**2), "standard deviation"),
        (lambda z, m, v: torch.log(torch.exp(_components(z, m, v)).mean(1) + 1e-10), "epsilon"),
        (lambda z, m, v: lnm_logsumexp(z, m, v.detach()), "gradient"),
        (lambda z, m, v: torch.from_numpy(np.asarray(lnm_logsumexp(z, m, v).detach().numpy())), "gradient"),
        (lambda z, m, v: ref.log_normal_mixture(z, m, v), "reference implementation"),
        (lambda z, m, v: _reference_alias(z, m, v), "reference implementation"),
    ],
)
def test_log_normal_mixture_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=_escape(fragment)):
        ch02.test_log_normal_mixture(answer)


def _reference_alias(z, m, v):
    from vaelab.reference import log_normal_mixture as mixture

    return mixture(z, m, v)


def _escape(fragment):
    return fragment.replace("(", r"\(").replace(")", r"\)")


def test_log_normal_mixture_visible_check_names_the_underflow():
    with pytest.raises(AssertionError, match="underflows to -inf"):
        check_log_normal_mixture(
            lambda z, m, v: torch.log(torch.exp(_components(z, m, v)).sum(1)) - math.log(m.shape[1])
        )


# ---------------------------------------------------------------- negative_elbo_bound


# The globals that the answers below see, as in a notebook: chapter 1's functions are given by the
# library, and `log_normal_mixture` is the student's own, here deliberately wrong, to show that
# the hidden test replaces it with the reference and grades negative_elbo_bound on its own.
sample_gaussian = ref.sample_gaussian
log_normal = ref.log_normal
log_bernoulli_with_logits = ref.log_bernoulli_with_logits


def log_normal_mixture(z, m, v):
    return 2 * ref.log_normal_mixture(z, m, v)


def nelbo_reference_style(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, *model.prior())).mean()
    return rec + kl, kl, rec


def nelbo_per_example_first(model, x):
    m, v = model.encode(x)
    z = m + torch.sqrt(v) * torch.randn_like(m)  # own sampling, any valid use of the RNG
    rec = -log_bernoulli_with_logits(x, model.decode(z))
    pm, pv = model.prior()
    kl = log_normal(z, m, v) - log_normal_mixture(z, pm, pv)
    nelbo = (rec + kl).mean()
    return nelbo, kl.mean(), rec.mean()


def nelbo_log_prior(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = (log_normal(z, m, v) - model.log_prior(z)).mean()  # the model's own mixture density
    return rec + kl, kl, rec


def nelbo_torch_distributions(model, x):
    m, v = model.encode(x)
    q = Normal(m, v.sqrt())
    z = q.rsample()
    rec = F.binary_cross_entropy_with_logits(model.decoder(z), x, reduction="none").sum(-1).mean()
    pm, pv = model.prior()
    prior = MixtureSameFamily(
        Categorical(logits=torch.zeros(pm.shape[:-1], dtype=pm.dtype)), Independent(Normal(pm, pv.sqrt()), 1)
    )
    kl = (q.log_prob(z).sum(-1) - prior.log_prob(z)).mean()
    return rec + kl, kl, rec


def nelbo_unused_decoding(model, x):
    # decodes the mean too (for a picture, say), then the sample: still a correct bound
    m, v = model.encode(x)
    _ = torch.sigmoid(model.decode(m))
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, *model.prior())).mean()
    return rec + kl, kl, rec


@pytest.mark.parametrize(
    "answer",
    [nelbo_reference_style, nelbo_per_example_first, nelbo_log_prior, nelbo_torch_distributions, nelbo_unused_decoding],
)
def test_negative_elbo_bound_accepts_correct_answers_even_with_a_wrong_helper(answer):
    ch02.test_negative_elbo_bound(answer)
    assert log_normal_mixture is not ref.log_normal_mixture  # the substitution was undone


def test_visible_check_judges_the_function_on_its_own_and_names_the_failing_helper(capsys):
    check_gmvae_elbo(nelbo_reference_style)  # the reference helpers are installed here, as in the grader
    printed = capsys.readouterr().out
    assert "but your log_normal_mixture fails its own check" in printed and "✓ negative_elbo_bound" in printed


def make_wrong(style):
    def nelbo(model, x):
        m, v = model.encode(x)
        pm, pv = model.prior()
        z = sample_gaussian(m, v)
        rec = -log_bernoulli_with_logits(x, model.decode(z))
        kl = log_normal(z, m, v) - ref.log_normal_mixture(z, pm, pv)
        if style == "sum_batch":
            return (rec + kl).sum(), kl.sum(), rec.sum()
        if style == "kl_sign":
            return (rec - kl).mean(), -kl.mean(), rec.mean()
        if style == "nelbo_minus_kl":
            return (rec - kl).mean(), kl.mean(), rec.mean()
        if style == "rec_sign":
            return (-rec + kl).mean(), kl.mean(), -rec.mean()
        if style == "analytic_standard_normal":
            k = (0.5 * (m**2 + v - torch.log(v) - 1).sum(-1)).mean()
            return rec.mean() + k, k, rec.mean()
        if style == "standard_normal_log_prior":
            k = (log_normal(z, m, v) - log_normal(z, torch.zeros_like(m), torch.ones_like(v))).mean()
            return rec.mean() + k, k, rec.mean()
        if style == "other_z":
            z2 = sample_gaussian(m, v)
            k = (log_normal(z2, m, v) - ref.log_normal_mixture(z2, pm, pv)).mean()
            return rec.mean() + k, k, rec.mean()
        if style == "mean_z":
            r = -log_bernoulli_with_logits(x, model.decode(m)).mean()
            k = (log_normal(m, m, v) - ref.log_normal_mixture(m, pm, pv)).mean()
            return r + k, k, r
        if style == "log_q_at_mean":
            k = (log_normal(m, m, v) - ref.log_normal_mixture(z, pm, pv)).mean()
            return rec.mean() + k, k, rec.mean()
        if style == "no_log_q":
            k = -ref.log_normal_mixture(z, pm, pv).mean()
            return rec.mean() + k, k, rec.mean()
        if style == "prior_detached":
            k = (log_normal(z, m, v) - ref.log_normal_mixture(z, pm.detach(), pv.detach())).mean()
            return rec.mean() + k, k, rec.mean()
        if style == "z_detached":
            r = -log_bernoulli_with_logits(x, model.decode(z.detach())).mean()
            return r + kl.mean(), kl.mean(), r
        if style == "noise_scaled_by_v":
            zv = m + v * torch.randn_like(m)
            r = -log_bernoulli_with_logits(x, model.decode(zv)).mean()
            k = (log_normal(zv, m, v) - ref.log_normal_mixture(zv, pm, pv)).mean()
            return r + k, k, r
        if style == "pixel_mean":
            r = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none").mean(-1).mean()
            return r + kl.mean(), kl.mean(), r
        if style == "per_example":
            return rec + kl, kl, rec
        raise ValueError(style)

    return nelbo


@pytest.mark.parametrize(
    "style,fragment",
    [
        ("sum_batch", "sum over the batch"),
        ("kl_sign", "sign is flipped"),
        ("nelbo_minus_kl", "nelbo = rec - kl"),
        ("rec_sign", "sign is flipped: rec is the negative log-likelihood"),
        ("analytic_standard_normal", "analytic KL to N(0, I)"),
        ("standard_normal_log_prior", "log p(z) is computed under N(0, I)"),
        ("other_z", "use the same sample z"),
        ("mean_z", "the decoded z is the encoder mean"),
        ("log_q_at_mean", "log q(z|x) is evaluated at the mean"),
        ("no_log_q", "log q(z|x) term is missing"),
        ("prior_detached", "no gradient of kl reaches the mixture"),
        ("z_detached", "no gradient of rec reaches the encoder"),
        ("noise_scaled_by_v", "scaled by v instead of sqrt(v)"),
        ("pixel_mean", "averaged over pixels"),
        ("per_example", "three scalars"),
    ],
)
def test_negative_elbo_bound_rejects_mistakes(style, fragment):
    with pytest.raises(AssertionError, match=_escape(fragment)):
        ch02.test_negative_elbo_bound(make_wrong(style))


def test_negative_elbo_bound_refuses_the_reference():
    from vaelab.reference import gmvae_negative_elbo_bound

    def nelbo(model, x):
        return gmvae_negative_elbo_bound(model, x)

    with pytest.raises(AssertionError, match="reference implementation"):
        ch02.test_negative_elbo_bound(nelbo)
