"""Matplotlib figures for the notebooks: built once, updated in place (no widgets here).

- ``style``: the suite style (rc settings, colour-blind-safe palette with markers,
  ``new_figure`` clamped to 900 px, ``style_axes``);
- ``blit``: the ``Blitter`` that redraws only what a slider moves;
- one module per notebook (``introduction``, ``lowrank``, ``quantization``, ``pruning``, ``distillation``).

Each dashboard figure creates its artists once; ``update(...)`` moves them with
``set_data`` and blits, so a slider never rebuilds a figure (the ipympl pattern).
Everything a notebook uses is re-exported here: ``from compresslab.plots import X``.
"""
from .blit import Blitter
from .distillation import (DistillationFigure, plot_accuracy_vs_bytes, plot_accuracy_vs_size,
                           plot_accuracy_vs_temperature, plot_gradient_scale, plot_softened_bars)
from .introduction import DEVICE_MEMORY_BYTES, ArchitectureFigure
from .lowrank import (LAYER_STYLES, LowRankFigure, plot_break_even, plot_curves, plot_rebuilt_filters,
                      plot_spectra, plot_svd_factors)
from .pruning import (PruningFigure, plot_pixel_survivors, plot_sensitivity, plot_speed, plot_tradeoff,
                      plot_weight_distribution)
from .quantization import SCHEME_STYLES, QuantizationFigure, plot_levels, plot_training_curves
from .style import (MAX_WIDTH_PX, PALETTE, SERIES, STYLE, kilobytes, new_figure, style_axes, styled,
                    suite_style)

__all__ = ["ArchitectureFigure", "Blitter", "DEVICE_MEMORY_BYTES", "DistillationFigure", "LAYER_STYLES",
           "LowRankFigure", "MAX_WIDTH_PX", "PALETTE", "PruningFigure", "QuantizationFigure", "SCHEME_STYLES",
           "SERIES", "STYLE", "kilobytes", "new_figure", "plot_accuracy_vs_bytes", "plot_accuracy_vs_size",
           "plot_accuracy_vs_temperature", "plot_break_even", "plot_curves", "plot_gradient_scale",
           "plot_levels", "plot_pixel_survivors", "plot_rebuilt_filters", "plot_sensitivity",
           "plot_softened_bars", "plot_spectra", "plot_speed", "plot_svd_factors", "plot_tradeoff",
           "plot_training_curves", "plot_weight_distribution", "style_axes", "styled", "suite_style"]
