"""Chapter 2 (GMVAE): the full checks of its two exercises (the known mistakes: :mod:`.ch02_mistakes`).

``check_log_normal_mixture`` compares with the reference on a few cases, one of them a point so far
from every component that ``log(sum(exp(.)))`` underflows. ``negative_elbo_bound`` is stochastic, so
:func:`check_gmvae_negative_elbo_bound` never matches a random stream: it records the latent sample
that the answer feeds to the decoder (a forward pre-hook on ``model.decoder``), checks that this
sample is a draw from ``q(z|x)``, and then checks ``rec`` and ``kl`` exactly *at that sample*. Any
valid use of the random number generator therefore passes, and a KL estimated at a different sample
than the reconstruction is caught. A statistical comparison over many calls backs this up.
``autograder.hidden.ch02`` runs the same checks on more inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.checks.probes import DecoderTap, batched, narrow_posteriors, spread_prior  # noqa: F401

from . import (
    Case,
    CheckFailed,
    _call,
    _g,
    _pos,
    _randn,
    _require_gradient,
    _scalar,
    check_against_reference,
)
from .ch02_mistakes import MISTAKES, NEAR_MISS_HINTS  # noqa: F401  (merged by the package)

__all__ = [
    "check_gmvae_far_prior",
    "check_log_normal_mixture_cases",
    "check_gmvae_negative_elbo_bound",
    "DecoderTap",
    "spread_prior",
    "narrow_posteriors",
]

# --------------------------------------------------------------------------------------------------
# log_normal_mixture
# --------------------------------------------------------------------------------------------------

_UNSQUEEZE_HINT = (
    " z has shape (B, Z) and the components (1, K, Z): give z a component axis, z.unsqueeze(1) of shape "
    "(B, 1, Z), so that the log-densities broadcast to (B, K)."
)


def check_log_normal_mixture_cases(log_normal_mixture: Callable, cases, verbose: bool = False) -> int:
    """Compare with the reference on ``cases``, with a hint when broadcasting z fails."""
    try:
        return check_against_reference(
            log_normal_mixture,
            "log_normal_mixture",
            ref.log_normal_mixture,
            cases,
            MISTAKES["log_normal_mixture"],
            verbose,
        )
    except CheckFailed as failure:
        message = str(failure)
        if (
            "raised" in message
            and ("must match the size" in message or "shape" in message)
            and "unsqueeze" not in message
        ):
            raise CheckFailed(message.rstrip(". ") + "." + _UNSQUEEZE_HINT) from None
        raise


def _far_case(dtype=torch.float32, b=4, k=5, z_dim=3, seed=20):
    z = 60.0 + _randn(b, z_dim, seed=seed, dtype=dtype)
    return Case(
        f"points far from every component (log-densities near -5000), {str(dtype).replace('torch.', '')}",
        (z, _randn(1, k, z_dim, seed=seed + 1, dtype=dtype), _pos(1, k, z_dim, seed=seed + 2, dtype=dtype)),
    )


# --------------------------------------------------------------------------------------------------
# negative_elbo_bound of the GMVAE
# --------------------------------------------------------------------------------------------------


def _small_model():
    from vaelab.models import GMVAE

    with torch.random.fork_rng():  # a fixed small model, without touching the caller's RNG
        torch.manual_seed(0)
        model = GMVAE(z_dim=3, k=6, x_dim=20, hidden=16)
    spread_prior(model, seed=1)
    narrow_posteriors(model)
    return model


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


def _near(a, b, rtol=1e-4, atol=1e-4) -> bool:
    return bool(torch.isclose(torch.as_tensor(a).double(), torch.as_tensor(b).double(), rtol=rtol, atol=atol))


def _reference_terms(model, x, z, qm, qv, pm, pv):
    """(rec, kl) of the reference at the latent sample ``z``."""
    with torch.no_grad():
        zd = z.detach()
        rec = -ref.log_bernoulli_with_logits(x, model.decode(zd)).mean()
        kl = (ref.log_normal(zd, qm, qv) - ref.log_normal_mixture(zd, pm, pv)).mean()
    return rec, kl


def _decoded_sample(name, tap, model, x, post, prior, rec, kl):
    """The decoded latent sample that the answer's ``rec`` (and, if possible, ``kl``) belong to.

    With one decoded ``(B, Z)`` code, that code. With several (an extra, unused decoding), the one
    at which both terms match, else the one at which ``rec`` matches.
    """
    qm, qv = post
    if not tap.inputs:
        raise CheckFailed(f"{name} never decoded a latent sample: compute the logits with model.decode(z), z ~ q(z|x).")
    shaped = []
    for z in batched(tap.inputs, qm.shape[0]):  # (B, Z), (1, B, Z), or a loop's pieces joined; each once
        z = z.reshape(qm.shape) if z.numel() == qm.numel() and z.shape[-1] == qm.shape[-1] else z
        if z.shape == qm.shape and not any(torch.equal(z.detach(), seen.detach()) for seen in shaped):
            shaped.append(z)
    if not shaped:
        raise CheckFailed(
            f"{name} decoded z of shape {tuple(tap.inputs[0].shape)}; expected one sample per image, shape "
            f"{tuple(qm.shape)}."
        )
    if len(shaped) == 1:
        return shaped[0]
    terms = [_reference_terms(model, x, z, qm, qv, *prior) for z in shaped]
    for z, (rec_ref, kl_ref) in zip(shaped, terms):
        if _near(rec.detach(), rec_ref) and _near(kl.detach(), kl_ref):
            return z
    for z, (rec_ref, _) in zip(shaped, terms):
        if _near(rec.detach(), rec_ref):
            return z
    raise CheckFailed(
        f"{name} decoded {len(shaped)} latent codes and rec matches none of them: the bound uses one sample "
        "z ~ q(z|x) per image; rec = -mean log p(x|z) at that z, and the KL estimate at the same z."
    )


def _check_not_mean(name, z, qm):
    if torch.allclose(z.detach().double(), qm.double(), rtol=1e-6, atol=1e-7):
        raise CheckFailed(
            f"{name}: the decoded z is the encoder mean m. Sample z ~ q(z|x) = N(m, v) with sample_gaussian(m, v): "
            "the bound is an expectation over q."
        )
    if not z.requires_grad:
        raise CheckFailed(
            f"{name}: the decoded z carries no gradient. Use the reparameterised sample z = sample_gaussian(m, v), "
            "not torch.normal, Normal(...).sample(), .detach() or torch.no_grad()."
        )


def _check_draws(name, zs, qm, qv):
    """Decoded samples of several calls must be draws from N(qm, qv): once standardised, their
    entries look like N(0, 1) (mean and variance within six standard errors)."""
    from vaelab.checks.objective import _check_fresh_noise

    m, v = qm.double(), qv.double()
    d = torch.stack([z.detach().double() - m for z in zs])
    _check_fresh_noise(name, [(di / v.sqrt()).flatten() for di in d], *qm.shape)
    eps = (d / v.sqrt()).flatten()
    n = eps.numel()
    mean, var = eps.mean().item(), eps.var().item()
    band = 6 * math.sqrt(2 / n) + 1e-3
    if abs(mean) > 6 / math.sqrt(n) + 1e-6 or abs(var - 1) > band:
        hint = ""
        if abs(d.flatten().var().item() - 1) < band:
            hint = " (z - m) has variance 1: the noise is not scaled by sqrt(v)."
        elif abs((d / v).flatten().var().item() - 1) < band:
            hint = " The noise is scaled by v instead of sqrt(v)."
        raise CheckFailed(
            f"{name}: the decoded z does not look like a draw from q(z|x) = N(m, v): over {len(zs)} calls, "
            f"(z - m) / sqrt(v) has mean {mean:.3f} and variance {var:.3f}, expected about 0 and 1.{hint} "
            "Use z = sample_gaussian(m, v)."
        )


def _rec_hint(rec, rec_ref, x) -> str:
    ratio = (rec.detach() / rec_ref).item()
    if abs(ratio + 1) < 1e-3:
        return " The sign is flipped: rec is the negative log-likelihood, -log p(x|z), a positive number."
    if abs(ratio - x.shape[0]) < 1e-2 * x.shape[0]:
        return " It is the sum over the batch: take the mean over examples."
    if abs(ratio - 1.0 / x.shape[1]) < 1e-3:
        return " It is averaged over pixels: sum over pixels (the last dimension), then average over the batch."
    return " rec = -mean over the batch of log_bernoulli_with_logits(x, model.decode(z)), with z ~ q(z|x)."


def _kl_hint(kl, z, qm, qv, pm, pv, x) -> str | None:
    """Name the KL mistake, from values computed at the decoded sample z; None if none fits."""
    with torch.no_grad():
        log_q = ref.log_normal(z, qm, qv)
        log_p = ref.log_normal_mixture(z, pm, pv)
        kl_ref = (log_q - log_p).mean()
        candidates = [
            (kl_ref * x.shape[0], "It is the sum over the batch: take the mean over examples."),
            (-kl_ref, "The sign is flipped: the estimate is log q(z|x) - log p(z), not log p(z) - log q(z|x)."),
            (
                (log_q - log_p).clamp(min=0).mean(),
                "Each image's estimate log q(z|x) - log p(z) is clamped at 0 (or its negative values dropped): a "
                "one-sample estimate of a KL may be negative, and clamping it biases the average upward. Keep it as "
                "it is.",
            ),
            (
                ref.kl_normal(qm, qv, torch.zeros_like(qm), torch.ones_like(qv)).mean(),
                "This is the analytic KL to N(0, I), the prior of chapter 1. The GMVAE's prior is the mixture of "
                "model.prior(), and its KL has no closed form: estimate it by log q(z|x) - log p(z) at the sampled z.",
            ),
            (
                (log_q - ref.log_normal(z, torch.zeros_like(qm), torch.ones_like(qv))).mean(),
                "log p(z) is computed under N(0, I): use the mixture, log_normal_mixture(z, *model.prior()).",
            ),
            (
                (ref.log_normal(qm, qm, qv) - log_p).mean(),
                "log q(z|x) is evaluated at the mean m instead of the sample z: both log-densities are taken at the "
                "same sampled z.",
            ),
            (
                (log_q - ref.log_normal_mixture(qm, pm, pv)).mean(),
                "log p(z) is evaluated at the mean m instead of the sample z: both log-densities are taken at the "
                "same sampled z.",
            ),
            (
                (log_q / qm.shape[-1] - log_p).mean(),
                "log q(z|x) is averaged over the latent coordinates: sum over them (log_normal sums over the last "
                "dimension).",
            ),
            (
                (ref.log_normal(z, qm, qv.pow(2)) - log_p).mean(),
                "log q(z|x) treats v as a standard deviation (D.Normal(m, v) takes a scale): the standard deviation "
                "is sqrt(v).",
            ),
            (
                (log_q - log_p - math.log(pm.shape[-2])).mean(),
                "the mixture's -log K is missing: its weights are 1/K, so log p(z) = logsumexp_k log N(z; m_k, v_k) - "
                "log K.",
            ),
            (-log_p.mean(), "The log q(z|x) term is missing: the estimate is log q(z|x) - log p(z)."),
            (log_q.mean(), "The log p(z) term is missing: the estimate is log q(z|x) - log p(z)."),
        ]
    for value, hint in candidates:
        if _near(kl, value) and not _near(value, kl_ref):
            return hint
    return None


def _check_gradient_at(name, nelbo, model, x, z):
    """The gradient of the answer's bound must be the reference's at the same sample: the reference
    rebuilds the decoded ``z`` as ``m + sqrt(v) * eps`` from the tapped noise ``eps`` and both bounds are
    differentiated with respect to every parameter (encoder, decoder, mixture)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not nelbo.requires_grad:
        raise CheckFailed(
            f"{name}: nelbo has no gradient; do not use .item(), .detach() or torch.no_grad() in the objective."
        )
    got = torch.autograd.grad(nelbo, params, allow_unused=True, retain_graph=True)
    m, v = model.encode(x)
    eps = (z.detach() - m.detach()) / v.detach().sqrt()
    zr = m + v.sqrt() * eps
    bound = (
        -ref.log_bernoulli_with_logits(x, model.decode(zr))
        + ref.log_normal(zr, m, v)
        - ref.log_normal_mixture(zr, *model.prior())
    ).mean()
    want = torch.autograd.grad(bound, params, allow_unused=True)
    flat = [
        torch.cat([(torch.zeros_like(p) if g is None else g).flatten().double() for g, p in zip(gs, params)])
        for gs in (got, want)
    ]
    diff = (flat[0] - flat[1]).abs().max().item()
    if diff > 1e-3 * flat[1].abs().max().item() + 1e-6:
        raise CheckFailed(
            f"{name}: the values are right, but the gradient of nelbo differs from the reference's at the same "
            f"sample z (largest difference {diff:.3g}): a detached z, log-density or prior (.detach(), .item(), "
            "torch.no_grad(), z.detach() in the KL) stops the gradient that the encoder and the mixture need."
        )


