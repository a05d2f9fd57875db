"""The hidden tests of Chapter 4 accept every correct answer and reject wrong ones with a message
that names the mistake. The answers below are written as students write them, from scratch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, kl_divergence

from autograder.hidden import ch04
from vaelab import reference as ref
from vaelab.checks import check_classification_loss, check_kl_cat, check_ssvae_elbo


def _escape(fragment):
    return fragment.replace("(", r"\(").replace(")", r"\)")


# ---------------------------------------------------------------- kl_cat


def kl_cat_direct(q, log_q, log_p):
    return torch.sum(q * (log_q - log_p), dim=-1)


def kl_cat_exp_of_log(q, log_q, log_p):
    # uses log_q only: q recovered as exp(log_q)
    return (log_q.exp() * (log_q - log_p)).sum(-1)


def kl_cat_entropy_form(q, log_q, log_p):
    # cross-entropy minus entropy
    return -(q * log_p).sum(-1) + (q * log_q).sum(-1)


def kl_cat_torch_distributions(q, log_q, log_p):
    return kl_divergence(Categorical(probs=q), Categorical(logits=log_p.expand_as(q)))


def kl_cat_einsum(q, log_q, log_p):
    return torch.einsum("...y,...y->...", q, log_q - log_p)


@pytest.mark.parametrize(
    "answer", [kl_cat_direct, kl_cat_exp_of_log, kl_cat_entropy_form, kl_cat_torch_distributions, kl_cat_einsum]
)
def test_kl_cat_accepts_correct_answers(answer):
    ch04.test_kl_cat(answer)
    check_kl_cat(answer)


def _kl_cat_alias(q, log_q, log_p):
    from vaelab.reference import kl_cat as k

    return k(q, log_q, log_p)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda q, lq, lp: (lp.exp() * (lp - lq)).sum(-1), "arguments are swapped"),
        (lambda q, lq, lp: (lq - lp).sum(-1), "q weighting is missing"),
        (lambda q, lq, lp: (q * (lq - lp)).mean(-1), "averaged over the classes"),
        (lambda q, lq, lp: (q * (lp - lq)).sum(-1), "sign is flipped"),
        (lambda q, lq, lp: (q * lq).sum(-1), "log p term is missing"),
        (lambda q, lq, lp: (q * (lq - lp)).sum(), "summed over the batch"),
        (lambda q, lq, lp: (q * (torch.log(q + 1e-6) - lp)).sum(-1), "epsilon"),
        (lambda q, lq, lp: (q * (lq - lp)).detach().sum(-1), "no gradient"),
        (lambda q, lq, lp: torch.from_numpy(np.asarray((q * (lq - lp)).sum(-1).detach().numpy())), "no gradient"),
        (lambda q, lq, lp: ref.kl_cat(q, lq, lp), "reference implementation"),
        (_kl_cat_alias, "reference implementation"),
    ],
)
def test_kl_cat_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=_escape(fragment)):
        ch04.test_kl_cat(answer)


# ---------------------------------------------------------------- negative_elbo_bound

# The globals that the answers below see, as in a notebook: the library's helpers are given, and
# `kl_cat` is the student's own, here deliberately wrong, to show that the hidden test replaces it
# with the reference and grades negative_elbo_bound on its own.
sample_gaussian = ref.sample_gaussian
kl_normal = ref.kl_normal
log_bernoulli_with_logits = ref.log_bernoulli_with_logits
duplicate = ref.duplicate


def kl_cat(q, log_q, log_p):
    return 2 * ref.kl_cat(q, log_q, log_p)


def _log_prior_y(log_q):
    return torch.full_like(log_q, -math.log(log_q.shape[-1]))


def nelbo_duplicate(model, x):
    y_dim, b = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q, log_q = F.softmax(logits, -1), F.log_softmax(logits, -1)
    y = torch.eye(y_dim, dtype=x.dtype).repeat_interleave(b, dim=0)
    xs = duplicate(x, y_dim)
    m, v = model.encode(xs, y)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(xs, model.decode(z, y)).reshape(y_dim, b).t()
    kz = kl_normal(m, v, *model.prior()).reshape(y_dim, b).t()
    ky = kl_cat(q, log_q, _log_prior_y(log_q)).mean()
    rec, kz = (q * rec).sum(1).mean(), (q * kz).sum(1).mean()
    return rec + kz + ky, kz, ky, rec


def nelbo_loop(model, x):
    # a Python loop over the labels
    logits = model.classify(x)
    q, log_q = logits.softmax(-1), logits.log_softmax(-1)
    rec, kz = 0.0, 0.0
    for k in range(model.y_dim):
        y = F.one_hot(torch.full((x.shape[0],), k), model.y_dim).to(x.dtype)
        m, v = model.encode(x, y)
        z = m + v.sqrt() * torch.randn_like(m)
        rec = rec + q[:, k] * -log_bernoulli_with_logits(x, model.decode(z, y))
        kz = kz + q[:, k] * kl_normal(m, v, *model.prior())
    ky = (q * (log_q + math.log(model.y_dim))).sum(-1)
    return (rec + kz + ky).mean(), kz.mean(), ky.mean(), rec.mean()


def nelbo_example_major(model, x):
    # each image repeated Y times in a row, labels cycling 0..Y-1: the other valid layout
    y_dim, b = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q = logits.softmax(-1)
    xs = x.repeat_interleave(y_dim, dim=0)
    y = torch.eye(y_dim, dtype=x.dtype).repeat(b, 1)
    m, v = model.encode(xs, y)
    z = sample_gaussian(m, v)
    rec = F.binary_cross_entropy_with_logits(model.decode(z, y), xs, reduction="none").sum(-1).view(b, y_dim)
    kz = kl_normal(m, v, *model.prior()).view(b, y_dim)
    ky = kl_divergence(Categorical(logits=logits), Categorical(probs=torch.full_like(q, 1.0 / y_dim))).mean()
    return (q * (rec + kz)).sum(-1).mean() + ky, (q * kz).sum(-1).mean(), ky, (q * rec).sum(-1).mean()


def nelbo_helper_kl_cat(model, x):
    # the notebook's kl_cat (wrong here on purpose): replaced by the reference while grading
    y_dim, b = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q, log_q = logits.softmax(-1), logits.log_softmax(-1)
    y = torch.eye(y_dim, dtype=x.dtype).repeat_interleave(b, 0)
    xs = duplicate(x, y_dim)
    m, v = model.encode(xs, y)
    z = sample_gaussian(m, v)
    per_pair = -log_bernoulli_with_logits(xs, model.decode(z, y)) + kl_normal(m, v, *model.prior())
    rec = (q.t().reshape(-1) * -log_bernoulli_with_logits(xs, model.decode(z, y))).sum() / b
    kz = (q.t().reshape(-1) * kl_normal(m, v, *model.prior())).sum() / b
    ky = kl_cat(q, log_q, torch.log(torch.ones_like(q) / y_dim)).mean()
    del per_pair
    return rec + kz + ky, kz, ky, rec


@pytest.mark.parametrize("answer", [nelbo_duplicate, nelbo_loop, nelbo_example_major, nelbo_helper_kl_cat])
def test_negative_elbo_bound_accepts_correct_answers_even_with_a_wrong_helper(answer):
    ch04.test_negative_elbo_bound(answer)
    assert kl_cat is not ref.kl_cat  # the substitution was undone


def test_visible_check_judges_the_function_on_its_own_and_names_the_failing_helper(capsys):
    check_ssvae_elbo(nelbo_helper_kl_cat)  # the reference helpers are installed here, as in the grader
    printed = capsys.readouterr().out
    assert "but your kl_cat fails its own check" in printed and "✓ negative_elbo_bound" in printed


def make_wrong(style):
    def nelbo(model, x):
        y_dim, b = model.y_dim, x.shape[0]
        logits = model.classify(x)
        q, log_q = logits.softmax(-1), logits.log_softmax(-1)
        eye = torch.eye(y_dim, dtype=x.dtype)
        y = eye.repeat(b, 1) if style == "labels_example_major" else eye.repeat_interleave(b, 0)
        xs = duplicate(x, y_dim)
        m, v = model.encode(xs, y)
        z = m if style == "mean_z" else sample_gaussian(m, v)
        rec = -log_bernoulli_with_logits(xs, model.decode(z, y))
        kz = kl_normal(m, v, *model.prior())
        if style == "reshape_bd":
            rec, kz = rec.reshape(b, y_dim), kz.reshape(b, y_dim)
        else:
            rec, kz = rec.reshape(y_dim, b).t(), kz.reshape(y_dim, b).t()
        ky = ref.kl_cat(q, log_q, _log_prior_y(log_q))
        if style == "unweighted_mean":
            r, k = rec.mean(-1).mean(), kz.mean(-1).mean()
        elif style == "argmax":
            top = q.argmax(-1, keepdim=True)
            r, k = rec.gather(-1, top).mean(), kz.gather(-1, top).mean()
        elif style == "q_detached":
            r, k = (q.detach() * rec).sum(-1).mean(), (q.detach() * kz).sum(-1).mean()
        else:
            r, k = (q * rec).sum(-1).mean(), (q * kz).sum(-1).mean()
        if style == "sum_batch":
            return (q * (rec + kz)).sum() + ky.sum(), (q * kz).sum(), ky.sum(), (q * rec).sum()
        if style == "no_kl_y":
            return r + k, k, torch.zeros((), requires_grad=True), r
        if style == "kl_y_not_in_nelbo":
            return r + k, k, ky.mean(), r
        if style == "kl_y_sign":
            return r + k - ky.mean(), k, -ky.mean(), r
        if style == "per_example":
            return (q * (rec + kz)).sum(-1) + ky, (q * kz).sum(-1), ky, (q * rec).sum(-1)
        if style == "three_outputs":
            return r + k + ky.mean(), k + ky.mean(), r
        return r + k + ky.mean(), k, ky.mean(), r

    return nelbo


@pytest.mark.parametrize(
    "style,fragment",
    [
        ("unweighted_mean", "averaged with equal weights 1/Y"),
        ("argmax", "only the most probable label"),
        ("labels_example_major", "not paired with the right copies of x"),
        ("reshape_bd", "not paired with the right copies of x"),
        ("sum_batch", "sum over the batch"),
        ("no_kl_y", "kl_y is missing"),
        ("kl_y_not_in_nelbo", "kl_y is missing from nelbo"),
        ("kl_y_sign", "sign of kl_y is flipped"),
        ("mean_z", "the decoded z is the encoder mean"),
        ("q_detached", "no gradient of rec reaches the classifier"),
        ("per_example", "four scalars"),
        ("three_outputs", "(nelbo, kl_z, kl_y, rec)"),
    ],
)
def test_negative_elbo_bound_rejects_mistakes(style, fragment):
    with pytest.raises(AssertionError, match=_escape(fragment)):
        ch04.test_negative_elbo_bound(make_wrong(style))


def test_negative_elbo_bound_refuses_the_reference():
    from vaelab.reference import ssvae_negative_elbo_bound

    def nelbo(model, x):
        return ssvae_negative_elbo_bound(model, x)

    with pytest.raises(AssertionError, match="reference implementation"):
        ch04.test_negative_elbo_bound(nelbo)


# ---------------------------------------------------------------- classification_loss


def ce_integer(model, x, y):
    return F.cross_entropy(model.classify(x), y.argmax(dim=1))


def ce_probability_targets(model, x, y):
    return F.cross_entropy(model.classify(x), y)  # one-hot targets as class probabilities


def ce_one_hot(model, x, y):
    return -(y * F.log_softmax(model.classify(x), dim=-1)).sum(-1).mean()


def ce_nll(model, x, y):
    return F.nll_loss(torch.log_softmax(model.classify(x), 1), y.argmax(1))


def ce_logsumexp(model, x, y):
    logits = model.classify(x)
    return (torch.logsumexp(logits, -1) - (logits * y).sum(-1)).mean()


@pytest.mark.parametrize("answer", [ce_integer, ce_probability_targets, ce_one_hot, ce_nll, ce_logsumexp])
def test_classification_loss_accepts_correct_answers(answer):
    ch04.test_classification_loss(answer)
    check_classification_loss(answer)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda model, x, y: -ce_integer(model, x, y), "sign is flipped"),
        (lambda model, x, y: F.cross_entropy(model.classify(x), y.argmax(1), reduction="sum"), "sum over the batch"),
        (lambda model, x, y: F.cross_entropy(model.classify(x).softmax(-1), y.argmax(1)), "softmax is applied twice"),
        (lambda model, x, y: F.nll_loss(model.classify(x), y.argmax(1)), "logits are used as log-probabilities"),
        (lambda model, x, y: -(y * torch.log(model.classify(x).softmax(-1))).sum(-1).mean(), "inf or nan"),
        (lambda model, x, y: F.cross_entropy(model.classify(x), y.argmax(1)).detach(), "no gradient"),
        (lambda model, x, y: ref_ce_alias(model, x, y), "reference implementation"),
    ],
)
def test_classification_loss_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=_escape(fragment)):
        ch04.test_classification_loss(answer)


def ref_ce_alias(model, x, y):
    from vaelab.reference import ssvae_classification_loss

    return ssvae_classification_loss(model, x, y)


def nelbo_kl_z_detached_weights(model, x):
    """Right values; q(y|x) is detached in the kl_z term only, so the classifier trains wrong."""
    y_dim, b = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q, log_q = logits.softmax(-1), logits.log_softmax(-1)
    xs, ys = ref.duplicate(x, y_dim), torch.eye(y_dim).repeat_interleave(b, 0)
    m, v = model.encode(xs, ys)
    z = m + v.sqrt() * torch.randn_like(m)
    rec = (q * -ref.log_bernoulli_with_logits(xs, model.decode(z, ys)).reshape(y_dim, b).t()).sum(1).mean()
    kl_z = (q.detach() * ref.kl_normal(m, v, *model.prior()).reshape(y_dim, b).t()).sum(1).mean()
    kl_y = ref.kl_cat(q, log_q, torch.full_like(log_q, -math.log(y_dim))).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec


def test_negative_elbo_bound_compares_the_gradient_with_the_reference():
    with pytest.raises(AssertionError, match="gradient of nelbo differs"):
        ch04.test_negative_elbo_bound(nelbo_kl_z_detached_weights)
