"""Figures of the distillation notebook: the live dashboard figure and the static
pictures (softened distributions, the T^2 gradient scale, accuracy against T,
against student size and against bytes)."""
from __future__ import annotations

import numpy as np

from .blit import Blitter, set_image_data, set_line_data
from .style import PALETTE, SERIES, legend_outside, new_figure, style_axes, styled, suite_style

N_CLASSES = 10
HARD, DISTILLED, TEACHER = PALETTE["grey"], PALETTE["blue"], PALETTE["black"]


class DistillationFigure:
    """Four panels for the distillation dashboard.

    1. the chosen test image; 2. the teacher's softened distribution for it at
    the current T (bars, one per digit); 3. student test accuracy against T
    (the grid's curve for the current kind, size and soft_weight; the
    hard-label student and the teacher as lines; the current T on the curve);
    4. accuracy against student size in bytes, with and without the teacher.
    Every moving artist is blitted; the axes limits are fixed at build.
    """

    def __init__(self):
        self.fig, axes = new_figure(1, 4, figsize=(9, 3.9), replace=type(self).__name__,
                                    gridspec_kw=dict(width_ratios=[0.8, 1.3, 1.5, 1.5]))
        self.ax_img, self.ax_bars, self.ax_T, self.ax_size = axes
        with suite_style():
            self._build()
        # slow: what a temperature move leaves alone (the image, the curves of this kind,
        # size and weight): kept with the background, drawn again when a setter changed it.
        # The distilled size curve is read at the nearest trained T: it moves with T.
        self.blitter = Blitter(self.fig, [self.bars, self.current_T, self.trained_T, self.curve_size_dist,
                                          self.current_size, self.trained_size],
                               slow=[self.image, self.curve_T, self.hard_T, self.curve_size_hard])

    def _build(self):
        ax = self.ax_img
        self.image = ax.imshow(np.zeros((28, 28)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title("test image")

        ax = self.ax_bars
        # ten bars as ONE thick line with gaps (NaN): a blit draws one artist, not ten patches
        (self.bars,) = ax.plot([], [], "-", color=PALETTE["blue"], lw=7, solid_capstyle="butt")
        style_axes(ax, xlabel="digit", ylabel="teacher's q (log)", title="Softened q of the image", ylog=True)
        ax.set_xticks(range(N_CLASSES))
        ax.set_xlim(-0.7, N_CLASSES - 0.3)
        ax.set_ylim(1e-6, 1.5)

        ax = self.ax_T
        (self.curve_T,) = ax.plot([], [], "-o", color=DISTILLED, ms=4, label="distilled")
        (self.hard_T,) = ax.plot([], [], "--", color=HARD, label="hard labels")
        self.teacher_T = ax.axhline(np.nan, color=TEACHER, lw=0.8, linestyle=":", label="teacher")
        (self.current_T,) = ax.plot([], [], "o", color="black", mfc=PALETTE["yellow"], ms=10, label="current")
        (self.trained_T,) = ax.plot([], [], "P", color=PALETTE["vermillion"], ms=10, label="trained here")
        style_axes(ax, xlabel="temperature T", ylabel="test accuracy", title="Student vs T", xlog=True)
        ax.set_xlim(0.8, 65)
        legend_outside(ax, ncol=2)

        ax = self.ax_size
        (self.curve_size_dist,) = ax.plot([], [], "-o", color=DISTILLED, ms=5, label="with teacher")
        (self.curve_size_hard,) = ax.plot([], [], "--s", color=HARD, ms=5, label="hard labels")
        self.teacher_size = ax.axhline(np.nan, color=TEACHER, lw=0.8, linestyle=":")
        (self.current_size,) = ax.plot([], [], "o", color="black", mfc=PALETTE["yellow"], ms=10)
        (self.trained_size,) = ax.plot([], [], "P", color=PALETTE["vermillion"], ms=10)
        style_axes(ax, xlabel="student size (KB, float64)", ylabel="test accuracy", title="Student vs size",
                   xlog=True)
        legend_outside(ax, ncol=1, handles=[self.curve_size_dist, self.curve_size_hard])
        ax.set_xlim(10, 1000)                    # placeholders until set_static (log axes)
        for a in (self.ax_T, self.ax_size):
            a.set_ylim(0.8, 1.0)
        for a in (self.ax_bars, self.ax_T, self.ax_size):
            a.minorticks_off()
        # fixed margins: tight_layout on four log axes costs seconds on a busy machine
        self.fig.subplots_adjust(left=0.01, right=0.985, bottom=0.36, top=0.91, wspace=0.55)

    def set_static(self, *, teacher_accuracy, accuracy_range, size_range_kb):
        """Limits and the teacher's line: fixed for the life of the dashboard."""
        low, high = accuracy_range
        for ax in (self.ax_T, self.ax_size):
            ax.set_ylim(low - 0.01, max(high, teacher_accuracy) + 0.01)
        self.teacher_T.set_ydata([teacher_accuracy] * 2)
        self.teacher_size.set_ydata([teacher_accuracy] * 2)
        self.ax_size.set_xlim(size_range_kb[0] / 1.6, size_range_kb[1] * 1.6)
        self.blitter.redraw_static()

    def update(self, *, image, q, entropy_bits, T, grid_T, curve, hard, current_accuracy, sizes_kb,
               size_dist, size_hard, size_kb, size_accuracy):
        set_image_data(self.image, np.reshape(image, (28, 28)))       # the slow artists: only if changed
        xs = np.repeat(np.arange(N_CLASSES, dtype=float), 3)
        ys = np.column_stack([np.full(N_CLASSES, 1e-7), np.maximum(q, 1e-7), np.full(N_CLASSES, np.nan)]).ravel()
        xs[2::3] = np.nan
        self.bars.set_data(xs, ys)
        set_line_data(self.curve_T, grid_T, curve)
        set_line_data(self.hard_T, [0.8, 65], [hard, hard])
        self.current_T.set_data([T], [current_accuracy])
        self.curve_size_dist.set_data(sizes_kb, size_dist)
        set_line_data(self.curve_size_hard, sizes_kb, size_hard)
        self.current_size.set_data([size_kb], [size_accuracy])
        self.blitter.update()

    def show_trained(self, T, size_kb, accuracy):
        self.trained_T.set_data([T], [accuracy])
        self.trained_size.set_data([size_kb], [accuracy])
        low, high = self.ax_T.get_ylim()
        if not low <= accuracy <= high:                 # a short run can land below the grid: keep it in view
            for ax in (self.ax_T, self.ax_size):
                ax.set_ylim(min(low, accuracy - 0.01), max(high, accuracy + 0.01))
            self.blitter.redraw_static()
        else:
            self.blitter.update()

    def clear_trained(self):
        self.trained_T.set_data([], [])
        self.trained_size.set_data([], [])


# --- static figures ------------------------------------------------------------------------

@styled
def plot_softened_bars(image, logits, temperatures, *, labels=None):
    """The image, then the teacher's softened distribution at each temperature (log scale:
    the small probabilities are the "dark knowledge")."""
    from ..distillation import entropy, soften

    temperatures = list(temperatures)
    fig, axes = new_figure(1, len(temperatures) + 1, figsize=(9, 2.6),
                           gridspec_kw=dict(width_ratios=[0.8] + [1.2] * len(temperatures)))
    axes[0].imshow(np.asarray(image).reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_xticks([]), axes[0].set_yticks([])
    axes[0].set_title("image" if labels is None else labels)
    for ax, T in zip(axes[1:], temperatures):
        q = soften(logits, T)
        ax.bar(np.arange(len(q)), np.maximum(q, 1e-7), color=PALETTE["sky"], edgecolor=PALETTE["blue"])
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 1.5)
        ax.set_xticks(range(len(q)))
        ax.set_title(f"T = {T:g}: H = {float(entropy(q)):.2f} bits")
        ax.set_xlabel("digit")
    axes[1].set_ylabel("q (log)")
    fig.tight_layout()
    return fig


@styled
def plot_gradient_scale(temperatures, scaled, unscaled):
    """Size of the soft-loss gradient against T, with and without the T^2 factor."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 3.4))
    ax.plot(temperatures, scaled, "-o", color=DISTILLED, ms=4, label="T² · CE(q, p): what is trained")
    ax.plot(temperatures, unscaled, "--s", color=PALETTE["vermillion"], ms=4, label="CE(q, p) alone")
    style_axes(ax, xlabel="temperature T", ylabel="gradient norm ||dL/dz||", title="Soft-loss gradient vs T",
               xlog=True, ylog=True, legend_loc="lower left")
    fig.tight_layout()
    return fig


@styled
def plot_accuracy_vs_temperature(grid_T, curves, hard, *, teacher=None, title="Student vs T"):
    """``curves``: {label: accuracies at grid_T}; ``hard``: the hard-label student (a line)."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 3.6))
    for (label, acc), (color, marker) in zip(curves.items(), SERIES):
        ax.plot(grid_T, acc, "-", marker=marker, color=color, label=label)
    ax.axhline(hard, color=HARD, linestyle="--", label="hard labels")
    if teacher is not None:
        ax.axhline(teacher, color=TEACHER, linestyle=":", lw=1, label="teacher")
    style_axes(ax, xlabel="temperature T", ylabel="test accuracy", title=title, xlog=True)
    legend_outside(ax, ncol=3)
    fig.tight_layout()
    return fig


@styled
def plot_accuracy_vs_size(sizes_kb, hard, distilled, *, labels=None, teacher=None):
    """Mean ± sd over seeds (arrays (n_sizes, n_seeds)) with and without the teacher."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 3.6))
    for acc, color, marker, label in ((distilled, DISTILLED, "o", "with teacher"), (hard, HARD, "s", "hard labels")):
        acc = np.atleast_2d(acc)
        ax.errorbar(sizes_kb, acc.mean(axis=1), yerr=acc.std(axis=1, ddof=1) if acc.shape[1] > 1 else None,
                    color=color, marker=marker, capsize=3, label=label)
    if teacher is not None:
        ax.axhline(teacher, color=TEACHER, linestyle=":", lw=1, label="teacher")
    if labels is not None:
        for x, lab in zip(sizes_kb, labels):
            ax.annotate(str(lab), (x, np.mean(np.atleast_2d(hard), axis=1).min()), textcoords="offset points",
                        xytext=(0, -14), ha="center", fontsize=9, color=HARD)
    style_axes(ax, xlabel="student size (KB, float64)", ylabel="test accuracy", title="Accuracy vs student size",
               xlog=True)
    legend_outside(ax, ncol=3)
    fig.tight_layout()
    return fig


@styled
def plot_accuracy_vs_bytes(names, kbytes, hard, distilled, *, others=None):
    """Each student with (filled) and without (open) the teacher on accuracy-vs-KB axes;
    ``others``: {name: (kb, accuracy)} of the other families' networks."""
    fig, ax = new_figure(1, 1, figsize=(9, 4.4))
    for i, (name, kb) in enumerate(zip(names, kbytes)):
        color, marker = SERIES[i % len(SERIES)]
        marker = SERIES[(i + i // len(SERIES)) % len(SERIES)][1]     # past 7 students: a new colour-marker pair
        h, d = np.mean(hard[i]), np.mean(distilled[i])
        ax.plot([kb, kb], [h, d], "-", color=color, lw=1)
        ax.plot(kb, h, marker, mfc="white", color=color, ms=8)
        ax.plot(kb, d, marker, color=color, ms=8, label=name)
    if others:
        for name, (kb, acc) in others.items():
            ax.plot(kb, acc, "*", color=PALETTE["grey"], ms=12)
            ax.annotate(name, (kb, acc), textcoords="offset points", xytext=(4, 4), fontsize=9, color=PALETTE["grey"])
    style_axes(ax, xlabel="size (KB: everything needed to rebuild it)", ylabel="test accuracy",
               # two lines: the legend outside narrows the axes, a one-line title overflowed the figure
               title="Students with (filled) and without (open) the teacher\nstars: the teacher compressed",
               xlog=True)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig
