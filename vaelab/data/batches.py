"""Binarisation, augmentation, batches and labels."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

# --------------------------------------------------------------------------------------------
# Binarisation
# --------------------------------------------------------------------------------------------


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarisation: each pixel is 1 with probability equal to its intensity.

    Args:
        x: ``(B, D)`` (any shape) intensities in [0, 1].
        generator: a ``torch.Generator`` on ``x``'s device; None uses torch's global generator.

    Returns:
        A tensor like ``x`` with values in {0, 1}.
    """
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Seeded, repeatable binarisation for evaluation.

    The uniform noise is drawn on the CPU from a local generator, so the result is the same on
    every device and torch's global random state is untouched.

    Args:
        x: ``(B, D)`` (any shape) intensities in [0, 1].
        seed: the seed of the noise.

    Returns:
        A tensor like ``x`` (dtype and device) with values in {0, 1}.
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(x.shape, generator=generator)
    return (noise < x.detach().cpu()).to(dtype=x.dtype, device=x.device)


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------


def _as_images(x: torch.Tensor, image_shape: tuple[int, int]) -> torch.Tensor:
    if x.ndim != 2 or x.shape[1] != image_shape[0] * image_shape[1]:
        raise ValueError(
            f"x must be (B, {image_shape[0] * image_shape[1]}) images of {image_shape[0]}x"
            f"{image_shape[1]} pixels, got shape {tuple(x.shape)}"
        )
    return x.reshape(len(x), 1, *image_shape)


def random_shift(
    x: torch.Tensor,
    max_shift: int = 1,
    generator: torch.Generator | None = None,
    image_shape: tuple[int, int] = (28, 28),
) -> torch.Tensor:
    """Each image translated by a random whole number of pixels, the same for all its pixels.

    The shifts ``(dy, dx)`` are drawn uniformly from ``{-max_shift, ..., max_shift}``, per image;
    pixels moved in from outside the image are 0 (background).

    Args:
        x: ``(B, H*W)`` intensities.
        max_shift: the largest shift, in pixels, along each axis (0: no change).
        generator: a ``torch.Generator`` on ``x``'s device; None uses torch's global generator.
        image_shape: ``(H, W)``.

    Returns:
        ``(B, H*W)``.
    """
    if int(max_shift) != max_shift or max_shift < 0:
        raise ValueError(f"max_shift must be a whole number of pixels >= 0, got {max_shift}")
    p = int(max_shift)
    images = _as_images(x, image_shape)[:, 0]
    if p == 0 or len(x) == 0:
        return x.clone()
    height, width = image_shape
    padded = torch.nn.functional.pad(images, (p, p, p, p))
    offset = torch.randint(0, 2 * p + 1, (len(x), 2), generator=generator, device=x.device)
    rows = torch.arange(height, device=x.device)[None, :] + offset[:, :1]  # (B, H)
    cols = torch.arange(width, device=x.device)[None, :] + offset[:, 1:]  # (B, W)
    batch = torch.arange(len(x), device=x.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]].reshape(len(x), -1)


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    rotation: float = 20.0,
    scale: float = 0.2,
    shear: float = 0.2,
    shift: float = 4.0,
    image_shape: tuple[int, int] = (28, 28),
) -> torch.Tensor:
    """Each image through a small random affine map: rotation, scaling, shear and translation.

    Per image, uniformly: an angle in ``[-rotation, rotation]`` degrees, a scale factor in
    ``[1 - scale, 1 + scale]``, a shear in ``[-shear, shear]`` and a translation in
    ``[-shift, shift]`` pixels along each axis; bilinear interpolation, 0 outside the image,
    clipped to [0, 1]. All ranges 0 give ``x`` back.

    Args:
        x: ``(B, H*W)`` intensities in [0, 1].
        generator: a ``torch.Generator`` on ``x``'s device; None uses torch's global generator.
        rotation, scale, shear, shift: the ranges above (each >= 0).
        image_shape: ``(H, W)``.

    Returns:
        ``(B, H*W)`` in [0, 1].
    """
    for name, value in (("rotation", rotation), ("scale", scale), ("shear", shear), ("shift", shift)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    images = _as_images(x, image_shape)
    n, (height, width) = len(x), image_shape

    def uniform(bound: float) -> torch.Tensor:  # (B,) in [-bound, bound]
        return (torch.rand(n, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1) * bound

    angle = uniform(rotation * math.pi / 180)
    factor, slant = 1 + uniform(scale), uniform(shear)
    # affine_grid's coordinates run from -1 to 1 across the image: a pixel is 2 / size of them.
    tx, ty = uniform(shift) * 2 / width, uniform(shift) * 2 / height
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([factor * cos, -factor * sin + slant, tx], -1), torch.stack([factor * sin, factor * cos, ty], -1)],
        1,
    )  # (B, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    moved = torch.nn.functional.grid_sample(images, grid, align_corners=False, padding_mode="zeros")
    return moved.reshape(n, -1).clamp(0, 1)


