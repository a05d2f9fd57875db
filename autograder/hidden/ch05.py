"""Hidden tests of Chapter 5 (FSVAE): negative_elbo_bound and sample_grid."""

from __future__ import annotations

import copy

import torch

from vaelab import reference as objectives
from vaelab.checks.ch05 import check_random_state
from vaelab.checks.probes import widen_decoder_outputs
from vaelab.models import FSVAE
from vaelab.reference.checks import (
    REFERENCE_HELPERS,
    check_fsvae_negative_elbo_bound,
    check_gradient_at_codes,
    check_keeps_global_rng,
    check_sample_grid_on,
    small_fsvae,
    substituted,
)
from vaelab.reference.checks.ch05 import fsvae_bound_at

from . import _g, judge_all, refuse_reference


def _data(model, b, seed, dtype=torch.float32):
    x = torch.rand(b, model.x_dim, generator=_g(seed)).to(dtype)
    y = torch.nn.functional.one_hot(torch.randint(model.y_dim, (b,), generator=_g(seed + 1)), model.y_dim).to(dtype)
    return x, y


def _chapter_model(seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return FSVAE()  # 3 x 32 x 32 colour images, z = 10, 500 hidden units, as initialised


def test_negative_elbo_bound(negative_elbo_bound):
    with torch.random.fork_rng():
        torch.manual_seed(11)
        model = small_fsvae(seed=5, z_dim=4, image_shape=(3, 5, 4), hidden=24)
        x, y = _data(model, 80, seed=3)
        refuse_reference(negative_elbo_bound, "negative_elbo_bound", objectives.fsvae_negative_elbo_bound, model, x, y)
        # Graded on its own: the notebook's helpers are replaced by the references while it runs.
        with substituted(negative_elbo_bound, **REFERENCE_HELPERS):
            check_keeps_global_rng(negative_elbo_bound, "negative_elbo_bound", (model, x, y))
            check_fsvae_negative_elbo_bound(negative_elbo_bound, model=model, x=x, y=y, n_draws=10)
            check_gradient_at_codes(
                "negative_elbo_bound",
                negative_elbo_bound,
                (model, x, y),
                model,
                (x, y),
                lambda m, v, eps: fsvae_bound_at(model, x, y, m, v, eps),
                "nelbo",
            )
            # decoder means far from the pixels (residuals of about 10): a density's log underflows there
            wide = copy.deepcopy(model)
            widen_decoder_outputs(wide, scale=40.0)
            check_fsvae_negative_elbo_bound(negative_elbo_bound, model=wide, x=x, y=y, n_draws=3)
            # float64 models and data
            model64 = copy.deepcopy(model).double()
            check_fsvae_negative_elbo_bound(negative_elbo_bound, model=model64, x=x.double(), y=y.double(), n_draws=4)
            # the chapter's model, as initialised
            big = _chapter_model(6)
            xb, yb = _data(big, 16, seed=4)
            check_fsvae_negative_elbo_bound(negative_elbo_bound, model=big, x=xb, y=yb, n_draws=4)


def test_sample_grid(sample_grid):
    with torch.random.fork_rng():
        torch.manual_seed(12)
        model = small_fsvae(seed=7, z_dim=4, image_shape=(3, 4, 5), hidden=20)
        refuse_reference(sample_grid, "sample_grid", objectives.sample_grid, model, 3, None)
        with substituted(sample_grid, **REFERENCE_HELPERS):
            check_sample_grid_on(sample_grid, model, n_styles=20, seed=0)
            check_sample_grid_on(sample_grid, model, n_styles=1, seed=1)
            check_sample_grid_on(sample_grid, model, n_styles=600, seed=2, statistics=True)
            check_random_state(sample_grid, model, n_styles=5)  # seeds matter; the global state is untouched
            # the default number of styles and no generator
            out = sample_grid(model)
            assert isinstance(out, torch.Tensor) and tuple(out.shape) == (10, 20, 3, 4, 5), (
                f"sample_grid(model) returned shape {tuple(getattr(out, 'shape', ()))}: n_styles defaults to 20, "
                "the shape is (10, 20, C, H, W)."
            )
            # the chapter's model
            check_sample_grid_on(sample_grid, _chapter_model(8), n_styles=20, seed=3)


judge_all(globals())
