"""Chapter 4 (SSVAE): the checks of ``negative_elbo_bound(model, x)`` (re-exported by :mod:`.ch04`).

The bound samples one ``z`` per (image, label) pair. It is checked **exactly** in the limit of a
vanishing encoder variance (:class:`TinySSVariance`: ``z`` is the encoder mean, so every correct
implementation returns the same numbers whatever random numbers it draws, however it lays out the
``Y * B`` pairs), where the known mistakes (no ``q(y|x)`` weighting, the argmax label only, labels
paired with the wrong copies of ``x``, a missing ``kl_y``, a sum over the batch) are told apart;
**statistically** with the real variance (the average of ``rec`` over calls); and by its gradients
(classifier, encoder, decoder).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.checks.probes import sharpen_classifier

from . import CheckFailed, _call, _g, _require_gradient, _scalar

# --------------------------------------------------------------------------------------------------
# negative_elbo_bound of the SSVAE.
# --------------------------------------------------------------------------------------------------


class TinySSVariance(nn.Module):
    """Wraps an SSVAE so that the encoder's variance is ``scale`` times smaller.

    With ``scale`` tiny, ``z ~ q(z|x,y)`` is the encoder mean up to rounding, so the reconstruction
    term of every (image, label) pair is deterministic and the whole bound can be compared with the
    reference exactly, whatever random numbers and whatever layout of the pairs the answer uses.
    """

    def __init__(self, model, scale: float = 1e-14):
        super().__init__()
        self.model, self.scale = model, scale
        self.z_dim, self.y_dim, self.x_dim = model.z_dim, model.y_dim, model.x_dim

    def classify(self, x):
        return self.model.classify(x)

    def encode(self, x, y):
        m, v = self.model.encode(x, y)
        return m, v * self.scale

    def decode(self, z, y):
        return self.model.decode(z, y)

    def prior(self):
        return self.model.prior()


def small_ssvae(seed: int = 0, z_dim: int = 3, y_dim: int = 10, x_dim: int = 20, hidden: int = 16, dtype=torch.float32):
    """A fixed small SSVAE for the checks, built without touching the caller's random state."""
    from vaelab.models import SSVAE

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = SSVAE(z_dim=z_dim, y_dim=y_dim, x_dim=x_dim, hidden=hidden)
    sharpen_classifier(model)
    return model.to(dtype)


def _four_scalars(name, out):
    if not (isinstance(out, (tuple, list)) and len(out) == 4):
        raise CheckFailed(
            f"{name} must return a tuple (nelbo, kl_z, kl_y, rec); it returned {type(out).__name__}"
            f"{'' if not isinstance(out, (tuple, list)) else ' of length ' + str(len(out))}."
        )
    if not all(_scalar(t) for t in out):
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in out]
        raise CheckFailed(
            f"{name} must return four scalars (means over the batch); got shapes {shapes}. Average over the batch "
            "with .mean()."
        )
    return out


def _near(a, b, rtol=1e-4, atol=1e-4) -> bool:
    return bool(torch.isclose(torch.as_tensor(a).double(), torch.as_tensor(b).double(), rtol=rtol, atol=atol))


def _per_pair_terms(model, x):
    """(q, rec, kl_z): ``q (B, Y)`` and the per-pair terms ``(B, Y)``, z at the encoder mean."""
    b, y_dim = x.shape[0], model.y_dim
    with torch.no_grad():
        q = model.classify(x).softmax(-1)
        eye = torch.eye(y_dim, dtype=x.dtype)
        rec = torch.empty(b, y_dim, dtype=torch.float64)
        kl = torch.empty(b, y_dim, dtype=torch.float64)
        pm, pv = model.prior()
        for k in range(y_dim):
            y = eye[k].expand(b, y_dim)
            m, v = model.encode(x, y)
            rec[:, k] = -ref.log_bernoulli_with_logits(x, model.decode(m, y)).double()
            kl[:, k] = ref.kl_normal(m, v, pm, pv).double()
    return q.double(), rec, kl


