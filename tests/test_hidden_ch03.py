"""The hidden tests of Chapter 3 accept every correct answer and reject wrong ones with a message
that names the mistake. The answers below are written as students write them, from scratch."""

import math

import pytest
import torch
from torch.distributions import Normal

from autograder.hidden import ch03
from vaelab import reference as ref


def _match(fragment):
    return fragment.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*").replace("+", r"\+")


# ---------------------------------------------------------------- duplicate


def dup_repeat(x, rep):
    return x.repeat(rep, 1)


def dup_cat(x, rep):
    return torch.cat([x] * rep, dim=0)


def dup_expand(x, rep):
    return x.unsqueeze(0).expand(rep, *x.shape).reshape(rep * x.shape[0], *x.shape[1:])


def dup_tile(x, rep):
    return torch.tile(x, (rep, 1))


def dup_stack_flatten(x, rep):
    return torch.stack([x for _ in range(rep)]).flatten(0, 1)


def dup_loop(x, rep):
    out = x
    for _ in range(rep - 1):
        out = torch.cat((out, x))
    return out


@pytest.mark.parametrize("answer", [dup_repeat, dup_cat, dup_expand, dup_tile, dup_stack_flatten, dup_loop])
def test_duplicate_accepts_correct_answers(answer):
    ch03.test_duplicate(answer)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda x, rep: x.repeat_interleave(rep, dim=0), "example-major"),
        (lambda x, rep: torch.stack([x] * rep, dim=1).reshape(-1, x.shape[1]), "example-major"),
        (lambda x, rep: x.repeat(1, rep), "along the last dimension"),
        (lambda x, rep: x.expand(rep, *x.shape), "shape (rep, B, D)"),
        (lambda x, rep: torch.stack([x] * rep, dim=1), "shape (B, rep, D)"),
        (lambda x, rep: x.detach().repeat(rep, 1), "autograd"),
        (lambda x, rep: x.clone(), "returned shape"),
        (lambda x, rep: ref.duplicate(x, rep), "reference implementation"),
    ],
)
def test_duplicate_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=_match(fragment)):
        ch03.test_duplicate(answer)


# ---------------------------------------------------------------- log_mean_exp


def lme_logsumexp(x, dim):
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def lme_max_shift(x, dim):
    top = x.max(dim=dim, keepdim=True).values
    return (top + torch.log(torch.mean(torch.exp(x - top), dim=dim, keepdim=True))).squeeze(dim)


def lme_max_shift_detached(x, dim):
    top = torch.amax(x, dim=dim).detach()
    return top + torch.log(torch.exp(x - top.unsqueeze(dim)).sum(dim) / x.size(dim))


def lme_tensor_log(x, dim):
    return x.logsumexp(dim) - torch.log(torch.tensor(float(x.shape[dim]), dtype=x.dtype))


def lme_inside(x, dim):
    return torch.logsumexp(x - math.log(x.size(dim)), dim=dim)


@pytest.mark.parametrize("answer", [lme_logsumexp, lme_max_shift, lme_max_shift_detached, lme_tensor_log, lme_inside])
def test_log_mean_exp_accepts_correct_answers(answer):
    ch03.test_log_mean_exp(answer)


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (lambda x, dim: torch.log(torch.mean(torch.exp(x), dim)), "computed directly"),
        (lambda x, dim: torch.logsumexp(x, dim), "log(sum(exp(x)))"),
        (lambda x, dim: torch.logsumexp(x, dim) + math.log(x.shape[dim]), "added instead of subtracted"),
        (lambda x, dim: torch.log(torch.mean(torch.exp(x - x.max(dim, keepdim=True).values), dim)), "not added back"),
        (lambda x, dim: torch.logsumexp(x, dim, keepdim=True) - math.log(x.shape[dim]), "keepdim=True"),
        (lambda x, dim: x.mean(dim), "the mean of x"),
        (lambda x, dim: torch.logsumexp(x, dim) - math.log(x.shape[0]), "the log of the count is wrong"),
        (lambda x, dim: torch.logsumexp(x, dim) - math.log(x.numel()), "the log of the count is wrong"),
        (lambda x, dim: torch.logsumexp(x, 0) - math.log(x.shape[0]), "wrong dimension"),
        (lambda x, dim: torch.logsumexp(x, dim) - math.log10(x.shape[dim]), "wrong base"),
        (lambda x, dim: torch.log(torch.mean(torch.exp(x), dim) + 1e-10), "epsilon"),
        (lambda x, dim: torch.log(torch.clamp(torch.exp(x).mean(dim), min=1e-8)), "epsilon"),
        (lambda x, dim: ref.log_mean_exp(x, dim), "reference implementation"),
    ],
)
def test_log_mean_exp_rejects_mistakes(answer, fragment):
    with pytest.raises(AssertionError, match=_match(fragment)):
        ch03.test_log_mean_exp(answer)