def check_gmvae_far_prior(negative_elbo_bound: Callable, model, x, shift: float = 40.0) -> None:
    """Codes far from every mixture component: log p(z) is hundreds of nats below 0, so a mixture
    computed as log(sum(exp(.))) or log(mean(exp(.))) underflows to -inf there."""
    import copy

    name = "negative_elbo_bound"
    far = copy.deepcopy(model)
    with torch.no_grad():
        far.z_pre[:, : far.k].add_(shift)
        qm, qv = far.encode(x)
        pm, pv = far.prior()
    with DecoderTap(far) as tap:
        nelbo, kl, rec = _three_scalars(name, _call(negative_elbo_bound, name, (far, x)))
    z = _decoded_sample(name, tap, far, x, (qm, qv), (pm, pv), rec, kl).detach()
    _, kl_ref = _reference_terms(far, x, z, qm, qv, pm, pv)
    if not torch.isfinite(kl) or not _near(kl.detach(), kl_ref, rtol=1e-4, atol=1e-3):
        raise CheckFailed(
            f"{name} with every component far from the codes (log p(z) near {-(kl_ref.item()):.0f}): "
            f"kl = {kl.item():.5g}, expected {kl_ref.item():.5g}. log(sum(exp(.))) or log(mean(exp(.))) underflows "
            "to log(0) there: combine the components with torch.logsumexp (log_normal_mixture), which is stable."
        )


