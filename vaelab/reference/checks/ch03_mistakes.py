"""Chapter 3 (IWAE): the catalogues of known mistakes of its three exercises.

``duplicate`` and ``log_mean_exp`` have wrong implementations that :func:`check_against_reference`
compares an answer's output with; ``negative_iwae_bound`` has :data:`IWAE_MISTAKES`, wrong bounds
written with the reference helpers, whose means over calls name the mistake of an answer whose mean
is off (see :mod:`vaelab.reference.checks.ch03`, which re-exports :data:`MISTAKES`,
:data:`NEAR_MISS_HINTS` and :data:`IWAE_MISTAKES`). Only the reference helpers are used here.
"""

from __future__ import annotations

import math

import torch

from vaelab import reference as ref
from vaelab.checks.engine import Mistake

# --------------------------------------------------------------------------------------------------
# duplicate and log_mean_exp: the catalogue of known mistakes.
# --------------------------------------------------------------------------------------------------

#: This chapter's known mistakes by exercise name (merged with the others' in the package).
MISTAKES: dict[str, list[Mistake]] = {}
#: Hints appended to a "values differ" message when the error is small, by exercise name.
NEAR_MISS_HINTS: dict[str, str] = {}


def _lme_naive(x, dim):
    return torch.log(torch.exp(x).mean(dim))


def _lme_shift_not_added_back(x, dim):
    top = x.max(dim, keepdim=True).values
    return torch.log(torch.exp(x - top).mean(dim))


_WRONG_COUNT = (
    "the log of the count is wrong: n is x.shape[dim], the number of values averaged over, "
    "not the size of another dimension or of the whole tensor."
)

MISTAKES.update(
    {
        "duplicate": [
            Mistake(
                "the copies are example-major (x[0], x[0], ..., x[1], x[1], ...), as repeat_interleave or stacking "
                "on dimension 1 gives. duplicate must be repetition-major: all of x, then all of x again "
                "(x.repeat(rep, 1) or torch.cat([x] * rep)), so that row r * B + b is x[b].",
                lambda x, rep: x.repeat_interleave(rep, dim=0),
            ),
            Mistake(
                "the copies are concatenated along the last dimension, giving (B, rep * D): stack them along the "
                "batch dimension (dim 0) instead, giving (rep * B, D).",
                lambda x, rep: torch.cat([x] * rep, dim=-1),
            ),
            Mistake(
                "the result has shape (rep, B, D): merge the first two dimensions into one of size rep * B "
                "(reshape(rep * x.shape[0], ...)).",
                lambda x, rep: x.expand(rep, *x.shape),
            ),
            Mistake(
                "the result has shape (B, rep, D): stack the copies one after the other along dimension 0, "
                "giving (rep * B, D), repetition-major.",
                lambda x, rep: torch.stack([x] * rep, dim=1),
            ),
        ],
        "log_mean_exp": [
            Mistake(
                "log(mean(exp(x))) is computed directly: exp overflows to inf for x above about 88 in float32 and "
                "underflows to 0 below about -104, so the log is inf or -inf. Use torch.logsumexp(x, dim) - log(n), "
                "or subtract the maximum before exponentiating and add it back afterwards.",
                _lme_naive,
            ),
            *[
                Mistake(
                    "log(mean(exp(x))) is computed with an epsilon or a clamp inside the log: exp(x) underflows to "
                    "0 for "
                    "very negative x, and the epsilon then decides the result. Use torch.logsumexp(x, dim) - log(n).",
                    impl,
                )
                for eps in (1e-6, 1e-8, 1e-10, 1e-12, 1e-20, 1e-30)
                for impl in (
                    lambda x, dim, eps=eps: torch.log(torch.exp(x).mean(dim) + eps),
                    lambda x, dim, eps=eps: torch.log(torch.exp(x).mean(dim).clamp(min=eps)),
                )
            ],
            Mistake(
                "this is log(sum(exp(x))): the mean divides by n, so subtract log(n) with n = x.shape[dim].",
                lambda x, dim: torch.logsumexp(x, dim),
            ),
            Mistake(
                "the logsumexp is divided by n instead of subtracting log n: the mean is inside the log, so "
                "log mean exp(x) = logsumexp(x) - log n.",
                lambda x, dim: torch.logsumexp(x, dim) / x.shape[dim],
            ),
            Mistake(
                "log(n) is added instead of subtracted: log(mean) = logsumexp - log(n).",
                lambda x, dim: torch.logsumexp(x, dim) + math.log(x.shape[dim]),
            ),
            Mistake(
                "the maximum subtracted inside the exponential is not added back: "
                "log mean exp(x) = max + log mean exp(x - max).",
                _lme_shift_not_added_back,
            ),
            Mistake(
                "the averaged dimension is kept (keepdim=True): the result must not have the dimension dim.",
                lambda x, dim: torch.logsumexp(x, dim, keepdim=True) - math.log(x.shape[dim]),
            ),
            Mistake(
                "this is the mean of x: the exercise is the log of the mean of exp(x).", lambda x, dim: x.mean(dim)
            ),
            Mistake(_WRONG_COUNT, lambda x, dim: torch.logsumexp(x, dim) - math.log(x.shape[0])),
            Mistake(_WRONG_COUNT, lambda x, dim: torch.logsumexp(x, dim) - math.log(x.shape[-1])),
            Mistake(_WRONG_COUNT, lambda x, dim: torch.logsumexp(x, dim) - math.log(x.numel())),
            Mistake(
                "log(n) uses the wrong base: natural logarithms throughout (math.log, not math.log10 or math.log2).",
                lambda x, dim: torch.logsumexp(x, dim) - math.log10(x.shape[dim]),
            ),
            Mistake(
                "the average runs over the wrong dimension: use the dim argument (negative values count from the end).",
                lambda x, dim: ref.log_mean_exp(x, 0),
            ),
            Mistake(
                "the average runs over the wrong dimension: use the dim argument (negative values count from the end).",
                lambda x, dim: ref.log_mean_exp(x, -1),
            ),
        ],
    }
)