# ---------------------------------------------------------------- negative_iwae_bound


def make_iwae(style):
    """A negative_iwae_bound as a student writes it, using the notebook's helpers (the globals
    below); the hidden test replaces them by the references."""

    def niwae(model, x, iw):
        B = x.shape[0]
        m, v = model.encode(x)
        if style == "interleave_ok" or style == "interleave_SB":
            ms, vs, xs = (t.repeat_interleave(iw, dim=0) for t in (m, v, x))
        else:
            ms, vs, xs = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
        z = sample_gaussian(ms, vs)
        if style == "mean_z":
            z = ms
        if style == "detached":
            z = z.detach()
        log_px_z = log_bernoulli_with_logits(xs, model.decode(z))
        log_p = (
            log_normal(z, torch.zeros_like(z), torch.ones_like(z)) if style == "standard_prior" else model.log_prior(z)
        )
        log_q = log_normal(z, ms, vs)
        log_w = log_px_z + log_p - log_q
        if style == "no_q":
            log_w = log_px_z + log_p
        if style == "no_p":
            log_w = log_px_z - log_q
        kl, rec = (log_q - log_p).mean(), -log_px_z.mean()
        if style == "first_sample_terms":  # kl and rec from the first copy only: same expectation
            kl, rec = (log_q - log_p)[:B].mean(), -log_px_z[:B].mean()
        if style == "interleave_ok":
            return -log_mean_exp(log_w.reshape(B, iw), 1).mean(), kl, rec
        if style in ("mixed", "interleave_SB"):
            per = log_w.reshape(B, iw) if style == "mixed" else log_w.reshape(iw, B)
            return -log_mean_exp(per, 1 if style == "mixed" else 0).mean(), kl, rec
        per = log_w.reshape(iw, B)
        if style == "elbo":
            return -per.mean(), kl, rec
        if style == "no_log_n":
            return -torch.logsumexp(per, 0).mean(), kl, rec
        if style == "batch_dim":
            return -log_mean_exp(per, 1).mean(), kl, rec
        if style == "sum_batch":
            return -log_mean_exp(per, 0).sum(), kl, rec
        if style == "sign":
            return log_mean_exp(per, 0).mean(), kl, rec
        if style == "rec_only":
            return -log_mean_exp(log_px_z.reshape(iw, B), 0).mean() + kl, kl, rec
        if style == "sum_terms":
            return -log_mean_exp(per, 0).mean(), (log_q - log_p).sum() / iw, -log_px_z.sum() / iw
        if style == "rec_sign":
            return -log_mean_exp(per, 0).mean(), kl, -rec
        if style == "items":
            return -log_mean_exp(per, 0).mean().item(), kl.item(), rec.item()
        if style == "per_example":
            return -log_mean_exp(per, 0), kl, rec
        return -log_mean_exp(per, 0).mean(), kl, rec

    return niwae


