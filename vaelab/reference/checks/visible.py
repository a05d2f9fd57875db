"""What the visible checks compare with: the reference of an exercise and its known mistakes, as
code (instructor only).

:func:`reference_and_mistakes` serves :class:`vaelab.checks.observe.LiveExpectations`; when a
handout is written, the same probes run on these functions once and only their observations ship.
Functions of tensors take their mistakes from the chapters' catalogues (:data:`MISTAKES`); the
objectives' mistakes are whole wrong objectives, below.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

import torch

from vaelab.reference import ch01

from . import MISTAKES


def _log_bernoulli_through_sigmoid(x, logits):
    p = torch.sigmoid(logits)
    return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)


def _vae_variant(
    rec_scale=1.0,
    kl_scale=1.0,
    beta_on="kl",
    swap=False,
    noise="std",
    detach_z=False,
    batch="mean",
    prior="model",
    rec_from="logits",
    kl_reversed=False,
):
    """A wrong chapter-1 objective (each argument one kind of slip); the defaults are the answer."""

    def wrong(model, x, beta=1.0):
        qm, qv = model.encode(x)
        pm, pv = model.prior() if prior == "model" else (torch.zeros_like(qm), torch.ones_like(qv))
        log_bernoulli = {
            "logits": ch01.log_bernoulli_with_logits,
            "sigmoid": _log_bernoulli_through_sigmoid,
            "mse": lambda x, logits: -(torch.sigmoid(logits) - x).pow(2).sum(-1),
        }[rec_from]
        spread = {"std": qv.sqrt(), "var": qv, "none": torch.zeros_like(qv)}[noise]
        z = qm + spread * torch.randn_like(qm)
        if detach_z:
            z = z.detach()
        reduce = (lambda t: t.sum()) if batch == "sum" else (lambda t: t.mean())
        rec = -reduce(log_bernoulli(x, model.decode(z))) * rec_scale
        kl = reduce(ch01.kl_normal(pm, pv, qm, qv) if kl_reversed else ch01.kl_normal(qm, qv, pm, pv)) * kl_scale
        nelbo = beta * rec + kl if beta_on == "rec" else rec + beta * kl
        return (nelbo, rec, kl) if swap else (nelbo, kl, rec)

    return wrong


VAE_MISTAKES = [
    (
        "rec is a squared error between x and sigmoid(logits): the reconstruction term is the Bernoulli negative "
        "log-likelihood, -log_bernoulli_with_logits(x, model.decode(z)).",
        _vae_variant(rec_from="mse"),
    ),
    ("rec and kl are swapped in the returned tuple: return (nelbo, kl, rec).", _vae_variant(swap=True)),
    (
        "beta multiplies the reconstruction term; it weights the KL: nelbo = rec + beta * kl.",
        _vae_variant(beta_on="rec"),
    ),
    (
        "the sample's noise is scaled by the variance v; it must be scaled by the standard deviation, "
        "z = m + sqrt(v) * eps.",
        _vae_variant(noise="var"),
    ),
    ("z is the encoder mean, not a sample: draw z = m + sqrt(v) * eps with fresh noise.", _vae_variant(noise="none")),
    (
        "z is detached, so no gradient of rec reaches the encoder: keep z = m + sqrt(v) * eps in the graph.",
        _vae_variant(detach_z=True),
    ),
    ("It is the sum over the batch: take the mean over examples.", _vae_variant(batch="sum")),
    ("the sign of rec is flipped: rec = -log p(x|z) is positive.", _vae_variant(rec_scale=-1.0)),
    (
        "the KL is computed against N(0, I): use the model's prior, pm, pv = model.prior(), which is not always "
        "standard.",
        _vae_variant(prior="standard"),
    ),
    (
        "rec goes through log(sigmoid(logits)), which rounds to log(0) for confident logits (inf or nan): compute it "
        "from the logits in a stable way (log_bernoulli_with_logits, F.binary_cross_entropy_with_logits).",
        _vae_variant(rec_from="sigmoid"),
    ),
    (
        "the KL's direction is reversed: this is KL(p || q). The argument order of kl_normal is (qm, qv, pm, pv): "
        "the posterior first, then the prior.",
        _vae_variant(kl_reversed=True),
    ),
]


def _gmvae_log_p(kind, z, model):
    """log p(z) under the mixture, right (``mc``) or in one of the usual wrong ways."""
    pm, pv = model.prior()
    components = ch01.log_normal(z.unsqueeze(1), pm, pv)  # (B, K)
    if kind == "no_log_k":
        return torch.logsumexp(components, 1)
    if kind == "mean_of_logs":
        return components.mean(1)
    if kind == "naive_mixture":
        return torch.log(torch.exp(components).mean(1))
    return torch.logsumexp(components, 1) - math.log(pm.shape[1])


def _gmvae_variant(kl="mc", fresh_z=False, detach_kl_z=False, noise="std", batch="mean", swap=False):
    """A wrong chapter-2 objective; the defaults are the answer."""

    def wrong(model, x):
        log_normal, log_bernoulli = ch01.log_normal, ch01.log_bernoulli_with_logits
        qm, qv = model.encode(x)
        spread = {"std": qv.sqrt(), "var": qv}[noise]
        z = qm + spread * torch.randn_like(qm)
        reduce = (lambda t: t.sum()) if batch == "sum" else (lambda t: t.mean())
        rec = -reduce(log_bernoulli(x, model.decode(z)))
        z_kl = qm + qv.sqrt() * torch.randn_like(qm) if fresh_z else z
        z_kl = z_kl.detach() if detach_kl_z else z_kl
        if kl == "standard_mc":
            kl_value = reduce(log_normal(z_kl, qm, qv) - log_normal(z_kl, torch.zeros_like(qm), torch.ones_like(qv)))
        elif kl == "sign":
            kl_value = -reduce(log_normal(z_kl, qm, qv) - model.log_prior(z_kl))
        elif kl == "log_q_mean":
            kl_value = reduce(log_normal(z_kl, qm, qv) / qm.shape[-1] - model.log_prior(z_kl))
        elif kl == "analytic_average":
            pm, pv = model.prior()
            kl_value = reduce(ch01.kl_normal(qm.unsqueeze(1), qv.unsqueeze(1), pm, pv).mean(1))
        elif kl == "clamped":
            kl_value = reduce((log_normal(z_kl, qm, qv) - model.log_prior(z_kl)).clamp(min=0))
        elif kl in ("no_log_k", "mean_of_logs", "naive_mixture"):
            kl_value = reduce(log_normal(z_kl, qm, qv) - _gmvae_log_p(kl, z_kl, model))
        else:
            kl_value = reduce(log_normal(z_kl, qm, qv) - model.log_prior(z_kl))
        return (rec + kl_value, rec, kl_value) if swap else (rec + kl_value, kl_value, rec)

    return wrong


GMVAE_MISTAKES = [
    (
        "each image's estimate log q(z|x) - log p(z) is clamped at 0 (or its negative values dropped): a one-sample "
        "estimate of a KL may be negative, and clamping it biases the average upward. Keep it as it is.",
        _gmvae_variant(kl="clamped"),
    ),
    # The analytic KL to N(0, I) and a Monte Carlo KL under N(0, I) agree on every observation (the same
    # expectation, the same gradient at z = m): one message names both.
    (
        "log p(z) is computed under N(0, I): use the mixture, log_normal_mixture(z, *model.prior()). (Or the KL "
        "is the analytic KL to N(0, I): the mixture's KL has no closed form; estimate it with "
        "log q(z|x) - log p(z) at the sampled z.)",
        _gmvae_variant(kl="standard_mc"),
    ),
    (
        "z is detached in the KL term, so the KL's gradient does not reach the encoder through the sample.",
        _gmvae_variant(detach_kl_z=True),
    ),
    ("the sample's noise is scaled by the variance v; it must be scaled by sqrt(v).", _gmvae_variant(noise="var")),
    ("It is the sum over the batch: take the mean over examples.", _gmvae_variant(batch="sum")),
    (
        "the mixture's density is computed as log(mean(exp(.))) of the components' log-densities, which underflows "
        "to log(0) for codes far from every component: combine them with torch.logsumexp (log_normal_mixture).",
        _gmvae_variant(kl="naive_mixture"),
    ),
    ("rec and kl are swapped in the returned tuple: return (nelbo, kl, rec).", _gmvae_variant(swap=True)),
    (
        "the sign of kl is flipped: the estimate is log q(z|x) - log p(z), not log p(z) - log q(z|x).",
        _gmvae_variant(kl="sign"),
    ),
    (
        "log q(z|x) is averaged over the latent coordinates: sum over them (log_normal sums over the last dimension).",
        _gmvae_variant(kl="log_q_mean"),
    ),
    (
        "the mixture's -log K is missing: its weights are 1/K, so log p(z) = logsumexp_k log N(z; m_k, v_k) - log K.",
        _gmvae_variant(kl="no_log_k"),
    ),
    (
        "log p(z) is the average of the components' log-densities: the mixture's log-density is the logsumexp of "
        "them minus log K (the log of the average density, not the average of the logs).",
        _gmvae_variant(kl="mean_of_logs"),
    ),
    (
        "the KL is the average of the analytic KLs to each component, which is not the KL to the mixture: estimate "
        "it by Monte Carlo, log q(z|x) - log p(z) at the sampled z, with the mixture's log_normal_mixture.",
        _gmvae_variant(kl="analytic_average"),
    ),
]


def _iwae_variant(
    reduce="lme", log_q=True, detach_weights=False, copies="x", prior="model", batch="mean", layout="iw_b", squash=False
):
    """A wrong chapter-3 objective; the defaults are the answer."""

    def wrong(model, x, iw):
        qm, qv = model.encode(x)
        if copies == "x":
            z = qm + qv.sqrt() * torch.randn((iw, *qm.shape), dtype=qm.dtype)
        else:  # one sample per image, copied iw times
            z = (qm + qv.sqrt() * torch.randn_like(qm)).expand(iw, *qm.shape)
        logits = model.decode(z)
        log_px = ch01.log_bernoulli_with_logits(x, torch.sigmoid(logits) if squash else logits)
        log_p = (
            model.log_prior(z) if prior == "model" else ch01.log_normal(z, torch.zeros_like(qm), torch.ones_like(qv))
        )
        log_qz = ch01.log_normal(z, qm, qv)
        log_w = log_px + log_p - (log_qz if log_q else 0)
        if layout == "b_iw":  # (iw, B) rows read as (B, iw): the log-mean-exp mixes images
            log_w = log_w.reshape(qm.shape[0], iw).T
        elif layout == "interleaved":  # image-major rows read as repetition-major
            log_w = log_w.T.reshape(iw, -1)
        weights = log_w.detach() if detach_weights else log_w
        if reduce in ("lme", "lse_plus"):
            bound = torch.logsumexp(weights, 0) + (1 if reduce == "lse_plus" else -1) * math.log(iw)
            if detach_weights:
                bound = (torch.softmax(weights, 0) * log_w).sum(0)
        else:
            bound = log_w.mean(0)
        total = (lambda t: t.sum()) if batch == "sum" else (lambda t: t.mean())
        return -total(bound), (log_qz - log_p).mean(), -log_px.mean()

    return wrong


IWAE_MISTAKES = [
    (
        "niwae is the average of the log-weights, which is the negative ELBO: it does not get tighter as iw "
        "grows. The bound takes the log of the average of the weights: log_mean_exp of the log-weights over the "
        "iw samples. (The same happens when the iw samples are one sample copied: duplicate x, or the "
        "posterior's parameters, and draw iw independent samples.)",
        _iwae_variant(reduce="mean"),
    ),
    (
        "log q(z|x) is missing from the log-weights: log w = log p(x|z) + log p(z) - log q(z|x).",
        _iwae_variant(log_q=False),
    ),
    (
        "one sample per image is copied iw times: duplicate x (or the posterior parameters) and draw iw independent "
        "samples.",
        _iwae_variant(copies="z"),
    ),
    (
        "log p(z) is the standard normal density: the prior is the model's, log p(z) = model.log_prior(z).",
        _iwae_variant(prior="standard"),
    ),
    (
        "the importance weights are detached: the bound's value is right but its gradient is the average of the "
        "samples' "
        "gradients, not the importance-weighted one.",
        _iwae_variant(detach_weights=True),
    ),
    ("the bound is a sum over the batch; it must be the mean over the examples.", _iwae_variant(batch="sum")),
    (
        "log(iw) is added instead of subtracted: log_mean_exp(log w) = logsumexp(log w) - log(iw).",
        _iwae_variant(reduce="lse_plus"),
    ),
    (
        "the decoder's output goes through a sigmoid before log_bernoulli_with_logits, which expects the logits "
        "themselves (a double sigmoid): pass model.decode(z) as it is.",
        _iwae_variant(squash=True),
    ),
    (
        "the log-weights are reshaped in the wrong order: each log-mean-exp mixes samples of several images. Rows "
        "duplicated repetition-major (duplicate) reshape to (iw, B); rows made with repeat_interleave (image-major) "
        "reshape to (B, iw), with the samples on dimension 1.",
        _iwae_variant(layout="b_iw"),
    ),
    (
        "the log-weights are reshaped in the wrong order: rows made with repeat_interleave (image-major) are read as "
        "(iw, B), so each log-mean-exp mixes samples of several images; reshape them to (B, iw), or duplicate with "
        "duplicate (repetition-major).",
        _iwae_variant(layout="interleaved"),
    ),
]


def _ssvae_variant(
    weighting="q",
    kl_y_sign=1.0,
    batch="mean",
    log_q_of="log_softmax",
    log_p="log",
    layout="y_b",
    logits_of="decoded",
    classes_dim=-1,
):
    """A wrong chapter-4 objective; the defaults are the answer."""
    from vaelab.reference import ch03, ch04

    def wrong(model, x):
        y_dim, b = model.y_dim, x.shape[0]
        logits = model.classify(x)
        q = logits.softmax(classes_dim)
        log_q = logits.log_softmax(classes_dim) if log_q_of == "log_softmax" else torch.log(q)
        labels = torch.eye(y_dim, dtype=x.dtype).repeat_interleave(b, dim=0)
        xs = ch03.duplicate(x, y_dim)
        qm, qv = model.encode(xs, labels)
        pm, pv = model.prior()
        z = qm + qv.sqrt() * torch.randn_like(qm)
        logits_x = model.decode(z, labels)
        logits_x = torch.sigmoid(logits_x) if logits_of == "sigmoid" else logits_x
        by_label = (lambda t: t.reshape(y_dim, b).T) if layout == "y_b" else (lambda t: t.reshape(b, y_dim))
        rec_y = by_label(-ch01.log_bernoulli_with_logits(xs, logits_x))
        kl_y_z = by_label(ch01.kl_normal(qm, qv, pm, pv))
        if weighting == "uniform":
            w = torch.full_like(q, 1.0 / y_dim)
        elif weighting == "argmax":
            w = torch.nn.functional.one_hot(q.argmax(-1), y_dim).to(q.dtype)
        else:
            w = q
        reduce = (lambda t: t.sum()) if batch == "sum" else (lambda t: t.mean())
        prior = -math.log(y_dim) if log_p == "log" else 1.0 / y_dim
        kl_y = kl_y_sign * reduce(ch04.kl_cat(q, log_q, torch.full_like(q, prior)))
        rec, kl_z = reduce((w * rec_y).sum(-1)), reduce((w * kl_y_z).sum(-1))
        return rec + kl_z + kl_y, kl_z, kl_y, rec

    return wrong


def _ssvae_mistakes():
    return [
        (
            "q(y|x) is normalised over the batch (softmax or log_softmax with dim=0): normalise the classifier's "
            "logits over the labels, the last dimension (softmax(logits, dim=-1)).",
            _ssvae_variant(classes_dim=0),
        ),
        (
            "the per-label terms are averaged with equal weights 1/Y: weight each label by q(y|x), the "
            "classifier's probabilities, sum over the labels, then average over the batch.",
            _ssvae_variant(weighting="uniform"),
        ),
        (
            "only the most likely label is used: y is summed out, every label weighted by q(y|x).",
            _ssvae_variant(weighting="argmax"),
        ),
        (
            "the sign of kl_y is flipped: KL(q(y|x) || p(y)) = sum q (log q - log p) is never negative.",
            _ssvae_variant(kl_y_sign=-1.0),
        ),
        ("It is the sum over the batch: take the mean over examples.", _ssvae_variant(batch="sum")),
        (
            "log q(y|x) is computed as torch.log(softmax(logits)): for a confident classifier some probabilities "
            "round to 0, log gives -inf and 0 * -inf is nan. Use log_softmax(logits).",
            _ssvae_variant(log_q_of="log"),
        ),
        (
            "the prior's probabilities 1/Y are passed as log_p: pass their logarithm, log p(y) = -log Y.",
            _ssvae_variant(log_p="probabilities"),
        ),
        (
            "a sigmoid is applied to the decoder's output before log_bernoulli_with_logits, which expects logits "
            "(a double sigmoid): pass model.decode(z, y) itself.",
            _ssvae_variant(logits_of="sigmoid"),
        ),
        (
            "the per-pair terms are reshaped in the wrong order: pairs made label-major (rows k * B + b) reshape to "
            "(Y, B), then transpose to (B, Y); viewing them as (B, Y) mixes images and labels.",
            _ssvae_variant(layout="b_y"),
        ),
    ]


def _fsvae_variant(variance=0.1, constant="full", reduce_pixels="sum", swap=False, mean_of="decoded", batch="mean"):
    """A wrong chapter-5 objective; the defaults are the answer."""
    constants = {
        "full": math.log(2 * math.pi * variance),
        "none": 0.0,
        "no_2pi": math.log(variance),
        "flipped": -math.log(2 * math.pi * variance),
    }

    def wrong(model, x, y):
        qm, qv = model.encode(x, y)
        pm, pv = model.prior()
        z = qm + qv.sqrt() * torch.randn_like(qm)
        mean = model.decode(z, y)
        if mean_of == "bernoulli":
            rec = -ch01.log_bernoulli_with_logits(x, mean)
        else:
            mean = {"decoded": mean, "sigmoid": torch.sigmoid(mean), "clip": mean.clamp(0, 1)}[mean_of]
            per_pixel = 0.5 * ((x - mean).pow(2) / variance + constants[constant])
            rec = per_pixel.sum(-1) if reduce_pixels == "sum" else per_pixel.mean(-1)
        kl = ch01.kl_normal(qm, qv, pm, pv)
        rec, kl = (rec.sum(), kl.sum()) if batch == "sum" else (rec.mean(), kl.mean())
        return (rec + kl, rec, kl) if swap else (rec + kl, kl, rec)

    return wrong


FSVAE_MISTAKES = [
    (
        "the normalising constant log(2π x_var) of the Gaussian is missing: rec = -log N(x; mean, x_var I), summed "
        "over "
        "pixels.",
        _fsvae_variant(constant="none"),
    ),
    (
        "the log(2π) part of the normalising constant is missing: rec = -log N(x; mean, x_var I) has "
        "D/2 log(2π x_var), not D/2 log(x_var).",
        _fsvae_variant(constant="no_2pi"),
    ),
    (
        "the sign of the normalising constant is flipped: -log N(x; mean, x_var I) adds + D/2 log(2π x_var).",
        _fsvae_variant(constant="flipped"),
    ),
    (
        "the likelihood is the Bernoulli of chapters 1-4: the FSVAE's p(x|z, y) is a Gaussian with mean "
        "model.decode(z, y) and variance model.x_var = 0.1.",
        _fsvae_variant(mean_of="bernoulli"),
    ),
    (
        "a sigmoid is applied to the decoder's output: it is the Gaussian's mean itself, not logits.",
        _fsvae_variant(mean_of="sigmoid"),
    ),
    (
        "the decoded mean is clipped to [0, 1] inside the loss: clip only to show pictures; the bound uses the mean "
        "as decoded.",
        _fsvae_variant(mean_of="clip"),
    ),
    ("It is the sum over the batch: take the mean over examples.", _fsvae_variant(batch="sum")),
    ("the likelihood's variance is 1: it is model.x_var = 0.1.", _fsvae_variant(variance=1.0)),
    (
        "The variance is 0.01: 0.1 is the variance, not the standard deviation (the standard deviation is sqrt(0.1)).",
        _fsvae_variant(variance=0.01),
    ),
    (
        "rec is averaged over pixels: sum over the pixels, then average over the batch.",
        _fsvae_variant(reduce_pixels="mean"),
    ),
    ("kl and rec are swapped in the returned tuple: return (nelbo, kl, rec).", _fsvae_variant(swap=True)),
]


def _classification_mistakes():
    return [
        (m.message, lambda model, x, y, f=m.impl: f(model.classify(x), y.argmax(-1)))
        for m in MISTAKES["classification_loss"]
    ]


def _kl_cat_mistakes():
    extra = [
        (
            "the prior is assumed uniform: use log_p, the prior is not always uniform.",
            lambda q, log_q, log_p: (q * (log_q + math.log(q.shape[-1]))).sum(-1),
        ),
        (
            "log q is computed as torch.log(q): it is -inf where q underflows to 0 (a confident classifier), and "
            "0 * -inf is nan. Use the log_q you are given.",
            lambda q, log_q, log_p: (q * (torch.log(q) - log_p)).sum(-1),
        ),
    ]
    return [(m.message, m.impl.exercise_form) for m in MISTAKES["kl_cat"]] + extra


#: Whole wrong objectives (and wrong functions in the exercise's own form) by check id.
OBJECTIVE_MISTAKES: dict[str, Callable[[], list[tuple[str, Callable]]]] = {
    "01_vae/negative_elbo_bound": lambda: VAE_MISTAKES,
    "02_gmvae/negative_elbo_bound": lambda: GMVAE_MISTAKES,
    "03_iwae/negative_iwae_bound": lambda: IWAE_MISTAKES,
    "04_ssvae/negative_elbo_bound": _ssvae_mistakes,
    "04_ssvae/classification_loss": _classification_mistakes,
    "04_ssvae/kl_cat": _kl_cat_mistakes,
    "05_fsvae/negative_elbo_bound": lambda: FSVAE_MISTAKES,
}


def reference_and_mistakes(check_id: str) -> tuple[Callable, list[tuple[str, Callable]]]:
    """The reference answer of the check's exercise and its known mistakes ``(message, code)``."""
    chapter, name = check_id.split("/")
    reference = getattr(importlib.import_module(f"vaelab.reference.ch{chapter[:2]}"), name)
    if check_id in OBJECTIVE_MISTAKES:
        return reference, OBJECTIVE_MISTAKES[check_id]()
    return reference, [(m.message, m.impl) for m in MISTAKES.get(name, [])]


__all__ = ["reference_and_mistakes", "OBJECTIVE_MISTAKES"]