NEAR_MISS_HINTS.update(
    {
        "log_mean_exp": (
            "Small differences like this come from an epsilon inside a log, or from a clamp before the exponential."
        ),
    }
)


# --------------------------------------------------------------------------------------------------
# negative_iwae_bound: the known mistakes, written with the reference helpers.
# --------------------------------------------------------------------------------------------------


def _parts(model, x, iw, generator=None, interleave=False, prior="model", squash=False):
    """``log p(x|z)``, ``log p(z)``, ``log q(z|x)`` of ``iw`` samples per example, each ``(iw * B,)``
    repetition-major (example-major with ``interleave``), and the encoder's ``(m, v)``. With ``squash``,
    the decoder's logits go through a sigmoid before the Bernoulli log-likelihood (a double sigmoid)."""
    dup = (lambda t: t.repeat_interleave(iw, dim=0)) if interleave else (lambda t: ref.duplicate(t, iw))
    qm, qv = model.encode(x)
    qm_s, qv_s, x_s = dup(qm), dup(qv), dup(x)
    z = ref.sample_gaussian(qm_s, qv_s, generator=generator)
    logits = model.decode(z)
    log_px_z = ref.log_bernoulli_with_logits(x_s, torch.sigmoid(logits) if squash else logits)
    if prior == "standard":  # N(0, I) whatever the model's prior
        log_p = ref.log_normal(z, torch.zeros_like(z), torch.ones_like(z))
    else:
        log_p = model.log_prior(z)
    return log_px_z, log_p, ref.log_normal(z, qm_s, qv_s), (qm, qv)


def _iwae_from_weights(log_w, x, iw, layout="SB", reduce="lme", batch="mean"):
    """``-mean log_mean_exp`` of ``log_w: (iw * B,)`` (repetition-major), or one of its known wrong variants."""
    B = x.shape[0]
    if layout == "BS":  # mixes examples when log_w is repetition-major
        per_example, dim = log_w.reshape(B, iw), 1
    elif layout == "batch":  # the log-mean-exp over the examples instead of the samples
        per_example, dim = log_w.reshape(iw, B), 1
    else:
        per_example, dim = log_w.reshape(iw, B), 0
    if reduce == "lme":
        bound = ref.log_mean_exp(per_example, dim)
    elif reduce == "lse":
        bound = torch.logsumexp(per_example, dim)
    elif reduce == "lse_plus":  # log(iw) added where it is subtracted
        bound = torch.logsumexp(per_example, dim) + math.log(per_example.shape[dim])
    else:  # "mean": the average of the log-weights (the ELBO)
        bound = per_example.mean(dim)
    return -(bound.sum() if batch == "sum" else bound.mean())


