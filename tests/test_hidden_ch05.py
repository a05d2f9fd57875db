"""The hidden tests of Chapter 5 accept every correct answer and reject wrong ones with a message
that names the mistake. The answers below are written as students write them, from scratch."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal, kl_divergence

from autograder.hidden import ch05
from vaelab import reference as ref
from vaelab.checks import check_fsvae_elbo, check_fsvae_sample_grid

# The globals that the answers below see, as in a notebook: chapter 1's functions are given by the
# library, and `kl_normal` is deliberately wrong here, to show that the hidden test replaces it with
# the reference and grades negative_elbo_bound on its own.
sample_gaussian = ref.sample_gaussian
log_normal = ref.log_normal


def kl_normal(qm, qv, pm, pv):
    return 2 * ref.kl_normal(qm, qv, pm, pv)


def _escape(fragment):
    return fragment.replace("(", r"\(").replace(")", r"\)")


# ---------------------------------------------------------------- negative_elbo_bound, correct styles


def nelbo_reference_style(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)
    rec = -log_normal(x, mean, model.x_var * torch.ones_like(mean)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec


def nelbo_written_out(model, x, y):
    # own sampling, the squared error and the constant written out, a per-example sum first
    m, v = model.encode(x, y)
    z = m + v.sqrt() * torch.randn_like(m)
    mean = model.decode(z, y)
    d = x.shape[1]
    rec = ((x - mean) ** 2).sum(-1) / (2 * 0.1) + 0.5 * d * math.log(2 * math.pi * 0.1)
    kl = 0.5 * (v + m**2 - 1 - torch.log(v)).sum(-1)
    return (rec + kl).mean(), kl.mean(), rec.mean()


def nelbo_torch_distributions(model, x, y):
    m, v = model.encode(x, y)
    q = Independent(Normal(m, v.sqrt()), 1)
    z = q.rsample()
    likelihood = Independent(Normal(model.decoder(z, y), math.sqrt(model.x_var)), 1)
    pm, pv = model.prior()
    p = Independent(Normal(pm.expand_as(m), pv.sqrt().expand_as(m)), 1)
    rec = -likelihood.log_prob(x).mean()
    kl = kl_divergence(q, p).mean()
    return rec + kl, kl, rec


def nelbo_mse_loss(model, x, y):
    # F.mse_loss summed, then the batch mean; a reconstruction of the mean for a picture as well
    m, v = model.encode(x, y)
    _ = model.decode(m, y).clip(0, 1)
    z = sample_gaussian(m, v)
    rec = F.mse_loss(model.decode(z, y), x, reduction="sum") / (2 * model.x_var) / x.shape[0]
    rec = rec + 0.5 * x.shape[1] * math.log(2 * math.pi * model.x_var)
    kl = ref.kl_normal(m, v, torch.zeros_like(m), torch.ones_like(v)).mean()
    return rec + kl, kl, rec


@pytest.mark.parametrize(
    "answer", [nelbo_reference_style, nelbo_written_out, nelbo_torch_distributions, nelbo_mse_loss]
)
def test_negative_elbo_bound_accepts_correct_answers_even_with_a_wrong_helper(answer):
    ch05.test_negative_elbo_bound(answer)
    assert kl_normal is not ref.kl_normal  # the substitution was undone


def test_visible_check_judges_the_function_on_its_own_and_names_the_failing_helper(capsys):
    check_fsvae_elbo(nelbo_reference_style)  # the reference helpers are installed here, as in the grader
    printed = capsys.readouterr().out
    assert "but your kl_normal fails its own check" in printed and "✓ negative_elbo_bound" in printed


def make_wrong(style):
    def nelbo(model, x, y):
        m, v = model.encode(x, y)
        z = sample_gaussian(m, v)
        mean = model.decode(z, y)
        var = torch.full_like(mean, 0.1)
        rec = -log_normal(x, mean, var)
        kl = ref.kl_normal(m, v, *model.prior())
        if style == "bernoulli":
            rec = F.binary_cross_entropy_with_logits(mean, x, reduction="none").sum(-1)
        elif style == "variance_1":
            rec = -log_normal(x, mean, torch.ones_like(mean))
        elif style == "std_01":
            rec = -log_normal(x, mean, 0.01 * torch.ones_like(mean))
        elif style == "no_constant":
            rec = ((x - mean) ** 2).sum(-1) / (2 * 0.1)
        elif style == "sum_batch":
            return (rec + kl).sum(), kl.sum(), rec.sum()
        elif style == "pixel_mean":
            rec = rec / x.shape[1]
        elif style == "sigmoid":
            rec = -log_normal(x, torch.sigmoid(mean), var)
        elif style == "mean_z":
            rec = -log_normal(x, model.decode(m, y), var)
        elif style == "sampled_kl":
            pm, pv = model.prior()
            kl = log_normal(z, m, v) - log_normal(z, pm, pv)
        elif style == "kl_sign":
            kl = -kl
        elif style == "z_detached":
            rec = -log_normal(x, model.decode(z.detach(), y), var)
        elif style == "wrong_label":
            rec = -log_normal(x, model.decode(z, y.roll(1, dims=0)), var)
        elif style == "mse":
            rec = F.mse_loss(mean, x, reduction="none").mean(-1)
        else:
            raise ValueError(style)
        return (rec + kl).mean(), kl.mean(), rec.mean()

    return nelbo


@pytest.mark.parametrize(
    "style,fragment",
    [
        ("bernoulli", "Bernoulli likelihood"),
        ("variance_1", "variance 1 instead of model.x_var = 0.1"),
        ("std_01", "not the standard deviation"),
        ("no_constant", "normalising constant is missing"),
        ("sum_batch", "sum over the batch"),
        ("pixel_mean", "averaged over pixels"),
        ("sigmoid", "went through a sigmoid"),
        ("mean_z", "the decoded z is the encoder mean"),
        ("sampled_kl", "use the analytic KL"),
        ("kl_sign", "sign is flipped"),
        ("z_detached", "no gradient of rec reaches the encoder"),
        ("wrong_label", "labels y that were passed in"),
        ("mse", "mean squared error"),
    ],
)
def test_negative_elbo_bound_rejects_mistakes(style, fragment):
    with pytest.raises(AssertionError, match=_escape(fragment)):
        ch05.test_negative_elbo_bound(make_wrong(style))


def test_negative_elbo_bound_refuses_the_reference():
    from vaelab.reference import fsvae_negative_elbo_bound as bound

    with pytest.raises(AssertionError, match="reference implementation"):
        ch05.test_negative_elbo_bound(lambda model, x, y: bound(model, x, y))


# ---------------------------------------------------------------- sample_grid


def grid_loop(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    rows = []
    for label in range(model.y_dim):
        y = F.one_hot(torch.full((n_styles,), label), model.y_dim).float()
        rows.append(model.decode(z, y))
    return torch.stack(rows).reshape(model.y_dim, n_styles, *model.image_shape).clip(0, 1)


def grid_batched(model, n_styles=20, generator=None):
    # every (label, style) pair in one decoder call, labels major; sample_z of the model; no_grad
    with torch.no_grad():
        z = model.sample_z(n_styles, generator=generator).repeat(model.y_dim, 1)
        y = torch.eye(model.y_dim).repeat_interleave(n_styles, dim=0)
        mean = model.decode(z, y).clamp(min=0.0, max=1.0)
    return mean.view(model.y_dim, n_styles, *model.image_shape)


def grid_double_loop(model, n_styles=20, generator=None):
    # one style at a time, labels as a batch; torch.clamp on the stacked columns
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    cols = []
    for j in range(n_styles):
        zj = z[j : j + 1].expand(model.y_dim, -1)
        cols.append(model.decode(zj, torch.eye(model.y_dim)))
    grid = torch.stack(cols, dim=1)  # (Y, n_styles, D)
    return torch.clamp(grid, 0, 1).reshape(model.y_dim, n_styles, *model.image_shape)


@pytest.mark.parametrize("answer", [grid_loop, grid_batched, grid_double_loop])
def test_sample_grid_accepts_correct_answers(answer):
    ch05.test_sample_grid(answer)
    check_fsvae_sample_grid(answer)  # the visible check too


def make_wrong_grid(style):
    def grid(model, n_styles=20, generator=None):
        z = torch.randn(n_styles, model.z_dim, generator=generator)
        rows = []
        for label in range(model.y_dim):
            y = F.one_hot(torch.full((n_styles,), label), model.y_dim).float()
            if style == "z_per_label":
                z = torch.randn(n_styles, model.z_dim, generator=generator)
            if style == "bad_one_hot":
                y = torch.zeros(n_styles, model.y_dim)
                y[:, label] = label
            if style == "wrong_row_label":
                y = F.one_hot(torch.full((n_styles,), (label + 1) % model.y_dim), model.y_dim).float()
            rows.append(model.decode(z, y))
        means = torch.stack(rows).reshape(model.y_dim, n_styles, *model.image_shape)
        if style == "not_clipped":
            return means
        if style == "sigmoid":
            return torch.sigmoid(means)
        if style == "swapped":
            return means.clip(0, 1).transpose(0, 1)
        if style == "flat":
            return means.clip(0, 1).reshape(model.y_dim, n_styles, -1)
        if style == "same_z":
            z0 = torch.randn(1, model.z_dim, generator=generator).expand(n_styles, -1)
            return (
                torch.stack(
                    [
                        model.decode(z0, F.one_hot(torch.full((n_styles,), k), model.y_dim).float())
                        for k in range(model.y_dim)
                    ]
                )
                .reshape(model.y_dim, n_styles, *model.image_shape)
                .clip(0, 1)
            )
        if style == "uniform_z":
            zu = torch.rand(n_styles, model.z_dim, generator=generator)
            return (
                torch.stack(
                    [
                        model.decode(zu, F.one_hot(torch.full((n_styles,), k), model.y_dim).float())
                        for k in range(model.y_dim)
                    ]
                )
                .reshape(model.y_dim, n_styles, *model.image_shape)
                .clip(0, 1)
            )
        if style == "ignores_generator":
            zg = torch.randn(n_styles, model.z_dim)
            return (
                torch.stack(
                    [
                        model.decode(zg, F.one_hot(torch.full((n_styles,), k), model.y_dim).float())
                        for k in range(model.y_dim)
                    ]
                )
                .reshape(model.y_dim, n_styles, *model.image_shape)
                .clip(0, 1)
            )
        return means.clip(0, 1)

    return grid


@pytest.mark.parametrize(
    "style,fragment",
    [
        ("z_per_label", "styles are not shared"),
        ("not_clipped", "clip the decoded means to [0, 1]"),
        ("sigmoid", "went through a sigmoid"),
        ("swapped", "first axes are swapped"),
        ("flat", "Reshape the decoded means"),
        ("bad_one_hot", "not one-hot"),
        ("wrong_row_label", "another label"),
        ("same_z", "several columns use the same z"),
        ("uniform_z", "do not look like draws from p(z) = N(0, I)"),
        ("ignores_generator", "draw the styles with the generator"),
    ],
)
def test_sample_grid_rejects_mistakes(style, fragment):
    with pytest.raises(AssertionError, match=_escape(fragment).replace("[", r"\[").replace("]", r"\]")):
        ch05.test_sample_grid(make_wrong_grid(style))


def test_sample_grid_refuses_the_reference():
    from vaelab.reference import sample_grid as reference_grid

    with pytest.raises(AssertionError, match="reference implementation"):
        ch05.test_sample_grid(lambda model, n_styles=20, generator=None: reference_grid(model, n_styles, generator))


def test_answers_that_call_the_decoder_network_directly_are_accepted():
    def nelbo(model, x, y):
        m, v = model.encode(x, y)
        z = sample_gaussian(m, v)
        mean = model.decoder(torch.cat([z, y], dim=1))  # the concatenation done by hand
        rec = -log_normal(x, mean, torch.full_like(mean, 0.1)).mean()
        kl = ref.kl_normal(m, v, *model.prior()).mean()
        return rec + kl, kl, rec

    def grid(model, n_styles=20, generator=None):
        z = torch.randn(n_styles, model.z_dim, generator=generator)
        rows = [model.decoder(z, y=F.one_hot(torch.full((n_styles,), k), 10).float()) for k in range(10)]
        return torch.stack(rows).reshape(10, n_styles, *model.image_shape).clip(0, 1)

    ch05.test_negative_elbo_bound(nelbo)
    ch05.test_sample_grid(grid)


def nelbo_log_of_density(model, x, y):
    """Right on ordinary inputs; the log of the density underflows where the means are far from x."""
    m, v = model.encode(x, y)
    z = m + v.sqrt() * torch.randn_like(m)
    mean = model.decode(z, y)
    density = torch.exp(-((x - mean) ** 2) / (2 * model.x_var)) / math.sqrt(2 * math.pi * model.x_var)
    rec = -torch.log(density).sum(-1).mean()
    kl = ref.kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec


def test_negative_elbo_bound_tests_decoder_means_far_from_the_pixels():
    with pytest.raises(AssertionError, match="numerically stable"):
        ch05.test_negative_elbo_bound(nelbo_log_of_density)
