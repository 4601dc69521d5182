"""The static figures: one style, every figure within 900 px, savable as PNG, PDF and SVG."""
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compresslab import plots  # noqa: E402
from compresslab.lowrank import layer_svds  # noqa: E402
from compresslab.training import History  # noqa: E402


def _histories(rng):
    out = []
    for _ in range(2):
        h = History()
        h.loss.extend(rng.random(4) + 0.1)
        out.append(h)
    return out


FIGURES = {
    "svd_factors": lambda net, rng: plots.plot_svd_factors(net.layers[0].weight, layer_svds(net)[0], k=5),
    "rebuilt_filters": lambda net, rng: plots.plot_rebuilt_filters(layer_svds(net)[0], [1, 5, 20, 40, 64],
                                                                   [0, 1], (8, 8)),
    "spectra": lambda net, rng: plots.plot_spectra(layer_svds(net), ["a", "b", "c"]),
    "break_even": lambda net, rng: plots.plot_break_even(300, 100),
    "curves": lambda net, rng: plots.plot_curves({"x": ([1, 2], [0.5, 0.7]), "y": ([1, 3], [0.4, 0.9])},
                                                 xlabel="a", ylabel="b", title="c", reference=("r", 0.8)),
    "levels": lambda net, rng: plots.plot_levels(rng.normal(size=500), {"a": [-1, 0, 1], "b": [0.5]}),
    "training_curves": lambda net, rng: plots.plot_training_curves({"run": _histories(rng)}),
}


@pytest.mark.parametrize("name", FIGURES)
def test_static_figures_fit_and_save_in_every_format(name, digits_net, rng):
    fig = FIGURES[name](digits_net, rng)
    try:
        assert fig.get_figwidth() * fig.dpi <= plots.MAX_WIDTH_PX
        for fmt in ("png", "pdf", "svg"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt)
            assert buffer.getbuffer().nbytes > 500, fmt
    finally:
        plt.close(fig)


def test_new_figure_clamps_the_width_and_replaces_by_key():
    before = len(plt.get_fignums())
    fig, _ = plots.new_figure(figsize=(14, 3), replace="test")
    assert fig.get_figwidth() * fig.dpi == plots.MAX_WIDTH_PX
    again, _ = plots.new_figure(figsize=(5, 3), replace="test")
    assert len(plt.get_fignums()) == before + 1 and again is not fig
    plt.close(again)


def test_palette_series_differ_in_colour_and_marker():
    colours, markers = zip(*plots.SERIES)
    assert len(set(colours)) == len(colours) and len(set(markers)) == len(markers)


def test_blitter_survives_vector_formats():
    fig, ax = plots.new_figure(figsize=(4, 3))
    (line,) = ax.plot([0, 1], [0, 1])
    blitter = plots.Blitter(fig, [line])
    fig.canvas.draw()
    assert blitter.background is not None
    for fmt in ("pdf", "svg", "png"):
        fig.savefig(io.BytesIO(), format=fmt)          # no AttributeError: copy_from_bbox
    line.set_data([0, 1], [1, 0])
    blitter.update()
    plt.close(fig)
