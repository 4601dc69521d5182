"""Figures of the quantization notebook: the live dashboard figure and the static
pictures of levels and training curves."""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

from .blit import Blitter
from .style import (PALETTE, SERIES, layout_with_legends_below, legend_outside, new_figure, style_axes, styled,
                    suite_style)

# One (colour, marker) per scheme, the same in every figure.
LEGEND_ROOM = 0.2           # of the figure's height, below the axes, for the legends (3 rows)
ALPHA_AXIS_MAX = 64 * 1.5    # alpha <= 64 (a 64-bit baseline, at least 1 bit a weight): axes that never jump
SCHEME_STYLES = {"symmetric": SERIES[0], "affine": SERIES[1], "kmeans": SERIES[2], "binary": SERIES[3],
                 "ternary": SERIES[4], "float": (PALETTE["black"], "*")}


class LevelLines(Line2D):
    """Vertical lines at the quantization levels, from ``bottom`` to ``top`` (data).

    Agg draws a line at ~0.04 ms, so the 255 levels of 8 bits cost ~6-10 ms a
    move, more than the move's forward pass. In an Agg renderer (what a notebook
    and a PNG show), ``PAINT_FROM`` solid lines or more, at most
    ``PAINT_MAX_WIDTH`` pixels wide, over opaque pixels, are painted with numpy
    instead: each line's coverage of the pixel columns it crosses (snapped to
    pixel centres and spread over the columns as Agg's antialiasing does),
    summed per column and capped at 1 (Agg fills the union of one path's lines,
    then applies its alpha once), then blended over the rows between ``bottom``
    and ``top`` inside the axes (~1 ms). Anything else (PDF, SVG, a dashed,
    thick or butt-capped line, a transparent background, few lines) gets matplotlib's own
    drawing. The data stay a Line2D's (x, y with NaN between lines).
    """

    PAINT_FROM = 16
    PAINT_MAX_WIDTH = 1.5    # pixels: wider lines show Agg's projecting caps, which painting leaves out

    def set_levels(self, levels, bottom, top):
        levels = np.asarray(levels, dtype=float)
        xs = np.repeat(levels, 3)
        xs[2::3] = np.nan
        self.set_data(xs, np.tile([bottom, top, np.nan], len(levels)))

    def clear_levels(self):
        self.set_data([], [])

    def draw(self, renderer):
        levels = np.asarray(self.get_xdata(orig=True), dtype=float)[::3]     # (x, x, NaN) per line
        levels = levels[np.isfinite(levels)]                       # Agg leaves a NaN line out too
        if (not self.get_visible() or type(renderer) is not RendererAgg or len(levels) < self.PAINT_FROM
                or self.get_clip_path() is not None or self.get_linestyle() not in ("-", "solid")
                or self.get_solid_capstyle() != "projecting"
                or not self._paint(renderer, levels)):
            return super().draw(renderer)
        self.stale = False

    def _paint(self, renderer, levels) -> bool:
        """Paint the lines into the Agg buffer; False (nothing painted) where the numpy
        blend would not be Agg's: pixels under them that are not opaque."""
        pixels = np.asarray(renderer.buffer_rgba())                   # (height, width, 4), row 0 at the top
        height, width = pixels.shape[:2]
        to_display = self.get_transform()
        bottom, top = np.asarray(self.get_ydata(orig=True), dtype=float)[:2]
        x = to_display.transform(np.column_stack([levels, np.full(len(levels), bottom)]))[:, 0]
        line_width = renderer.points_to_pixels(self.get_linewidth())
        if line_width > self.PAINT_MAX_WIDTH:          # a PNG at a high dpi, a thick line: Agg's ends and caps
            return False
        half = line_width / 2
        ends = to_display.transform([[levels[0], bottom], [levels[0], top]])[:, 1]
        if self.get_snap() is not False:      # as Agg snaps a vertical line: to a pixel centre for an odd width
            x = np.floor(x + 0.5) + (0.5 if int(np.round(line_width)) % 2 else 0.0)
        y_low, y_high = ends.min(), ends.max()                       # an inverted axis too
        clip = self.get_clip_box() or self.figure.bbox
        x_low, x_high = max(clip.x0, 0), min(clip.x1, width)
        y_low, y_high = max(y_low, clip.y0, 0), min(y_high, clip.y1, height)
        rows = slice(int(round(height - y_high)), int(round(height - y_low)))     # row 0 at the top
        if rows.start >= rows.stop or x_low >= x_high:
            return True                                              # nothing of them inside
        left = np.floor(x - half).astype(int)
        # per line, the share of each pixel column it crosses that it covers: (n_lines, columns crossed)
        columns = left[:, None] + np.arange(int(np.ceil(line_width)) + 2)
        cover = np.clip(np.minimum(columns + 1, (x + half)[:, None]) - np.maximum(columns, (x - half)[:, None]), 0, 1)
        inside = (columns >= x_low) & (columns < x_high) & (cover > 0)
        # one path: Agg covers the union of its lines, then applies the alpha once
        coverage = np.minimum(np.bincount(columns[inside], weights=cover[inside], minlength=width), 1.0)
        touched = np.flatnonzero(coverage)
        if touched.size == 0:
            return True
        # only the columns a line covers: 63 thin lines cover ~1/3 of the span between the outer two
        columns = (slice(touched[0], touched[-1] + 1) if 2 * touched.size > touched[-1] + 1 - touched[0]
                   else touched)
        region = pixels[rows, columns]                 # (n_rows, n_columns, 4): a view, or a copy of the columns
        if region[..., 3].min() < 255:                                     # a transparent background: Agg blends it
            return False
        red, green, blue, alpha = to_rgba(self.get_color(), self.get_alpha())
        # in integers: out = (dest (256 - a) + colour a + 128) >> 8, a = opacity in 256ths per column
        a = np.rint(256 * alpha * coverage[columns]).astype(np.uint16)[None, :, None]
        colour = np.rint(255 * np.array([red, green, blue, 1.0])).astype(np.uint16)
        blended = region * (256 - a)                                       # uint16: at most 255 * 256
        blended += colour * a + 128
        pixels[rows, columns] = blended >> 8
        return True