def _mismatched_terms(model, x, layout):
    """Per-pair terms (B, Y) computed as an answer that pairs the copies of x with the wrong labels does."""
    b, y_dim = x.shape[0], model.y_dim
    with torch.no_grad():
        eye = torch.eye(y_dim, dtype=x.dtype)
        if layout == "labels example-major":  # duplicate(x) with labels eye.repeat(B, 1)
            xs, ys = ref.duplicate(x, y_dim), eye.repeat(b, 1)

            def reshape(t):
                return t.reshape(y_dim, b).T

        elif layout == "images example-major":  # x.repeat_interleave(Y) with labels repeat_interleave(B)
            xs, ys = x.repeat_interleave(y_dim, 0), eye.repeat_interleave(b, 0)

            def reshape(t):
                return t.reshape(b, y_dim)

        else:  # right pairs (duplicate + repeat_interleave), reshaped to (B, Y) directly
            xs, ys = ref.duplicate(x, y_dim), eye.repeat_interleave(b, 0)

            def reshape(t):
                return t.reshape(b, y_dim)

        m, v = model.encode(xs, ys)
        pm, pv = model.prior()
        rec = reshape(-ref.log_bernoulli_with_logits(xs, model.decode(m, ys)).double())
        kl = reshape(ref.kl_normal(m, v, pm, pv).double())
    return rec, kl


def _sigmoid_rec(model, x):
    """Per-pair rec (B, Y) at the encoder mean, when the decoder's logits go through a sigmoid first."""
    b, y_dim = x.shape[0], model.y_dim
    out = torch.empty(b, y_dim, dtype=torch.float64)
    with torch.no_grad():
        eye = torch.eye(y_dim, dtype=x.dtype)
        for k in range(y_dim):
            y = eye[k].expand(b, y_dim)
            m, _ = model.encode(x, y)
            out[:, k] = -ref.log_bernoulli_with_logits(x, torch.sigmoid(model.decode(m, y))).double()
    return out


def _kl_y(q):
    return ref.kl_cat(q, q.clamp_min(1e-300).log(), torch.full_like(q, -math.log(q.shape[-1]))).mean()


_MISMATCH = (
    "the labels are not paired with the right copies of x: duplicate(x, Y) is repetition-major (all of x, then all "
    "of x again, ...), so the labels must be torch.eye(Y).repeat_interleave(B, 0) (B rows of label 0, then B of "
    "label 1, ...), and the per-pair terms reshape to (Y, B) before they are transposed to (B, Y) and weighted by "
    "q(y|x)."
)