def iwae_three_dims(model, x, iw):
    # samples laid out as (iw, B, Z), without duplicate
    m, v = model.encode(x)
    eps = torch.randn(iw, *m.shape)
    z = m + v.sqrt() * eps
    log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(
        model.decode(z), x.expand(iw, *x.shape), reduction="none"
    ).sum(-1)
    log_q = Normal(m, v.sqrt()).log_prob(z).sum(-1)
    log_p = model.log_prior(z)
    log_w = log_px_z + log_p - log_q
    niwae = -(torch.logsumexp(log_w, dim=0) - math.log(iw)).mean()
    return niwae, (log_q - log_p).mean(), -log_px_z.mean()


def iwae_rsample(model, x, iw):
    m, v = model.encode(x)
    q = Normal(m, v.sqrt())
    z = q.rsample((iw,))  # (iw, B, Z)
    log_w = log_bernoulli_with_logits(x, model.decode(z)) + model.log_prior(z) - q.log_prob(z).sum(-1)
    kl = (q.log_prob(z).sum(-1) - model.log_prior(z)).mean()
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    return -log_mean_exp(log_w, dim=0).mean(), kl, rec


# the globals the answers see (as in a notebook); deliberately wrong, to show that they are replaced
def duplicate(x, rep):
    return x.repeat_interleave(rep, dim=0)


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim)


def sample_gaussian(m, v):
    return m + v * torch.randn_like(m)


def log_normal(x, m, v):
    return 2 * ref.log_normal(x, m, v)


def log_bernoulli_with_logits(x, logits):
    return 0.5 * ref.log_bernoulli_with_logits(x, logits)


@pytest.mark.parametrize("answer", [make_iwae("ok"), make_iwae("interleave_ok"), make_iwae("first_sample_terms")])
def test_negative_iwae_bound_accepts_a_correct_answer_even_with_wrong_helpers(answer):
    ch03.test_negative_iwae_bound(answer)
    assert duplicate is not ref.duplicate and log_mean_exp is not ref.log_mean_exp  # restored


def test_negative_iwae_bound_accepts_other_layouts():
    ch03.test_negative_iwae_bound(iwae_three_dims)
    ch03.test_negative_iwae_bound(iwae_rsample)


@pytest.mark.parametrize(
    "style,fragment",
    [
        ("elbo", "average of the log-weights"),
        ("no_log_n", "-log(iw)"),
        ("mixed", "samples of different examples are mixed"),
        ("interleave_SB", "samples of different examples are mixed"),
        ("batch_dim", "over the examples of the batch"),
        ("sum_batch", "summed over the batch"),
        ("sign", "sign is flipped"),
        ("standard_prior", "N(0, I)"),
        ("no_q", "lack -log q(z|x)"),
        ("no_p", "lack log p(z)"),
        ("rec_only", "alone"),
        ("sum_terms", "summed over the batch"),
        ("rec_sign", "sign is flipped"),
        ("mean_z", "never changes between calls"),
        ("detached", "rec reaches the encoder"),
        ("items", "three scalar tensors"),
        ("per_example", "three scalar tensors"),
    ],
)
def test_negative_iwae_bound_rejects_mistakes(style, fragment):
    with pytest.raises(AssertionError, match=_match(fragment)):
        ch03.test_negative_iwae_bound(make_iwae(style))


def test_negative_iwae_bound_refuses_the_reference():
    from vaelab.reference import negative_iwae_bound

    def niwae(model, x, iw):
        return negative_iwae_bound(model, x, iw)

    with pytest.raises(AssertionError, match="reference implementation"):
        ch03.test_negative_iwae_bound(niwae)


def test_visible_checks_pass_on_correct_answers_and_name_a_mistake(capsys):
    from vaelab import checks

    checks.check_duplicate(dup_repeat)
    checks.check_log_mean_exp(lme_max_shift)
    checks.check_negative_iwae_bound(iwae_three_dims)
    assert capsys.readouterr().out.count("✓") == 3
    with pytest.raises(AssertionError, match="example-major"):
        checks.check_duplicate(lambda x, rep: x.repeat_interleave(rep, 0))
    with pytest.raises(AssertionError, match="computed directly"):
        checks.check_log_mean_exp(lambda x, dim: torch.log(torch.exp(x).mean(dim)))