class QuantizationFigure:
    """Three panels for the quantization dashboard.

    Left: accuracy against compression rate alpha, one precomputed curve per
    scheme (labelled by bit-width), the current PTQ point and the QAT point.
    Middle: a layer's weight histogram with the quantization levels (or the
    k-means centroids) drawn over it. Right: speedup against alpha: memory-bound
    theory (bytes moved, delta = alpha), FLOPs (delta = 1) and measured points.
    """

    MAX_LEVELS_DRAWN = 256
    # what the histogram's label can say (``update``): rendered ahead at each full draw
    LEVEL_LABELS = tuple(f"{what}{state}" for what in ("levels", "levels of the widest neuron")
                         for state in ("", ": float format", ": too dense to draw"))

    def __init__(self):
        self.fig, (self.ax_acc, self.ax_hist, self.ax_speed) = new_figure(1, 3, figsize=(9, 4.6),
                                                                           replace=type(self).__name__)
        self.hist_top = 1.0
        with suite_style():
            self._build()
        self.blitter = Blitter(self.fig, [self.current, self.qat, self.levels, self.current_measured],
                               labels={self.levels_text: self.LEVEL_LABELS})

    def _build(self):
        ax = self.ax_acc
        self.curves = {s: ax.plot([], [], "-", marker=m, ms=4, lw=1.2, color=c, label=s)[0]
                       for s, (c, m) in SCHEME_STYLES.items()}
        self.reference = ax.axhline(np.nan, color=PALETTE["grey"], linestyle="--", lw=1)
        (self.current,) = ax.plot([], [], "o", color="black", mfc=PALETTE["yellow"], ms=10, label="current (PTQ)")
        (self.qat,) = ax.plot([], [], "P", color="black", ms=10, label="QAT")
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="test accuracy",
                   title="Accuracy vs compression", xlog=True)

        ax = self.ax_hist
        (self.hist_line,) = ax.plot([], [], drawstyle="steps-mid", color=PALETTE["grey"], lw=1)
        self.levels = ax.add_line(LevelLines([], [], color=PALETTE["vermillion"], lw=0.8, alpha=0.8))
        # The title's place, above the axes: the level lines never cross it.
        self.levels_text = ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center", va="bottom")
        style_axes(ax, xlabel="weight value", ylabel="count (log)", title="", ylog=True, grid=False)

        ax = self.ax_speed
        (self.memory_line,) = ax.plot([], [], "-", color=PALETTE["grey"], label="bound: bytes moved")
        ax.axhline(1.0, color="black", lw=0.8, label="FLOPs (same ops)")
        (self.measured_points,) = ax.plot([], [], "s", color=PALETTE["purple"], ms=5, label="measured")
        (self.current_measured,) = ax.plot([], [], "D", color="black", mfc=PALETTE["yellow"], ms=8)
        style_axes(ax, xlabel="compression rate alpha (bits)", ylabel="speedup delta",
                   title="Speedup δ", xlog=True, ylog=True)
        legend_outside(ax, ncol=1, align="right")
        for a in (self.ax_acc, self.ax_hist, self.ax_speed):
            a.set_xlim(1, 100)
            a.set_ylim(0.5, 10)
            a.minorticks_off()

    def set_static(self, *, curves, reference_accuracy, measured_points):
        """``curves``: {scheme: (alphas, accuracies)}, any of them (the others may
        arrive later: ``set_curves``); ``measured_points``: (alphas, deltas)."""
        for line in self.curves.values():
            line.set_data([], [])
        self.reference.set_ydata([reference_accuracy] * 2)
        self.ax_acc.set_ylim(0.0, 1.02)          # from 0: a collapse (2-bit min-max) stays in view
        legend_outside(self.ax_acc, ncol=3, handles=[*self.curves.values(), self.current, self.qat], align="left")
        layout_with_legends_below(self.fig, LEGEND_ROOM)
        self.measured_points.set_data(*measured_points)
        self.qat.set_data([], [])
        self.set_curves(curves, measured_points=measured_points)

    def set_curves(self, curves, *, measured_points=None):
        """Some schemes' curves {scheme: (alphas, accuracies)}, as they arrive; the
        alpha axes then span every curve shown (at least 1 to ``ALPHA_AXIS_MAX``)."""
        for scheme, curve in curves.items():
            self.curves[scheme].set_data(*curve)
        alphas = np.concatenate([np.asarray(line.get_xdata(), float) for line in self.curves.values()]
                                + [[ALPHA_AXIS_MAX / 1.5]])
        top = alphas.max() * 1.5
        for ax in (self.ax_acc, self.ax_speed):
            ax.set_xlim(0.8, top)
        xs = np.geomspace(1, top, 20)
        self.memory_line.set_data(xs, xs)
        points = self.measured_points.get_data() if measured_points is None else measured_points
        low = min(0.3, np.min(points[1]) / 1.5) if len(points[1]) else 0.3
        self.ax_speed.set_ylim(low, top * 4 / 3)
        self.blitter.redraw_static()

    def set_curve(self, scheme, curve):
        """One scheme's curve (alphas, accuracies), when it arrives later (k-means)."""
        self.set_curves({scheme: curve})

    def set_measured_points(self, points):
        """The measured-speedup points (alphas, deltas), when they arrive."""
        self.measured_points.set_data(*points)
        if len(points[1]):
            low, high = self.ax_speed.get_ylim()
            self.ax_speed.set_ylim(min(low, np.min(points[1]) / 1.5), high)
        self.blitter.redraw_static()

    def set_histogram(self, weights, bins=120):
        counts, edges = np.histogram(weights, bins=bins)
        centers = (edges[1:] + edges[:-1]) / 2
        self.hist_line.set_data(centers, np.maximum(counts, 0.5))
        # symmetric levels reach +-max|w|, beyond the weights on their shorter side: the axes
        # span that too, with a margin, so no level falls on the axis line
        reach = max(abs(edges[0]), abs(edges[-1]))
        margin = 0.05 * 2 * reach
        self.ax_hist.set_xlim(min(edges[0], -reach) - margin, max(edges[-1], reach) + margin)
        self.ax_hist.set_ylim(0.5, counts.max() * 3)
        self.hist_top = counts.max() * 2
        self.blitter.redraw_static()

    def update(self, *, alpha, accuracy, speedup_measured, levels, levels_label):
        self.current.set_data([alpha], [accuracy])
        self.current_measured.set_data([alpha], [np.nan if speedup_measured is None else speedup_measured])
        self.current_measured.set_visible(speedup_measured is not None)   # nothing to draw: skip its ~0.2 ms
        # The label names what is drawn, not how many (the readout counts them): a handful of
        # strings, each rendered once and then put back from its pixels (a new string's glyphs
        # cost ~3-5 ms, a first visit to every bit-width would pay them)
        if levels is None or len(levels) > self.MAX_LEVELS_DRAWN:
            self.levels.clear_levels()
            self.levels_text.set_text(f"{levels_label}: " + ("float format" if levels is None
                                                             else "too dense to draw"))
        else:
            self.levels.set_levels(levels, 0.5, self.hist_top)
            self.levels_text.set_text(levels_label)
        self.blitter.update()

    def show_qat(self, alpha, accuracy):
        self.qat.set_data([alpha], [accuracy])
        self.blitter.update()