def _diagnose_limit(name, got, model, x, q, rec_p, kl_p):
    """Name the mistake of an answer whose (rec, kl_z, kl_y) differ from the reference in the limit."""
    nelbo, kl_z, kl_y, rec = (t.detach().double() for t in got)
    b = x.shape[0]
    rec_ref, klz_ref, kly_ref = (q * rec_p).sum(-1).mean(), (q * kl_p).sum(-1).mean(), _kl_y(q)
    top = q.argmax(-1, keepdim=True)
    with torch.no_grad():
        q_batch = model.classify(x).double().softmax(0)  # normalised over the wrong dimension
    candidates = [
        (
            ((q_batch * rec_p).sum(-1).mean(), (q_batch * kl_p).sum(-1).mean(), None),
            "q(y|x) is normalised over the batch (softmax or log_softmax with dim=0): normalise the classifier's "
            "logits over the labels, the last dimension (softmax(logits, dim=-1)).",
        ),
        (
            (rec_p.mean(-1).mean(), kl_p.mean(-1).mean(), None),
            (
                "the per-label terms are averaged with equal weights 1/Y: weight each label by q(y|x), the "
                "classifier's "
                "probabilities, sum over the labels, then average over the batch."
            ),
        ),
        (
            (rec_p.gather(-1, top).mean(), kl_p.gather(-1, top).mean(), None),
            "only the most probable label (argmax of q(y|x)) is used: the bound sums over every label, weighted by "
            "q(y|x).",
        ),
        (
            (rec_p.sum(-1).mean(), kl_p.sum(-1).mean(), None),
            "the per-label terms are summed without the q(y|x) weights: weight each label by q(y|x).",
        ),
        ((rec_ref * b, klz_ref * b, kly_ref * b), "it is the sum over the batch: take the mean over examples."),
        (
            ((q.mean(0) * rec_p.mean(0)).sum(), (q.mean(0) * kl_p.mean(0)).sum(), None),
            "q(y|x) and the per-label terms are averaged over the batch separately and then multiplied: the mean of a "
            "product is not the product of the means. Weight each image's terms by its own q(y|x), sum over the "
            "labels, "
            "then average over the batch.",
        ),
    ]
    for layout in ("labels example-major", "images example-major", "reshape"):
        r, k = _mismatched_terms(model, x, layout)
        candidates.append((((q * r).sum(-1).mean(), (q * k).sum(-1).mean(), None), _MISMATCH))
    for (r, k, ky), hint in candidates:
        matches = _near(rec, r) and _near(kl_z, k) and (ky is None or _near(kl_y, ky))
        if matches and not (_near(r, rec_ref) and _near(k, klz_ref)):
            return f"{name}: {hint}"
    if _near(rec, rec_ref) and _near(kl_z, klz_ref):
        if _near(kl_y, 0.0) and not _near(kly_ref, 0.0):
            return (
                f"{name}: kl_y is missing (it is 0): add KL(q(y|x) || p(y)) with the uniform prior p(y) = 1/Y, "
                "kl_cat(q, log_q, log p) averaged over the batch."
            )
        if _near(kl_y, -kly_ref):
            return (
                f"{name}: the sign of kl_y is flipped: it is KL(q(y|x) || p(y)) = sum q (log q - log p), never "
                "negative."
            )
        if _near(kl_y, kly_ref * b):
            return f"{name}: kl_y is summed over the batch: take the mean over examples."
        if not _near(kl_y, kly_ref):
            return (
                f"{name}: kl_y = {kl_y.item():.5g}, expected {kly_ref.item():.5g}: it is the mean over the batch of "
                "kl_cat(q, log_q, log p) with q = softmax(model.classify(x)) and log p = -log Y for every label."
            )
        if _near(nelbo, rec + kl_z) and not _near(kly_ref, 0.0):
            return f"{name}: kl_y is missing from nelbo: nelbo = rec + kl_z + kl_y."
        if _near(nelbo, rec + kl_z - kl_y) and not _near(kly_ref, 0.0):
            return f"{name}: kl_y is subtracted in nelbo: both KL terms are added, nelbo = rec + kl_z + kl_y."
        return f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + kl_z + kl_y ({(rec + kl_z + kl_y).item():.5g})."
    parts = []
    if not _near(rec, rec_ref):
        parts.append(f"rec = {rec.item():.5g}, expected {rec_ref.item():.5g}")
    if not _near(kl_z, klz_ref):
        parts.append(f"kl_z = {kl_z.item():.5g}, expected {klz_ref.item():.5g}")
    hint = ""
    if _near(rec, -rec_ref):
        hint = " The sign of rec is flipped: rec is the negative log-likelihood, -log p(x|z,y), a positive number."
    elif _near(rec, rec_ref / x.shape[1]):
        hint = " rec is averaged over pixels: sum over pixels (the last dimension), then weight and average."
    elif _near(rec, (q * _sigmoid_rec(model, x)).sum(-1).mean()):
        hint = (
            " The decoder's output goes through a sigmoid before log_bernoulli_with_logits, which expects the "
            "logits themselves (a double sigmoid): pass model.decode(z, y) as it is."
        )
    elif not _near(kl_z, klz_ref) and _near(rec, rec_ref):
        hint = " kl_z is the analytic kl_normal(m, v, *model.prior()) of each pair, weighted by q(y|x)."
    return (
        f"{name}, with the encoder variance shrunk to ~0 (so z is the encoder mean): {'; '.join(parts)}.{hint} "
        "Pair every image with every one-hot label, compute rec and kl_z of each pair, weight them by q(y|x), "
        "sum over the labels and average over the batch."
    )


