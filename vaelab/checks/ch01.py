"""Chapter 1 (VAE): the known mistakes and the visible checks of its five exercises.

``check_*`` functions are what the notebook's check cells call; the hidden tests of
``autograder.hidden.ch01`` run the same checks on many more inputs.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .. import reference as ref
from .. import reference as objectives
from . import (
    MISTAKES,
    NEAR_MISS_HINTS,
    Case,
    CheckFailed,
    Mistake,
    _call,
    _require_gradient,
    _g,
    _pos,
    _randn,
    _report,
    _scalar,
    check_against_reference,
    check_on_its_own,
)

__all__ = [
    "check_sample_gaussian",
    "check_log_normal",
    "check_kl_normal",
    "check_log_bernoulli_with_logits",
    "check_negative_elbo_bound",
    "check_sample_gaussian_statistics",
    "check_vae_negative_elbo_bound",
    "TinyVariance",
]

# --------------------------------------------------------------------------------------------------
# The catalogue of known mistakes, shared by the visible checks, the hidden tests and their tests.
# --------------------------------------------------------------------------------------------------

def _log_normal_std(x, m, v):  # v read as a standard deviation
    return ref.log_normal(x, m, v.pow(2))


def _log_normal_logvar(x, m, v):  # v read as a log-variance
    return ref.log_normal(x, m, v.exp())


NEAR_MISS_HINTS.update({
    "log_bernoulli_with_logits": (
        "Small differences like this come from an epsilon or a clamp inside a log: compute the log-probability "
        "from the logits directly (F.binary_cross_entropy_with_logits or F.logsigmoid)."
    ),
    "log_normal": "Small differences like this come from an epsilon added to v or an approximate constant for log(2π).",
    "kl_normal": "Small differences like this come from an epsilon added to a variance or inside a log.",
})

MISTAKES.update({
    "log_normal": [
        Mistake("the result is off by a factor of 2: the -1/2 in front of the sum is missing or doubled.", lambda x, m, v: 2 * ref.log_normal(x, m, v)),
        Mistake("the log(2π) term is missing: the density must be normalised.", lambda x, m, v: ref.log_normal(x, m, v) + 0.5 * math.log(2 * math.pi) * x.shape[-1]),
        Mistake("the log(v) term is missing (the normalising constant depends on the variance).", lambda x, m, v: ref.log_normal(x, m, v) + 0.5 * torch.log(v).sum(-1)),
        Mistake("the squared distance is divided by the standard deviation, not the variance.", lambda x, m, v: -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m).pow(2) / v.sqrt()).sum(-1)),
        Mistake("v is treated as a standard deviation: in this course v is the variance.", _log_normal_std),
        Mistake("v is treated as a log-variance: in this course v is the variance (v > 0).", _log_normal_logvar),
        Mistake("the sign is flipped: a log-density of a Gaussian is -1/2 (...), usually negative.", lambda x, m, v: -ref.log_normal(x, m, v)),
        Mistake("the result is averaged over the last dimension instead of summed.", lambda x, m, v: ref.log_normal(x, m, v) / x.shape[-1]),
    ],
    "kl_normal": [
        Mistake("the result is off by a factor of 2: the 1/2 in front of the sum is missing.", lambda qm, qv, pm, pv: 2 * ref.kl_normal(qm, qv, pm, pv)),
        Mistake("the '- 1' inside the sum is missing.", lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) + 0.5 * qm.shape[-1]),
        Mistake("the arguments are swapped: this is KL(p || q), not KL(q || p).", lambda qm, qv, pm, pv: ref.kl_normal(pm, pv, qm, qv)),
        Mistake("the sign of the log-ratio is flipped: it is log(pv / qv), not log(qv / pv).", lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) - (torch.log(pv) - torch.log(qv)).sum(-1)),
        Mistake("variances are treated as standard deviations: in this course qv and pv are variances.", lambda qm, qv, pm, pv: ref.kl_normal(qm, qv.pow(2), pm, pv.pow(2))),
        Mistake("the result is averaged over the last dimension instead of summed.", lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, pm, pv) / qm.shape[-1]),
        Mistake("the formula assumes p = N(0, I): use pm and pv, the prior is not always standard.", lambda qm, qv, pm, pv: ref.kl_normal(qm, qv, torch.zeros_like(pm), torch.ones_like(pv))),
    ],
    "log_bernoulli_with_logits": [
        Mistake("the sign is flipped: this is the binary cross-entropy, the log-probability is its negative.", lambda x, l: -ref.log_bernoulli_with_logits(x, l)),
        Mistake("the logits are used as probabilities: apply the sigmoid (better: binary_cross_entropy_with_logits).", lambda x, l: (x * torch.log(l) + (1 - x) * torch.log(1 - l)).sum(-1)),
        Mistake(
            "log(sigmoid(.)) is computed through a clamped or rounded sigmoid, which is wrong for large |logits|: use "
            "F.binary_cross_entropy_with_logits or F.logsigmoid.",
            lambda x, l: (x * torch.log(torch.sigmoid(l).clamp(1e-7, 1 - 1e-7)) + (1 - x) * torch.log((1 - torch.sigmoid(l)).clamp(1e-7, 1))).sum(-1),
        ),
        Mistake("the result is averaged over pixels instead of summed over the last dimension.", lambda x, l: ref.log_bernoulli_with_logits(x, l) / x.shape[-1]),
        Mistake("x and the logits are swapped.", lambda x, l: ref.log_bernoulli_with_logits(torch.sigmoid(l), x)),
    ],
})


# --------------------------------------------------------------------------------------------------
# Statistical checks of sample_gaussian.
# --------------------------------------------------------------------------------------------------

def check_sample_gaussian_statistics(sample_gaussian: Callable, n: int = 100_000, dtype=torch.float64) -> int:
    """Check moments, broadcasting, the zero-variance limit and pathwise gradients of a sampler."""
    name = "sample_gaussian"
    m = torch.tensor([1.0, -2.0, 0.5], dtype=dtype)
    v = torch.tensor([0.25, 4.0, 1.0], dtype=dtype)
    mr, vr = m.clone().requires_grad_(), v.clone().requires_grad_()
    z = _call(sample_gaussian, name, (mr.expand(n, 3), vr.expand(n, 3)))
    zd = z.detach().double()
    if torch.equal(zd[0], zd[1]) and torch.equal(zd[1], zd[2]):
        raise CheckFailed(f"{name}: every row of z got the same noise; draw noise of the full shape of m and v (e.g. torch.randn_like(m)).")
    mean, var = zd.mean(0), zd.var(0)
    se_mean = (v.double() / n).sqrt()
    if ((mean - m.double()).abs() > 6 * se_mean + 1e-9).any():
        raise CheckFailed(f"{name}: the sample mean {mean.tolist()} does not match m = {m.tolist()}.")
    se_var = v.double() * math.sqrt(2.0 / n)
    if ((var - v.double()).abs() > 6 * se_var).any():
        hint = ""
        if ((var - v.double().pow(2)).abs() < 6 * v.double().pow(2) * math.sqrt(2.0 / n)).all():
            hint = " The variance is v²: the noise is scaled by v instead of sqrt(v)."
        elif ((var - 1).abs() < 6 * math.sqrt(2.0 / n)).all():
            hint = " The variance is 1: the noise is not scaled by sqrt(v)."
        elif ((var - v.double().exp()).abs() < 6 * v.double().exp() * math.sqrt(2.0 / n)).all():
            hint = " The variance is exp(v): v is treated as a log-variance."
        raise CheckFailed(f"{name}: the sample variance {[round(t, 3) for t in var.tolist()]} does not match v = {v.tolist()}.{hint}")
    if not z.requires_grad:
        raise CheckFailed(
            f"{name}: no gradient flows to m and v. Use the reparameterisation trick, z = m + sqrt(v) * eps with "
            "eps ~ N(0, I) (torch.normal(m, std) and Normal(...).sample() do not pass gradients)."
        )
    (gm, gv) = torch.autograd.grad(z.mean(0).sum(), (mr, vr), allow_unused=True, retain_graph=True)
    if gm is None or not torch.allclose(gm.double(), torch.ones(3, dtype=torch.float64), atol=1e-6):
        raise CheckFailed(
            f"{name}: no gradient flows to m as it should (d E[z] / dm must be 1). Use the reparameterisation trick, "
            "z = m + sqrt(v) * eps with eps ~ N(0, I); torch.normal(m, std) and Normal(...).sample() do not pass gradients."
        )
    (gv,) = torch.autograd.grad(z.pow(2).mean(0).sum(), (vr,), allow_unused=True)
    # E[z²] = m² + v, so its derivative with respect to v is 1: only a pathwise sample gives that.
    if gv is None or ((gv.double() - 1).abs() > 8 * math.sqrt(2.0 / n) * (1 + m.double().abs() / v.double().sqrt())).any():
        raise CheckFailed(f"{name}: d E[z²] / dv must be 1; got {None if gv is None else gv.tolist()}. The noise must enter as sqrt(v) * eps.")
    # The vanishing-variance limit is deterministic: z must be m (v = 1e-12, not 0, so that
    # torch.distributions-based answers, which refuse a zero scale, are accepted too).
    z0 = _call(sample_gaussian, name, (m.expand(5, 3), torch.full((5, 3), 1e-12, dtype=dtype)))
    if not isinstance(z0, torch.Tensor) or z0.shape != (5, 3):
        got = tuple(z0.shape) if isinstance(z0, torch.Tensor) else type(z0).__name__
        raise CheckFailed(f"{name}(m, v) with m, v of shape (5, 3) returned {got}; z must have the shape of m.")
    if not torch.allclose(z0.detach().double(), m.expand(5, 3).double(), atol=1e-4):
        raise CheckFailed(f"{name}: as v -> 0 the sample must equal m; the noise must be scaled by sqrt(v) and nothing else added.")
    # Broadcasting: a (1, Z) mean with (B, Z) variances gives (B, Z) samples.
    zb = _call(sample_gaussian, name, (torch.zeros(1, 3, dtype=dtype), torch.ones(4, 3, dtype=dtype)))
    if not isinstance(zb, torch.Tensor) or zb.shape != (4, 3):
        raise CheckFailed(f"{name}: m of shape (1, 3) and v of shape (4, 3) must broadcast to samples of shape (4, 3).")
    z1, z2 = (_call(sample_gaussian, name, (m, v)) for _ in range(2))
    if torch.equal(z1, z2):
        raise CheckFailed(f"{name}: two calls returned the same sample: draw fresh noise at every call.")
    return 6


# --------------------------------------------------------------------------------------------------
# Visible checks, one per exercise of Chapter 1: a few cases each, friendly output.
# --------------------------------------------------------------------------------------------------

def check_sample_gaussian(sample_gaussian: Callable) -> None:
    """Visible check: moments, the zero-variance limit, gradients, broadcasting."""
    _report("sample_gaussian", check_sample_gaussian_statistics(sample_gaussian, n=50_000))


def check_log_normal(log_normal: Callable) -> None:
    cases = [
        Case("x, m, v of shape (4, 3)", (_randn(4, 3, seed=1), _randn(4, 3, seed=2), _pos(4, 3, seed=3))),
        Case("z (5, 1, 2) against components m, v (1, 3, 2)", (_randn(5, 1, 2, seed=4), _randn(1, 3, 2, seed=5), _pos(1, 3, 2, seed=6))),
    ]
    _report("log_normal", check_against_reference(log_normal, "log_normal", ref.log_normal, cases, MISTAKES["log_normal"]))


def check_kl_normal(kl_normal: Callable) -> None:
    cases = [
        Case("q and p of shape (4, 3)", (_randn(4, 3, seed=1), _pos(4, 3, seed=2), _randn(4, 3, seed=3), _pos(4, 3, seed=4))),
        Case("q (4, 3) against the prior N(0, I) of shape (1, 3)", (_randn(4, 3, seed=5), _pos(4, 3, seed=6), torch.zeros(1, 3), torch.ones(1, 3))),
    ]
    _report("kl_normal", check_against_reference(kl_normal, "kl_normal", ref.kl_normal, cases, MISTAKES["kl_normal"]))


def check_log_bernoulli_with_logits(log_bernoulli_with_logits: Callable) -> None:
    x = torch.bernoulli(torch.full((4, 6), 0.5), generator=_g(1))
    cases = [
        Case("x, logits of shape (4, 6)", (x, _randn(4, 6, seed=2))),
        Case("large logits (±100)", (x, 100 * torch.sign(_randn(4, 6, seed=3)))),
    ]
    _report(
        "log_bernoulli_with_logits",
        check_against_reference(log_bernoulli_with_logits, "log_bernoulli_with_logits", ref.log_bernoulli_with_logits, cases, MISTAKES["log_bernoulli_with_logits"]),
    )


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


def check_vae_negative_elbo_bound(negative_elbo_bound: Callable, model=None, x=None, betas=(1.0, 3.0), n_calls: int = 30) -> int:
    """Check ``negative_elbo_bound(model, x, beta) -> (nelbo, kl, rec)`` of the VAE.

    * the three outputs are scalars with ``nelbo = rec + beta * kl``;
    * ``kl`` is the analytic KL, averaged over the batch (deterministic);
    * in the zero-variance limit ``rec`` is exactly the reference reconstruction term;
    * with the real variance, the average of ``rec`` over calls matches the reference's expectation
      (within six standard errors);
    * gradients reach the encoder and the decoder.
    """
    from ..models import VAE

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
            raise CheckFailed(f"{name} must return three scalars (means over the batch); got shapes {shapes}. Average over the batch with .mean().")
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
                hint = " Use the analytic KL (kl_normal) between q(z|x) = N(m, v) and the prior model.prior(), averaged over the batch."
            raise CheckFailed(f"{name}: kl = {kl.item():.5g}, expected {kl_ref.item():.5g}.{hint}")
        if not torch.allclose(nelbo.detach().double(), (rec + beta * kl).detach().double(), rtol=1e-5, atol=1e-5):
            if torch.allclose(nelbo.detach(), (rec + kl).detach(), rtol=1e-5) and beta != 1:
                raise CheckFailed(f"{name}: with beta = {beta}, nelbo must be rec + beta * kl; beta is ignored.")
            if torch.allclose(nelbo.detach(), (beta * rec + kl).detach(), rtol=1e-5):
                raise CheckFailed(f"{name}: beta multiplies the KL term, not the reconstruction term.")
            raise CheckFailed(f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + beta * kl ({(rec + beta * kl).item():.5g}).")
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
        raise CheckFailed(f"{name}: in the zero-variance limit rec = {rec0.item():.5g}, expected {rec_ref.item():.5g}.{hint}")
    n += 1
    # The sampled term: its average over calls estimates E_q[-log p(x|z)].
    with torch.no_grad():
        recs = torch.stack([_call(negative_elbo_bound, name, (model, x, 1.0))[2].detach().double() for _ in range(n_calls)])
        gen = _g(123)
        ref_recs = torch.stack([objectives.vae_negative_elbo_bound(model, x, generator=gen)[2].double() for _ in range(4 * n_calls)])
    se = math.sqrt(recs.var() / n_calls + ref_recs.var() / (4 * n_calls)) + 1e-9
    if abs(recs.mean() - ref_recs.mean()) > 6 * se:
        if recs.std() < 1e-9 < ref_recs.std():
            hint = " It never changes between calls: z must be sampled from q(z|x), not set to its mean."
        else:
            hint = " Sample z ~ q(z|x) with sample_gaussian(m, v) and decode it."
        raise CheckFailed(f"{name}: the average of rec over {n_calls} calls is {recs.mean().item():.4f}, expected about {ref_recs.mean().item():.4f} (±{se:.3f}).{hint}")
    n += 1
    # Gradients of rec must reach both networks: through the decoder, and through the
    # reparameterised sample to the encoder (no detach, no sampling outside the graph).
    model.zero_grad(set_to_none=True)
    nelbo, _, rec = _call(negative_elbo_bound, name, (model, x, 1.0))
    if not (nelbo.requires_grad and rec.requires_grad):
        raise CheckFailed(f"{name}: nelbo or rec has no gradient; do not use .item(), .detach() or torch.no_grad() in the objective.")
    rec.backward()
    for part in ("encoder", "decoder"):
        _require_gradient(getattr(model, part), f"{name}: no gradient of rec reaches the {part}; z must be the reparameterised sample m + sqrt(v) * eps, not detached.")
    model.zero_grad(set_to_none=True)
    return n + 1


def check_negative_elbo_bound(negative_elbo_bound: Callable) -> None:
    """Visible check of the VAE's ``negative_elbo_bound`` (on its own: see :func:`check_on_its_own`)."""
    n = check_on_its_own(lambda: check_vae_negative_elbo_bound(negative_elbo_bound, betas=(1.0, 2.0), n_calls=20), negative_elbo_bound, "negative_elbo_bound")
    _report("negative_elbo_bound", n)
