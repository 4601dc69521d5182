"""Figures of the low-rank factorization notebook: the live dashboard figure and
the static pictures of the SVD."""
from __future__ import annotations

import numpy as np

from .blit import Blitter
from .style import (PALETTE, SERIES, layout_with_legends_below, legend_outside, new_figure, style_axes, styled,
                    suite_style)

LAYER_STYLES = SERIES[:5]         # (colour, marker) per layer, the same in every figure
LEGEND_ROOM = 0.25                # of the dashboard figure's height, below the axes, for the legends (4 rows)


class LowRankFigure:
    """Three panels for the low-rank dashboard.

    Left: test accuracy against compression rate alpha, the precomputed sweep
    curves (one energy for every layer; global budget) and the current point.
    Middle: speedup against alpha, theoretical (FLOPs) curve and measured
    points, with the current network's two deltas. Right: each layer's
    singular values s_i / s_1 with the cut-off where the slider puts it.
    """

    def __init__(self):
        self.fig, (self.ax_acc, self.ax_speed, self.ax_spec) = new_figure(1, 3, figsize=(9, 4.4),
                                                                           replace=type(self).__name__)
        with suite_style():
            self._build()
        self.blitter = Blitter(self.fig, [self.current_acc, self.tuned_acc, self.current_flops,
                                          self.current_measured, *self.cutoffs])

    def _build(self):
        ax = self.ax_acc
        (self.curve_energy,) = ax.plot([], [], "-", color=PALETTE["blue"], label="same energy per layer")
        (self.curve_global,) = ax.plot([], [], "--", color=PALETTE["green"], label="global budget")
        self.reference = ax.axhline(np.nan, color=PALETTE["grey"], linestyle=":", lw=1)
        (self.current_acc,) = ax.plot([], [], "o", color=PALETTE["vermillion"], ms=9, label="current")
        (self.tuned_acc,) = ax.plot([], [], "P", color=PALETTE["black"], ms=10, label="fine-tuned")
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="test accuracy",
                   title="Accuracy vs compression", xlog=True)
        legend_outside(ax, ncol=1, align="left")   # below the axes: the current point never covers it

        ax = self.ax_speed
        (self.curve_flops,) = ax.plot([], [], "-", color=PALETTE["grey"], label="theory (FLOPs)")
        (self.points_measured,) = ax.plot([], [], "s", color=PALETTE["purple"], ms=5, label="measured")
        (self.current_flops,) = ax.plot([], [], "o", color=PALETTE["vermillion"], ms=9, label="current, FLOPs")
        (self.current_measured,) = ax.plot([], [], "D", color=PALETTE["vermillion"], ms=7, mfc="white", mew=2,
                                           label="current, measured")
        ax.axhline(1.0, color="black", lw=0.8)
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="speedup delta",
                   title="Speedup vs compression", xlog=True, ylog=True)
        legend_outside(ax, ncol=1)

        ax = self.ax_spec
        self.spectra = [ax.plot([], [], "-", color=c, lw=1.4)[0] for c, _ in LAYER_STYLES[:3]]
        self.cutoffs = [ax.axvline(np.nan, color=c, lw=1.5, linestyle="--") for c, _ in LAYER_STYLES[:3]]
        style_axes(ax, xlabel="index i of the singular value", ylabel="s_i / s_1",
                   title="Spectra, cut-off k (dashed)", xlog=True, ylog=True)
        for a in (self.ax_acc, self.ax_speed, self.ax_spec):
            a.set_xlim(1, 100)                  # placeholders until set_static (log axes)
            a.set_ylim(0.01, 1)
            a.minorticks_off()

    def set_static(self, *, energy_curve, global_curve, flops_curve, measured_points, reference_accuracy,
                   spectra, layer_names):
        """The parts that depend on the dataset only: curves as (alphas, values)."""
        self.curve_energy.set_data(*energy_curve)
        self.curve_global.set_data(*global_curve)
        self.curve_flops.set_data(*flops_curve)
        self.points_measured.set_data(*measured_points)
        self.reference.set_ydata([reference_accuracy] * 2)
        alphas = np.concatenate([energy_curve[0], global_curve[0], [1.0]])
        accuracies = np.concatenate([energy_curve[1], global_curve[1], [reference_accuracy]])
        for ax in (self.ax_acc, self.ax_speed):
            ax.set_xlim(0.8, alphas.max() * 1.3)
        self.ax_acc.set_ylim(max(0.0, accuracies.min() - 0.05), 1.0)
        speeds = np.concatenate([flops_curve[1], measured_points[1], [1.0]]).astype(float)
        self.ax_speed.set_ylim(min(0.5, speeds.min() / 1.5), speeds.max() * 1.5)
        for line, s, name in zip(self.spectra, spectra, layer_names):
            line.set_data(np.arange(1, len(s) + 1), s / s[0])
            line.set_label(name)
        self.ax_spec.set_xlim(0.8, max(len(s) for s in spectra) * 1.3)
        floor = min(max(s[-1] / s[0], 1e-6) for s in spectra)
        self.ax_spec.set_ylim(floor / 2, 2)
        legend_outside(self.ax_spec, ncol=1, align="right")   # below the axes: the cut-off lines never cross it
        layout_with_legends_below(self.fig, LEGEND_ROOM)
        self.tuned_acc.set_data([], [])
        self.blitter.redraw_static()

    def set_measured_points(self, points):
        """The measured-speedup points (alphas, deltas), when they arrive (a warm-up)."""
        self.points_measured.set_data(*points)
        if len(points[1]):
            low, high = self.ax_speed.get_ylim()
            self.ax_speed.set_ylim(min(low, np.min(points[1]) / 1.5), max(high, np.max(points[1]) * 1.5))
        self.blitter.redraw_static()

    def update(self, *, alpha, accuracy, speedup_flops, speedup_measured, ranks):
        """The moving parts: current point and cut-offs (``None`` rank: kept dense)."""
        self.current_acc.set_data([alpha], [accuracy])
        self.current_flops.set_data([alpha], [speedup_flops])
        self.current_measured.set_data([alpha], [np.nan if speedup_measured is None else speedup_measured])
        for line, k in zip(self.cutoffs, ranks):
            line.set_xdata([np.nan if k is None else k] * 2)
        self.blitter.update()

    def show_fine_tuned(self, alpha, accuracy):
        self.tuned_acc.set_data([alpha], [accuracy])
        self.blitter.update()


