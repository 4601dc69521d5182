"""Figures of the pruning notebook: the live dashboard figure and the static pictures
(weight distribution, pixels that keep their connections, speed against sparsity)."""
from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, PowerNorm

from .blit import Blitter
from .style import PALETTE, SERIES, new_figure, style_axes, styled, suite_style

CRITERION_COLORS = {"magnitude": SERIES[0][0], "taylor": SERIES[1][0], "random": SERIES[2][0],
                    "neurons": SERIES[3][0]}
SCOPE_LINES = {"global": "-", "layer": "--"}
SPEED_LINES = {"csr_b1": (PALETTE["blue"], "o", "-", "CSR, batch 1"),
               "csr_b1000": (PALETTE["orange"], "s", "-", "CSR, batch 1,000"),
               "neurons_b1": (PALETTE["green"], "^", "--", "neurons removed, batch 1"),
               "neurons_b1000": (PALETTE["vermillion"], "D", "--", "neurons removed, batch 1,000")}
SPARSITY_RANGE = (0.3, 0.997)          # the logit axis: fine resolution near 1
ALPHA_RANGE = (0.8, 400.0)
IMAGE_SIDE = 28


def _logit_axis(ax):
    """A logit sparsity axis with a few labelled ticks (matplotlib's default labels every
    minor tick: slow to draw and unreadable)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    ax.set_xscale("logit")
    ax.set_xlim(*SPARSITY_RANGE)
    ax.xaxis.set_major_locator(FixedLocator([0.5, 0.9, 0.99]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x:g} %"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _logit_safe(s):
    """Sparsities off the logit axis (0, or above the range) become NaN: not drawn."""
    s = np.asarray(s, dtype=float)
    return np.where((s >= SPARSITY_RANGE[0]) & (s <= SPARSITY_RANGE[1]), s, np.nan)


class PruningFigure:
    """Three panels for the pruning dashboard.

    Left: test accuracy against compression rate alpha (bits, in the chosen storage
    format): one-shot curves per criterion (colour) and scope (line style), the
    current point, and every fine-tuned point so far. Middle: measured speedup
    against sparsity for CSR at batch 1 and 1,000 and for neuron pruning, with
    the FLOPs ratio and the break-even sparsities; the current sparsity as a
    vertical line and the measured delta once it arrives. Right: per input pixel,
    how many of its first-layer connections survive (a 28 x 28 picture).
    Legends sit below the axes, where no moving artist goes.

    The one-shot curves are moving artists too (blitted): a storage format changes
    their alphas, and a full redraw of the figure for a new format's background
    cost ~200 ms (the slowest first move). They are the Blitter's slow artists:
    drawn again only when a format changes them (seven lines, ~3 ms a move).
    """

    def __init__(self, n_hidden_units=300):
        self.fig, (self.ax_acc, self.ax_speed, self.ax_pix) = new_figure(
            1, 3, figsize=(9, 4.7), replace=type(self).__name__, gridspec_kw=dict(width_ratios=[1.15, 1.15, 0.8]))
        self.n_hidden_units = n_hidden_units
        self.curves_shown = None
        with suite_style():
            self._build()
        # the curves change with a storage format only: kept with the background (see Blitter)
        self.blitter = Blitter(self.fig, [self.current, self.tuned, self.here, self.on_curve, self.measured,
                                          self.image], slow=list(self.curves.values()))

    def _build(self):
        ax = self.ax_acc
        self.curves = {}
        for criterion in ("magnitude", "taylor", "random"):
            for scope, ls in SCOPE_LINES.items():
                (self.curves[(criterion, scope)],) = ax.plot([], [], ls, color=CRITERION_COLORS[criterion], lw=1.3,
                                                             label=f"{criterion}, {scope}")
        (self.curves[("neurons", "global")],) = ax.plot([], [], ":", color=CRITERION_COLORS["neurons"], lw=1.6,
                                                        label="neurons (L2), global")
        self.reference = ax.axhline(np.nan, color=PALETTE["grey"], linestyle=":", lw=1)
        (self.current,) = ax.plot([], [], "o", color="black", mfc=PALETTE["yellow"], ms=10, label="current")
        (self.tuned,) = ax.plot([], [], "P", color="black", ms=9, label="fine-tuned")
        style_axes(ax, xlabel="compression rate alpha (bits, chosen format)", ylabel="test accuracy",
                   title="Accuracy against compression", xlog=True)
        ax.set_xlim(*ALPHA_RANGE)
        ax.set_ylim(0.0, 1.0)

        ax = self.ax_speed
        self.speed_lines = {}
        for key, (color, marker, ls, label) in SPEED_LINES.items():
            (self.speed_lines[key],) = ax.plot([], [], ls, marker=marker, color=color, ms=4, lw=1.2, label=label)
        (self.flops_line,) = ax.plot([], [], ":", color=PALETTE["grey"], label="FLOPs ratio 1 / (1 - s)")
        ax.axhline(1.0, color="black", lw=0.8)
        self.break_even_lines = [ax.axvline(np.nan, color=PALETTE[c], lw=1, linestyle="-.")
                                 for c in ("blue", "orange")]
        self.break_even_text = ax.text(0.02, 0.97, "", transform=ax.transAxes, fontsize=8, va="top", zorder=5,
                                       bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1.5))
        self.here = ax.axvline(np.nan, color=PALETTE["black"], lw=1.2, alpha=0.6)
        (self.on_curve,) = ax.plot([], [], "o", color="black", mfc="none", ms=11, mew=1.5)
        (self.measured,) = ax.plot([], [], "*", color="black", mfc=PALETTE["yellow"], ms=14, label="measured now")
        style_axes(ax, xlabel="sparsity of the weights (logit scale)", ylabel="speedup delta",
                   title="Measured speed (1 BLAS thread)", ylog=True)
        _logit_axis(ax)
        ax.set_ylim(0.1, 300)
        # one legend for both plots, across the figure's width below the axes: two legends
        # under two narrow axes overlapped each other, and nothing that moves goes down there
        handles = [h for a in (self.ax_acc, self.ax_speed) for h in a.get_legend_handles_labels()[0]]
        self.fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 0.0))

        ax = self.ax_pix
        # a power-law colour scale: at high sparsity a pixel keeps a handful of its 300 connections.
        # The image holds (count / 300)^0.4 in float32 on a linear scale (the colours of PowerNorm(0.4)
        # on the counts, ~2 ms a move instead of ~3.7); the colour bar shows the counts' scale.
        self.pixels = np.zeros(IMAGE_SIDE * IMAGE_SIDE)
        self.image = ax.imshow(np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32), cmap="viridis",
                               interpolation="nearest", norm=Normalize(0, 1))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("Layer-1 connections kept\nfrom each input pixel")
        scale = ScalarMappable(norm=PowerNorm(0.4, vmin=0, vmax=self.n_hidden_units), cmap="viridis")
        self.fig.colorbar(scale, ax=ax, fraction=0.046, pad=0.03, shrink=0.8, ticks=[0, 5, 30, 100, 300])
        self.fig.subplots_adjust(left=0.07, right=0.94, top=0.91, bottom=0.40, wspace=0.35)

    def set_static(self, *, reference_accuracy, speed=None, speed_note=""):
        """The speed curves (``pruning_experiments.load_experiments()``'s ``speed.*`` arrays, or None) and
        the dense accuracy."""
        self.reference.set_ydata([reference_accuracy] * 2)
        self.break_even = {}
        if speed is not None:
            from ..pruning import break_even_sparsity

            s = speed["speed.sparsity"]
            for key, line in self.speed_lines.items():
                xs = speed["speed.neuron_sparsity"] if key.startswith("neurons") else s
                line.set_data(_logit_safe(xs), speed[f"speed.{key}"])
            for line, key in zip(self.break_even_lines, ("csr_b1", "csr_b1000")):
                self.break_even[key] = b = break_even_sparsity(s, speed[f"speed.{key}"])
                line.set_xdata([b, b])
            self.break_even_text.set_text("CSR breaks even at\n" + "\n".join(
                f"{s:.0%} (batch {b})" if np.isfinite(s) else f"never (batch {b})"
                for b, s in ((1, self.break_even["csr_b1"]), ("1,000", self.break_even["csr_b1000"]))))
        else:
            self.break_even_text.set_text(speed_note)
        xs = np.linspace(*SPARSITY_RANGE, 60)
        self.flops_line.set_data(xs, 1 / (1 - xs))
        self.tuned.set_data([], [])
        self.blitter.redraw_static()

    def set_curves(self, name, curves):
        """{(criterion, scope): (alphas, accuracies)} for the storage format ``name``; drawn
        by the caller's next ``update()`` (the lines are blitted, no full redraw)."""
        if name == self.curves_shown:
            return
        for key, line in self.curves.items():
            line.set_data(*curves.get(key, ([], [])))
        self.curves_shown = name

    def speed_at(self, key, sparsity) -> float:
        """The shipped measured curve ``key`` read at ``sparsity`` (linear interpolation)."""
        line = self.speed_lines[key]
        xs, ys = (np.asarray(a, dtype=float) for a in line.get_data())
        ok = np.isfinite(xs)
        if ok.sum() < 2:
            return float("nan")
        return float(np.interp(sparsity, xs[ok], ys[ok], left=np.nan, right=np.nan))

    def update(self, *, alpha, accuracy, sparsity, curve_key, measured, pixels, tuned):
        """One move: the current point, where it sits on the speed curves, the pixel picture."""
        self.current.set_data([alpha], [accuracy])
        self.tuned.set_data([t[0] for t in tuned], [t[1] for t in tuned])
        x = float(_logit_safe(sparsity))
        self.here.set_xdata([x, x])
        self.on_curve.set_data([x], [self.speed_at(curve_key, sparsity)])
        self.measured.set_data([x], [np.nan if measured is None else measured])
        self.pixels = np.asarray(pixels, dtype=float).ravel()
        shown = np.clip(self.pixels / self.n_hidden_units, 0, 1) ** 0.4
        self.image.set_data(shown.astype(np.float32).reshape(IMAGE_SIDE, IMAGE_SIDE))
        self.blitter.update()

    def show_measured(self, sparsity, measured):
        x = float(_logit_safe(sparsity))
        self.measured.set_data([x], [np.nan if measured is None else measured])
        self.blitter.update()


# --- static figures ------------------------------------------------------------------------

@styled
def plot_weight_distribution(network, *, thresholds=None):
    """Histogram of |w| per layer (log-log), with the global magnitude thresholds of
    ``thresholds`` ({label: |w| cut}) drawn over it."""
    fig, ax = new_figure(1, 1, figsize=(7, 3.4))
    weights = [np.abs(layer.to_dense().weight.ravel()) for layer in network.layers]
    edges = np.geomspace(1e-6, max(w.max() for w in weights) * 1.1, 80)
    for i, (w, (color, _)) in enumerate(zip(weights, SERIES)):
        counts, _ = np.histogram(np.maximum(w, 1e-6), bins=edges)
        ax.stairs(counts, edges, color=color, lw=1.4,
                  label=f"layer {i + 1} ({network.layers[i].n_inputs}x{network.layers[i].n_outputs})")
    for (label, cut), ls in zip((thresholds or {}).items(), ("--", "-.", ":")):
        ax.axvline(cut, color="black", lw=1, linestyle=ls, label=label)
    style_axes(ax, xlabel="|w| (values below 1e-6 piled into the first bin)", ylabel="weights",
               title="How large are the weights?", xlog=True, ylog=True, legend_loc="upper left")
    fig.tight_layout()
    return fig


@styled
def plot_pixel_survivors(panels, n_hidden_units=300):
    """One 28 x 28 picture per panel: connections kept from each pixel. ``panels``: {title: counts (784,)}."""
    fig, axes = new_figure(1, len(panels), figsize=(2.4 * len(panels) + 0.8, 2.8))
    axes = np.atleast_1d(axes)
    for ax, (title, counts) in zip(axes, panels.items()):
        image = ax.imshow(np.asarray(counts, float).reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="viridis",
                          norm=PowerNorm(0.4, vmin=0, vmax=n_hidden_units), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.02, label=f"kept of {n_hidden_units} (power scale)",
                 ticks=[0, 5, 30, 100, n_hidden_units])
    return fig


@styled
def plot_sensitivity(scan, layer_names):
    """Validation accuracy with one layer pruned alone, per layer, against its sparsity."""
    fig, ax = new_figure(1, 1, figsize=(6, 3.2))
    for row, name, (color, marker) in zip(scan.accuracy, layer_names, SERIES):
        ax.plot(scan.sparsities, row, marker=marker, color=color, label=name)
    ax.axhline(scan.base_accuracy, color=PALETTE["grey"], linestyle=":", lw=1, label="unpruned")
    _logit_axis(ax)
    ax.set_xlim(min(0.3, scan.sparsities.min()), max(0.997, scan.sparsities.max()))
    style_axes(ax, xlabel="sparsity of that layer (logit scale)", ylabel="validation accuracy",
               title=f"Sensitivity ({scan.criterion}), one layer at a time", legend_loc="lower left")
    fig.tight_layout()
    return fig


@styled
def plot_speed(speed, *, live=None):
    """Measured delta against sparsity (the shipped curves); ``live``: {label: (sparsities, deltas)}
    measured in this notebook, drawn over them."""
    fig, ax = new_figure(1, 1, figsize=(7, 3.6))
    for key, (color, marker, ls, label) in SPEED_LINES.items():
        xs = speed["speed.neuron_sparsity"] if key.startswith("neurons") else speed["speed.sparsity"]
        ax.plot(_logit_safe(xs), speed[f"speed.{key}"], ls, marker=marker, color=color, ms=4,
                label=f"{label} (shipped)")
    for (label, (xs, ys)), (color, marker) in zip((live or {}).items(), SERIES[4:]):
        ax.plot(_logit_safe(xs), ys, "", marker=marker, color=color, ms=9, mfc="none", mew=2, lw=0,
                label=f"{label} (this machine, now)")
    xs = np.linspace(*SPARSITY_RANGE, 60)
    ax.plot(xs, 1 / (1 - xs), ":", color=PALETTE["grey"], label="FLOPs ratio 1 / (1 - s)")
    ax.axhline(1.0, color="black", lw=0.8)
    _logit_axis(ax)
    style_axes(ax, xlabel="sparsity of the weights (logit scale)", ylabel="speedup delta",
               title="Is a pruned network faster? (1 BLAS thread)", ylog=True)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


@styled
def plot_tradeoff(points, *, x_label, title):
    """Accuracy against a size or speed ratio: ``points`` {label: (xs, accuracies, errors or None)}."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 3.4))
    for (label, (xs, ys, err)), (color, marker) in zip(points.items(), SERIES):
        ax.errorbar(xs, ys, yerr=err, fmt="-" if len(xs) > 1 else "", marker=marker, color=color, capsize=3,
                    ms=6, label=label)
    style_axes(ax, xlabel=x_label, ylabel="test accuracy", title=title, xlog=True, legend_loc="lower left")
    fig.tight_layout()
    return fig
