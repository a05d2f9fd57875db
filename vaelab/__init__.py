"""vaelab: the course's VAE library (data, networks, models, training, evaluation, figures, checks).

Importing the package imports nothing heavy (no torch, no matplotlib). Inside the autograder's
kernels it does one thing: figures are not rendered (see :func:`figures_rendered`).
"""

from __future__ import annotations

import os
import sys


def figures_rendered() -> bool:
    """Whether figures are drawn: always, except while the autograder grades a notebook.

    There (``NBGRADER_EXECUTION=autograde``, the test of :func:`vaelab.train.grading_mode`, repeated
    here because importing that module imports torch) the models have trained a handful of steps,
    no grade depends on a figure, and drawing one to PNG was a third of the kernel's time outside
    the tests (``benchmarks/grading_speed.py --breakdown``). ``VAELAB_GRADING_FIGURES=1`` draws
    them anyway (for an instructor who wants them on the feedback pages).
    """
    grading = os.environ.get("NBGRADER_EXECUTION") == "autograde"
    return not grading or os.environ.get("VAELAB_GRADING_FIGURES", "").strip() == "1"


def _no_figure_formats_while_grading() -> None:
    """In a graded IPython kernel, sets the inline backend's figure formats to none, so that a
    displayed ``Figure`` (``display(fig)``, or pyplot's figures at the end of a cell) shows as its
    one-line text (``<Figure size 640x480 with 1 Axes>``) instead of being rendered to PNG.

    Through the inline backend's configuration (``%config InlineBackend.figure_formats = set()``),
    which ``%matplotlib inline`` and the first ``import matplotlib.pyplot`` read: it holds whichever
    of them runs first. Imports neither IPython nor matplotlib when they are not loaded already.
    """
    if figures_rendered() or "IPython" not in sys.modules:
        return
    shell = sys.modules["IPython"].get_ipython()
    if shell is None:  # a plain Python process: nothing displays figures
        return
    try:
        from matplotlib_inline.config import InlineBackend
    except ImportError:  # no inline backend: nothing renders figures inline either
        return
    InlineBackend.instance(parent=shell).figure_formats = set()


_no_figure_formats_while_grading()
