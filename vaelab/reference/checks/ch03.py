"""Chapter 3 (IWAE): the visible checks of its three exercises (the known mistakes: :mod:`.ch03_mistakes`).

``check_*`` functions are what the notebook's check cells call; the hidden tests of
``autograder.hidden.ch03`` run the same checks on more inputs and with more samples.

``duplicate`` and ``log_mean_exp`` are deterministic and are compared with the reference like the
functions of Chapter 1. ``negative_iwae_bound`` is stochastic, and is checked

* **exactly**, in a limit where every importance weight is the same number: a model whose encoder
  returns the exact posterior (:class:`ExactPosterior`). Then ``log w = log p(x)`` for every
  sample, so every correct implementation returns ``-mean log p(x)``, whatever random numbers it
  draws and however it lays out its samples, while a wrong combination of the weights (a missing
  ``-log(iw)``, samples of different examples mixed, a sum over the batch) shows up exactly;
* **statistically** on real networks: its mean over calls must match the reference's expectation
  within six standard errors, at several ``iw``; when it does not, the means of the known wrong
  implementations (:data:`IWAE_MISTAKES`) say which mistake it is;
* and its gradients must reach the encoder, the decoder and the prior's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from vaelab import reference as objectives
from vaelab import reference as ref

from . import (
    CheckFailed,
    _call,
    _g,
    _randn,
    _require_gradient,
    _scalar,
    check_against_reference,
)
from .ch03_mistakes import IWAE_MISTAKES, MISTAKES, NEAR_MISS_HINTS  # noqa: F401  (merged by the package)

__all__ = [
    "check_duplicate_cases",
    "check_log_mean_exp_cases",
    "check_iwae_bound",
    "ExactPosterior",
    "IWAE_MISTAKES",
]

# --------------------------------------------------------------------------------------------------
# duplicate and log_mean_exp: comparisons with the reference.
# --------------------------------------------------------------------------------------------------


def check_duplicate_cases(duplicate: Callable, cases) -> int:
    """Compare ``duplicate`` with the reference on ``cases``; returns the number of cases."""
    return check_against_reference(duplicate, "duplicate", ref.duplicate, cases, MISTAKES["duplicate"])


def check_log_mean_exp_cases(log_mean_exp: Callable, cases) -> int:
    """Compare ``log_mean_exp`` with the reference on ``cases``; returns the number of cases."""
    return check_against_reference(log_mean_exp, "log_mean_exp", ref.log_mean_exp, cases, MISTAKES["log_mean_exp"])


# --------------------------------------------------------------------------------------------------
# negative_iwae_bound: the exact limit.
# --------------------------------------------------------------------------------------------------


class ExactPosterior(nn.Module):
    """A model whose encoder returns the exact posterior, so that every importance weight equals p(x).

    The decoder ignores ``z`` (the same ``logits: (1, D)`` for every code), so the posterior is the
    prior; the encoder returns the prior's mean and variance, so ``q(z|x) = p(z|x)`` and
    ``log p(x|z) + log p(z) - log q(z|x) = log p(x)`` for every ``z``. The IWAE bound is then exactly
    ``log p(x)`` for any number of samples: a deterministic value for a stochastic function.

    With ``k`` set it is a GMVAE: the prior is a mixture of ``k`` identical components
    ``N(mean, diag var)``, evaluated by ``log_prior`` as a mixture; ``log_prior_calls`` counts the
    calls of ``log_prior``. Codes of any batch shape ``(..., Z)`` are accepted, like the real networks.
    """

    def __init__(self, logits: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, k: int | None = None):
        super().__init__()
        self.logits = nn.Parameter(logits.reshape(1, -1).clone())
        self.register_buffer("mean", mean.reshape(1, -1).clone())
        self.register_buffer("var", var.reshape(1, -1).clone())
        self.z_dim, self.x_dim, self.k = self.mean.shape[-1], self.logits.shape[-1], k
        self.name = "vae" if k is None else "gmvae"
        self.log_prior_calls = 0

    def encode(self, x):
        shape = (*x.shape[:-1], self.z_dim)
        return self.mean.expand(shape).clone(), self.var.expand(shape).clone()

    def decode(self, z):
        return self.logits.expand(*z.shape[:-1], self.x_dim) + 0.0 * z[..., :1]

    def prior(self):
        if self.k is None:
            return self.mean, self.var
        return self.mean.unsqueeze(1).expand(1, self.k, self.z_dim), self.var.unsqueeze(1).expand(1, self.k, self.z_dim)

    def log_prior(self, z):
        self.log_prior_calls += 1
        if self.k is None:
            return ref.log_normal(z, self.mean, self.var)
        return ref.log_normal_mixture(z, *self.prior())

    def log_px(self, x):
        """The exact ``log p(x)``, ``(B,)``."""
        with torch.no_grad():
            return ref.log_bernoulli_with_logits(x, self.logits.expand(x.shape[0], -1))


def exact_posterior_models(x_dim: int = 30, z_dim: int = 3, k: int = 6, seed: int = 0):
    """An :class:`ExactPosterior` VAE (prior N(0, I)) and GMVAE (``k`` identical components far from
    N(0, I), so that a bound computed with the wrong prior is far off)."""
    logits = 2.0 * _randn(x_dim, seed=seed)
    vae = ExactPosterior(logits, torch.zeros(z_dim), torch.ones(z_dim))
    mean = torch.linspace(-2.0, 3.0, z_dim)
    var = torch.linspace(0.2, 2.5, z_dim)
    gmvae = ExactPosterior(logits, mean, var, k=k)
    return vae, gmvae


def _unpack(out, name="negative_iwae_bound"):
    if not (isinstance(out, (tuple, list)) and len(out) == 3):
        raise CheckFailed(f"{name} must return a tuple (niwae, kl, rec); it returned {type(out).__name__}.")
    if not all(_scalar(t) for t in out):
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in out]
        raise CheckFailed(
            f"{name} must return three scalar tensors (means over the batch); got {shapes}. Average over the "
            "examples with .mean(), and keep tensors (no .item()) so that the bound can be trained."
        )
    return out


def _is_deterministic(impl, model, x, iw) -> bool:
    with torch.no_grad():
        a = impl(model, x, iw, generator=_g(1))[0]
        b = impl(model, x, iw, generator=_g(2))[0]
    return bool(torch.isclose(a, b, rtol=1e-6, atol=1e-5))


def _check_exact_limit(
    fn: Callable, model: ExactPosterior, x: torch.Tensor, iws, name="negative_iwae_bound", n_calls: int = 20
) -> int:
    """Every importance weight is p(x): niwae = rec = -mean log p(x) and kl = 0, exactly."""
    a = model.log_px(x)
    expected = -a.mean().item()
    tol = 1e-4 * (1.0 + abs(expected))
    kind = "GMVAE (a mixture prior)" if model.k else "VAE"
    for iw in iws:
        model.log_prior_calls = 0
        with torch.no_grad():
            niwae, kl, rec = _unpack(_call(fn, name, (model, x, iw)), name)
        calls = model.log_prior_calls
        got = float(niwae)
        if not math.isfinite(got) or abs(got - expected) > tol:
            again = float(_unpack(_call(fn, name, (model, x, iw)), name)[0].detach())
            for mistake in IWAE_MISTAKES if again == got or not math.isfinite(got) else ():
                try:
                    if not _is_deterministic(mistake.impl, model, x, iw):
                        continue
                    with torch.no_grad():
                        wrong = float(mistake.impl(model, x, iw, generator=_g(1))[0])
                except Exception:
                    continue
                if abs(wrong - expected) > tol and abs(got - wrong) <= tol:
                    raise CheckFailed(f"{name} with iw = {iw} on a {kind}: {mistake.message}")
            if model.k is not None and calls == 0:
                raise CheckFailed(
                    f"{name} on a GMVAE does not call model.log_prior: the prior is the model's (a mixture for the "
                    "GMVAE), not N(0, I). Compute log p(z) with model.log_prior(z)."
                )
            draws = _draws(fn, (model, x, iw), n_calls, name)
            message = _known_mistake(draws, model, x, iw, expected, seed=3000 + iw)
            if message:
                raise CheckFailed(f"{name} with iw = {iw} on a {kind}: {message}")
            raise CheckFailed(
                f"{name} with iw = {iw} on a {kind} whose encoder returns the exact posterior: every importance weight "
                f"then equals p(x), so niwae must be -mean log p(x) = {expected:.4f} whatever the samples; got "
                f"{got:.4f}. "
                "Check the log-weights, log w = log p(x|z) + log p(z) - log q(z|x), and how they are averaged."
            )
        if abs(float(rec) - expected) > tol:
            hint = " rec = -(mean of log p(x|z)) over all iw samples and examples."
            if abs(float(rec) + expected) <= tol:
                hint = " The sign is flipped: rec is the negative log-likelihood -log p(x|z), a positive number."
            elif abs(float(rec) - x.shape[0] * expected) <= tol * x.shape[0]:
                hint = " It is summed over the batch: take the mean."
            raise CheckFailed(
                f"{name} with iw = {iw}: rec = {float(rec):.4f}, expected {expected:.4f} here (p(x|z) does not "
                f"depend on z).{hint}"
            )
        if abs(float(kl)) > tol:
            raise CheckFailed(
                f"{name} with iw = {iw}: kl = {float(kl):.4g} where q(z|x) equals the prior exactly, so kl must be 0. "
                "kl is the mean over samples and examples of log q(z|x) - log p(z), with log p(z) = model.log_prior(z)."
            )
    return len(iws)


def _known_mistake(
    got: torch.Tensor, model, x, iw: int, expected_mean: float, seed: int, expected_se: float = 0.0
) -> str | None:
    """The message of the known mistake whose mean niwae matches the draws ``got: (n, 3)``, if one does."""
    n = got.shape[0]
    best, best_z = None, 6.0  # the closest match within six standard errors
    for mistake in IWAE_MISTAKES:
        try:
            wrong = _reference_draws(mistake.impl, model, x, iw, 2 * n, seed=seed)
        except Exception:
            continue
        if not torch.isfinite(wrong[:, 0]).all():
            continue
        if (got[:, 0].std().item() > 1e-6) != (wrong[:, 0].std().item() > 1e-6):
            continue  # a deterministic answer is not a stochastic mistake, and the other way round
        se_w = (_se(got)[0] + _se(wrong)[0]).sqrt().item() + 1e-6
        se_rw = (expected_se**2 + _se(wrong)[0]).sqrt().item() + 1e-6
        z = abs(got[:, 0].mean().item() - wrong[:, 0].mean().item()) / se_w
        if z <= best_z and abs(expected_mean - wrong[:, 0].mean().item()) > 6 * se_rw:
            best, best_z = mistake.message, z
    return best


# --------------------------------------------------------------------------------------------------
# negative_iwae_bound: statistics on real networks.
# --------------------------------------------------------------------------------------------------


def statistical_models(seed: int = 0, x_dim: int = 40, z_dim: int = 2, hidden: int = 24, batch: int = 100):
    """A small VAE and GMVAE with sharp likelihoods (a large gap between the ELBO and the IWAE bound),
    and a batch of binary images for them."""
    from vaelab.models import GMVAE, VAE

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        vae = VAE(z_dim=z_dim, x_dim=x_dim, hidden=hidden)
        gmvae = GMVAE(z_dim=z_dim, k=7, x_dim=x_dim, hidden=hidden)
        with torch.no_grad():
            for model in (vae, gmvae):
                model.decoder.net[-1].weight.mul_(4.0)
            # spread-out components, unlike N(0, I)
            m, h = torch.chunk(gmvae.z_pre, 2, dim=1)
            m.copy_(2.0 * torch.randn_like(m) + 1.0)
            h.copy_(torch.randn_like(h) - 1.0)
    x = torch.bernoulli(torch.full((batch, x_dim), 0.3), generator=_g(seed + 1))
    return vae, gmvae, x


def _draws(fn, args, n, name="negative_iwae_bound") -> torch.Tensor:
    """``(n, 3)`` float64: niwae, kl, rec of ``n`` calls."""
    rows = []
    with torch.no_grad():
        for _ in range(n):
            out = _unpack(_call(fn, name, args), name)
            rows.append(torch.stack([t.detach().double().reshape(()) for t in out]))
    return torch.stack(rows)


def _reference_draws(impl, model, x, iw, n, seed) -> torch.Tensor:
    gen = _g(seed)
    with torch.no_grad():
        return torch.stack(
            [
                torch.stack([t.detach().double().reshape(()) for t in impl(model, x, iw, generator=gen)])
                for _ in range(n)
            ]
        )


def _se(a: torch.Tensor) -> torch.Tensor:
    return a.var(0) / a.shape[0] if a.shape[0] > 1 else torch.zeros(a.shape[1:], dtype=a.dtype)


def _check_statistics(fn: Callable, model, x, iw: int, n_calls: int, name="negative_iwae_bound", seed: int = 0) -> int:
    """The means over calls of niwae, kl and rec match the reference's expectations (6 standard errors)."""
    kind = "GMVAE" if getattr(model, "k", None) else "VAE"
    got = _draws(fn, (model, x, iw), n_calls, name)
    refd = _reference_draws(objectives.negative_iwae_bound, model, x, iw, 4 * n_calls, seed=1000 + seed + iw)
    se = (_se(got) + _se(refd)).sqrt() + 1e-6
    diff = (got.mean(0) - refd.mean(0)).abs()
    if not torch.isfinite(got).all():
        raise CheckFailed(
            f"{name} with iw = {iw} on a {kind} returned inf or nan: the log-weights of images are "
            "hundreds of nats below 0, so exp underflows to 0 in "
            "log(mean(exp(.))); use the stable log-mean-exp (log_mean_exp, torch.logsumexp)."
        )
    if diff[0] > 6 * se[0]:
        if n_calls > 1 and got[:, 0].std() < 1e-9 < refd[:, 0].std():
            raise CheckFailed(
                f"{name} with iw = {iw} on a {kind}: niwae never changes between calls: the codes z must be sampled "
                "from q(z|x) (sample_gaussian), not set to the encoder's mean."
            )
        message = _known_mistake(
            got, model, x, iw, refd[:, 0].mean().item(), seed=2000 + seed + iw, expected_se=_se(refd)[0].sqrt().item()
        )
        if message:
            raise CheckFailed(f"{name} with iw = {iw} on a {kind}: {message}")
        raise CheckFailed(
            f"{name} with iw = {iw} on a {kind}: the average of niwae over {n_calls} calls is "
            f"{got[:, 0].mean().item():.4f}, "
            f"expected about {refd[:, 0].mean().item():.4f} (±{se[0].item():.3f}). niwae = -mean over examples of "
            "log_mean_exp over the iw samples of log p(x|z) + log p(z) - log q(z|x)."
        )
    for col, term, what in ((2, "rec", "-log p(x|z)"), (1, "kl", "log q(z|x) - log p(z)")):
        if diff[col] > 6 * se[col]:
            g, e = got[:, col].mean().item(), refd[:, col].mean().item()
            if abs(g + e) <= 6 * se[col].item() + 1e-3 * abs(e):
                hint = f" The sign is flipped: {term} is the mean of {what}."
            elif abs(g / e - x.shape[0]) < 0.05 * x.shape[0] if e else False:
                hint = " It is summed over the batch: take the mean over examples."
            else:
                hint = f" {term} is the mean of {what} over the iw samples and the examples."
            raise CheckFailed(
                f"{name} with iw = {iw} on a {kind}: the average of {term} over {n_calls} calls is {g:.4f}, "
                f"expected about {e:.4f}.{hint}"
            )
    return 1


