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
from typing import Callable

import torch

from .. import reference as ref
from . import CheckFailed, _call, _g, _report, _require_gradient, _scalar, check_on_its_own
from .ch02 import _check_draws, _near, narrow_posteriors

__all__ = [
    "check_fsvae_elbo",
    "check_fsvae_negative_elbo_bound",
    "check_fsvae_sample_grid",
    "check_sample_grid_on",
    "DecoderCalls",
    "small_fsvae",
    "widen_decoder_outputs",
]

NAME_ELBO = "negative_elbo_bound"
NAME_GRID = "sample_grid"


class DecoderCalls:
    """``with DecoderCalls(model) as calls:`` records the inputs ``(z, y)`` of every call of
    ``model.decoder`` (so ``model.decode(z, y)`` too) in ``calls.z`` and ``calls.y``."""

    def __init__(self, model):
        self.model = model
        self.z: list[torch.Tensor] = []
        self.y: list[torch.Tensor | None] = []

    def _hook(self, module, args, kwargs):
        z = args[0] if args else kwargs.get("z")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if z is None:
            return
        z_dim, y_dim = self.model.z_dim, self.model.y_dim
        if y is None and z.shape[-1] == z_dim + y_dim:  # decoder(torch.cat([z, y], -1))
            z, y = z[..., :z_dim], z[..., z_dim:]
        self.z.append(z)
        self.y.append(y)

    def __enter__(self):
        self.handle = self.model.decoder.register_forward_pre_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def widen_decoder_outputs(model, scale: float = 4.0, shift: float = 0.5) -> None:
    """Scale the decoder's last layer so that its means spread well beyond [0, 1] (about
    ``shift ± scale * 0.3``): clipping then matters, and a sigmoid cannot pass for a clip."""
    last = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(shift)


def small_fsvae(seed: int = 0, z_dim: int = 3, image_shape=(3, 4, 4), hidden: int = 16):
    """A fixed small FSVAE (48 pixels), posteriors narrowed, decoder means spread beyond [0, 1]."""
    from ..models import FSVAE

    with torch.random.fork_rng():  # without touching the caller's RNG
        torch.manual_seed(seed)
        model = FSVAE(z_dim=z_dim, image_shape=image_shape, hidden=hidden)
    narrow_posteriors(model)
    widen_decoder_outputs(model)
    return model


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
        raise CheckFailed(f"{name} must return three scalars (means over the batch); got shapes {shapes}. Average over the batch with .mean().")
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
            (-ref.log_bernoulli_with_logits(x, mean).mean(),
             "This is a Bernoulli likelihood (binary cross-entropy with the decoder output as logits). The FSVAE's "
             "pixels are real-valued: p(x|y,z) = N(x; mean, 0.1 I), so rec = -log_normal(x, mean, 0.1)."),
            (torch.nn.functional.binary_cross_entropy(torch.sigmoid(mean).clamp(1e-6, 1 - 1e-6), x, reduction="none").sum(-1).mean(),
             "This is a Bernoulli likelihood (binary cross-entropy). The FSVAE's pixels are real-valued: "
             "p(x|y,z) = N(x; mean, 0.1 I), so rec = -log_normal(x, mean, 0.1)."),
            (_gaussian_rec(x, mean, 1.0),
             "The likelihood has variance 1 instead of model.x_var = 0.1: use log_normal(x, mean, 0.1 * torch.ones_like(mean))."),
            (_gaussian_rec(x, mean, var ** 2),
             "The variance is 0.01: 0.1 is the variance, not the standard deviation (the standard deviation is sqrt(0.1))."),
            (_gaussian_rec(x, mean, var ** 0.5),
             "The variance is sqrt(0.1): 0.1 is already the variance; pass it to log_normal as it is."),
            (sq / (2 * var),
             "The normalising constant is missing: -log N(x; mean, 0.1 I) = sum (x - mean)^2 / (2 * 0.1) + "
             "(D/2) log(2π * 0.1). It does not change the gradients, but the bound (nats per image) needs it."),
            (sq,
             "This is the summed squared error: the Gaussian negative log-likelihood weighs it by 1/(2 * 0.1) and adds "
             "the normalising constant (D/2) log(2π * 0.1)."),
            (sq / d,
             "This is the mean squared error: use the Gaussian negative log-likelihood, summed over pixels: "
             "-log_normal(x, mean, 0.1)."),
            (right * b, "It is the sum over the batch: take the mean over examples."),
            (right / d,
             "It is averaged over pixels: sum the log-density over pixels (the last dimension), then average over the batch."),
            (-right, "The sign is flipped: rec is the negative log-likelihood, -log p(x|y,z)."),
            (_gaussian_rec(x, torch.sigmoid(mean), var),
             "The decoder's output went through a sigmoid: the FSVAE's decoder returns the Gaussian mean itself "
             "(not logits); use it as it is."),
            (_gaussian_rec(x, mean.clamp(0, 1), var),
             "The mean is clipped to [0, 1] inside the loss: clip only when you show images; the likelihood uses the "
             "decoder's mean as it is, otherwise no gradient flows where the mean leaves [0, 1]."),
            (right - const,
             "The normalising constant has the wrong sign: -log N(x; mean, 0.1 I) = sum (x - mean)^2 / (2 * 0.1) + "
             "(D/2) log(2π * 0.1)."),
        ]


