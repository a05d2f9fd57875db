"""Probes: stand-in models and wrappers that make a student's objective observable.

Nothing here computes an exercise's answer: the probes only change where a model's numbers come
from (a tiny posterior variance, a spread-out prior, a sharp classifier) or record what the
networks were called with, so that the checks can observe a function's behaviour.
"""

from __future__ import annotations

import torch
from torch import nn

from .engine import _g
from .inputs import current_offset

__all__ = [
    "TinyVariance",
    "DecoderTap",
    "DecoderCalls",
    "batched",
    "batched_calls",
    "FixedLogits",
    "spread_prior",
    "narrow_posteriors",
    "sharpen_classifier",
    "widen_decoder_outputs",
    "seeded",
]


class _Wrapper:
    """Forwards every attribute it does not define to the wrapped ``model`` (copyable, picklable)."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        if name == "model" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.model, name)


class TinyVariance(_Wrapper):
    """``model`` with its encoder's variances ``scale`` times smaller (``scale = 1e-14`` by default).

    A sample ``z ~ q(z|x)`` is then the encoder mean up to about ``1e-7``, so every term computed at
    ``z`` becomes deterministic and can be compared exactly, whatever random numbers an answer
    draws. Every other attribute (``decode``, ``prior``, ``classify``, ``z_dim``, ...) is the model's.
    """

    def __init__(self, model, scale: float = 1e-14):
        super().__init__(model)
        self.scale = scale

    def encode(self, *args):
        m, v = self.model.encode(*args)
        return m, v * self.scale

    def __repr__(self):
        return f"{type(self.model).__name__} (encoder variances x {self.scale:g})"


def seeded(build, seed: int = 0):
    """``build()`` with torch's global generator seeded (``seed`` plus the current
    :func:`~vaelab.checks.inputs.offset`) and float32 as the default dtype (a notebook may have changed
    it), without changing the caller's random state or default dtype."""
    previous = torch.get_default_dtype()
    with torch.random.fork_rng():
        torch.manual_seed(seed + current_offset())
        torch.set_default_dtype(torch.float32)
        try:
            return build()
        finally:
            torch.set_default_dtype(previous)


class DecoderTap:
    """``with DecoderTap(model) as tap:`` records every input of ``model.decoder`` in ``tap.inputs``.

    A forward pre-hook, so it sees ``model.decode(z)`` and ``model.decoder(z)`` alike, and the model
    keeps its type and attributes. The hook is removed on exit.
    """

    def __init__(self, model):
        self.model = model
        self.inputs: list[torch.Tensor] = []

    def _hook(self, module, args):
        if args:
            self.inputs.append(args[0])

    def __enter__(self):
        self.handle = self.model.decoder.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def batched(codes: list[torch.Tensor], rows: int) -> list[torch.Tensor]:
    """The decoded codes as the batches they make: every call as it was made, then the calls of a loop
    that decoded fewer than ``rows`` rows at a time (one image, one sample or one label per call),
    consecutive ones joined into ``(rows, D)`` batches in call order.

    Shapes: each code ``(..., D)``; a joined batch ``(rows, D)``. A valid answer may decode its batch
    in pieces, so every check that looks for "the batch's codes" reads them through this.
    """
    return [z for z, _ in batched_calls(list(zip(codes, [None] * len(codes))), rows)]


def batched_calls(calls: list[tuple[torch.Tensor, torch.Tensor | None]], rows: int) -> list:
    """:func:`batched` for ``(z, y)`` pairs of a conditional decoder (``y`` joined along with ``z``)."""
    out, run, count = list(calls), [], 0
    for z, y in calls:
        n = z.numel() // z.shape[-1] if z.dim() and z.shape[-1] else 0
        if not n or n >= rows or (y is not None and y.numel() // max(y.shape[-1], 1) != n):
            run, count = [], 0
            continue
        if count + n > rows:
            run, count = [], 0
        run.append((z.reshape(n, z.shape[-1]), None if y is None else y.reshape(n, y.shape[-1])))
        count += n
        if count == rows:
            ys = [piece_y for _, piece_y in run]
            joined_y = None if any(piece_y is None for piece_y in ys) else torch.cat(ys)
            out.append((torch.cat([piece_z for piece_z, _ in run]), joined_y))
            run, count = [], 0
    return out


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


def spread_prior(model, seed: int = 0, spread: float = 1.5) -> None:
    """Set a GMVAE's mixture away from N(0, I): means ``spread * randn``, variances in about (0.2, 1.5).

    With the initial prior (every component near the origin) some wrong answers, such as the analytic
    KL to N(0, I), would be hard to tell from right ones.
    """
    k, z_dim = model.k, model.z_dim
    with torch.no_grad():
        means = spread * torch.randn(1, k, z_dim, generator=_g(seed), dtype=torch.float32)
        pre_v = torch.randn(1, k, z_dim, generator=_g(seed + 1), dtype=torch.float32) * 0.6 - 0.5
        model.z_pre.copy_(torch.cat([means, pre_v], dim=1).to(model.z_pre))


def narrow_posteriors(model, shift: float = -2.0) -> None:
    """Shift the encoder's pre-softplus variances by ``shift``: posterior variances of about 0.1
    instead of about 0.7, so that a sample scaled by ``v`` (or by 1) instead of ``sqrt(v)`` stands out."""
    last = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias[model.z_dim :] += shift


def sharpen_classifier(model, scale: float = 6.0) -> None:
    """Scale the classifier's last layer so that ``q(y|x)`` is far from uniform and differs between
    images: then an unweighted average over the labels, or the argmax label alone, stands out."""
    last = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.copy_(torch.linspace(-1.0, 1.0, last.bias.numel(), dtype=last.bias.dtype))


def widen_decoder_outputs(model, scale: float = 4.0, shift: float = 0.5) -> None:
    """Scale the decoder's last layer so that its means spread well beyond [0, 1] (about
    ``shift ± scale * 0.3``): clipping then matters, and a sigmoid cannot pass for a clip."""
    last = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(shift)


class FixedLogits(nn.Module):
    """A stand-in model whose classifier returns the given logits (whatever ``x``)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits
        self.y_dim = logits.shape[-1]

    def classify(self, x):
        return self.logits

    def classifier(self, x):
        return self.logits

    def __repr__(self):
        return f"SSVAE(logits of shape {tuple(self.logits.shape)})"


class QuadraticPrior(_Wrapper):
    """``model`` with ``log_prior(z) = -0.65 |z|^2 - 0.2 sum(z) + 0.7``, for any leading shape of ``z``.

    Not a normalised density and not any exercise's answer: a prior that differs from N(0, I) and
    from the model's own, so that an objective that does not ask ``model.log_prior`` stands out.
    Every other attribute is the model's.
    """

    def log_prior(self, z):
        return -0.65 * z.pow(2).sum(-1) - 0.2 * z.sum(-1) + 0.7

    def __repr__(self):
        return f"{type(self.model).__name__} (with a quadratic log_prior)"