def _check_gradients(fn: Callable, model, x, iw: int, name="negative_iwae_bound") -> int:
    """niwae trains the encoder, the decoder and a learnable prior; rec reaches the encoder through z."""
    kind = "GMVAE" if getattr(model, "k", None) else "VAE"
    parts = {"encoder": model.encoder, "decoder": model.decoder}
    model.zero_grad(set_to_none=True)
    niwae, _, rec = _unpack(_call(fn, name, (model, x, iw)), name)
    if not niwae.requires_grad:
        raise CheckFailed(
            f"{name}: niwae has no gradient; do not use .item(), .detach(), numpy or torch.no_grad() in the bound."
        )
    niwae.backward()
    for part, module in parts.items():
        _require_gradient(module, f"{name} on a {kind}: no gradient of niwae reaches the {part}.")
    if hasattr(model, "z_pre") and (model.z_pre.grad is None or float(model.z_pre.grad.abs().sum()) == 0):
        raise CheckFailed(
            f"{name} on a GMVAE: no gradient of niwae reaches the prior's parameters (z_pre): compute log p(z) with "
            "model.log_prior(z), the learnable mixture."
        )
    model.zero_grad(set_to_none=True)
    _, _, rec = _unpack(_call(fn, name, (model, x, iw)), name)
    if not rec.requires_grad:
        raise CheckFailed(f"{name}: rec has no gradient; do not use .item(), .detach() or torch.no_grad().")
    rec.backward()
    _require_gradient(
        model.encoder,
        f"{name}: no gradient of rec reaches the encoder, so z is not the reparameterised "
        "sample m + sqrt(v) * eps (sample with sample_gaussian, and do not detach z).",
    )
    model.zero_grad(set_to_none=True)
    return 1