def _check_limit(name, negative_elbo_bound, model, x):
    tiny = TinySSVariance(model)
    got = _four_scalars(name, _call(negative_elbo_bound, name, (tiny, x)))
    q, rec_p, kl_p = _per_pair_terms(tiny, x)
    if not all(bool(torch.isfinite(t).all()) for t in got):
        confident = bool((q < 1e-30).any())
        raise CheckFailed(
            f"{name} returned inf or nan ({', '.join(f'{t.item():.4g}' for t in got)})"
            + (
                " with a confident classifier, where q(y|x) rounds to 0 for some labels: torch.log(softmax(.)) gives "
                "-inf there and 0 * -inf = nan. Use log_q = F.log_softmax(logits, dim=-1), which stays finite."
                if confident
                else ": the computation is numerically unstable (use log_softmax, logsumexp, softplus)."
            )
        )
    rec_ref, klz_ref, kly_ref = (q * rec_p).sum(-1).mean(), (q * kl_p).sum(-1).mean(), _kl_y(q)
    nelbo, kl_z, kl_y, rec = (t.detach().double() for t in got)
    ok = (
        _near(rec, rec_ref)
        and _near(kl_z, klz_ref)
        and _near(kl_y, kly_ref)
        and _near(nelbo, rec + kl_z + kl_y, 1e-5, 1e-5)
    )
    if not ok:
        again = _four_scalars(name, _call(negative_elbo_bound, name, (tiny, x)))
        if any(not _near(a.detach(), b.detach(), 1e-6, 1e-6) for a, b in zip(got, again)):
            raise CheckFailed(
                f"{name}: with the encoder variance shrunk to ~0 the bound is deterministic, yet two calls gave "
                f"rec = {got[3].item():.5g} and {again[3].item():.5g}: it samples a label (or draws other random "
                "numbers) instead of summing over every label. Sum the per-label terms over all Y labels, weighted "
                "by q(y|x)."
            )
        raise CheckFailed(_diagnose_limit(name, got, tiny, x, q, rec_p, kl_p))
    return 1


def _check_statistics(name, negative_elbo_bound, model, x, n_calls):
    """With the real variance: kl_z, kl_y exact; rec right on average, and random."""
    with torch.no_grad():
        values = [_four_scalars(name, _call(negative_elbo_bound, name, (model, x))) for _ in range(n_calls)]
        recs = torch.stack([v[3].detach().double() for v in values])
        gen = _g(321)
        ref_values = [objectives.ssvae_negative_elbo_bound(model, x, generator=gen) for _ in range(4 * n_calls)]
        ref_recs = torch.stack([v[3].double() for v in ref_values])
        _, klz_ref, kly_ref, _ = ref_values[0]
    kl_z, kl_y = values[0][1].detach(), values[0][2].detach()
    if not (_near(kl_z, klz_ref) and _near(kl_y, kly_ref)):
        raise CheckFailed(
            f"{name}: kl_z = {kl_z.item():.5g} and kl_y = {kl_y.item():.5g}, expected {klz_ref.item():.5g} and "
            f"{kly_ref.item():.5g}. kl_z is the analytic KL of each (image, label) pair, weighted by q(y|x); kl_y is "
            "KL(q(y|x) || uniform)."
        )
    if n_calls > 1 and bool((recs == recs[0]).all()):
        _, rec_p, _ = _per_pair_terms(model, x)
        q = model.classify(x).softmax(-1).detach().double()
        if _near(recs[0], (q * rec_p).sum(-1).mean()):
            raise CheckFailed(
                f"{name}: the decoded z is the encoder mean m. Sample z ~ q(z|x,y) = N(m, v) with "
                "sample_gaussian(m, v)."
            )
        raise CheckFailed(f"{name}: every call returned the same rec: draw a fresh z ~ q(z|x,y) at every call.")
    se = math.sqrt(recs.var().item() / n_calls + ref_recs.var().item() / (4 * n_calls)) + 1e-9
    if abs(recs.mean() - ref_recs.mean()) > 6 * se:
        raise CheckFailed(
            f"{name}: the average of rec over {n_calls} calls is {recs.mean().item():.4f}, expected about "
            f"{ref_recs.mean().item():.4f} (±{se:.3f}). Sample z ~ q(z|x,y) with sample_gaussian(m, v), one z per pair."
        )
    return 2


