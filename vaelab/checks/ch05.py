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

from .engine import CheckFailed, _g
from .graded import Check, run_check
from .objective import ObjectiveProbe, ratio_hint, standard_noise
from .observe import Observation, fingerprint
from .probes import DecoderCalls, narrow_posteriors, seeded, widen_decoder_outputs

__all__ = [
    "check_fsvae_elbo",
    "check_fsvae_sample_grid",
    "check_sample_grid_on",
    "check_random_state",
    "observe_sample_grid",
    "judge_sample_grid",
    "sample_grid_check",
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


def fsvae_check() -> Check:
    return Check("05_fsvae/negative_elbo_bound", fsvae_probe(), _fsvae_hints)


def check_fsvae_elbo(negative_elbo_bound: Callable) -> None:
    """Visible check of the FSVAE's ``negative_elbo_bound``."""
    run_check(fsvae_check(), negative_elbo_bound)


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


def _styles_of(out, model, z_all, y_all, n_styles):
    """The style ``z`` (rows: labels, columns: styles) decoded into every image of ``out``, found
    among the recorded decoder calls (``z_all``, ``y_all``: every call's rows, joined); raises with a
    named mistake when an image is none of them."""
    if not z_all.shape[0]:
        raise CheckFailed(
            f"{NAME} never called model.decode(z, y) with a code z and a label y: decode the styles z "
            "with every label y."
        )
    _check_one_hot(y_all)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        means = model.decode(z_all.to(dtype), y_all.to(dtype)).double()
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


def _decoder_rows(calls, z_dim: int, y_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every decoder call's ``(z, y)`` rows, joined (float64): any call pattern the networks accept, one
    call per label, or all labels at once with z and y of shape (10 * n, .) or (10, n, .)."""
    rows = [
        (z.detach().reshape(-1, z.shape[-1]), yy.detach().reshape(-1, yy.shape[-1]))
        for z, yy in zip(calls.z, calls.y)
        if yy is not None and z.dim() >= 2
    ]
    if not rows:
        return torch.zeros(0, z_dim, dtype=torch.float64), torch.zeros(0, y_dim, dtype=torch.float64)
    return torch.cat([z for z, _ in rows]).double(), torch.cat([yy for _, yy in rows]).double()


def observe_grid_on(sample_grid: Callable, model, n_styles: int, seed: int, obs, prefix: str = "") -> None:
    """Records, under ``prefix``, the grid of ``sample_grid(model, n_styles, generator)`` (float64,
    ``(10, n_styles, C, H, W)``), the decoder calls' rows ``z`` and ``y``, and the grid of a second
    call with a generator of the same seed (left out when it is not a tensor). Raises in the kernel
    only when the call raises or the grid is not a tensor of the grid's shape."""
    out, calls = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(seed))
    _check_shape(out, model, n_styles)
    z_all, y_all = _decoder_rows(calls, model.z_dim, model.y_dim)
    obs.records.update({f"{prefix}grid": out.detach().double(), f"{prefix}z": z_all, f"{prefix}y": y_all})
    again, _ = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(seed), positional=True)
    if isinstance(again, torch.Tensor):
        obs.records[f"{prefix}again"] = again.detach().double()


def judge_grid_on(records: dict, model, statistics: bool = False, prefix: str = "") -> int:
    """Judges what :func:`observe_grid_on` recorded, with the same ``model``; returns the checks passed."""
    out = records[f"{prefix}grid"]
    n_styles = out.shape[1]
    if out.min() < 0 or out.max() > 1:
        raise CheckFailed(
            f"{NAME}: values from {out.min().item():.3g} to {out.max().item():.3g}: clip the decoded means to "
            "[0, 1] with torch.clip(mean, 0, 1)."
        )
    styles = _styles_of(out, model, records[f"{prefix}z"], records[f"{prefix}y"], n_styles)
    if not torch.allclose(styles, styles[:1].expand_as(styles), rtol=1e-5, atol=1e-6):
        raise CheckFailed(
            f"{NAME}: the styles are not shared: column j must use the same z_j for every label, but each label "
            "got its own z. Draw the n_styles codes once, before the loop over the labels."
        )
    z = styles[0]
    if n_styles > 1 and torch.cdist(z, z).add(torch.eye(n_styles, dtype=z.dtype)).min() < 1e-6:
        raise CheckFailed(f"{NAME}: several columns use the same z: draw n_styles different codes z ~ p(z) = N(0, I).")
    # The generator makes the grid repeatable.
    again = records.get(f"{prefix}again")
    if again is None or again.shape != out.shape or not torch.allclose(again, out):
        raise CheckFailed(
            f"{NAME}: two calls with generators of the same seed gave different grids: draw the styles with the "
            "generator, torch.randn(n_styles, model.z_dim, generator=generator)."
        )
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
    return 4 if statistics else 3