def _kl_candidates(kl_ref, kl_sampled, b):
    return [
        (kl_ref * b, "It is the sum over the batch: take the mean over examples."),
        (-kl_ref, "The sign is flipped: KL(q || p) is non-negative; use kl_normal(m, v, *model.prior())."),
        (kl_sampled,
         "This is a single-sample estimate log q(z|x,y) - log p(z). Both distributions are Gaussian, so use the "
         "analytic KL, kl_normal(m, v, *model.prior()): exact and without noise."),
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
        raise CheckFailed(f"{name} never decoded a latent sample: compute the means with model.decode(z, y), z ~ q(z|x,y).")
    decoded = [(z, yy) for z, yy in zip(calls.z, calls.y) if z.shape == qm.shape]
    if not decoded:
        raise CheckFailed(f"{name} decoded z of shape {tuple(calls.z[0].shape)}; expected one sample per image, shape {tuple(qm.shape)}.")
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
        hint = hint or "rec = -mean over the batch of log_normal(x, model.decode(z, y), 0.1 * torch.ones_like(mean))."
        raise CheckFailed(f"{name}: rec = {rec.item():.5g}, but -log p(x|y,z) at the decoded z is {right.item():.5g}. {hint}")
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
        hint = _matching(_kl_candidates(kl_ref, sampled, x.shape[0]), kl.detach()) or (
            "kl = mean over the batch of kl_normal(m, v, *model.prior()), with m, v = model.encode(x, y).")
        raise CheckFailed(f"{name}: kl = {kl.item():.5g}, but the analytic KL(q(z|x,y) || p(z)) averages to {kl_ref.item():.5g}. {hint}")
    n = 3
    # A fresh draw from q(z|x,y) at every call.
    draws = [chosen.detach()]
    for _ in range(n_draws - 1):
        with torch.no_grad(), DecoderCalls(model) as calls_i:
            _, _, rec_i = _three_scalars(name, _call(negative_elbo_bound, name, (model, x, y)))
        for z, yy in zip(calls_i.z, calls_i.y):
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
        raise CheckFailed(f"{name}: nelbo, kl or rec has no gradient; do not use .item(), .detach() or torch.no_grad() in the objective.")
    rec.backward(retain_graph=True)
    for part in ("encoder", "decoder"):
        _require_gradient(getattr(model, part), f"{name}: no gradient of rec reaches the {part}; z must be the reparameterised sample m + sqrt(v) * eps, not detached.")
    model.zero_grad(set_to_none=True)
    kl.backward()
    _require_gradient(model.encoder, f"{name}: no gradient of kl reaches the encoder; compute it from the encoder's m, v.")
    model.zero_grad(set_to_none=True)
    return n + 1


def check_fsvae_elbo(negative_elbo_bound: Callable) -> None:
    """Visible check of the FSVAE's ``negative_elbo_bound`` (on its own: see :func:`check_on_its_own`)."""
    n = check_on_its_own(lambda: check_fsvae_negative_elbo_bound(negative_elbo_bound), negative_elbo_bound, NAME_ELBO)
    _report(NAME_ELBO, n)


# --------------------------------------------------------------------------------------------------
# sample_grid
# --------------------------------------------------------------------------------------------------


def _grid_call(sample_grid, model, n_styles, generator, positional=False):
    args = (model, n_styles, generator) if positional else (model,)
    kwargs = {} if positional else {"n_styles": n_styles, "generator": generator}
    with DecoderCalls(model) as calls:
        try:
            out = sample_grid(*args, **kwargs)
        except NotImplementedError:
            raise CheckFailed(f"{NAME_GRID} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(f"{NAME_GRID}(model, n_styles={n_styles}) raised {type(exc).__name__}: {exc}") from exc
    return out, calls


def _check_shape(out, model, n_styles):
    y_dim, shape = model.y_dim, tuple(model.image_shape)
    expected = (y_dim, n_styles, *shape)
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{NAME_GRID} returned {type(out).__name__}; expected a torch.Tensor of shape {expected}.")
    got = tuple(out.shape)
    if got == expected:
        return
    hint = ""
    if got == (n_styles, y_dim, *shape):
        hint = " The two first axes are swapped: rows are the labels (axis 0), columns the styles (axis 1)."
    elif got in ((y_dim * n_styles, *shape), (y_dim, n_styles, model.x_dim), (y_dim * n_styles, model.x_dim)):
        hint = f" Reshape the decoded means to (10, n_styles, C, H, W) = {expected}."
    raise CheckFailed(f"{NAME_GRID}(model, n_styles={n_styles}) returned shape {got}, expected {expected}.{hint}")


def _check_one_hot(y_rows):
    valid = ((y_rows == 0) | (y_rows == 1)).all(-1) & (y_rows.sum(-1) == 1)
    if not bool(valid.all()):
        bad = y_rows[~valid][0]
        raise CheckFailed(
            f"{NAME_GRID}: the decoder got a label vector that is not one-hot ({bad.tolist()}). For the label k build "
            "a row with a single 1 at position k, e.g. F.one_hot(torch.full((n_styles,), k), 10).float()."
        )


def _styles_of(out, model, calls, n_styles):
    """The style ``z`` (rows: labels, columns: styles) decoded into every image of ``out``, found
    among the recorded decoder calls; raises with a named mistake when an image is none of them."""
    rows = [(z.detach(), yy.detach()) for z, yy in zip(calls.z, calls.y) if yy is not None and z.dim() == 2]
    if not rows:
        raise CheckFailed(f"{NAME_GRID} never called model.decode(z, y): decode the styles z with every label y.")
    z_all = torch.cat([z for z, _ in rows])
    y_all = torch.cat([yy for _, yy in rows]).to(z_all.dtype)
    _check_one_hot(y_all)
    with torch.no_grad():
        means = model.decode(z_all, y_all.to(next(model.parameters()).dtype)).double()
    labels = y_all.argmax(-1)
    flat = out.detach().double().reshape(model.y_dim, n_styles, -1)
    styles = torch.empty(model.y_dim, n_styles, z_all.shape[-1], dtype=torch.float64)
    views = (
        (means.clip(0, 1), None),
        (torch.sigmoid(means), "the decoded means went through a sigmoid: the FSVAE's decoder returns the Gaussian "
                               "mean (not logits); clip it to [0, 1] with torch.clip(mean, 0, 1) instead."),
        (means, "the images are not clipped: clip the decoded means to [0, 1] with torch.clip(mean, 0, 1)."),
    )
    for label in range(model.y_dim):
        mine = labels == label
        if not bool(mine.any()):
            raise CheckFailed(f"{NAME_GRID}: no decoder call used the label {label}: row {label} must decode every style with label {label}.")
        for candidates, message in views:
            dist = torch.cdist(flat[label], candidates[mine])  # (n_styles, rows of this label)
            best = dist.min(-1)
            scale = math.sqrt(flat.shape[-1])
            if bool((best.values <= 1e-4 * scale).all()):
                if message is not None:
                    raise CheckFailed(f"{NAME_GRID}: {message}")
                styles[label] = z_all[mine][best.indices].double()
                break
        else:
            other = torch.cdist(flat[label], means.clip(0, 1)).min(-1).values
            if bool((other <= 1e-4 * math.sqrt(flat.shape[-1])).all()):
                raise CheckFailed(f"{NAME_GRID}: row {label} holds images decoded with another label: row k must use the label k (one-hot at position k).")
            raise CheckFailed(
                f"{NAME_GRID}: the images of row {label} are not decoded means of model.decode(z, y) with the label "
                f"{label}, clipped to [0, 1]."
            )
    return styles


def check_sample_grid_on(sample_grid: Callable, model, n_styles: int = 20, seed: int = 0, statistics: bool = False) -> int:
    """Check ``sample_grid(model, n_styles, generator)`` on ``model`` (see the module's docstring)."""
    n = 0
    out, calls = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(seed))
    _check_shape(out, model, n_styles)
    if out.min() < 0 or out.max() > 1:
        raise CheckFailed(f"{NAME_GRID}: values from {out.min().item():.3g} to {out.max().item():.3g}: clip the decoded means to [0, 1] with torch.clip(mean, 0, 1).")
    styles = _styles_of(out, model, calls, n_styles)
    n += 1
    if not torch.allclose(styles, styles[:1].expand_as(styles), rtol=1e-5, atol=1e-6):
        raise CheckFailed(
            f"{NAME_GRID}: the styles are not shared: column j must use the same z_j for every label, but each label "
            "got its own z. Draw the n_styles codes once, before the loop over the labels."
        )
    z = styles[0]
    if n_styles > 1 and torch.cdist(z, z).add(torch.eye(n_styles, dtype=z.dtype)).min() < 1e-6:
        raise CheckFailed(f"{NAME_GRID}: several columns use the same z: draw n_styles different codes z ~ p(z) = N(0, I).")
    n += 1
    # The generator makes the grid repeatable.
    again, _ = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(seed), positional=True)
    if not isinstance(again, torch.Tensor) or again.shape != out.shape or not torch.allclose(again, out):
        raise CheckFailed(
            f"{NAME_GRID}: two calls with generators of the same seed gave different grids: draw the styles with the "
            "generator, torch.randn(n_styles, model.z_dim, generator=generator)."
        )
    n += 1
    if statistics:
        zz = z.flatten()
        k = zz.numel()
        mean, var = zz.mean().item(), zz.var().item()
        if abs(mean) > 6 / math.sqrt(k) or abs(var - 1) > 6 * math.sqrt(2 / k):
            raise CheckFailed(
                f"{NAME_GRID}: the styles do not look like draws from p(z) = N(0, I): over {k} values, mean {mean:.3f} "
                f"and variance {var:.3f}, expected about 0 and 1. Use torch.randn(n_styles, model.z_dim, generator=generator)."
            )
        n += 1
    return n


def check_fsvae_sample_grid(sample_grid: Callable) -> None:
    """Visible check of ``sample_grid`` on a small FSVAE (48-pixel colour images)."""
    model = small_fsvae()
    n = check_sample_grid_on(sample_grid, model, n_styles=20)
    n += check_sample_grid_on(sample_grid, model, n_styles=400, seed=1, statistics=True)
    _report(NAME_GRID, n)