# --- static figures ------------------------------------------------------------------------

@styled
def plot_levels(weights, panels):
    """One histogram of ``weights`` per panel, with that panel's quantization levels.

    ``panels``: {title: levels}."""
    fig, axes = new_figure(1, len(panels), figsize=(3.0 * len(panels), 2.9), sharey=True)
    axes = np.atleast_1d(axes)
    counts, edges = np.histogram(weights, bins=100)
    centers = (edges[1:] + edges[:-1]) / 2
    for ax, (title, levels) in zip(axes, panels.items()):
        ax.plot(centers, np.maximum(counts, 0.5), drawstyle="steps-mid", color=PALETTE["grey"], lw=1)
        for level in levels:
            ax.axvline(level, color=PALETTE["vermillion"], lw=0.8, alpha=0.8)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("weight value")
    axes[0].set_ylabel("count (log)")
    fig.tight_layout()
    return fig


@styled
def plot_training_curves(runs, *, metric="loss", title=""):
    """``runs``: {label: [History, ...]} (one History per seed); each seed a thin line,
    the mean a thick one with its marker."""
    fig, ax = new_figure(1, 1, figsize=(7, 3.6))
    for (label, histories), (color, marker) in zip(runs.items(), SERIES * 3):
        curves = np.array([getattr(h, metric) for h in histories])            # (seeds, epochs)
        epochs = np.arange(1, curves.shape[1] + 1)
        for curve in curves:
            ax.plot(epochs, curve, color=color, lw=0.6, alpha=0.5)
        ax.plot(epochs, curves.mean(axis=0), color=color, marker=marker, lw=2, label=label)
    style_axes(ax, xlabel="epoch", ylabel=metric.replace("_", " "), title=title,
               ylog=metric == "loss", legend_loc="best")
    fig.tight_layout()
    return fig