def check_iwae_bound(
    negative_iwae_bound: Callable, n_calls: int = 30, iws=(1, 10), seed: int = 0, big: bool = False
) -> int:
    """Check ``negative_iwae_bound(model, x, iw) -> (niwae, kl, rec)`` for a VAE and a GMVAE.

    * in the exact-posterior limit (:class:`ExactPosterior`) niwae and rec are exactly
      ``-mean log p(x)`` and kl is 0, for several ``iw``;
    * on small real networks the means over ``n_calls`` calls of niwae, kl and rec match the
      reference's expectations at each ``iw`` in ``iws`` (which says in particular that niwae
      tightens as ``iw`` grows, and that ``iw = 1`` is the ELBO with a Monte Carlo KL);
    * gradients reach the encoder, the decoder and the GMVAE's prior; rec reaches the encoder.

    ``big`` adds the chapter's VAE (784 pixels, z = 10). Returns the number of checks passed.
    """
    n = 0
    vae_e, gmvae_e = exact_posterior_models(seed=seed)
    xe = torch.bernoulli(torch.full((12, vae_e.x_dim), 0.4), generator=_g(seed + 5))
    n += _check_exact_limit(negative_iwae_bound, vae_e, xe, (1, 4))
    n += _check_exact_limit(negative_iwae_bound, gmvae_e, xe, (3,))
    vae, gmvae, x = statistical_models(seed=seed)
    for iw in iws:
        n += _check_statistics(negative_iwae_bound, vae, x, iw, n_calls, seed=seed)
    n += _check_statistics(negative_iwae_bound, gmvae, x, max(iws), n_calls, seed=seed)
    if big:
        from vaelab.models import VAE

        with torch.random.fork_rng():
            torch.manual_seed(seed + 3)
            chapter = VAE()
        xb = torch.bernoulli(torch.full((16, 784), 0.2), generator=_g(seed + 4))
        n += _check_statistics(negative_iwae_bound, chapter, xb, 20, max(8, n_calls // 4), seed=seed)
    n += _check_gradients(negative_iwae_bound, vae, x[:20], 3)
    n += _check_gradients(negative_iwae_bound, gmvae, x[:20], 3)
    return n


def iwae_bound_at(model, x, m, v, eps):
    """The reference negative IWAE bound at the codes ``z = m + sqrt(v) * eps`` (``eps``: ``(S, B, Z)``)."""
    z = m + v.sqrt() * eps
    s, b, z_dim = z.shape
    log_w = (
        ref.log_bernoulli_with_logits(x.expand(s, *x.shape), model.decode(z))
        + model.log_prior(z.reshape(s * b, z_dim)).reshape(s, b)
        - ref.log_normal(z, m, v)
    )
    return -(torch.logsumexp(log_w, 0) - math.log(s)).mean()


def check_independent_samples(
    negative_iwae_bound: Callable, model, x, iw: int = 4, name: str = "negative_iwae_bound"
) -> None:
    """The iw codes decoded for one image must be iw independent draws, not one draw copied iw times
    (whatever the layout: ``(iw, B, Z)``, ``(iw * B, Z)`` repetition-major or example-major)."""
    from vaelab.checks.probes import DecoderTap, batched

    from . import _codes_as_samples

    with torch.no_grad():
        qm, _ = model.encode(x)
    with torch.no_grad(), DecoderTap(model) as tap:
        _call(negative_iwae_bound, name, (model, x, iw))
    batch, z_dim = qm.shape
    copied = False  # independent draws are never equal, whichever layout holds the samples
    for z in batched(tap.inputs, iw * batch):
        if z.numel() != iw * batch * z_dim:
            continue
        for example_major in (False, True):
            samples = _codes_as_samples(z.detach(), batch, z_dim, example_major)
            copied = copied or all(torch.equal(samples[0], samples[i]) for i in range(1, iw))
    if copied:
        raise CheckFailed(
            f"{name} with iw = {iw}: the iw codes decoded for each image are identical: one sample z is drawn and "
            "copied iw times, so the bound is only the single-sample ELBO. Draw iw independent samples (duplicate "
            "x, or m and v, before sampling; never duplicate z)."
        )