def check_sample_grid_on(
    sample_grid: Callable, model, n_styles: int = 20, seed: int = 0, statistics: bool = False
) -> int:
    """Check ``sample_grid(model, n_styles, generator)`` on ``model`` (see the module's docstring)."""
    obs = Observation()
    observe_grid_on(sample_grid, model, n_styles, seed, obs)
    return judge_grid_on(obs.records, model, statistics)


RANDOM = "random state: "


def observe_random_state(sample_grid: Callable, model, n_styles: int, obs) -> None:
    """Records the grids of generators of seeds 1 and 2 and whether the second call changed torch's
    global random state (1) or not (0)."""
    first, _ = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(1))
    _check_shape(first, model, n_styles)
    with torch.random.fork_rng():
        torch.manual_seed(987)
        torch.rand(3)
        before = torch.get_rng_state()
        second, _ = _grid_call(sample_grid, model, n_styles, torch.Generator().manual_seed(2))
        changed = not torch.equal(before, torch.get_rng_state())
    _check_shape(second, model, n_styles)
    obs.records[f"{RANDOM}seed 1"], obs.records[f"{RANDOM}seed 2"] = first.detach().double(), second.detach().double()
    obs.records[f"{RANDOM}changed"] = torch.tensor(float(changed))


def judge_random_state(records: dict) -> None:
    """Different seeds give different grids, and the global random state is the caller's."""
    if torch.allclose(records[f"{RANDOM}seed 1"], records[f"{RANDOM}seed 2"]):
        raise CheckFailed(
            f"{NAME}: generators of different seeds gave the same grid: draw the styles with the "
            "generator you are given (torch.randn(..., generator=generator)), and do not reseed."
        )
    if records[f"{RANDOM}changed"].item():
        raise CheckFailed(
            f"{NAME}: it changed torch's global random state although a generator was given: draw "
            "with generator=generator, and never call torch.manual_seed inside a library function."
        )


def check_random_state(sample_grid: Callable, model, n_styles: int) -> None:
    """Different seeds give different grids, and the global random state is the caller's."""
    obs = Observation()
    observe_random_state(sample_grid, model, n_styles, obs)
    judge_random_state(obs.records)


# The visible check's grids: 20 styles, then 400 for the statistics of the styles (4000 codes: a bias
# of 0.1 in their mean is 6 standard errors), with 48-pixel images: about 3.5 MB of float64 records.
GRIDS = ((20, 0, False), (400, 1, True))


def observe_sample_grid(sample_grid: Callable) -> Observation:
    """The visible check's observation of ``sample_grid`` on :func:`small_fsvae`, for :func:`judge_sample_grid`."""
    model = small_fsvae()
    obs = Observation(inputs=fingerprint(model))
    for n_styles, seed, _ in GRIDS:
        observe_grid_on(sample_grid, model, n_styles, seed, obs, prefix=f"{n_styles} styles: ")
    observe_random_state(sample_grid, model, 5, obs)
    return obs


def judge_sample_grid(obs: Observation) -> None:
    """Judges :func:`observe_sample_grid`'s records, decoding with a rebuilt :func:`small_fsvae` (seeded:
    the same model as the kernel's, under the same seed offset)."""
    model = small_fsvae()
    if obs.inputs != fingerprint(model):
        raise CheckFailed(f"{NAME}: the grids were drawn with another model than the check's (another seed offset?).")
    for n_styles, _, statistics in GRIDS:
        judge_grid_on(obs.records, model, statistics, prefix=f"{n_styles} styles: ")
    judge_random_state(obs.records)


def sample_grid_check() -> Check:
    return Check("05_fsvae/sample_grid", observe_sample_grid, verdict=judge_sample_grid, reported=8)


def check_fsvae_sample_grid(sample_grid: Callable) -> None:
    """Visible check of ``sample_grid`` on a small FSVAE (48-pixel colour images)."""
    run_check(sample_grid_check(), sample_grid)
