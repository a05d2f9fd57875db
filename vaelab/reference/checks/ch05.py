"""Chapter 5 (FSVAE): the visible checks of its two exercises, with the known mistakes they name.

``negative_elbo_bound(model, x, y)`` is stochastic, so :func:`check_fsvae_negative_elbo_bound` never
matches a random stream: a forward pre-hook on ``model.decoder`` records the latent sample ``z``
(and the labels) that the answer decodes; the sample must be a draw from ``q(z|x,y)``, and ``rec``
must be the Gaussian negative log-likelihood (variance ``model.x_var = 0.1``, normalising constant
included) *at that sample*. ``kl`` is analytic, hence deterministic, and is compared exactly.

``sample_grid(model, n_styles, generator)`` is checked through the decoder too: every image of the
grid must be the clipped decoded mean of one recorded ``(z, y)`` pair with the row's label, the
same ``z`` in every row of a column (shared styles), different ``z`` from column to column, and the
styles must look like draws from ``p(z) = N(0, I)``. ``autograder.hidden.ch05`` runs the same
checks on more models.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelab import reference as ref
from vaelab.checks.ch05 import (  # noqa: F401
    _check_shape,
    _grid_call,
    _styles_of,
    check_sample_grid_on,
    small_fsvae,  # noqa: F401
)
from vaelab.checks.probes import DecoderCalls, batched_calls, widen_decoder_outputs  # noqa: F401

from . import CheckFailed, _call, _g, _require_gradient, _scalar
from .ch02 import _check_draws, _near

__all__ = [
    "check_fsvae_negative_elbo_bound",
    "check_sample_grid_on",
    "DecoderCalls",
    "small_fsvae",
    "widen_decoder_outputs",
]

NAME_ELBO = "negative_elbo_bound"
NAME_GRID = "sample_grid"


def _one_hot(labels: torch.Tensor, y_dim: int, dtype) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels.long(), y_dim).to(dtype)


def _data(model, b: int = 64, seed: int = 2, dtype=torch.float32):
    x = torch.rand(b, model.x_dim, generator=_g(seed)).to(dtype)
    labels = torch.randint(model.y_dim, (b,), generator=_g(seed + 1))
    return x, _one_hot(labels, model.y_dim, dtype)


# --------------------------------------------------------------------------------------------------
# negative_elbo_bound
# --------------------------------------------------------------------------------------------------


def _three_scalars(name, out):
    if not (isinstance(out, (tuple, list)) and len(out) == 3):
        raise CheckFailed(f"{name} must return a tuple (nelbo, kl, rec); it returned {type(out).__name__}.")
    if not all(_scalar(t) for t in out):
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in out]
        raise CheckFailed(
            f"{name} must return three scalars (means over the batch); got shapes {shapes}. Average over the batch "
            "with .mean()."
        )
    return out


def _gaussian_rec(x, mean, variance):
    """-mean over the batch of log N(x; mean, variance I), summed over pixels."""
    return -ref.log_normal(x, mean, torch.full_like(mean, variance)).mean()


def _rec_candidates(model, x, z, y):
    """(value, message) of the known mistakes of rec at the decoded sample ``z`` with labels ``y``."""
    with torch.no_grad():
        mean = model.decode(z, y)
        var = model.x_var
        d, b = x.shape[-1], x.shape[0]
        right = _gaussian_rec(x, mean, var)
        sq = (x - mean).pow(2).sum(-1).mean()
        const = 0.5 * d * math.log(2 * math.pi * var)
        return right, [
            (
                -ref.log_bernoulli_with_logits(x, mean).mean(),
                "This is a Bernoulli likelihood (binary cross-entropy with the decoder output as logits). The FSVAE's "
                "pixels are real-valued: p(x|y,z) = N(x; mean, 0.1 I), so rec = -log_normal(x, mean, 0.1).",
            ),
            (
                torch.nn.functional.binary_cross_entropy(torch.sigmoid(mean).clamp(1e-6, 1 - 1e-6), x, reduction="none")
                .sum(-1)
                .mean(),
                "This is a Bernoulli likelihood (binary cross-entropy). The FSVAE's pixels are real-valued: "
                "p(x|y,z) = N(x; mean, 0.1 I), so rec = -log_normal(x, mean, 0.1).",
            ),
            (
                _gaussian_rec(x, mean, 1.0),
                "The likelihood has variance 1 instead of model.x_var = 0.1: use log_normal(x, mean, 0.1 * "
                "torch.ones_like(mean)).",
            ),
            (
                _gaussian_rec(x, mean, var**2),
                "The variance is 0.01: 0.1 is the variance, not the standard deviation (the standard deviation is "
                "sqrt(0.1)).",
            ),
            (
                _gaussian_rec(x, mean, var**0.5),
                "The variance is sqrt(0.1): 0.1 is already the variance; pass it to log_normal as it is.",
            ),
            (
                sq / (2 * var),
                "The normalising constant is missing: -log N(x; mean, 0.1 I) = sum (x - mean)^2 / (2 * 0.1) + "
                "(D/2) log(2π * 0.1). It does not change the gradients, but the bound (nats per image) needs it.",
            ),
            (
                sq,
                "This is the summed squared error: the Gaussian negative log-likelihood weighs it by 1/(2 * 0.1) "
                "and adds "
                "the normalising constant (D/2) log(2π * 0.1).",
            ),
            (
                sq / d,
                "This is the mean squared error: use the Gaussian negative log-likelihood, summed over pixels: "
                "-log_normal(x, mean, 0.1).",
            ),
            (right * b, "It is the sum over the batch: take the mean over examples."),
            (
                right / d,
                "It is averaged over pixels: sum the log-density over pixels (the last dimension), then average "
                "over the batch.",
            ),
            (-right, "The sign is flipped: rec is the negative log-likelihood, -log p(x|y,z)."),
            (
                _gaussian_rec(x, torch.sigmoid(mean), var),
                "The decoder's output went through a sigmoid: the FSVAE's decoder returns the Gaussian mean itself "
                "(not logits); use it as it is.",
            ),
            (
                _gaussian_rec(x, mean.clamp(0, 1), var),
                "The mean is clipped to [0, 1] inside the loss: clip only when you show images; the likelihood "
                "uses the "
                "decoder's mean as it is, otherwise no gradient flows where the mean leaves [0, 1].",
            ),
            (
                right - 0.5 * d * math.log(2 * math.pi),
                "The log(2π) part of the normalising constant is missing: -log N(x; mean, 0.1 I) = sum (x - mean)^2 / "
                "(2 * 0.1) + (D/2) log(2π * 0.1), with log(2π) as well as log(0.1).",
            ),
            (
                _gaussian_rec(x, mean, math.exp(var)),
                "model.x_var is treated as a log-variance (exp(0.1)): the variance is 0.1 itself; pass it as it is.",
            ),
            (
                right - 2 * const,
                "The normalising constant has the wrong sign: -log N(x; mean, 0.1 I) = sum (x - mean)^2 / (2 * 0.1) + "
                "(D/2) log(2π * 0.1).",
            ),
        ]


def _kl_candidates(kl_ref, kl_sampled, b, reversed_kl=None):
    return [
        *(
            []
            if reversed_kl is None
            else [
                (
                    reversed_kl,
                    "This is KL(p || q): the direction is reversed. The "
                    "argument order of kl_normal is (qm, qv, pm, pv): the posterior first.",
                )
            ]
        ),
        (kl_ref * b, "It is the sum over the batch: take the mean over examples."),
        (-kl_ref, "The sign is flipped: KL(q || p) is non-negative; use kl_normal(m, v, *model.prior())."),
        (
            kl_sampled,
            "This is a single-sample estimate log q(z|x,y) - log p(z). Both distributions are Gaussian, so use the "
            "analytic KL, kl_normal(m, v, *model.prior()): exact and without noise.",
        ),
    ]


def _matching(candidates, value):
    for candidate, message in candidates:
        if _near(value, candidate, rtol=1e-4, atol=1e-3):
            return message
    return None


def check_fsvae_negative_elbo_bound(negative_elbo_bound: Callable, model=None, x=None, y=None, n_draws: int = 8) -> int:
    """Check ``negative_elbo_bound(model, x, y) -> (nelbo, kl, rec)`` of the FSVAE.

    * three scalars with ``nelbo = rec + kl``;
    * ``kl`` is the analytic KL from ``q(z|x,y)`` to ``p(z)``, averaged over the batch;
    * the decoder sees one reparameterised draw ``z ~ q(z|x,y)`` per image, with the given labels;
    * at that ``z``: ``rec = -mean log N(x; decode(z, y), 0.1 I)``, normalising constant included;
    * a fresh sample at every call; gradients reach the encoder and the decoder.
    """
    name = NAME_ELBO
    if model is None:
        model = small_fsvae()
    if x is None or y is None:
        x, y = _data(model, dtype=next(model.parameters()).dtype)
    with torch.no_grad():
        qm, qv = model.encode(x, y)
        pm, pv = model.prior()
        kl_ref = ref.kl_normal(qm, qv, pm, pv).mean()
    with DecoderCalls(model) as calls:
        nelbo, kl, rec = _three_scalars(name, _call(negative_elbo_bound, name, (model, x, y)))
    if not _near(nelbo.detach(), (rec + kl).detach(), rtol=1e-5, atol=1e-4):
        if _near(nelbo.detach(), (rec - kl).detach(), rtol=1e-5, atol=1e-4):
            raise CheckFailed(f"{name}: nelbo = rec - kl; the negative ELBO adds the KL term: nelbo = rec + kl.")
        raise CheckFailed(f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + kl ({(rec + kl).item():.5g}).")
    if not calls.z:
        raise CheckFailed(
            f"{name} never decoded a latent sample: compute the means with model.decode(z, y), z ~ q(z|x,y)."
        )
    # One sample per image, as (B, Z) or with a leading sample axis (1, B, Z): both are what the networks accept.
    decoded = [
        (z.reshape(qm.shape), yy if yy is None or yy.numel() != y.numel() else yy.reshape(y.shape))
        for z, yy in batched_calls(list(zip(calls.z, calls.y)), qm.shape[0])
        if z.numel() == qm.numel() and z.shape[-1] == qm.shape[-1]
    ]
    if not decoded:
        raise CheckFailed(
            f"{name} decoded z of shape {tuple(calls.z[0].shape)}; expected one sample per image, shape "
            f"{tuple(qm.shape)}."
        )
    for _, yy in decoded:
        if yy is None or yy.shape != y.shape or not torch.equal(yy.detach().to(y.dtype), y):
            raise CheckFailed(f"{name}: the decoder must get the labels y that were passed in: model.decode(z, y).")
    # The sample at which rec is right (an extra decoding, of the mean say, is allowed).
    chosen, hint = None, None
    for z, yy in decoded:
        right, candidates = _rec_candidates(model, x, z.detach(), yy.detach())
        if _near(rec.detach(), right):
            chosen = z
            break
        hint = hint or _matching(candidates, rec.detach())
    if chosen is None:
        right, _ = _rec_candidates(model, x, decoded[-1][0].detach(), decoded[-1][1].detach())
        if not torch.isfinite(rec).all():
            hint = hint or (
                "It is inf or nan where the decoder's means are far from the pixels: the log of a density "
                "(log(exp(.))) underflows there. Compute the log-density directly (log_normal), which "
                "is numerically stable."
            )
        if _near(rec.detach(), kl_ref) and _near(kl.detach(), right):
            hint = "kl and rec are swapped in the returned tuple: return them in the order (nelbo, kl, rec)."
        hint = hint or "rec = -mean over the batch of log_normal(x, model.decode(z, y), 0.1 * torch.ones_like(mean))."
        raise CheckFailed(
            f"{name}: rec = {rec.item():.5g}, but -log p(x|y,z) at the decoded z is {right.item():.5g}. {hint}"
        )
    if torch.allclose(chosen.detach().double(), qm.double(), rtol=1e-6, atol=1e-7):
        raise CheckFailed(
            f"{name}: the decoded z is the encoder mean m. Sample z ~ q(z|x,y) = N(m, v) with sample_gaussian(m, v): "
            "the bound is an expectation over q."
        )
    if not chosen.requires_grad:
        raise CheckFailed(
            f"{name}: the decoded z carries no gradient. Use the reparameterised sample z = sample_gaussian(m, v), "
            "not torch.normal, Normal(...).sample(), .detach() or torch.no_grad()."
        )
    if not _near(kl.detach(), kl_ref):
        with torch.no_grad():
            zd = chosen.detach()
            sampled = (ref.log_normal(zd, qm, qv) - ref.log_normal(zd, pm, pv)).mean()
            reversed_kl = ref.kl_normal(pm, pv, qm, qv).mean()
        hint = _matching(_kl_candidates(kl_ref, sampled, x.shape[0], reversed_kl), kl.detach()) or (
            "kl = mean over the batch of kl_normal(m, v, *model.prior()), with m, v = model.encode(x, y)."
        )
        raise CheckFailed(
            f"{name}: kl = {kl.item():.5g}, but the analytic KL(q(z|x,y) || p(z)) averages to {kl_ref.item():.5g}. "
            f"{hint}"
        )
    n = 3
    # A fresh draw from q(z|x,y) at every call.
    draws = [chosen.detach()]
    for _ in range(n_draws - 1):
        with torch.no_grad(), DecoderCalls(model) as calls_i:
            _, _, rec_i = _three_scalars(name, _call(negative_elbo_bound, name, (model, x, y)))
        for z, yy in batched_calls(list(zip(calls_i.z, calls_i.y)), qm.shape[0]):
            if z.numel() == qm.numel() and z.shape[-1] == qm.shape[-1]:
                z, yy = z.reshape(qm.shape), yy.reshape(y.shape) if yy is not None and yy.numel() == y.numel() else yy
            if z.shape == qm.shape and _near(rec_i, _rec_candidates(model, x, z, yy)[0]):
                draws.append(z.detach())
                break
    if n_draws > 1 and all(torch.equal(d, draws[0]) for d in draws[1:]):
        raise CheckFailed(f"{name}: every call decoded the same z: draw a fresh sample z ~ q(z|x,y) at every call.")
    _check_draws(name, draws, qm, qv)
    n += 1
    # Gradients.
    model.zero_grad(set_to_none=True)
    nelbo, kl, rec = _call(negative_elbo_bound, name, (model, x, y))
    if not (nelbo.requires_grad and rec.requires_grad and kl.requires_grad):
        raise CheckFailed(
            f"{name}: nelbo, kl or rec has no gradient; do not use .item(), .detach() or torch.no_grad() in the "
            "objective."
        )
    rec.backward(retain_graph=True)
    for part in ("encoder", "decoder"):
        _require_gradient(
            getattr(model, part),
            f"{name}: no gradient of rec reaches the {part}; z must be the reparameterised sample m + sqrt(v) * "
            "eps, not detached.",
        )
    model.zero_grad(set_to_none=True)
    kl.backward()
    _require_gradient(
        model.encoder, f"{name}: no gradient of kl reaches the encoder; compute it from the encoder's m, v."
    )
    model.zero_grad(set_to_none=True)
    return n + 1


# --------------------------------------------------------------------------------------------------
# sample_grid
# --------------------------------------------------------------------------------------------------

# check_sample_grid_on: the visible check's, imported from vaelab.checks.ch05 above.


def fsvae_bound_at(model, x, y, m, v, eps):
    """The reference negative ELBO of the FSVAE at the codes ``z = m + sqrt(v) * eps`` (``eps``: ``(S, B, Z)``)."""
    z = m + v.sqrt() * eps
    s = z.shape[0]
    mean = model.decode(z, y.expand(s, *y.shape))
    rec = -ref.log_normal(x.expand(s, *x.shape), mean, torch.full_like(mean, model.x_var)).mean()
    return rec + ref.kl_normal(m, v, *model.prior()).mean()