# --- static figures ------------------------------------------------------------------------

@styled
def plot_svd_factors(W, svd, k):
    """W (m x n) next to U_k (m x k), S_k (k x k) and V_k^T (k x n), drawn to scale."""
    m, n = W.shape
    fig, axes = new_figure(1, 4, figsize=(9, 3.2), gridspec_kw={"width_ratios": [n, k, k, n]})
    limit = np.abs(W).max()
    panels = [(W, f"W  ({m} x {n})"), (svd.U[:, :k], f"U_k\n{m} x {k}"),
              (np.diag(svd.s[:k]), f"S_k\n{k} x {k}"), (svd.Vt[:k], f"V_k^T  ({k} x {n})")]
    for ax, (matrix, title) in zip(axes, panels):
        scale = limit if matrix is W else np.abs(matrix).max()
        ax.imshow(matrix, vmin=-scale, vmax=scale, aspect="auto", interpolation="nearest")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"W ~ U_k S_k V_k^T keeps k (m + n) = {k * (m + n):,} of m n = {m * n:,} numbers")
    fig.tight_layout()
    return fig


@styled
def plot_rebuilt_filters(svd, ranks, units, image_shape):
    """The incoming weights of a few hidden units (columns of W), seen as images,
    rebuilt from the top k singular values for growing k."""
    fig, axes = new_figure(len(units), len(ranks), figsize=(1.3 * len(ranks), 1.4 * len(units)), squeeze=False)
    for col, k in enumerate(ranks):
        W_k = (svd.U[:, :k] * svd.s[:k]) @ svd.Vt[:k]             # (m, n)
        for row, unit in enumerate(units):
            ax = axes[row, col]
            image = W_k[:, unit].reshape(image_shape)
            ax.imshow(image, vmin=-np.abs(image).max(), vmax=np.abs(image).max())
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"k = {k}")
            if col == 0:
                ax.set_ylabel(f"unit {unit}")
    fig.tight_layout()
    return fig


@styled
def plot_spectra(svds, names):
    """Left: s_i / s_1 per layer. Right: energy kept against rank as a share of the
    full rank, with each layer's break-even rank marked."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(9, 3.4))
    for svd, name, (color, _) in zip(svds, names, LAYER_STYLES):
        i = np.arange(1, svd.full_rank + 1)
        ax1.semilogy(i, svd.s / svd.s[0], color=color, label=name)
        energy = np.cumsum(svd.s**2) / np.sum(svd.s**2)
        ax2.plot(i / svd.full_rank, energy, color=color, label=name)
        m, n = svd.shape
        share = (m * n / (m + n)) / svd.full_rank
        ax2.axvline(share, color=color, linestyle=":", lw=1)
    style_axes(ax1, xlabel="index i", ylabel="s_i / s_1", title="Singular values", legend_loc="best")
    style_axes(ax2, xlabel="rank k / full rank", ylabel="energy kept",
               title="Energy kept (dotted: break-even rank)", legend_loc="best")
    fig.tight_layout()
    return fig


@styled
def plot_break_even(m, n):
    """Parameters of a rank-k factorization, k (m + n), against the dense m n."""
    fig, ax = new_figure(1, 1, figsize=(6, 3.4))
    k = np.arange(1, min(m, n) + 1)
    ax.plot(k, k * (m + n), color=PALETTE["blue"], label="factorized: k (m + n)")
    ax.axhline(m * n, color="black", linestyle="--", label="dense: m n")
    ax.axvline(m * n / (m + n), color=PALETTE["vermillion"], linestyle=":",
               label=f"break-even k = mn/(m+n) = {m * n / (m + n):.1f}")
    style_axes(ax, xlabel="rank k", ylabel="weights stored", title=f"A {m} x {n} layer", legend_loc="best")
    fig.tight_layout()
    return fig


@styled
def plot_curves(curves, *, xlabel, ylabel, title, xlog=False, reference=None):
    """Named curves {label: (xs, ys)} on one axes, each its own colour and marker,
    with an optional reference line (label, y)."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 3.6))
    for (label, (xs, ys)), (color, marker) in zip(curves.items(), SERIES * 3):
        ax.plot(xs, ys, "-", marker=marker, color=color, label=label, ms=5)
    if reference is not None:
        ax.axhline(reference[1], color=PALETTE["grey"], linestyle="--", label=reference[0])
    style_axes(ax, xlabel=xlabel, ylabel=ylabel, title=title, xlog=xlog, legend_loc="best")
    fig.tight_layout()
    return fig
