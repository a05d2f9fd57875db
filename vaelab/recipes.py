"""Training recipes that a chapter's notebook and its benchmark share, so that the two train alike.

:class:`SSVAERecipe` is chapter 4's: the semi-supervised split, the augmented batches, the loss
weights and the weight average of the classifier. The notebook and ``benchmarks/results_04_ssvae.py``
both call :func:`train_ssvae`; only the exercise functions they pass differ (the student's own in
the notebook, ``vaelab.reference``'s in the benchmark). The module holds no exercise answer.

Shapes use the course alphabet: B batch, D data, Y classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from .data import Batches, labelled_subset, one_hot, random_affine, random_shift
from .models import SSVAE
from .train import EMA, History, train

__all__ = ["SSVAERecipe", "semi_supervised_split", "semi_supervised_batches", "ssvae_loss", "train_ssvae"]


@dataclass(frozen=True)
class SSVAERecipe:
    """How chapter 4 trains the SSVAE: ``J = gen_weight * nelbo(unlabelled) + class_weight * ce(labelled)``.

    Attributes:
        z_dim: latent size of :class:`vaelab.models.SSVAE`.
        steps, fast_steps: Adam steps in full mode and in fast mode (:func:`vaelab.train.steps_for`).
        gen_weight: weight of the negative ELBO of the unlabelled batch; 0 trains the classifier alone.
        class_weight: weight of the cross-entropy of the labelled batch.
        labels_per_class: labelled digits per class (:func:`vaelab.data.labelled_subset`).
        batch_size: unlabelled digits per step (every step also takes a batch of the labelled ones).
        augment: labelled digits through :func:`vaelab.data.random_affine` (its defaults: up to 20
            degrees, 20 % scale, 0.2 shear, 4 pixels), unlabelled ones shifted by up to ``shift`` pixels.
        shift: the unlabelled digits' largest shift, in pixels.
        ema_decay: decay of the classifier's weight average (:class:`vaelab.train.EMA`); 0: none.
        seed: seeds the labelled subset, the initial weights, the batches and the training noise.
    """

    z_dim: int = 64
    steps: int = 9_000
    fast_steps: int = 200
    gen_weight: float = 1.0
    class_weight: float = 100.0
    labels_per_class: int = 10
    batch_size: int = 100
    augment: bool = True
    shift: int = 1
    ema_decay: float = 0.999
    seed: int = 0


def semi_supervised_split(x: torch.Tensor, y: torch.Tensor, recipe: SSVAERecipe = SSVAERecipe()):
    """``(x_unl, x_lab, y_lab)``: ``labels_per_class`` seeded labelled digits per class, the rest unlabelled.

    ``x: (N, D)``, ``y: (N,)`` -> ``x_unl: (N - L, D)``, ``x_lab: (L, D)``, ``y_lab: (L,)``, L = 10 x per class.
    """
    labelled = labelled_subset(y, recipe.labels_per_class, seed=recipe.seed)
    unlabelled = torch.ones(len(y), dtype=torch.bool)
    unlabelled[labelled] = False
    return x[unlabelled], x[labelled], y[labelled]


def semi_supervised_batches(x_unl, x_lab, y_lab, recipe: SSVAERecipe = SSVAERecipe()) -> Iterator:
    """Endless ``(xu: (B, D), xl: (L', D), yl: (L', Y) one-hot)`` triples, augmented and binarised afresh."""
    shift = (lambda x, g: random_shift(x, recipe.shift, g)) if recipe.augment else None
    affine = (lambda x, g: random_affine(x, g)) if recipe.augment else None
    unl = Batches(x_unl, batch_size=recipe.batch_size, seed=recipe.seed, transform=shift).forever()
    lab = Batches(x_lab, y_lab, batch_size=recipe.batch_size, seed=recipe.seed + 1, transform=affine).forever()
    while True:
        xl, yl = next(lab)
        yield next(unl), xl, one_hot(yl)


def ssvae_loss(recipe: SSVAERecipe, negative_elbo_bound: Callable, classification_loss: Callable):
    """``loss_fn(model, (xu, xl, yl)) -> (J, metrics)`` built on chapter 4's two exercise functions.

    With ``gen_weight == 0`` the bound is not computed (it costs most of a step): the classifier alone.
    """
    gen_weight, class_weight = recipe.gen_weight, recipe.class_weight

    def loss_fn(model, batch):
        xu, xl, yl = batch
        ce = classification_loss(model, xl, yl)
        if gen_weight == 0:
            return class_weight * ce, {"ce": ce}
        nelbo, kl_z, kl_y, rec = negative_elbo_bound(model, xu)
        metrics = {"nelbo": nelbo, "kl_z": kl_z, "kl_y": kl_y, "rec": rec, "ce": ce}
        return gen_weight * nelbo + class_weight * ce, metrics

    return loss_fn


def train_ssvae(
    recipe: SSVAERecipe,
    data,
    negative_elbo_bound: Callable,
    classification_loss: Callable,
    steps: int | None = None,
    progress: bool = True,
) -> tuple[SSVAE, Callable, History]:
    """Build and train an SSVAE by ``recipe`` on ``data = (x_unl, x_lab, y_lab)``.

    ``steps`` defaults to ``recipe.steps``. Returns ``(model, classifier, history)``: ``classifier(x)``
    gives the logits ``(B, Y)`` of the evaluated classifier, the weight average (or
    ``model.classify`` when ``ema_decay == 0``).
    """
    with torch.random.fork_rng():  # the initial weights, without touching the caller's random state
        torch.manual_seed(recipe.seed)
        model = SSVAE(z_dim=recipe.z_dim)
    average = EMA(model.classifier, recipe.ema_decay) if recipe.ema_decay else None
    history = train(
        model,
        ssvae_loss(recipe, negative_elbo_bound, classification_loss),
        semi_supervised_batches(*data, recipe),
        steps=recipe.steps if steps is None else steps,
        seed=recipe.seed,
        progress=progress,
        on_step=(lambda m, step: average.update(m.classifier)) if average else None,
    )
    return model, (average if average else model.classify), history
