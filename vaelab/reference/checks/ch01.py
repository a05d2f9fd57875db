"""Chapter 1 (VAE): the known mistakes and the visible checks of its five exercises.

``check_*`` functions are what the notebook's check cells call; the hidden tests of
``autograder.hidden.ch01`` run the same checks on many more inputs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.checks.ch01 import check_sample_gaussian_statistics, confident_decoder, shifted_prior  # noqa: F401

from . import (
    CheckFailed,
    Mistake,
    _call,
    _g,
    _require_gradient,
    _scalar,
)

__all__ = [
    "check_vae_bound_contracts",
    "vae_bound_at",
    "check_sample_gaussian_statistics",
    "check_vae_negative_elbo_bound",
    "TinyVariance",
]

# --------------------------------------------------------------------------------------------------
# The catalogue of known mistakes, shared by the visible checks, the hidden tests and their tests.
# --------------------------------------------------------------------------------------------------


def _log_normal_std(x, m, v):  # v read as a standard deviation
    return ref.log_normal(x, m, v.pow(2))


#: This chapter's known mistakes by exercise name (merged with the others' in the package).
MISTAKES: dict[str, list[Mistake]] = {}
#: Hints appended to a "values differ" message when the error is small, by exercise name.
NEAR_MISS_HINTS: dict[str, str] = {}


def _log_normal_logvar(x, m, v):  # v read as a log-variance
    return ref.log_normal(x, m, v.exp())


NEAR_MISS_HINTS.update(
    {
        "log_bernoulli_with_logits": (
            "Small differences like this come from an epsilon or a clamp inside a log: compute the log-probability "
            "from the logits directly (F.binary_cross_entropy_with_logits or F.logsigmoid)."
        ),
        "log_normal": (
            "Small differences like this come from an epsilon added to v or an approximate constant for log(2π)."
        ),
        "kl_normal": "Small differences like this come from an epsilon added to a variance or inside a log.",
    }
)

MISTAKES.update(
    {
        "log_normal": [
            Mistake(
                "the result is off by a factor of 2: the -1/2 in front of the sum is missing or doubled.",
                lambda x, m, v: 2 * ref.log_normal(x, m, v),
            ),
            Mistake(
                "the log(2π) term is missing: the density must be normalised.",
                lambda x, m, v: ref.log_normal(x, m, v) + 0.5 * math.log(2 * math.pi) * x.shape[-1],
            ),
            Mistake(
                "the log(2π) term is not halved: the constant is -1/2 log(2π) per coordinate, not -log(2π).",
                lambda x, m, v: (
                    ref.log_normal(x, m, v)
                    - 0.5 * math.log(2 * math.pi) * torch.broadcast_shapes(x.shape, m.shape, v.shape)[-1]
                ),
            ),
            Mistake(
                "the log(v) term (log v, the log-determinant of the covariance) is missing: the normalising constant "
                "depends on the variance.",
                lambda x, m, v: ref.log_normal(x, m, v) + 0.5 * torch.log(v).sum(-1),
            ),
            Mistake(
                "the squared distance is divided by the standard deviation, not the variance.",
                lambda x, m, v: -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m).pow(2) / v.sqrt()).sum(-1),
            ),
            Mistake("v is treated as a standard deviation: in this course v is the variance.", _log_normal_std),
            Mistake("v is treated as a log-variance: in this course v is the variance (v > 0).", _log_normal_logvar),
            Mistake(
                "the sign is flipped: a log-density of a Gaussian is -1/2 (...), usually negative.",
                lambda x, m, v: -ref.log_normal(x, m, v),
            ),
            Mistake(
                "the result is averaged over the last dimension instead of summed.",
                lambda x, m, v: ref.log_normal(x, m, v) / x.shape[-1],
            ),
        ],
        "kl_normal": [
            Mistake(
                "the mean difference is not squared: the term is (m_q - m_p)² / v_p, not |m_q - m_p| / v_p.",
                lambda qm, qv, pm, pv: 0.5 * (torch.log(pv / qv) + (qv + (qm - pm).abs()) / pv - 1).sum(-1),
            ),
            Mistake(
                "the squared mean difference is divided by q's variance: it is (m_q - m_p)² / v_p, over the variance "
                "of p, like the v_q / v_p term.",
                lambda qm, qv, pm, pv: 0.5 * (torch.log(pv / qv) + qv / pv + (qm - pm) ** 2 / qv - 1).sum(-1),
            ),
            Mistake(
                "the result is off by a factor of 2: the 1/2 in front of the sum is missing.",
                lambda qm, qv, pm, pv: 2 * ref.kl_normal(qm, qv, pm, pv),
            ),
            Mistake(
                "the '- 1' inside the sum is missing (-1 per coordinate): KL(q || p) must be zero when q = p.",
                lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) + 0.5 * qm.shape[-1],
            ),
            Mistake(
                "the arguments are swapped: this is KL(p || q), not KL(q || p).",
                lambda qm, qv, pm, pv: ref.kl_normal(pm, pv, qm, qv),
            ),
            Mistake(
                "the sign of the log-ratio is flipped: it is log(pv / qv), not log(qv / pv).",
                lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) - (torch.log(pv) - torch.log(qv)).sum(-1),
            ),
            Mistake(
                "variances are treated as standard deviations: in this course qv and pv are variances.",
                lambda qm, qv, pm, pv: ref.kl_normal(qm, qv.pow(2), pm, pv.pow(2)),
            ),
            Mistake(
                "the result is averaged over the last dimension instead of summed.",
                lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) / qm.shape[-1],
            ),
            Mistake(
                "the formula assumes p = N(0, I): use pm and pv, the prior is not always standard.",
                lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, torch.zeros_like(pm), torch.ones_like(pv)),
            ),
        ],
        "log_bernoulli_with_logits": [
            Mistake(
                "the (1 - x) weight of the second term is missing: log p(x) = x log σ(l) + (1 - x) log(1 - σ(l)).",
                lambda x, lg: (x * F.logsigmoid(lg) + F.logsigmoid(-lg)).sum(-1),
            ),
            Mistake(
                "one of the two terms is picked by thresholding x (x > 0.5), as if x were binary: pixels are grey "
                "levels in [0, 1], so weight both terms, x log σ(l) + (1 - x) log(1 - σ(l)).",
                lambda x, lg: torch.where(x > 0.5, F.logsigmoid(lg), F.logsigmoid(-lg)).sum(-1),
            ),
            Mistake(
                "the sign is flipped: this is the binary cross-entropy, the log-probability is its negative.",
                lambda x, logits: -ref.log_bernoulli_with_logits(x, logits),
            ),
            Mistake(
                "the logits are used as probabilities: apply the sigmoid (better: binary_cross_entropy_with_logits).",
                lambda x, logits: (x * torch.log(logits) + (1 - x) * torch.log(1 - logits)).sum(-1),
            ),
            Mistake(
                "log(sigmoid(.)) is computed through a clamped or rounded sigmoid, which is wrong for large "
                "|logits|: use F.binary_cross_entropy_with_logits or F.logsigmoid.",
                lambda x, logits: (
                    x * torch.log(torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7))
                    + (1 - x) * torch.log((1 - torch.sigmoid(logits)).clamp(1e-7, 1))
                ).sum(-1),
            ),
            Mistake(
                "the result is averaged over pixels instead of summed over the last dimension.",
                lambda x, logits: ref.log_bernoulli_with_logits(x, logits) / x.shape[-1],
            ),
            Mistake(
                "x and the logits are swapped.",
                lambda x, logits: ref.log_bernoulli_with_logits(torch.sigmoid(logits), x),
            ),
        ],
    }
)


EPSILONS = (1e-10, 1e-8, 1e-6, 1e-5)


def _eps_family(message: str, make) -> list[Mistake]:
    """The same mistake with each of the usual epsilons (a student picks one of them)."""
    return [Mistake(message, make(eps)) for eps in EPSILONS]


_LOG_EPS = (
    "an epsilon is added to v inside the log (or v is clamped to a floor): it changes the density whenever v "
    "is small, and the encoder's variances go down to 1e-8. Use torch.log(v) and v exactly."
)
_KL_EPS = (
    "an epsilon is added inside the log (or a variance is clamped): wrong for the small variances an encoder "
    "reaches (down to 1e-8). Use torch.log(pv) - torch.log(qv) exactly."
)

MISTAKES["log_normal"] += [
    Mistake(
        "the normalising constant uses log(π) where log(2π) belongs: it is -1/2 log(2π v) per coordinate.",
        lambda x, m, v: ref.log_normal(x, m, v) + 0.5 * math.log(2) * x.shape[-1],
    ),
    Mistake(
        "log v is not halved: the term is (1/2) log v (log v is the log-variance, log of the standard deviation "
        "squared).",
        lambda x, m, v: ref.log_normal(x, m, v) - 0.5 * torch.log(v).sum(-1),
    ),
    Mistake(
        "the sign of the squared-distance term is flipped: it is -(x - m)^2 / (2v).",
        lambda x, m, v: -0.5 * (math.log(2 * math.pi) + torch.log(v) - (x - m).pow(2) / v).sum(-1),
    ),
    *_eps_family(_LOG_EPS, lambda eps: lambda x, m, v: ref.log_normal(x, m, v + eps)),
    *_eps_family(
        _LOG_EPS.replace(
            "an epsilon is added to v inside the log (or v is clamped to a floor)", "v is clamped to a floor (a clamp)"
        ),
        lambda eps: lambda x, m, v: ref.log_normal(x, m, v.clamp(min=eps)),
    ),
    *_eps_family(
        _LOG_EPS,
        lambda eps: lambda x, m, v: -0.5 * (math.log(2 * math.pi) + torch.log(v + eps) + (x - m).pow(2) / v).sum(-1),
    ),
]
MISTAKES["kl_normal"] += [
    Mistake(
        "the log ratio is halved twice: inside the 1/2 it is the log of the variance ratio, log(pv / qv), not of "
        "the standard-deviation ratio (off by a factor of 2 in that term).",
        lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) - 0.25 * (torch.log(pv) - torch.log(qv)).sum(-1),
    ),
    Mistake(
        "qv and pv are treated as log-variances: in this course they are variances (v > 0).",
        lambda qm, qv, pm, pv: ref.kl_normal(qm, qv.exp(), pm, pv.exp()),
    ),
    Mistake(
        "the squared mean difference (qm - pm)^2 is not divided by pv.",
        lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) + 0.5 * ((qm - pm).pow(2) * (1 - 1 / pv)).sum(-1),
    ),
    Mistake(
        "the variance ratio qv / pv is missing from the sum.",
        lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) - 0.5 * (qv / pv).sum(-1),
    ),
    *_eps_family(
        _KL_EPS,
        lambda eps: (
            lambda qm, qv, pm, pv: (
                ref.kl_normal(qm, qv, pm, pv) + 0.5 * (torch.log((pv + eps) / (qv + eps)) - torch.log(pv / qv)).sum(-1)
            )
        ),
    ),
    *_eps_family(_KL_EPS, lambda eps: lambda qm, qv, pm, pv: ref.kl_normal(qm, qv.clamp(min=eps), pm, pv)),
]
MISTAKES["log_bernoulli_with_logits"] += [
    Mistake(
        "binary_cross_entropy_with_logits(x, logits) has its arguments in the wrong order: the input (the logits) "
        "comes first and the target (x) second.",
        lambda x, lg: -F.binary_cross_entropy_with_logits(x, lg, reduction="none").sum(-1),
    ),
    Mistake(
        "this is the continuous Bernoulli, whose extra normalising constant makes it another distribution: use the "
        "Bernoulli log-probability x log sigma(l) + (1 - x) log(1 - sigma(l)).",
        lambda x, lg: torch.distributions.ContinuousBernoulli(logits=lg).log_prob(x).sum(-1),
    ),
    Mistake(
        "the sign inside the softplus is flipped: log p = x * logits - softplus(logits), not - softplus(-logits).",
        lambda x, lg: (x * lg - F.softplus(-lg)).sum(-1),
    ),
    Mistake(
        "the two terms are swapped: x pairs with log sigma(logits) and (1 - x) with log(1 - sigma(logits)).",
        lambda x, lg: ref.log_bernoulli_with_logits(1 - x, lg),
    ),
]


# --------------------------------------------------------------------------------------------------
# Statistical checks of sample_gaussian.
# --------------------------------------------------------------------------------------------------

# check_sample_gaussian_statistics: the visible check's, imported from vaelab.checks.ch01 above.

# --------------------------------------------------------------------------------------------------
# Visible checks, one per exercise of Chapter 1: a few cases each, friendly output.
# --------------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------------
# negative_elbo_bound of the VAE: deterministic parts exactly, the sampled part in its limits.
# --------------------------------------------------------------------------------------------------


class TinyVariance(torch.nn.Module):
    """Wraps a VAE so that the encoder's variance is ``scale`` times smaller.

    With ``scale`` tiny, ``z ~ q(z|x)`` is the encoder mean up to 1e-6, so the single-sample
    reconstruction term becomes deterministic and can be compared with the reference exactly,
    whatever random numbers the implementation draws.
    """

    def __init__(self, model, scale: float = 1e-14):
        super().__init__()
        self.model, self.scale = model, scale
        self.z_dim = model.z_dim

    def encode(self, x):
        m, v = self.model.encode(x)
        return m, v * self.scale

    def decode(self, z):
        return self.model.decode(z)

    def prior(self):
        return self.model.prior()

    def log_prior(self, z):
        return self.model.log_prior(z)


def check_vae_negative_elbo_bound(
    negative_elbo_bound: Callable, model=None, x=None, betas=(1.0, 3.0), n_calls: int = 30
) -> int:
    """Check ``negative_elbo_bound(model, x, beta) -> (nelbo, kl, rec)`` of the VAE.

    * the three outputs are scalars with ``nelbo = rec + beta * kl``;
    * ``kl`` is the analytic KL, averaged over the batch (deterministic);
    * in the zero-variance limit ``rec`` is exactly the reference reconstruction term;
    * with the real variance, the average of ``rec`` over calls matches the reference's expectation
      (within six standard errors);
    * gradients reach the encoder and the decoder.
    """
    from vaelab.models import VAE

    name = "negative_elbo_bound"
    if model is None:
        with torch.random.fork_rng():  # a fixed small model, without touching the caller's RNG
            torch.manual_seed(0)
            model = VAE(z_dim=3, x_dim=20, hidden=16)
    if x is None:
        x = torch.bernoulli(torch.full((64, model.x_dim), 0.3), generator=_g(2))
    n = 0
    for beta in betas:
        out = _call(negative_elbo_bound, name, (model, x, beta))
        if not (isinstance(out, (tuple, list)) and len(out) == 3):
            raise CheckFailed(f"{name} must return a tuple (nelbo, kl, rec); it returned {type(out).__name__}.")
        nelbo, kl, rec = out
        if not any(isinstance(t, torch.Tensor) for t in out):
            raise CheckFailed(
                f"{name} returned Python numbers, not tensors: .item() (or float()) cuts the "
                "gradient, so nothing could be trained. Return the scalar tensors themselves."
            )
        if not all(_scalar(t) for t in out):
            shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in out]
            raise CheckFailed(
                f"{name} must return three scalars (means over the batch); got shapes {shapes}. Average over the "
                "batch with .mean()."
            )
        with torch.no_grad():
            qm, qv = model.encode(x)
            pm, pv = model.prior()
            kl_ref = ref.kl_normal(qm, qv, pm, pv).mean()
        if not torch.allclose(kl.detach().double(), kl_ref.double(), rtol=1e-4, atol=1e-5):
            ratio = (kl.detach() / kl_ref).item()
            if abs(ratio - x.shape[0]) < 1e-2 * x.shape[0]:
                hint = " It is the sum over the batch: take the mean over examples."
            elif abs(ratio - 1.0 / qm.shape[-1]) < 1e-3:
                hint = " It is averaged over latent dimensions: sum over them, then average over the batch."
            elif abs(ratio - beta) < 1e-3 and beta != 1:
                hint = " It already includes beta: return the plain KL, nelbo = rec + beta * kl."
            elif torch.allclose(rec.detach().double(), kl_ref.double(), rtol=1e-4, atol=1e-5):
                hint = " kl and rec are swapped in the returned tuple: return them in the order (nelbo, kl, rec)."
            elif torch.allclose(kl.detach().double(), ref.kl_normal(pm, pv, qm, qv).mean().double(), rtol=1e-4):
                hint = (
                    " This is KL(p || q): the direction is reversed. The argument order of kl_normal is "
                    "(qm, qv, pm, pv): the posterior first, then the prior."
                )
            elif torch.allclose(kl.detach().double(), ref.kl_normal(qm, qv.exp(), pm, pv).mean().double(), rtol=1e-4):
                hint = (
                    " The encoder's second output is read as a log-variance and exponentiated: model.encode returns "
                    "the variance v itself (positive), so use it as it is."
                )
            else:
                hint = (
                    " Use the analytic KL (kl_normal) between q(z|x) = N(m, v) and the prior model.prior(), "
                    "averaged over the batch."
                )
            raise CheckFailed(f"{name}: kl = {kl.item():.5g}, expected {kl_ref.item():.5g}.{hint}")
        if not torch.allclose(nelbo.detach().double(), (rec + beta * kl).detach().double(), rtol=1e-5, atol=1e-5):
            if torch.allclose(nelbo.detach(), (rec + kl).detach(), rtol=1e-5) and beta != 1:
                raise CheckFailed(f"{name}: with beta = {beta}, nelbo must be rec + beta * kl; beta is ignored.")
            if torch.allclose(nelbo.detach(), (beta * rec + kl).detach(), rtol=1e-5):
                raise CheckFailed(f"{name}: beta multiplies the KL term, not the reconstruction term.")
            raise CheckFailed(
                f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + beta * kl ({(rec + beta * kl).item():.5g})."
            )
        n += 1
    # The deterministic limit: with a vanishing encoder variance, z is the encoder mean.
    limit = TinyVariance(model)
    _, _, rec0 = _call(negative_elbo_bound, name, (limit, x, 1.0))
    with torch.no_grad():
        qm, _ = model.encode(x)
        rec_ref = -ref.log_bernoulli_with_logits(x, model.decode(qm)).mean()
    if not torch.allclose(rec0.detach().double(), rec_ref.double(), rtol=1e-4, atol=1e-4):
        ratio = (rec0.detach() / rec_ref).item()
        if abs(ratio + 1) < 1e-3:
            hint = " The sign is flipped: rec is the negative log-likelihood, -log p(x|z), a positive number."
        elif abs(ratio - x.shape[0]) < 1e-2 * x.shape[0]:
            hint = " It is the sum over the batch: take the mean over examples."
        elif abs(ratio - 1.0 / x.shape[1]) < 1e-3:
            hint = " It is averaged over pixels: sum over pixels (the last dimension), then average over the batch."
        else:
            hint = (
                " rec = -mean over the batch of log_bernoulli_with_logits(x, model.decode(z)), with z drawn from the "
                "encoder's posterior q(z|x) = N(m, v) (not from the prior), the Bernoulli log-likelihood of x."
            )
        raise CheckFailed(
            f"{name}: in the zero-variance limit rec = {rec0.item():.5g}, expected {rec_ref.item():.5g}.{hint}"
        )
    n += 1
    # The sampled term: its average over calls estimates E_q[-log p(x|z)].
    with torch.no_grad():
        recs = torch.stack(
            [_call(negative_elbo_bound, name, (model, x, 1.0))[2].detach().double() for _ in range(n_calls)]
        )
        gen = _g(123)
        ref_recs = torch.stack(
            [objectives.vae_negative_elbo_bound(model, x, generator=gen)[2].double() for _ in range(4 * n_calls)]
        )
    se = math.sqrt(recs.var() / n_calls + ref_recs.var() / (4 * n_calls)) + 1e-9
    if abs(recs.mean() - ref_recs.mean()) > 6 * se:
        if recs.std() < 1e-9 < ref_recs.std():
            hint = (
                " It never changes between calls: z must be sampled from q(z|x) with fresh random noise at every "
                "call, not set to its mean, nor built from the same noise reused (drawn once and cached, or re-seeded)."
            )
        else:
            hint = " Sample z ~ q(z|x) with sample_gaussian(m, v) and decode it."
        raise CheckFailed(
            f"{name}: the average of rec over {n_calls} calls is {recs.mean().item():.4f}, expected about "
            f"{ref_recs.mean().item():.4f} (±{se:.3f}).{hint}"
        )
    n += 1
    # Gradients of rec must reach both networks: through the decoder, and through the
    # reparameterised sample to the encoder (no detach, no sampling outside the graph).
    model.zero_grad(set_to_none=True)
    nelbo, _, rec = _call(negative_elbo_bound, name, (model, x, 1.0))
    if not (nelbo.requires_grad and rec.requires_grad):
        raise CheckFailed(
            f"{name}: nelbo or rec has no gradient; do not use .item(), .detach() or torch.no_grad() in the objective."
        )
    rec.backward()
    for part in ("encoder", "decoder"):
        _require_gradient(
            getattr(model, part),
            f"{name}: no gradient of rec reaches the {part}; z must be the reparameterised sample m + sqrt(v) * "
            "eps, not detached.",
        )
    model.zero_grad(set_to_none=True)
    return n + 1


# The same models as the visible check's (vaelab.checks.ch01), under the names this module uses.
_shifted_prior, _confident_decoder = shifted_prior, confident_decoder


def check_vae_bound_contracts(negative_elbo_bound: Callable, model, x) -> None:
    """What the deterministic limit cannot see: the prior of the model, confident decoders, the
    distribution of the decoded codes and the random-generator contract."""
    from vaelab.checks.probes import narrow_posteriors

    from . import check_decoded_noise

    name = "negative_elbo_bound"
    shifted = _shifted_prior(model)
    _, kl, _ = _call(negative_elbo_bound, name, (shifted, x, 1.0))
    with torch.no_grad():
        qm, qv = shifted.encode(x)
        kl_ref = ref.kl_normal(qm, qv, *shifted.prior()).mean()
        kl_std = ref.kl_normal(qm, qv, torch.zeros_like(qm), torch.ones_like(qv)).mean()
    if not torch.allclose(kl.detach().double(), kl_ref.double(), rtol=1e-4, atol=1e-5):
        hint = (
            " It is the KL to N(0, I): use the model's prior, pm, pv = model.prior(), which is not always standard."
            if torch.allclose(kl.detach().double(), kl_std.double(), rtol=1e-4, atol=1e-5)
            else ""
        )
        raise CheckFailed(
            f"{name} with a prior other than N(0, I): kl = {kl.item():.5g}, expected {kl_ref.item():.5g}.{hint}"
        )
    confident = TinyVariance(_confident_decoder(model))
    _, _, rec = _call(negative_elbo_bound, name, (confident, x, 1.0))
    with torch.no_grad():
        qm, _ = confident.encode(x)
        rec_ref = -ref.log_bernoulli_with_logits(x, confident.decode(qm)).mean()
    close = torch.allclose(rec.detach().double(), rec_ref.double(), rtol=1e-4, atol=1e-3)
    if not torch.isfinite(rec).all() or not close:
        raise CheckFailed(
            f"{name} with a confident decoder (logits of several hundreds), in the zero-variance limit: rec = "
            f"{rec.item():.5g}, expected {rec_ref.item():.5g}. log(sigmoid(logits)) rounds to log(0) there: compute "
            "the reconstruction from the logits in a stable way (log_bernoulli_with_logits, "
            "F.binary_cross_entropy_with_logits or F.logsigmoid)."
        )
    narrow = copy.deepcopy(model)
    narrow_posteriors(narrow)  # variances near 0.1: a sample scaled by v or by 1 stands out
    check_decoded_noise(name, negative_elbo_bound, (narrow, x, 1.0), narrow, (x,), n_calls=10)


def vae_bound_at(model, x, m, v, eps, beta: float = 1.0):
    """The reference negative ELBO at the codes ``z = m + sqrt(v) * eps`` (``eps``: ``(S, B, Z)``)."""
    z = m + v.sqrt() * eps
    rec = -ref.log_bernoulli_with_logits(x.expand(z.shape[0], *x.shape), model.decode(z)).mean()
    return rec + beta * ref.kl_normal(m, v, *model.prior()).mean()
