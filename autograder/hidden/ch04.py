"""Hidden tests of Chapter 4 (SSVAE): kl_cat, negative_elbo_bound and classification_loss."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.models import SSVAE
from vaelab.reference.checks import (
    REFERENCE_HELPERS,
    FixedLogits,
    check_classification_loss_cases,
    check_classification_loss_model,
    check_keeps_global_rng,
    check_kl_cat_cases,
    check_ssvae_negative_elbo_bound,
    classification_case,
    kl_cat_case,
    sharpen_classifier,
    small_ssvae,
    substituted,
)

from . import _g, _randn, judge_all, refuse_reference


def _log_softmax(*shape, seed, dtype=torch.float32, scale=1.0):
    return torch.log_softmax(_randn(*shape, seed=seed, dtype=dtype, scale=scale), -1)


def _uniform(*shape, dtype=torch.float32):
    return torch.full(shape, -math.log(shape[-1]), dtype=dtype)


def test_kl_cat(kl_cat):
    q = torch.full((2, 10), 0.1)
    refuse_reference(kl_cat, "kl_cat", ref.kl_cat, q, q.log(), q.log())
    cases = []
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        cases += [
            kl_cat_case(
                f"q (8, 10) against the uniform prior (1, 10), {name}",
                _randn(8, 10, seed=1, dtype=dtype, scale=2.0),
                _uniform(1, 10, dtype=dtype),
            ),
            kl_cat_case(
                f"q (5, 4) against a non-uniform prior (5, 4), {name}",
                _randn(5, 4, seed=2, dtype=dtype),
                _log_softmax(5, 4, seed=3, dtype=dtype),
            ),
            kl_cat_case(
                f"q (3, 6, 10) with extra batch dimensions, prior (10,), {name}",
                _randn(3, 6, 10, seed=4, dtype=dtype, scale=3.0),
                _log_softmax(10, seed=5, dtype=dtype),
            ),
        ]
    cases += [
        kl_cat_case(
            "q equal to the prior: the KL is 0", _randn(4, 10, seed=6), torch.log_softmax(_randn(4, 10, seed=6), -1)
        ),
        kl_cat_case("a single example (B = 1), two classes", _randn(1, 2, seed=7), _log_softmax(1, 2, seed=8)),
        kl_cat_case(
            "confident q (logits up to ±40) against the uniform prior",
            _randn(6, 10, seed=9, scale=20.0),
            _uniform(1, 10),
        ),
        kl_cat_case(
            "a peaked prior (log p down to -30)", _randn(5, 10, seed=10), _log_softmax(5, 10, seed=11, scale=10.0)
        ),
        kl_cat_case(
            "a confident classifier: q rounds to 0 for some labels (logits ±300), float32",
            300 * torch.sign(_randn(6, 10, seed=12)),
            _log_softmax(1, 10, seed=13),
        ),
        kl_cat_case(
            "a confident classifier: q rounds to 0 for some labels (logits ±2000), float64",
            2000 * torch.sign(_randn(6, 10, seed=14, dtype=torch.float64)),
            _log_softmax(1, 10, seed=15, dtype=torch.float64),
        ),
    ]
    check_kl_cat_cases(kl_cat, cases)


def _first_linear(net):
    return [layer for layer in net.modules() if isinstance(layer, torch.nn.Linear)][0]


def _model(seed, dtype=torch.float32, label_strength=1.0, sharpen=6.0, **sizes):
    """A small SSVAE; ``label_strength`` scales the label inputs of the encoder and the decoder, so that the
    per-label terms differ clearly between labels (at initialisation they barely depend on y)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = SSVAE(**sizes)
    with torch.no_grad():
        _first_linear(model.encoder).weight[:, model.x_dim :] *= label_strength  # encoder input [x, y]
        _first_linear(model.decoder).weight[:, model.z_dim :] *= label_strength  # decoder input [z, y]
    sharpen_classifier(model, scale=sharpen)
    return model.to(dtype)


