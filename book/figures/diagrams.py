"""The graphical models of the theory pages: a small matplotlib drawing kit and one figure per model.

Used by ``make_figures.py`` (which saves them); nothing here computes a number.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Wedge  # noqa: E402

INK, GREY, BLUE = "#1a1a1a", "#c8c8c8", "#1f5fa8"


# ------------------------------------------------------------------------------------------------
# Graphical models
# ------------------------------------------------------------------------------------------------


class Diagram:
    """A directed graphical model on a blank canvas of ``width x height`` units (1 unit = 0.62 in).

    Random variables are circles (grey when observed, half grey when observed only sometimes),
    parameters small black dots, plates rounded boxes with their size in the bottom right corner.
    Solid arrows belong to the generative model p_theta, dashed blue arrows to the encoder q_phi.
    """

    R = 0.36  # radius of a random variable's circle

    def __init__(self, width: float, height: float):
        self.fig, self.ax = plt.subplots(figsize=(0.62 * width, 0.62 * height))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(0, height)
        self.ax.set_aspect("equal")
        self.ax.axis("off")
        self.fig.subplots_adjust(0, 0, 1, 1)
        self.nodes: dict[str, tuple[float, float, float]] = {}  # name -> (x, y, radius)

    def variable(self, name: str, xy, label: str, observed: str = "no") -> None:
        """``observed``: "no" (white), "yes" (grey) or "half" (observed for some data points)."""
        x, y = xy
        face = GREY if observed == "yes" else "white"
        self.ax.add_patch(Circle(xy, self.R, facecolor=face, edgecolor=INK, lw=1.4, zorder=3))
        if observed == "half":
            self.ax.add_patch(Wedge(xy, self.R, 90, 270, facecolor=GREY, edgecolor="none", zorder=3))
            self.ax.add_patch(Circle(xy, self.R, facecolor="none", edgecolor=INK, lw=1.4, zorder=3))
        self.ax.text(x, y, label, ha="center", va="center", fontsize=15, zorder=4)
        self.nodes[name] = (x, y, self.R)

    def parameter(self, name: str, xy, label: str, label_side: str = "right") -> None:
        x, y = xy
        self.ax.add_patch(Circle(xy, 0.07, facecolor=INK, edgecolor=INK, zorder=3))
        dx = {"right": 0.16, "left": -0.16}[label_side]
        self.ax.text(x + dx, y, label, ha=label_side == "right" and "left" or "right", va="center", fontsize=13)
        self.nodes[name] = (x, y, 0.09)

    def edge(self, a: str, b: str, inference: bool = False, bend: float = 0.0) -> None:
        """An arrow from node ``a`` to node ``b``; ``bend`` curves it (matplotlib's arc3 radius)."""
        (xa, ya, ra), (xb, yb, rb) = self.nodes[a], self.nodes[b]
        arrow = FancyArrowPatch(
            (xa, ya),
            (xb, yb),
            connectionstyle=f"arc3,rad={bend}",
            arrowstyle="-|>",
            mutation_scale=14,
            lw=1.4,
            shrinkA=ra * 72 * 0.62,
            shrinkB=rb * 72 * 0.62,
            color=BLUE if inference else INK,
            linestyle=(0, (4, 3)) if inference else "-",
            zorder=2,
        )
        self.ax.add_patch(arrow)

    def plate(self, x0: float, y0: float, x1: float, y1: float, label: str) -> None:
        box = FancyBboxPatch(
            (x0, y0),
            x1 - x0,
            y1 - y0,
            boxstyle="round,pad=0,rounding_size=0.15",
            facecolor="none",
            edgecolor=INK,
            lw=1.0,
            zorder=1,
        )
        self.ax.add_patch(box)
        self.ax.text(x1 - 0.1, y0 + 0.1, label, ha="right", va="bottom", fontsize=12)

    def legend(self, xy) -> None:
        """Two short sample arrows: solid for p_theta, dashed for q_phi."""
        x, y = xy
        for dy, inference, label in ((0.0, False, r"$p_\theta$"), (-0.45, True, r"$q_\phi$")):
            self.ax.add_patch(
                FancyArrowPatch(
                    (x, y + dy),
                    (x + 0.7, y + dy),
                    arrowstyle="-|>",
                    mutation_scale=11,
                    lw=1.3,
                    color=BLUE if inference else INK,
                    linestyle=(0, (4, 3)) if inference else "-",
                )
            )
            self.ax.text(x + 0.85, y + dy, label, va="center", fontsize=13)


def vae_model():
    """Chapter 1: z -> x, with the encoder's dashed arrow back from x to z."""
    d = Diagram(5.2, 4.0)
    d.plate(0.9, 0.35, 3.3, 3.7, r"$N$")
    d.variable("z", (2.1, 2.85), r"$z$")
    d.variable("x", (2.1, 1.2), r"$x$", observed="yes")
    d.parameter("theta", (4.0, 2.0), r"$\theta$")
    d.parameter("phi", (0.35, 2.0), r"$\phi$", label_side="left")
    d.edge("z", "x")
    d.edge("x", "z", inference=True, bend=-0.55)
    d.edge("theta", "x")
    d.edge("phi", "z", inference=True)
    d.legend((3.75, 3.55))
    return d.fig


def gmvae_model():
    """Chapter 2: c -> z -> x, the components' means and variances are parameters in a K plate."""
    d = Diagram(6.4, 5.4)
    d.plate(0.9, 0.35, 3.3, 5.1, r"$N$")
    d.variable("c", (2.1, 4.3), r"$c$")
    d.variable("z", (2.1, 2.75), r"$z$")
    d.variable("x", (2.1, 1.2), r"$x$", observed="yes")
    d.plate(3.65, 2.15, 5.95, 3.35, r"$K$")
    d.parameter("mix", (3.95, 2.9), r"$\mu_k, \sigma_k^2$")
    d.parameter("theta", (4.2, 1.2), r"$\theta$")
    d.parameter("phi", (0.35, 2.0), r"$\phi$", label_side="left")
    d.edge("c", "z")
    d.edge("mix", "z")
    d.edge("z", "x")
    d.edge("theta", "x")
    d.edge("x", "z", inference=True, bend=-0.55)
    d.edge("phi", "z", inference=True)
    d.legend((3.75, 4.75))
    return d.fig


def iwae_model():
    """Chapter 3: the VAE's model; the encoder draws m codes per image, in a plate of their own."""
    d = Diagram(5.6, 4.4)
    d.plate(0.9, 0.35, 3.7, 4.1, r"$N$")
    d.plate(1.3, 2.05, 3.3, 3.75, r"$m$")
    d.variable("z", (2.1, 2.9), r"$z_i$")
    d.variable("x", (2.1, 1.2), r"$x$", observed="yes")
    d.parameter("theta", (4.35, 1.2), r"$\theta$")
    d.parameter("phi", (0.35, 2.9), r"$\phi$", label_side="left")
    d.edge("z", "x")
    d.edge("x", "z", inference=True, bend=-0.55)
    d.edge("theta", "x")
    d.edge("phi", "z", inference=True)
    d.legend((4.05, 3.85))
    return d.fig


def ssvae_model():
    """Chapter 4 (M2): y and z are independent parents of x; y is observed for the labelled images."""
    d = Diagram(6.0, 4.4)
    d.plate(0.55, 0.35, 4.4, 3.75, r"$N$")
    d.variable("y", (1.35, 2.85), r"$y$", observed="half")
    d.variable("z", (3.5, 2.85), r"$z$")
    d.variable("x", (2.45, 1.2), r"$x$", observed="yes")
    d.parameter("theta", (5.05, 1.2), r"$\theta$")
    d.edge("y", "x")
    d.edge("z", "x")
    d.edge("theta", "x")
    d.edge("x", "y", inference=True, bend=-0.35)
    d.edge("x", "z", inference=True, bend=0.35)
    d.edge("y", "z", inference=True)
    d.legend((4.7, 3.55))
    return d.fig


def fsvae_model():
    """Chapter 5 (conditional VAE): the observed label and the style z are parents of x."""
    d = Diagram(6.0, 4.4)
    d.plate(0.55, 0.35, 4.4, 3.75, r"$N$")
    d.variable("y", (1.35, 2.85), r"$y$", observed="yes")
    d.variable("z", (3.5, 2.85), r"$z$")
    d.variable("x", (2.45, 1.2), r"$x$", observed="yes")
    d.parameter("theta", (5.05, 1.2), r"$\theta$")
    d.edge("y", "x")
    d.edge("z", "x")
    d.edge("theta", "x")
    d.edge("x", "z", inference=True, bend=0.35)
    d.edge("y", "z", inference=True)
    d.legend((4.7, 3.55))
    return d.fig
