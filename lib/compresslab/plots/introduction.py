"""Figures of the introduction notebook."""
from __future__ import annotations

import numpy as np

from .blit import Blitter
from .style import PALETTE, kilobytes, new_figure, suite_style

# Memory a device offers, for the size plots (orders of magnitude, labelled so).
DEVICE_MEMORY_BYTES = {
    "microcontroller SRAM (256 KB)": 256 * 1024,
    "CPU L2 cache (1 MB)": 1024 * 1024,
}


class ArchitectureFigure:
    """Left: size of each layer in KB (float64 and float32) against device memory.
    Right: test accuracy against model size for every trained architecture,
    the current one highlighted.

    The axes are fixed (every architecture the dashboard offers fits), so a
    slider move only redraws the bars, labels and points (blitting)."""

    SIZE_RANGE_KB = (0.3, 4000.0)
    ERROR_FLOOR = 0.004           # a perfect score is drawn here (log axis)

    def __init__(self, max_layers=3):
        self.fig, (self.ax_size, self.ax_trade) = new_figure(1, 2, figsize=(9, 3.8), replace=type(self).__name__)
        with suite_style():
            self._build(max_layers)
        self.blitter = Blitter(self.fig, [*self.bars64, *self.bars32, *self.names, self.trained, self.current,
                                          self.untrained])

    def _build(self, max_layers):
        y = np.arange(max_layers)
        self.bars64 = self.ax_size.barh(y - 0.2, np.ones(max_layers), height=0.4, color=PALETTE["blue"])
        self.bars32 = self.ax_size.barh(y + 0.2, np.ones(max_layers), height=0.4, color=PALETTE["orange"],
                                        hatch="//", edgecolor="white")
        self.names = [self.ax_size.text(self.SIZE_RANGE_KB[0] * 1.1, i - 0.45, "", va="bottom")
                      for i in y]
        self.ax_size.set_yticks([])
        self.ax_size.set_ylim(max_layers - 0.4, -0.75)
        self.ax_size.set_xscale("log")
        self.ax_size.set_xlim(*self.SIZE_RANGE_KB)
        self.ax_size.set_xlabel("size of the layer (KB, weights + biases)")
        # Legends cost ~20 ms a redraw: the title and direct labels say it instead.
        self.ax_size.set_title("Bytes: float64 (blue), float32 (orange, hatched)")
        for name, size in DEVICE_MEMORY_BYTES.items():
            self.ax_size.axvline(kilobytes(size), color=PALETTE["grey"], linestyle="--")
            self.ax_size.text(kilobytes(size), 0.02, name.split(" (")[0], rotation=90,
                              ha="right", va="bottom", color=PALETTE["grey"],
                              transform=self.ax_size.get_xaxis_transform())

        (self.trained,) = self.ax_trade.plot([], [], "o", color=PALETTE["blue"], label="trained architectures")
        (self.current,) = self.ax_trade.plot([], [], "*", color=PALETTE["vermillion"], markersize=16,
                                             label="current architecture")
        self.untrained = self.ax_trade.axvline(np.nan, color=PALETTE["vermillion"], linestyle="--", alpha=0.6)
        # Test *error* on a log axis: 2 % and 5 % error stay far apart, and a barely
        # trained network (60 % error) still fits on the same fixed axes.
        self.ax_trade.set_xscale("log")
        self.ax_trade.set_yscale("log")
        self.ax_trade.set_xlim(*self.SIZE_RANGE_KB)
        self.ax_trade.set_ylim(self.ERROR_FLOOR, 1.0)
        self.ax_trade.set_xlabel("model size (KB, float64)")
        self.ax_trade.set_ylabel("test error = 1 - accuracy (log)")
        self.ax_trade.set_title("Error against size: trained (dots), current (star)")
        self.ax_trade.grid(True)
        for ax in (self.ax_size, self.ax_trade):
            ax.minorticks_off()
        self.fig.tight_layout()

    def update(self, layer_names, layer_bytes64, points, current, stored="float64"):
        """``points``: [(size_bytes, accuracy)] of trained models; ``current``:
        (size_bytes, accuracy or None); ``stored``: the dtype chosen, whose bars are
        solid (the other's faded)."""
        layer_bytes64 = list(layer_bytes64)
        for i, (bar64, bar32, name) in enumerate(zip(self.bars64, self.bars32, self.names)):
            size = kilobytes(layer_bytes64[i]) if i < len(layer_bytes64) else 1e-9   # hidden: log axis
            bar64.set_width(size)
            bar32.set_width(size / 2)
            bar64.set_alpha(1.0 if stored == "float64" else 0.3)
            bar32.set_alpha(1.0 if stored == "float32" else 0.3)
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
