"""The hidden tests of Chapter 1 accept every correct answer and reject wrong ones with a message
that names the mistake. The answers below are written as students write them, from scratch."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from autograder.hidden import ch01
from vaelab import reference as ref

# ---------------------------------------------------------------- correct answers, several styles


def sg_broadcast_first(m, v):
    m, v = torch.broadcast_tensors(m, v)
    return m + torch.sqrt(v) * torch.randn_like(m)


def sg_normal_noise(m, v):
    eps = torch.normal(torch.zeros(torch.broadcast_shapes(m.shape, v.shape)), 1.0).to(m.dtype)
    return m + eps * v**0.5


def sg_rsample(m, v):
    return Normal(m, v.sqrt()).rsample()


def sg_generator_first(m, v):
    # draws the noise in a different order (transposed): any valid use of the RNG is accepted
    m, v = torch.broadcast_tensors(m, v)
    eps = (
        torch.randn(m.shape[::-1], dtype=m.dtype).transpose(0, -1)
        if m.dim() > 1
        else torch.randn(m.shape, dtype=m.dtype)
    )
    return m + v.sqrt() * eps


def ln_explicit(x, m, v):
    return -0.5 * torch.sum(torch.log(2 * math.pi * v) + (x - m) ** 2 / v, dim=-1)


def ln_torch(x, m, v):
    return Normal(m, v.sqrt()).log_prob(x).sum(-1)


def kl_explicit(qm, qv, pm, pv):
    return 0.5 * torch.sum(torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1, dim=-1)


def kl_torch(qm, qv, pm, pv):
    return kl_divergence(Normal(qm, qv.sqrt()), Normal(pm, pv.sqrt())).sum(-1)


def lb_bce(x, logits):
    return -F.binary_cross_entropy_with_logits(
        logits, x.expand_as(logits) if x.dim() < logits.dim() else x, reduction="none"
    ).sum(-1)


def lb_logsigmoid(x, logits):
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1)


def lb_softplus(x, logits):
    return (x * logits - F.softplus(logits)).sum(-1)


def make_nelbo(style):
    # The notebook's helpers, as the student wrote them; the hidden test replaces them by the references.
    def nelbo(model, x, beta=1.0):
        m, v = model.encode(x)
        z = sample_gaussian(m, v)
        logits = model.decode(z)
        rec = -log_bernoulli_with_logits(x, logits)
        kl = kl_normal(m, v, *model.prior())
        if style == "ok":
            return rec.mean() + beta * kl.mean(), kl.mean(), rec.mean()
        if style == "sum_batch":
            return rec.sum() + beta * kl.sum(), kl.sum(), rec.sum()
        if style == "no_beta":
            return rec.mean() + kl.mean(), kl.mean(), rec.mean()
        if style == "beta_on_rec":
            return beta * rec.mean() + kl.mean(), kl.mean(), rec.mean()
        if style == "positive_elbo":  # rec as log p(x|z) instead of its negative
            r = log_bernoulli_with_logits(x, logits).mean()
            return r + beta * kl.mean(), kl.mean(), r
        if style == "mean_z":
            r = -log_bernoulli_with_logits(x, model.decode(m)).mean()
            return r + beta * kl.mean(), kl.mean(), r
        if style == "detached":
            r = -log_bernoulli_with_logits(x, model.decode(z.detach())).mean()
            return r + beta * kl.mean(), kl.mean(), r
        if style == "mc_kl":
            k = (log_normal(z, m, v) - log_normal(z, *model.prior())).mean()
            return rec.mean() + beta * k, k, rec.mean()
        if style == "pixel_mean":
            r = F.binary_cross_entropy_with_logits(logits, x, reduction="none").mean(-1).mean()
            return r + beta * kl.mean(), kl.mean(), r
        raise ValueError(style)

    return nelbo


# the globals the nelbo answers see (as in a notebook); deliberately wrong, to show they are replaced
def sample_gaussian(m, v):
    return m + v * torch.randn_like(m)


def log_normal(x, m, v):
    return 2 * ref.log_normal(x, m, v)


def kl_normal(qm, qv, pm, pv):
    return 2 * kl_explicit(qm, qv, pm, pv)


def log_bernoulli_with_logits(x, logits):
    return lb_softplus(x, logits) * 0.5


@pytest.mark.parametrize("answer", [sg_broadcast_first, sg_normal_noise, sg_rsample, sg_generator_first])
def test_sample_gaussian_accepts_correct_answers(answer):
    ch01.test_sample_gaussian(answer)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda m, v: m + v * torch.randn_like(m), "scaled by v instead of sqrt(v)"),
        (lambda m, v: m + torch.randn_like(m), "not scaled by sqrt(v)"),
        (lambda m, v: m + v.sqrt() * torch.randn_like(m) + 1e-3, "sample must equal m"),
        (lambda m, v: m + torch.exp(0.5 * v) * torch.randn_like(m), "log-variance"),
        (lambda m, v: torch.normal(m, v.sqrt()), "no gradient flows"),
        (lambda m, v: torch.normal(m.detach(), v.sqrt().detach()), "no gradient flows"),
        (lambda m, v: Normal(m, v.sqrt()).sample(), "no gradient flows"),
        (lambda m, v: m + v.sqrt() * torch.randn(m.shape[-1]), "same noise"),
        # noise of the shape of m (or v) alone: broadcast, the rows of z share it
        (lambda m, v: m + torch.sqrt(v) * torch.randn_like(m), "same noise"),
        (lambda m, v: m + torch.normal(torch.zeros_like(v), torch.ones_like(v)) * v**0.5, "same noise"),
        (lambda m, v: m + v.sqrt() * torch.randn(m.shape, generator=torch.Generator().manual_seed(0)), "same sample"),
        (lambda m, v: ref.sample_gaussian(m, v), "reference implementation"),
    ],
)
def test_sample_gaussian_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ch01.test_sample_gaussian(answer)


@pytest.mark.parametrize("answer", [ln_explicit, ln_torch])
def test_log_normal_accepts_correct_answers(answer):
    ch01.test_log_normal(answer)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda x, m, v: -torch.sum(torch.log(2 * math.pi * v) + (x - m) ** 2 / v, -1), "factor of 2"),
        (lambda x, m, v: -0.5 * torch.sum(torch.log(v) + (x - m) ** 2 / v, -1), "log(2π)"),
        (lambda x, m, v: -0.5 * torch.sum(math.log(2 * math.pi) + (x - m) ** 2 / v, -1), "log(v) term"),
        (lambda x, m, v: Normal(m, v).log_prob(x).sum(-1), "standard deviation"),
        (lambda x, m, v: -0.5 * (torch.log(2 * math.pi * v) + (x - m) ** 2 / v), "sum over the last dimension"),
        (lambda x, m, v: -0.5 * torch.sum(torch.log(2 * math.pi * v) + (x - m) ** 2 / v), "batch"),
        (
            lambda x, m, v: -0.5 * torch.mean(torch.log(2 * math.pi * v) + (x - m) ** 2 / v, -1),
            "averaged over the last dimension",
        ),
        (lambda x, m, v: -0.5 * torch.sum(torch.log(2 * math.pi * v) + (x - m).detach() ** 2 / v, -1), "gradient"),
        (lambda x, m, v: ref.log_normal(x, m, v), "reference implementation"),
    ],
)
def test_log_normal_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ch01.test_log_normal(answer)


@pytest.mark.parametrize("answer", [kl_explicit, kl_torch])
def test_kl_normal_accepts_correct_answers(answer):
    ch01.test_kl_normal(answer)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda qm, qv, pm, pv: torch.sum(torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1, -1), "factor of 2"),
        (lambda qm, qv, pm, pv: 0.5 * torch.sum(torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv, -1), "'- 1'"),
        (lambda qm, qv, pm, pv: kl_explicit(pm, pv, qm, qv), "swapped"),
        (lambda qm, qv, pm, pv: 0.5 * torch.sum(torch.log(qv / pv) + (qv + (qm - pm) ** 2) / pv - 1, -1), "log-ratio"),
        (lambda qm, qv, pm, pv: 0.5 * torch.sum(-torch.log(qv) + qv + qm**2 - 1, -1), "N(0, I)"),
        (
            lambda qm, qv, pm, pv: 0.5 * torch.mean(torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1, -1),
            "averaged over the last dimension",
        ),
        (lambda qm, qv, pm, pv: kl_explicit(qm, qv**2, pm, pv**2), "standard deviations"),
        (lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv), "reference implementation"),
    ],
)
def test_kl_normal_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ch01.test_kl_normal(answer)


@pytest.mark.parametrize("answer", [lb_bce, lb_logsigmoid, lb_softplus])
def test_log_bernoulli_accepts_correct_answers(answer):
    ch01.test_log_bernoulli_with_logits(answer)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda x, logits: -lb_logsigmoid(x, logits), "sign is flipped"),
        (
            lambda x, logits: (
                x * torch.log(torch.sigmoid(logits) + 1e-8) + (1 - x) * torch.log(1 - torch.sigmoid(logits) + 1e-8)
            ).sum(-1),
            "epsilon",
        ),
        (
            lambda x, logits: (
                x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits))
            ).sum(-1),
            "unstable",
        ),
        (
            lambda x, logits: -F.binary_cross_entropy_with_logits(logits, x, reduction="none").mean(-1),
            "averaged over pixels",
        ),
        (lambda x, logits: -F.binary_cross_entropy_with_logits(logits, x, reduction="sum"), "batch"),
        (lambda x, logits: ref.log_bernoulli_with_logits(x, logits), "reference implementation"),
    ],
)
def test_log_bernoulli_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ch01.test_log_bernoulli_with_logits(answer)


def test_negative_elbo_bound_accepts_a_correct_answer_even_with_wrong_helpers():
    # The module's helpers above are wrong on purpose: the test must grade nelbo on its own.
    ch01.test_negative_elbo_bound(make_nelbo("ok"))
    assert kl_normal is not ref.kl_normal  # and the substitution was undone


@pytest.mark.parametrize(
    "style,fragment",
    [
        ("sum_batch", "sum over the batch"),
        ("no_beta", "beta is ignored"),
        ("beta_on_rec", "beta multiplies the KL"),
        ("positive_elbo", "sign is flipped"),
        ("mean_z", "never changes between calls"),
        ("detached", "no gradient of rec reaches the encoder"),
        ("mc_kl", "analytic KL"),
        ("pixel_mean", "averaged over pixels"),
    ],
)
def test_negative_elbo_bound_rejects_mistakes(style, fragment):
    with pytest.raises(AssertionError, match=fragment):
        ch01.test_negative_elbo_bound(make_nelbo(style))


def test_negative_elbo_bound_refuses_the_reference():
    from vaelab.reference import vae_negative_elbo_bound

    def nelbo(model, x, beta=1.0):
        return vae_negative_elbo_bound(model, x, beta)

    with pytest.raises(AssertionError, match="reference implementation"):
        ch01.test_negative_elbo_bound(nelbo)


# ---------------------------------------------------------------- the gradient, not only its presence


def nelbo_kl_at_detached_mean(model, x, beta=1.0):
    """Right values; the KL's gradient never reaches the encoder's mean (m.detach() in the KL)."""
    m, v = model.encode(x)
    z = m + v.sqrt() * torch.randn_like(m)
    rec = -ref.log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = ref.kl_normal(m.detach(), v, *model.prior()).mean()
    return rec + beta * kl, kl, rec


def nelbo_one_sample_axis(model, x, beta=1.0):
    """Right: an S-sample estimator with S = 1, decoding z of shape (1, B, Z)."""
    m, v = model.encode(x)
    z = m + v.sqrt() * torch.randn(1, *m.shape)
    rec = -ref.log_bernoulli_with_logits(x.expand(1, *x.shape), model.decode(z)).mean()
    kl = ref.kl_normal(m, v, *model.prior()).mean()
    return rec + beta * kl, kl, rec


def test_negative_elbo_bound_compares_the_gradient_with_the_reference():
    with pytest.raises(AssertionError, match="gradient differs from the reference"):
        ch01.test_negative_elbo_bound(nelbo_kl_at_detached_mean)
    ch01.test_negative_elbo_bound(nelbo_one_sample_axis)
