"""Visible checks of chapter 5 (FSVAE): the conditional VAE's ``negative_elbo_bound`` and ``sample_grid``.

``sample_grid`` is checked without the reference: a tap on the decoder records the codes and
labels it is called with, so the check sees whether every label of a column got the same style,
whether the images are the clipped decoded means, and whether ``generator`` (and only it) drives
the draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .engine import CheckFailed, _g, _report
from .objective import ObjectiveProbe, ratio_hint, run_objective, standard_noise
from .probes import DecoderCalls, narrow_posteriors, seeded, widen_decoder_outputs

__all__ = [
    "check_fsvae_elbo",
    "check_fsvae_sample_grid",
    "check_sample_grid_on",
    "check_random_state",
    "small_fsvae",
    "fsvae_probe",
]

NAME = "sample_grid"


def small_fsvae(seed: int = 0, z_dim: int = 3, image_shape=(3, 4, 4), hidden: int = 16):
    """A fixed small FSVAE (48 pixels), posteriors narrowed, decoder means spread beyond [0, 1]."""
    from ..models import FSVAE

    model = seeded(lambda: FSVAE(z_dim=z_dim, image_shape=image_shape, hidden=hidden), seed)
    narrow_posteriors(model)
    widen_decoder_outputs(model)
    return model


def _fsvae_inputs():
    model = small_fsvae()
    x = torch.rand(64, model.x_dim, generator=_g(2), dtype=torch.float32)
    y = torch.nn.functional.one_hot(torch.randint(model.y_dim, (64,), generator=_g(3)), model.y_dim).float()
    return model, x, y


def _sum_of_terms(name, args, out) -> None:
    nelbo, kl, rec = out
    if not torch.allclose(nelbo.detach().double(), (rec + kl).detach().double(), rtol=1e-5, atol=1e-5):
        raise CheckFailed(f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + kl ({(rec + kl).item():.5g}).")


def fsvae_probe(n_calls: int = 30) -> ObjectiveProbe:
    """The FSVAE's bound: the analytic KL, the limit and its gradient, the mean of rec, the noise."""
    return ObjectiveProbe(
        name="negative_elbo_bound",
        outputs=("nelbo", "kl", "rec"),
        inputs=_fsvae_inputs,
        calls=lambda model, x, y: [((model, x, y), "the real variances")],
        exact=("kl",),
        limit_args=lambda model, x, y: (model, x, y),
        sampled=("rec",),
        n_calls=n_calls,
        consistency=_sum_of_terms,
        extra=[standard_noise],
    )


def _fsvae_hints(where, got, want) -> str:
    return ratio_hint(where, got, want, batch=64, last_dims={"rec": 48, "kl": 3})


def check_fsvae_elbo(negative_elbo_bound: Callable) -> None:
    """Visible check of the FSVAE's ``negative_elbo_bound``."""
    run_objective("05_fsvae/negative_elbo_bound", negative_elbo_bound, fsvae_probe(), _fsvae_hints)


def _grid_call(sample_grid, model, n_styles, generator, positional=False):
    args = (model, n_styles, generator) if positional else (model,)
    kwargs = {} if positional else {"n_styles": n_styles, "generator": generator}
    with DecoderCalls(model) as calls:
        try:
            out = sample_grid(*args, **kwargs)
        except NotImplementedError:
            raise CheckFailed(
                f"{NAME} is not implemented yet: replace `raise NotImplementedError()` with your code."
            ) from None
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(f"{NAME}(model, n_styles={n_styles}) raised {type(exc).__name__}: {exc}") from exc
    return out, calls


def _check_shape(out, model, n_styles):
    y_dim, shape = model.y_dim, tuple(model.image_shape)
    expected = (y_dim, n_styles, *shape)
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{NAME} returned {type(out).__name__}; expected a torch.Tensor of shape {expected}.")
    got = tuple(out.shape)
    if got == expected:
        return
    hint = ""
    if got == (n_styles, y_dim, *shape):
        hint = " The two first axes are swapped: rows are the labels (axis 0), columns the styles (axis 1)."
    elif got in ((y_dim * n_styles, *shape), (y_dim, n_styles, model.x_dim), (y_dim * n_styles, model.x_dim)):
        hint = f" Reshape the decoded means to (10, n_styles, C, H, W) = {expected}."
    raise CheckFailed(f"{NAME}(model, n_styles={n_styles}) returned shape {got}, expected {expected}.{hint}")


def _check_one_hot(y_rows):
    valid = ((y_rows == 0) | (y_rows == 1)).all(-1) & (y_rows.sum(-1) == 1)
    if not bool(valid.all()):
        bad = y_rows[~valid][0]
        raise CheckFailed(
            f"{NAME}: the decoder got a label vector that is not one-hot ({bad.tolist()}). For the label k build "
            "a row with a single 1 at position k, e.g. F.one_hot(torch.full((n_styles,), k), 10).float()."
        )


