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


class ArchitectureFigure:
    """Left: size of each layer in KB (float64 and float32) against device memory.
    Right: test accuracy against model size for every trained architecture,
    the current one highlighted."""

    def __init__(self, max_layers=3):
        self.fig, (self.ax_size, self.ax_trade) = new_figure(1, 2, figsize=(8.8, 3.6))
        y = np.arange(max_layers)
        self.bars64 = self.ax_size.barh(y - 0.2, np.ones(max_layers), height=0.4, label="float64")
        self.bars32 = self.ax_size.barh(y + 0.2, np.ones(max_layers), height=0.4, label="float32")
        self.ax_size.set_yticks(y)
        self.ax_size.invert_yaxis()
        self.ax_size.set_xscale("log")
        self.ax_size.set_xlim(0.1, 1e4)
        self.ax_size.set_xlabel("size of the layer (KB, weights + biases)")
        # Legends cost ~20 ms a redraw: the title and direct labels say it instead.
        self.ax_size.set_title("Where the bytes are: float64 (blue), float32 (orange)", fontsize=10)
        for name, size in DEVICE_MEMORY_BYTES.items():
            self.ax_size.axvline(kilobytes(size), color="grey", linestyle="--")
            self.ax_size.text(kilobytes(size), 1.0, name.split(" (")[0], rotation=90, fontsize=7,
                              ha="right", va="top", color="grey",
                              transform=self.ax_size.get_xaxis_transform())

        (self.trained,) = self.ax_trade.plot([], [], "o", color="tab:blue", label="trained architectures")
        (self.current,) = self.ax_trade.plot([], [], "*", color="tab:red", markersize=16,
                                             label="current architecture")
        self.untrained = self.ax_trade.axvline(np.nan, color="tab:red", linestyle="--", alpha=0.6)
        self.ax_trade.set_xscale("log")
        self.ax_trade.set_xlim(1, 1e4)
        self.ax_trade.set_ylim(0, 1)
        self.ax_trade.set_xlabel("model size (KB, float64)")
        self.ax_trade.set_ylabel("test accuracy")
        self.ax_trade.set_title("Accuracy against size: trained (dots), current (star)", fontsize=10)
        self.ax_trade.grid(alpha=0.3)
        for ax in (self.ax_size, self.ax_trade):
            ax.minorticks_off()         # log axes: minor ticks cost ~10 ms per redraw
        self.fig.tight_layout()
        self.fig.subplots_adjust(left=0.13, wspace=0.3)     # room for "784x300" tick labels

    def update(self, layer_names, layer_bytes64, points, current):
        """``points``: [(size_bytes, accuracy)] of trained models; ``current``:
        (size_bytes, accuracy or None)."""
        layer_bytes64 = list(layer_bytes64)
        for i, (bar64, bar32) in enumerate(zip(self.bars64, self.bars32)):
            size = kilobytes(layer_bytes64[i]) if i < len(layer_bytes64) else 1e-9   # hidden: log axis
            bar64.set_width(size)
            bar32.set_width(size / 2)
        labels = list(layer_names) + [""] * (len(self.bars64) - len(layer_names))
        self.ax_size.set_yticklabels(labels, fontsize=8)
        widths = [kilobytes(b) for b in layer_bytes64]
        self.ax_size.set_xlim(0.5 * min(widths + [64]) / 2, 4 * max(widths + [1024]))

        xs = [kilobytes(s) for s, _ in points]
        ys = [a for _, a in points]
        self.trained.set_data(xs, ys)
        size, accuracy = current
        if accuracy is None:
            self.current.set_data([], [])
            self.untrained.set_xdata([kilobytes(size)] * 2)
        else:
            self.current.set_data([kilobytes(size)], [accuracy])
            self.untrained.set_xdata([np.nan] * 2)
        all_x = xs + [kilobytes(size)]
        self.ax_trade.set_xlim(min(all_x) / 2, max(all_x) * 2)
        low = min(ys + ([accuracy] if accuracy is not None else []) + [0.9])
        self.ax_trade.set_ylim(max(0.0, low - 0.05), 1.0)
        for ax in (self.ax_size, self.ax_trade):
            ax.minorticks_off()
        self.fig.canvas.draw_idle()