def _check_gradients(name, negative_elbo_bound, model, x):
    model.zero_grad(set_to_none=True)
    nelbo, kl_z, kl_y, rec = _call(negative_elbo_bound, name, (model, x))
    if not (nelbo.requires_grad and rec.requires_grad and kl_z.requires_grad and kl_y.requires_grad):
        raise CheckFailed(
            f"{name}: nelbo, kl_z, kl_y or rec has no gradient; do not use .item(), .detach() or torch.no_grad() "
            "in the objective."
        )
    rec.backward(retain_graph=True)
    for part, why in (
        ("classifier", "q(y|x) weights the per-label terms: compute it from model.classify(x) without detaching it."),
        ("encoder", "z must be the reparameterised sample m + sqrt(v) * eps."),
        ("decoder", "rec = -log p(x|z,y) from model.decode(z, y)."),
    ):
        _require_gradient(getattr(model, part), f"{name}: no gradient of rec reaches the {part}; {why}")
    model.zero_grad(set_to_none=True)
    kl_y.backward()
    _require_gradient(
        model.classifier,
        f"{name}: no gradient of kl_y reaches the classifier; compute q(y|x) from model.classify(x) without "
        "detaching it.",
    )
    model.zero_grad(set_to_none=True)
    return 1


def _check_limit_gradient(name, negative_elbo_bound, model, x):
    """In the vanishing-variance limit (float64) the gradient of nelbo is deterministic: it must be the
    reference's with respect to every parameter (classifier, encoder, decoder)."""
    import copy

    model64 = copy.deepcopy(model).double()
    tiny, x64 = TinySSVariance(model64), x.double()
    params = [p for p in model64.parameters() if p.requires_grad]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        nelbo = _four_scalars(name, _call(negative_elbo_bound, name, (tiny, x64)))[0]
    if not nelbo.requires_grad:
        raise CheckFailed(
            f"{name}: nelbo has no gradient; do not use .item(), .detach() or torch.no_grad() in the objective."
        )
    got = torch.autograd.grad(nelbo, params, allow_unused=True)
    reference = objectives.ssvae_negative_elbo_bound(tiny, x64, generator=_g(0))[0]
    want = torch.autograd.grad(reference, params, allow_unused=True)
    flat = [
        torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for g, p in zip(gs, params)])
        for gs in (got, want)
    ]
    diff = (flat[0] - flat[1]).abs().max().item()
    if diff > 1e-4 * flat[1].abs().max().item() + 1e-7:
        raise CheckFailed(
            f"{name}: the values are right, but the gradient of nelbo differs from the reference's (largest difference "
            f"{diff:.3g}, with the encoder variance shrunk to ~0): a detached q(y|x) weight, z or term (.detach(), "
            ".item(), torch.no_grad()) removes part of the gradient, so the classifier or the encoder would train "
            "wrong."
        )
    return 1


def check_ssvae_negative_elbo_bound(negative_elbo_bound: Callable, model=None, x=None, n_calls: int = 20) -> int:
    """Check ``negative_elbo_bound(model, x) -> (nelbo, kl_z, kl_y, rec)`` of the SSVAE.

    * four scalars, ``nelbo = rec + kl_z + kl_y``;
    * in the vanishing-variance limit, exactly the reference: every label, weighted by ``q(y|x)``;
    * with the real variance, ``kl_z`` and ``kl_y`` exact and ``rec`` right on average over calls;
    * gradients reach the classifier, the encoder and the decoder.
    """
    name = "negative_elbo_bound"
    if model is None:
        model = small_ssvae()
    if x is None:
        dtype = next(model.parameters()).dtype
        x = torch.bernoulli(torch.full((13, model.x_dim), 0.3, dtype=dtype), generator=_g(2))
    n = _check_limit(name, negative_elbo_bound, model, x)
    n += _check_statistics(name, negative_elbo_bound, model, x, n_calls)
    n += _check_gradients(name, negative_elbo_bound, model, x)
    n += _check_limit_gradient(name, negative_elbo_bound, model, x)
    return n