def _styles_of(out, model, calls, n_styles):
    """The style ``z`` (rows: labels, columns: styles) decoded into every image of ``out``, found
    among the recorded decoder calls; raises with a named mistake when an image is none of them."""
    # Any call pattern the networks accept: one call per label, or all labels at once with z and y
    # of shape (10 * n, .) or (10, n, .).
    rows = [
        (z.detach().reshape(-1, z.shape[-1]), yy.detach().reshape(-1, yy.shape[-1]))
        for z, yy in zip(calls.z, calls.y)
        if yy is not None and z.dim() >= 2
    ]
    if not rows:
        raise CheckFailed(
            f"{NAME} never called model.decode(z, y) with a code z and a label y: decode the styles z "
            "with every label y."
        )
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
        (
            torch.sigmoid(means),
            "the decoded means went through a sigmoid: the FSVAE's decoder returns the Gaussian "
            "mean (not logits); clip it to [0, 1] with torch.clip(mean, 0, 1) instead.",
        ),
        (means, "the images are not clipped: clip the decoded means to [0, 1] with torch.clip(mean, 0, 1)."),
    )
    for k in range(model.y_dim):
        mine = labels == k
        if not bool(mine.any()):
            raise CheckFailed(
                f"{NAME}: no decoder call used the label {k}: row {k} must decode every style with label {k}."
            )
        for candidates, message in views:
            dist = torch.cdist(flat[k], candidates[mine])  # (n_styles, rows of this label)
            best = dist.min(-1)
            scale = math.sqrt(flat.shape[-1])
            if bool((best.values <= 1e-4 * scale).all()):
                if message is not None:
                    raise CheckFailed(f"{NAME}: {message}")
                styles[k] = z_all[mine][best.indices].double()
                break
        else:
            other = torch.cdist(flat[k], means.clip(0, 1)).min(-1).values
            if bool((other <= 1e-4 * math.sqrt(flat.shape[-1])).all()):
                raise CheckFailed(
                    f"{NAME}: row {k} holds images decoded with another label: row k must use the label k "
                    "(one-hot at position k)."
                )
            raise CheckFailed(
                f"{NAME}: the images of row {k} are not decoded means of model.decode(z, y) with the label "
                f"{k}, clipped to [0, 1]."
            )
    return styles


def check_sample_grid_on(
    sample_grid: Callable, model, n_styles: int = 20, seed: int = 0, statistics: bool = False
) -> int:
    """Check ``sample_grid(model, n_styles, generator)`` on ``model`` (see the module's docstring)."""
    n = 0
    out, calls = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(seed))
    _check_shape(out, model, n_styles)
    if out.min() < 0 or out.max() > 1:
        raise CheckFailed(
            f"{NAME}: values from {out.min().item():.3g} to {out.max().item():.3g}: clip the decoded means to "
            "[0, 1] with torch.clip(mean, 0, 1)."
        )
    styles = _styles_of(out, model, calls, n_styles)
    n += 1
    if not torch.allclose(styles, styles[:1].expand_as(styles), rtol=1e-5, atol=1e-6):
        raise CheckFailed(
            f"{NAME}: the styles are not shared: column j must use the same z_j for every label, but each label "
            "got its own z. Draw the n_styles codes once, before the loop over the labels."
        )
    z = styles[0]
    if n_styles > 1 and torch.cdist(z, z).add(torch.eye(n_styles, dtype=z.dtype)).min() < 1e-6:
        raise CheckFailed(f"{NAME}: several columns use the same z: draw n_styles different codes z ~ p(z) = N(0, I).")
    n += 1
    # The generator makes the grid repeatable.
    again, _ = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(seed), positional=True)
    if not isinstance(again, torch.Tensor) or again.shape != out.shape or not torch.allclose(again, out):
        raise CheckFailed(
            f"{NAME}: two calls with generators of the same seed gave different grids: draw the styles with the "
            "generator, torch.randn(n_styles, model.z_dim, generator=generator)."
        )
    n += 1
    if statistics:
        zz = z.flatten()
        k = zz.numel()
        mean, var = zz.mean().item(), zz.var().item()
        if abs(mean) > 6 / math.sqrt(k) or abs(var - 1) > 6 * math.sqrt(2 / k):
            raise CheckFailed(
                f"{NAME}: the styles do not look like draws from p(z) = N(0, I), the standard normal prior: over {k} "
                f"values, mean {mean:.3f} and variance {var:.3f}, expected about 0 and 1. "
                "Use torch.randn(n_styles, model.z_dim, generator=generator)."
            )
        n += 1
    return n


def check_random_state(sample_grid: Callable, model, n_styles: int) -> None:
    """Different seeds give different grids, and the global random state is the caller's."""
    first, _ = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(1))
    with torch.random.fork_rng():
        torch.manual_seed(987)
        torch.rand(3)
        before = torch.get_rng_state()
        second, _ = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(2))
        changed = not torch.equal(before, torch.get_rng_state())
    if torch.allclose(first, second):
        raise CheckFailed(
            f"{NAME}: generators of different seeds gave the same grid: draw the styles with the "
            "generator you are given (torch.randn(..., generator=generator)), and do not reseed."
        )
    if changed:
        raise CheckFailed(
            f"{NAME}: it changed torch's global random state although a generator was given: draw "
            "with generator=generator, and never call torch.manual_seed inside a library function."
        )


def check_fsvae_sample_grid(sample_grid: Callable) -> None:
    """Visible check of ``sample_grid`` on a small FSVAE (48-pixel colour images)."""
    model = small_fsvae()
    n = check_sample_grid_on(sample_grid, model, n_styles=20)
    n += check_sample_grid_on(sample_grid, model, n_styles=400, seed=1, statistics=True)
    check_random_state(sample_grid, model, n_styles=5)
    _report(NAME, n + 1)