def test_negative_elbo_bound(negative_elbo_bound):
    with torch.random.fork_rng():
        torch.manual_seed(11)
        model = _model(5, z_dim=4, y_dim=10, x_dim=30, hidden=24, label_strength=8.0, sharpen=20.0)
        # images of different ink densities: q(y|x) and the per-label terms then vary together across the batch
        x = torch.bernoulli(torch.linspace(0.05, 0.95, 17).unsqueeze(1).expand(17, 30).contiguous(), generator=_g(3))
        refuse_reference(negative_elbo_bound, "negative_elbo_bound", objectives.ssvae_negative_elbo_bound, model, x)
        # Graded on its own: the notebook's helpers (kl_cat, ...) are replaced by the references.
        with substituted(negative_elbo_bound, **REFERENCE_HELPERS):
            check_keeps_global_rng(negative_elbo_bound, "negative_elbo_bound", (model, x))
            check_ssvae_negative_elbo_bound(negative_elbo_bound, model=model, x=x, n_calls=30)
            # a confident classifier: q(y|x) rounds to 0 for some labels
            confident = copy.deepcopy(model)
            sharpen_classifier(confident, scale=300.0)
            check_ssvae_negative_elbo_bound(negative_elbo_bound, model=confident, x=x, n_calls=5)
            # float64 models and data
            check_ssvae_negative_elbo_bound(
                negative_elbo_bound, model=copy.deepcopy(model).double(), x=x.double(), n_calls=10
            )
            # three classes, a single image
            small = small_ssvae(seed=3, y_dim=3, x_dim=12)
            x1 = torch.bernoulli(torch.full((1, 12), 0.5), generator=_g(4))
            check_ssvae_negative_elbo_bound(negative_elbo_bound, model=small, x=x1, n_calls=10)
            # the chapter's model as initialised: 784 pixels, z = 64, 10 classes
            with torch.random.fork_rng():
                torch.manual_seed(6)
                big = SSVAE()
            xb = torch.bernoulli(torch.full((9, 784), 0.2), generator=_g(5))
            check_ssvae_negative_elbo_bound(negative_elbo_bound, model=big, x=xb, n_calls=6)


def test_classification_loss(classification_loss):
    logits = _randn(4, 10, seed=1)
    y = F.one_hot(torch.tensor([0, 1, 2, 3]), 10).float()
    refuse_reference(
        classification_loss,
        "classification_loss",
        objectives.ssvae_classification_loss,
        FixedLogits(logits),
        torch.zeros(4, 4),
        y,
    )
    cases = []
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        cases += [
            classification_case(
                f"logits (100, 10), labels of every class, {name}",
                _randn(100, 10, seed=2, dtype=dtype, scale=2.0),
                torch.arange(100) % 10,
            ),
            classification_case(
                f"logits (7, 3), three classes, {name}",
                _randn(7, 3, seed=3, dtype=dtype),
                torch.tensor([0, 2, 1, 1, 0, 2, 2]),
            ),
        ]
    cases += [
        classification_case("a single example (B = 1)", _randn(1, 10, seed=4), torch.tensor([7])),
        classification_case(
            "confident and right (logits ±200)",
            200 * F.one_hot(torch.tensor([1, 4, 4, 9]), 10).float() - 100,
            torch.tensor([1, 4, 4, 9]),
        ),
        classification_case(
            "confident and wrong (logits ±200: log(softmax) underflows)",
            200 * torch.sign(_randn(5, 10, seed=5)),
            torch.tensor([0, 1, 2, 3, 4]),
        ),
        classification_case(
            "large shared offset (logits around 1000)", 1000 + _randn(6, 10, seed=6), torch.tensor([5, 4, 3, 2, 1, 0])
        ),
    ]
    check_classification_loss_cases(classification_loss, cases)
    check_classification_loss_model(classification_loss)
    check_classification_loss_model(
        classification_loss, model=_model(8, dtype=torch.float64, z_dim=4, x_dim=30, hidden=24), batch=20
    )


judge_all(globals())
