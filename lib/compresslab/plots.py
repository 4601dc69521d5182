"""Matplotlib figures for the notebooks: built once, updated in place.

Each builder creates its artists once and returns an object whose
``update(...)`` moves them with ``set_data`` / ``set_width`` and asks for a
redraw with ``fig.canvas.draw_idle()``, so a slider never rebuilds a figure
(the ipympl pattern). No widgets here: dashboards wrap these figures.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# Memory a device offers, for the size plots (orders of magnitude, labelled so).
DEVICE_MEMORY_BYTES = {
    "microcontroller SRAM (256 KB)": 256 * 1024,
    "CPU L2 cache (1 MB)": 1024 * 1024,
}


def new_figure(nrows=1, ncols=1, figsize=(9, 3.6), **kwargs):
    """A figure that does not display itself (the dashboard places it)."""
    with plt.ioff():
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, **kwargs)
    fig.canvas.header_visible = False        # ipympl: no "Figure 1" title bar
    return fig, axes


def kilobytes(n_bytes) -> float:
    return n_bytes / 1024


def style_axes(ax, *, xlabel, ylabel, title, xlog=False, ylog=False, legend_loc=None, grid=True):
    """Labels, log scales, a small title, an optional legend and a light grid, in one call."""
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if legend_loc:
        ax.legend(fontsize=7, loc=legend_loc)
    if grid:
        ax.grid(alpha=0.3)


class ArchitectureFigure:
    """Left: size of each layer in KB (float64 and float32) against device memory.
    Right: test accuracy against model size for every trained architecture,
    the current one highlighted.

    The axes are fixed (every architecture the dashboard offers fits), so a
    slider move only redraws the bars, labels and points (blitting)."""

    SIZE_RANGE_KB = (0.3, 4000.0)
    ERROR_FLOOR = 0.004           # a perfect score is drawn here (log axis)

    def __init__(self, max_layers=3):
        self.fig, (self.ax_size, self.ax_trade) = new_figure(1, 2, figsize=(8.8, 3.6))
        y = np.arange(max_layers)
        self.bars64 = self.ax_size.barh(y - 0.2, np.ones(max_layers), height=0.4, label="float64")
        self.bars32 = self.ax_size.barh(y + 0.2, np.ones(max_layers), height=0.4, label="float32")
        self.names = [self.ax_size.text(self.SIZE_RANGE_KB[0] * 1.1, i - 0.45, "", fontsize=8, va="bottom")
                      for i in y]
        self.ax_size.set_yticks([])
        self.ax_size.set_ylim(max_layers - 0.4, -0.75)
        self.ax_size.set_xscale("log")
        self.ax_size.set_xlim(*self.SIZE_RANGE_KB)
        self.ax_size.set_xlabel("size of the layer (KB, weights + biases)")
        # Legends cost ~20 ms a redraw: the title and direct labels say it instead.
        self.ax_size.set_title("Where the bytes are: float64 (blue), float32 (orange)", fontsize=10)
        for name, size in DEVICE_MEMORY_BYTES.items():
            self.ax_size.axvline(kilobytes(size), color="grey", linestyle="--")
            self.ax_size.text(kilobytes(size), 0.02, name.split(" (")[0], rotation=90, fontsize=7,
                              ha="right", va="bottom", color="grey",
                              transform=self.ax_size.get_xaxis_transform())

        (self.trained,) = self.ax_trade.plot([], [], "o", color="tab:blue", label="trained architectures")
        (self.current,) = self.ax_trade.plot([], [], "*", color="tab:red", markersize=16,
                                             label="current architecture")
        self.untrained = self.ax_trade.axvline(np.nan, color="tab:red", linestyle="--", alpha=0.6)
        # Test *error* on a log axis: 2 % and 5 % error stay far apart, and a barely
        # trained network (60 % error) still fits on the same fixed axes.
        self.ax_trade.set_xscale("log")
        self.ax_trade.set_yscale("log")
        self.ax_trade.set_xlim(*self.SIZE_RANGE_KB)
        self.ax_trade.set_ylim(self.ERROR_FLOOR, 1.0)
        self.ax_trade.set_xlabel("model size (KB, float64)")
        self.ax_trade.set_ylabel("test error = 1 - accuracy (log)")
        self.ax_trade.set_title("Error against size: trained (dots), current (star)", fontsize=10)
        self.ax_trade.grid(alpha=0.3)
        for ax in (self.ax_size, self.ax_trade):
            ax.minorticks_off()
        self.fig.tight_layout()
        self.blitter = Blitter(self.fig, [*self.bars64, *self.bars32, *self.names, self.trained, self.current,
                                          self.untrained])

    def update(self, layer_names, layer_bytes64, points, current):
        """``points``: [(size_bytes, accuracy)] of trained models; ``current``:
        (size_bytes, accuracy or None)."""
        layer_bytes64 = list(layer_bytes64)
        for i, (bar64, bar32, name) in enumerate(zip(self.bars64, self.bars32, self.names)):
            size = kilobytes(layer_bytes64[i]) if i < len(layer_bytes64) else 1e-9   # hidden: log axis
            bar64.set_width(size)
            bar32.set_width(size / 2)
            name.set_text(layer_names[i] if i < len(layer_names) else "")
        self.trained.set_data([kilobytes(s) for s, _ in points], [self._error(a) for _, a in points])
        size, accuracy = current
        if accuracy is None:
            self.current.set_data([], [])
            self.untrained.set_xdata([kilobytes(size)] * 2)
        else:
            self.current.set_data([kilobytes(size)], [self._error(accuracy)])
            self.untrained.set_xdata([np.nan] * 2)
        self.blitter.update()

    def _error(self, accuracy):
        return max(1.0 - accuracy, self.ERROR_FLOOR)


class Blitter:
    """Redraw only the artists a slider moves (matplotlib's blitting pattern).

    The static part of the figure (axes, ticks, precomputed curves) is drawn
    once and kept as a background image; a slider move restores it, draws the
    moving artists on top and blits. A full redraw of a three-axes figure
    costs ~80 ms in Agg; this costs a few. ipympl sends the changed pixels.
    """

    def __init__(self, fig, artists):
        self.fig, self.artists, self.background = fig, list(artists), None
        for artist in self.artists:
            artist.set_animated(True)
        fig.canvas.mpl_connect("draw_event", self._on_draw)

    def _on_draw(self, event):
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)
        self._draw_artists()

    def _draw_artists(self):
        for artist in self.artists:
            self.fig.draw_artist(artist)

    def redraw_static(self):
        """After the static part changed (new dataset): a full redraw."""
        self.background = None
        self.fig.canvas.draw_idle()

    def update(self):
        canvas = self.fig.canvas
        if self.background is None:            # not drawn yet: the first draw captures it
            canvas.draw_idle()
            return
        canvas.restore_region(self.background)
        self._draw_artists()
        canvas.blit(self.fig.bbox)


LAYER_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")


class LowRankFigure:
    """Three panels for the low-rank dashboard.

    Left: test accuracy against compression rate alpha, the precomputed sweep
    curves (one energy for every layer; global budget) and the current point.
    Middle: speedup against alpha, theoretical (FLOPs) curve and measured
    points, with the current network's two deltas. Right: each layer's
    singular values s_i / s_1 with the cut-off where the slider puts it.
    """

    def __init__(self):
        self.fig, (self.ax_acc, self.ax_speed, self.ax_spec) = new_figure(1, 3, figsize=(9.4, 3.5))
        ax = self.ax_acc
        (self.curve_energy,) = ax.plot([], [], "-", color="tab:blue", lw=1.5, label="same energy per layer")
        (self.curve_global,) = ax.plot([], [], "-", color="tab:green", lw=1.5, label="global budget")
        self.reference = ax.axhline(np.nan, color="grey", linestyle="--", lw=1)
        (self.current_acc,) = ax.plot([], [], "o", color="tab:red", ms=9, label="current")
        (self.tuned_acc,) = ax.plot([], [], "P", color="black", ms=10, label="fine-tuned")
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="test accuracy",
                   title="Accuracy against compression", xlog=True, legend_loc="lower left")

        ax = self.ax_speed
        (self.curve_flops,) = ax.plot([], [], "-", color="tab:gray", lw=1.5, label="theoretical (FLOPs)")
        (self.points_measured,) = ax.plot([], [], "s", color="tab:purple", ms=4, label="measured")
        (self.current_flops,) = ax.plot([], [], "o", color="tab:red", ms=9)
        (self.current_measured,) = ax.plot([], [], "D", color="tab:red", ms=7, mfc="white", mew=2)
        ax.axhline(1.0, color="black", lw=0.8)
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="speedup delta",
                   title="Speedup: FLOPs (o) vs measured (\u25c7)", xlog=True, ylog=True, legend_loc="upper left")

        ax = self.ax_spec
        self.spectra = [ax.plot([], [], "-", color=c, lw=1.2)[0] for c in LAYER_COLORS[:3]]
        self.cutoffs = [ax.axvline(np.nan, color=c, lw=1.5, linestyle="--") for c in LAYER_COLORS[:3]]
        style_axes(ax, xlabel="index i of the singular value", ylabel="s_i / s_1",
                   title="Spectra and cut-off rank k", xlog=True, ylog=True)
        for a in (self.ax_acc, self.ax_speed, self.ax_spec):
            a.set_xlim(1, 100)                  # placeholders until set_static (log axes)
            a.set_ylim(0.01, 1)
            a.minorticks_off()
        self.fig.tight_layout()
        self.blitter = Blitter(self.fig, [self.current_acc, self.tuned_acc, self.current_flops,
                                          self.current_measured, *self.cutoffs])

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
        speeds = np.concatenate([flops_curve[1], measured_points[1], [1.0]])
        self.ax_speed.set_ylim(min(0.5, speeds.min() / 1.5), speeds.max() * 1.5)
        for line, s, name in zip(self.spectra, spectra, layer_names):
            line.set_data(np.arange(1, len(s) + 1), s / s[0])
            line.set_label(name)
        self.ax_spec.set_xlim(0.8, max(len(s) for s in spectra) * 1.3)
        floor = min(max(s[-1] / s[0], 1e-6) for s in spectra)
        self.ax_spec.set_ylim(floor / 2, 2)
        self.ax_spec.legend(fontsize=7, loc="lower left")
        self.tuned_acc.set_data([], [])
        self.blitter.redraw_static()

    def update(self, *, alpha, accuracy, speedup_flops, speedup_measured, ranks):
        """The moving parts: current point and cut-offs (``None`` rank: kept dense)."""
        self.current_acc.set_data([alpha], [accuracy])
        self.current_flops.set_data([alpha], [speedup_flops])
        self.current_measured.set_data([alpha], [speedup_measured])
        for line, k in zip(self.cutoffs, ranks):
            line.set_xdata([np.nan if k is None else k] * 2)
        self.blitter.update()

    def show_fine_tuned(self, alpha, accuracy):
        self.tuned_acc.set_data([alpha], [accuracy])
        self.blitter.update()


# --- static figures for the low-rank notebook --------------------------------------------

def plot_svd_factors(W, svd, k):
    """W (m x n) next to U_k (m x k), S_k (k x k) and V_k^T (k x n), drawn to scale."""
    m, n = W.shape
    fig, axes = new_figure(1, 4, figsize=(10, 3.2),
                           gridspec_kw={"width_ratios": [n, k, k, n]})
    limit = np.abs(W).max()
    panels = [(W, f"W  ({m} x {n})"), (svd.U[:, :k], f"U_k\n{m} x {k}"),
              (np.diag(svd.s[:k]), f"S_k\n{k} x {k}"), (svd.Vt[:k], f"V_k^T  ({k} x {n})")]
    for ax, (matrix, title) in zip(axes, panels):
        scale = limit if matrix is W else np.abs(matrix).max()
        ax.imshow(matrix, cmap="RdBu_r", vmin=-scale, vmax=scale, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"W ~ U_k S_k V_k^T keeps k (m + n) = {k * (m + n):,} of m n = {m * n:,} numbers", fontsize=10)
    fig.tight_layout()
    return fig


def plot_rebuilt_filters(svd, ranks, units, image_shape):
    """The incoming weights of a few hidden units (columns of W), seen as images,
    rebuilt from the top k singular values for growing k."""
    fig, axes = new_figure(len(units), len(ranks), figsize=(1.3 * len(ranks), 1.4 * len(units)))
    for col, k in enumerate(ranks):
        W_k = (svd.U[:, :k] * svd.s[:k]) @ svd.Vt[:k]             # (m, n)
        for row, unit in enumerate(units):
            ax = axes[row, col]
            image = W_k[:, unit].reshape(image_shape)
            ax.imshow(image, cmap="RdBu_r", vmin=-np.abs(image).max(), vmax=np.abs(image).max())
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"k = {k}", fontsize=9)
            if col == 0:
                ax.set_ylabel(f"unit {unit}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_spectra(svds, names):
    """Left: s_i / s_1 per layer. Right: energy kept against rank as a share of the
    full rank, with each layer's break-even rank marked."""
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(10, 3.4))
    for svd, name, color in zip(svds, names, LAYER_COLORS):
        i = np.arange(1, svd.full_rank + 1)
        ax1.semilogy(i, svd.s / svd.s[0], color=color, label=name)
        energy = np.cumsum(svd.s**2) / np.sum(svd.s**2)
        ax2.plot(i / svd.full_rank, energy, color=color, label=name)
        m, n = svd.shape
        share = (m * n / (m + n)) / svd.full_rank
        ax2.axvline(share, color=color, linestyle=":", lw=1)
    ax1.set_xlabel("index i")
    ax1.set_ylabel("s_i / s_1")
    ax1.set_title("Singular values", fontsize=10)
    ax2.set_xlabel("rank k / full rank")
    ax2.set_ylabel("energy kept")
    ax2.set_title("Energy kept (dotted: break-even rank)", fontsize=10)
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_break_even(m, n):
    """Parameters of a rank-k factorization, k (m + n), against the dense m n."""
    fig, ax = new_figure(1, 1, figsize=(6, 3.2))
    k = np.arange(1, min(m, n) + 1)
    ax.plot(k, k * (m + n), label="factorized: k (m + n)")
    ax.axhline(m * n, color="black", linestyle="--", label="dense: m n")
    ax.axvline(m * n / (m + n), color="tab:red", linestyle=":",
               label=f"break-even k = mn/(m+n) = {m * n / (m + n):.1f}")
    ax.set_xlabel("rank k")
    ax.set_ylabel("weights stored")
    ax.set_title(f"A {m} x {n} layer", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_curves(curves, *, xlabel, ylabel, title, xlog=False, reference=None):
    """Named curves {label: (xs, ys)} on one axes, with an optional reference line."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 3.4))
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, "o-", label=label, ms=4)
    if reference is not None:
        ax.axhline(reference[1], color="grey", linestyle="--", label=reference[0])
    if xlog:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


SCHEME_COLORS = {"symmetric": "tab:blue", "affine": "tab:orange", "kmeans": "tab:green",
                 "binary": "tab:red", "ternary": "tab:purple", "float": "black"}


class QuantizationFigure:
    """Three panels for the quantization dashboard.

    Left: accuracy against compression rate alpha, one precomputed curve per
    scheme (labelled by bit-width), the current PTQ point and the QAT point.
    Middle: a layer's weight histogram with the quantization levels (or the
    k-means centroids) drawn over it. Right: speedup against alpha: memory-bound
    theory (bytes moved, delta = alpha), FLOPs (delta = 1) and measured points.
    """

    MAX_LEVELS_DRAWN = 256

    def __init__(self):
        self.fig, (self.ax_acc, self.ax_hist, self.ax_speed) = new_figure(1, 3, figsize=(9.4, 3.5))
        ax = self.ax_acc
        self.curves = {s: ax.plot([], [], "o-", ms=3, lw=1.2, color=c, label=s)[0]
                       for s, c in SCHEME_COLORS.items()}
        self.reference = ax.axhline(np.nan, color="grey", linestyle="--", lw=1)
        (self.current,) = ax.plot([], [], "o", color="black", mfc="yellow", ms=10, label="current (PTQ)")
        (self.qat,) = ax.plot([], [], "P", color="black", ms=10, label="QAT")
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="test accuracy",
                   title="Accuracy against compression", xlog=True)

        ax = self.ax_hist
        self.hist_line, = ax.plot([], [], drawstyle="steps-mid", color="tab:gray", lw=1)
        (self.levels,) = ax.plot([], [], color="tab:red", lw=0.8, alpha=0.8)
        self.levels_text = ax.text(0.02, 0.95, "", transform=ax.transAxes, fontsize=8, va="top")
        style_axes(ax, xlabel="weight value", ylabel="count (log)", title="Weights and quantization levels",
                   ylog=True, grid=False)

        ax = self.ax_speed
        (self.memory_line,) = ax.plot([], [], "-", color="tab:gray", label="memory-bound: bytes moved")
        ax.axhline(1.0, color="black", lw=0.8, label="FLOPs (same float ops)")
        (self.measured_points,) = ax.plot([], [], "s", color="tab:purple", ms=4, label="measured")
        (self.current_measured,) = ax.plot([], [], "D", color="black", mfc="yellow", ms=8)
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="speedup delta",
                   title="Speedup: theory vs measured", xlog=True, ylog=True, legend_loc="upper left")
        for a in (self.ax_acc, self.ax_hist, self.ax_speed):
            a.set_xlim(1, 100)
            a.set_ylim(0.5, 10)
            a.minorticks_off()
        self.fig.tight_layout()
        self.blitter = Blitter(self.fig, [self.current, self.qat, self.levels, self.levels_text,
                                          self.current_measured])

    def set_static(self, *, curves, reference_accuracy, measured_points):
        """``curves``: {scheme: (alphas, accuracies)}; ``measured_points``: (alphas, deltas)."""
        for scheme, line in self.curves.items():
            line.set_data(*curves.get(scheme, ([], [])))
        self.reference.set_ydata([reference_accuracy] * 2)
        alphas = np.concatenate([np.asarray(c[0], float) for c in curves.values()] + [[1.0]])
        accuracies = np.concatenate([np.asarray(c[1], float) for c in curves.values()] + [[reference_accuracy]])
        for ax in (self.ax_acc, self.ax_speed):
            ax.set_xlim(0.8, alphas.max() * 1.5)
        self.ax_acc.set_ylim(max(0.0, accuracies.min() - 0.05), 1.0)
        self.ax_acc.legend(fontsize=7, loc="lower left", ncol=2)
        xs = np.geomspace(1, alphas.max() * 1.5, 20)
        self.memory_line.set_data(xs, xs)
        self.measured_points.set_data(*measured_points)
        low = min(0.3, np.min(measured_points[1]) / 1.5) if len(measured_points[1]) else 0.3
        self.ax_speed.set_ylim(low, alphas.max() * 2)
        self.qat.set_data([], [])
        self.blitter.redraw_static()

    def set_histogram(self, weights, bins=120):
        counts, edges = np.histogram(weights, bins=bins)
        centers = (edges[1:] + edges[:-1]) / 2
        self.hist_line.set_data(centers, np.maximum(counts, 0.5))
        margin = 0.05 * (edges[-1] - edges[0])
        self.ax_hist.set_xlim(edges[0] - margin, edges[-1] + margin)
        self.ax_hist.set_ylim(0.5, counts.max() * 3)
        self.hist_top = counts.max() * 2
        self.blitter.redraw_static()

    def update(self, *, alpha, accuracy, speedup_measured, levels, levels_label):
        self.current.set_data([alpha], [accuracy])
        self.current_measured.set_data([alpha], [speedup_measured])
        if levels is None or len(levels) > self.MAX_LEVELS_DRAWN:
            self.levels.set_data([], [])
            count = "float format" if levels is None else f"{len(levels):,} levels: too dense to draw"
            self.levels_text.set_text(f"{levels_label}: {count}")
        else:
            xs = np.repeat(levels, 3)
            ys = np.tile([0.5, self.hist_top, np.nan], len(levels))
            xs[2::3] = np.nan
            self.levels.set_data(xs, ys)
            self.levels_text.set_text(f"{levels_label}: {len(levels)} levels")
        self.blitter.update()

    def show_qat(self, alpha, accuracy):
        self.qat.set_data([alpha], [accuracy])
        self.blitter.update()


# --- static figures for the quantization notebook -----------------------------------------

def plot_levels(weights, panels):
    """One histogram of ``weights`` per panel, with that panel's quantization levels.

    ``panels``: {title: levels}."""
    fig, axes = new_figure(1, len(panels), figsize=(3.2 * len(panels), 2.8), sharey=True)
    axes = np.atleast_1d(axes)
    counts, edges = np.histogram(weights, bins=100)
    centers = (edges[1:] + edges[:-1]) / 2
    for ax, (title, levels) in zip(axes, panels.items()):
        ax.plot(centers, np.maximum(counts, 0.5), drawstyle="steps-mid", color="tab:gray", lw=1)
        for level in levels:
            ax.axvline(level, color="tab:red", lw=0.8, alpha=0.8)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("weight value")
    axes[0].set_ylabel("count (log)")
    fig.tight_layout()
    return fig


def plot_training_curves(runs, *, metric="loss", title=""):
    """``runs``: {label: [History, ...]} (one History per seed); each seed a thin line,
    the mean a thick one."""
    fig, ax = new_figure(1, 1, figsize=(7, 3.6))
    for (label, histories), color in zip(runs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        curves = np.array([getattr(h, metric) for h in histories])            # (seeds, epochs)
        epochs = np.arange(1, curves.shape[1] + 1)
        for curve in curves:
            ax.plot(epochs, curve, color=color, lw=0.6, alpha=0.5)
        ax.plot(epochs, curves.mean(axis=0), color=color, lw=2, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    if metric == "loss":
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