def _mean_over_calls(name, negative_elbo_bound, model, x, n_calls, index):
    with torch.no_grad():
        values = torch.stack(
            [
                _three_scalars(name, _call(negative_elbo_bound, name, (model, x)))[index].detach().double()
                for _ in range(n_calls)
            ]
        )
        gen = _g(123)
        ref_values = torch.stack(
            [objectives.gmvae_negative_elbo_bound(model, x, generator=gen)[index].double() for _ in range(4 * n_calls)]
        )
    se = math.sqrt(values.var().item() / n_calls + ref_values.var().item() / (4 * n_calls)) + 1e-9
    return values, ref_values, se


def check_gmvae_negative_elbo_bound(
    negative_elbo_bound: Callable, model=None, x=None, n_calls: int = 20, n_draws: int = 8
) -> int:
    """Check ``negative_elbo_bound(model, x) -> (nelbo, kl, rec)`` of the GMVAE.

    * three scalars with ``nelbo = rec + kl``;
    * the decoded latent code is one reparameterised draw ``z ~ q(z|x)`` per image;
    * at that very ``z``: ``rec = -mean log p(x|z)`` and ``kl = mean(log q(z|x) - log p(z))`` with the
      mixture prior ``p`` of ``model.prior()`` (exact, whatever random numbers were drawn);
    * a fresh sample at every call, and averages over calls that match the reference's expectations;
    * gradients: ``rec`` reaches the encoder and the decoder, ``kl`` the encoder and the mixture's
      parameters ``model.z_pre``.
    """
    name = "negative_elbo_bound"
    if model is None:
        model = _small_model()
    if x is None:
        x = torch.bernoulli(torch.full((64, model.x_dim), 0.3, dtype=model.z_pre.dtype), generator=_g(2))
    with torch.no_grad():
        qm, qv = model.encode(x)
        pm, pv = model.prior()
    n = 0
    # 1. One call, with the decoded sample recorded: rec and kl must be exact at that sample.
    with DecoderTap(model) as tap:
        nelbo, kl, rec = _three_scalars(name, _call(negative_elbo_bound, name, (model, x)))
    if not _near(nelbo.detach(), (rec + kl).detach(), rtol=1e-5, atol=1e-5):
        if _near(nelbo.detach(), (rec - kl).detach(), rtol=1e-5, atol=1e-5):
            raise CheckFailed(f"{name}: nelbo = rec - kl; the negative ELBO adds the KL term: nelbo = rec + kl.")
        raise CheckFailed(f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + kl ({(rec + kl).item():.5g}).")
    z = _decoded_sample(name, tap, model, x, (qm, qv), (pm, pv), rec, kl)
    _check_not_mean(name, z, qm)
    zd = z.detach()
    rec_ref, kl_ref = _reference_terms(model, x, zd, qm, qv, pm, pv)
    if not _near(rec.detach(), rec_ref):
        hint = _rec_hint(rec, rec_ref, x)
        if _near(rec.detach(), kl_ref) and _near(kl.detach(), rec_ref):
            hint = " kl and rec are swapped in the returned tuple: return them in the order (nelbo, kl, rec)."
        raise CheckFailed(
            f"{name}: rec = {rec.item():.5g}, but -log p(x|z) at the decoded z is {rec_ref.item():.5g}.{hint}"
        )
    n += 1
    if not _near(kl.detach(), kl_ref):
        hint = _kl_hint(kl.detach(), zd, qm, qv, pm, pv, x)
        if hint is None:
            kls, ref_kls, se = _mean_over_calls(name, negative_elbo_bound, model, x, n_calls, 1)
            if abs(kls.mean() - ref_kls.mean()) <= 6 * se:
                hint = (
                    "On average over calls it is right, but it is not log q(z|x) - log p(z) at the z that was decoded: "
                    "use the same sample z for the KL estimate and for the reconstruction term."
                )
            else:
                hint = (
                    "Estimate it with one sample: kl = mean over the batch of log_normal(z, m, v) - "
                    "log_normal_mixture(z, *model.prior())."
                )
        raise CheckFailed(
            f"{name}: kl = {kl.item():.5g}, but log q(z|x) - log p(z) at the decoded z averages to "
            f"{kl_ref.item():.5g}. {hint}"
        )
    n += 1
    # 2. A fresh draw from q(z|x) at every call.
    draws = [zd]
    for _ in range(n_draws - 1):
        with torch.no_grad(), DecoderTap(model) as tap:
            _, kl_i, rec_i = _three_scalars(name, _call(negative_elbo_bound, name, (model, x)))
        draws.append(_decoded_sample(name, tap, model, x, (qm, qv), (pm, pv), rec_i, kl_i).detach())
    if n_draws > 1 and all(torch.equal(d, zd) for d in draws[1:]):
        raise CheckFailed(f"{name}: every call decoded the same z: draw a fresh sample z ~ q(z|x) at every call.")
    _check_draws(name, draws, qm, qv)
    n += 1
    # 3. The averages over calls estimate the reference's expectations.
    for index, term in ((2, "rec"), (1, "kl")):
        values, ref_values, se = _mean_over_calls(name, negative_elbo_bound, model, x, n_calls, index)
        if abs(values.mean() - ref_values.mean()) > 6 * se:
            raise CheckFailed(
                f"{name}: the average of {term} over {n_calls} calls is {values.mean().item():.4f}, expected about "
                f"{ref_values.mean().item():.4f} (±{se:.3f}). Sample z ~ q(z|x) with sample_gaussian(m, v)."
            )
        n += 1
    # 4. Gradients.
    model.zero_grad(set_to_none=True)
    nelbo, kl, rec = _call(negative_elbo_bound, name, (model, x))
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
    if model.z_pre.grad is None or float(model.z_pre.grad.abs().sum()) == 0:
        raise CheckFailed(
            f"{name}: no gradient of kl reaches the mixture's parameters (model.z_pre): the prior is learned through "
            "the KL term, so compute log p(z) from model.prior() without detaching it."
        )
    _require_gradient(
        model.encoder,
        f"{name}: no gradient of kl reaches the encoder; compute log q(z|x) from the encoder's m, v at the "
        "reparameterised z.",
    )
    model.zero_grad(set_to_none=True)
    # 5. The gradient itself, at a tapped sample: the reference's at the same z.
    with DecoderTap(model) as tap:
        nelbo, kl, rec = _three_scalars(name, _call(negative_elbo_bound, name, (model, x)))
    z = _decoded_sample(name, tap, model, x, (qm, qv), (pm, pv), rec, kl)
    _check_gradient_at(name, nelbo, model, x, z)
    return n + 1