# --------------------------------------------------------------------------------------------
# Mini-batches
# --------------------------------------------------------------------------------------------


class Batches:
    """Fast in-memory mini-batches: index slices of tensors held on a device.

    No ``DataLoader`` and no per-example Python: each epoch draws one permutation from the
    iterator's own ``torch.Generator`` (seeded with ``seed``), so the order is repeatable for a seed
    and changes from epoch to epoch. With ``binarize=True`` every batch is binarised afresh
    (dynamic binarisation) with the same generator. ``transform`` (data augmentation, e.g.
    :func:`random_affine`) is applied to each batch's intensities before the binarisation.

    Args:
        x: ``(N, D)`` data.
        y: ``(N,)`` labels or None.
        batch_size: ``B``.
        shuffle: a new random order each epoch (else the stored order).
        binarize: yield ``bernoulli(x_batch)`` instead of ``x_batch``.
        seed: seed of the generator.
        device: where the data are kept and the batches are yielded.
        drop_last: skip the last, incomplete batch.
        transform: ``transform(x_batch, generator) -> x_batch`` with the iterator's generator,
            or None.

    Iterating yields one epoch of ``(x_batch: (B, D), y_batch: (B,))``, or ``x_batch`` when ``y``
    is None; ``len()`` is the number of batches per epoch; :meth:`forever` never stops.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        batch_size: int = 100,
        shuffle: bool = True,
        binarize: bool = True,
        seed: int = 0,
        device="cpu",
        drop_last: bool = True,
        transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    ):
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be a function (x_batch, generator) -> x_batch, got {transform!r}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if drop_last and len(x) < batch_size:
            raise ValueError(
                f"batch_size {batch_size} is larger than the {len(x)} examples: with drop_last=True "
                "there would be no batch; use a smaller batch_size or drop_last=False"
            )
        self.device = torch.device(device)
        self.x = x.to(self.device)
        self.y = None if y is None else y.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.binarize = binarize
        self.drop_last = drop_last
        self.transform = transform
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.device)
        else:
            order = torch.arange(n, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            x_batch = self.x[index]
            if self.transform is not None:
                x_batch = self.transform(x_batch, self.generator)
            if self.binarize:
                x_batch = torch.bernoulli(x_batch, generator=self.generator)
            yield x_batch if self.y is None else (x_batch, self.y[index])

    def forever(self) -> Iterator:
        """Yield batches endlessly, epoch after epoch (a new order each epoch)."""
        while True:
            yield from self


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def one_hot(y: torch.Tensor, y_dim: int = 10) -> torch.Tensor:
    """Float one-hot encoding: ``y: (B,)`` integer labels -> ``(B, Y)`` float32 with Y = ``y_dim``."""
    return torch.nn.functional.one_hot(y.long(), num_classes=y_dim).float()


def labelled_subset(y: torch.Tensor, per_class: int, seed: int = 0, *, y_dim: int | None = None) -> torch.Tensor:
    """Indices of a balanced labelled subset: ``per_class`` random examples of each class.

    For the semi-supervised chapter (e.g. 10 labels per class = 100 labelled digits).

    Args:
        y: ``(N,)`` integer labels.
        per_class: examples to take from each class.
        seed: seed of the local generator (no global state changes).
        y_dim: number of classes 0..Y-1 that must all be present; None takes the classes found in ``y``.

    Returns:
        ``(Y * per_class,)`` int64 indices into ``y``, sorted, without duplicates.

    Raises:
        ValueError: a class has fewer than ``per_class`` examples.
    """
    if per_class < 0:
        raise ValueError(f"per_class must be non-negative, got {per_class}")
    y = y.detach().cpu()
    classes = range(y_dim) if y_dim is not None else torch.unique(y).tolist()
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in classes:
        members = torch.nonzero(y == label).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {label} has {len(members)} examples, fewer than per_class={per_class}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    if not chosen:
        return torch.empty(0, dtype=torch.int64)
    return torch.sort(torch.cat(chosen)).values
