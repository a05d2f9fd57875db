"""Chapter 1 (VAE): the known mistakes and the visible checks of its five exercises.

``check_*`` functions are what the notebook's check cells call; the hidden tests of
``autograder.hidden.ch01`` run the same checks on many more inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.checks.ch01 import check_sample_gaussian_statistics  # noqa: F401

from . import (
    CheckFailed,
    Mistake,
    _call,
    _g,
    _require_gradient,
    _scalar,
)

__all__ = [
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
                "the log(v) term is missing (the normalising constant depends on the variance).",
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
                "the result is off by a factor of 2: the 1/2 in front of the sum is missing.",
                lambda qm, qv, pm, pv: 2 * ref.kl_normal(qm, qv, pm, pv),
            ),
            Mistake(
                "the '- 1' inside the sum is missing.",
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
            hint = " rec = -mean over the batch of log_bernoulli_with_logits(x, model.decode(z)) with z ~ q(z|x)."
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
            hint = " It never changes between calls: z must be sampled from q(z|x), not set to its mean."
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