def _mistake(
    layout="SB", reduce="lme", batch="mean", sign=1.0, weights="full", interleave=False, prior="model", squash=False
):
    """A wrong ``negative_iwae_bound(model, x, iw, generator=None)`` built from the reference helpers."""

    def impl(model, x, iw, generator=None):
        log_px_z, log_p, log_q, (qm, qv) = _parts(model, x, iw, generator, interleave, prior, squash)
        kl, rec = (log_q - log_p).mean(), -log_px_z.mean()
        if weights == "full":
            log_w = log_px_z + log_p - log_q
        elif weights == "no_q":
            log_w = log_px_z + log_p
        elif weights == "no_p":
            log_w = log_px_z - log_q
        elif weights == "rec_only_mc":  # log-mean-exp of log p(x|z) alone, the Monte Carlo KL added outside
            return _iwae_from_weights(log_px_z, x, iw, layout, reduce, batch) + kl, kl, rec
        elif weights == "rec_only_analytic":  # the same with the analytic KL of a VAE
            pm, pv = model.prior()
            kl_a = ref.kl_normal(qm, qv, pm, pv).mean()
            return _iwae_from_weights(log_px_z, x, iw, layout, reduce, batch) + kl_a, kl_a, rec
        else:
            raise ValueError(weights)
        return sign * _iwae_from_weights(log_w, x, iw, layout, reduce, batch), kl, rec

    return impl


_MIXED = (
    "samples of different examples are mixed in one log-mean-exp. With duplicate (repetition-major), row "
    "r * B + b belongs to example b, so reshape the log-weights to (iw, B) and average over dim 0; "
    "(B, iw) would be right only for example-major copies (repeat_interleave)."
)

#: Known wrong ``negative_iwae_bound`` implementations: ``impl(model, x, iw, generator=None)``.
IWAE_MISTAKES: list[Mistake] = [
    Mistake(
        "niwae is the average of the log-weights, which is the negative ELBO: it does not get tighter as iw grows. "
        "The bound takes the log of the average of the weights: log_mean_exp of the log-weights over the iw samples.",
        _mistake(reduce="mean"),
    ),
    Mistake(
        "the -log(iw) of the log-mean-exp is missing (a log-sum-exp instead of a log-mean-exp).", _mistake(reduce="lse")
    ),
    Mistake(
        "log(iw) is added instead of subtracted: log_mean_exp(log w) = logsumexp(log w) - log(iw).",
        _mistake(reduce="lse_plus"),
    ),
    Mistake(
        "the decoder's output goes through a sigmoid before log_bernoulli_with_logits, which expects the logits "
        "themselves (a double sigmoid): pass model.decode(z) as it is.",
        _mistake(squash=True),
    ),
    Mistake(_MIXED, _mistake(layout="BS")),
    Mistake(_MIXED, _mistake(layout="SB", interleave=True)),
    Mistake(
        "the log-mean-exp runs over the examples of the batch instead of over the iw samples of each example: "
        "reshape the log-weights to (iw, B) and average over dim 0.",
        _mistake(layout="batch"),
    ),
    Mistake("the result is summed over the batch: take the mean over examples.", _mistake(batch="sum")),
    Mistake(
        "the sign is flipped: niwae is the negative of the bound, -log_mean_exp(log-weights), a positive number "
        "for images.",
        _mistake(sign=-1.0),
    ),
    Mistake(
        "the prior is N(0, I): use model.log_prior(z), which is the learnable mixture for a GMVAE.",
        _mistake(prior="standard"),
    ),
    Mistake("the log-weights lack -log q(z|x): each weight is p(x|z_i) p(z_i) / q(z_i|x).", _mistake(weights="no_q")),
    Mistake("the log-weights lack log p(z): each weight is p(x|z_i) p(z_i) / q(z_i|x).", _mistake(weights="no_p")),
    Mistake(
        "the log-mean-exp is taken over log p(x|z_i) alone and the KL is added outside it: each importance weight "
        "must carry its own sample's log p(z_i) - log q(z_i|x), log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x).",
        _mistake(weights="rec_only_mc"),
    ),
    Mistake(
        "the log-mean-exp is taken over log p(x|z_i) alone and the analytic KL is added outside it: each importance "
        "weight must carry its own sample's log p(z_i) - log q(z_i|x), log w_i = log p(x|z_i) + log p(z_i) - log "
        "q(z_i|x).",
        _mistake(weights="rec_only_analytic"),
    ),
]
MISTAKES["negative_iwae_bound"] = IWAE_MISTAKES
