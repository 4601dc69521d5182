"""The pruning dashboard, driven through ``.value`` as a notebook user would (no browser)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402

from compresslab.dashboards import PruningDashboard  # noqa: E402
from compresslab.dashboards.base import shared_baseline  # noqa: E402
from compresslab.pruning import SPARSE_FORMATS, prune, rank_neurons, shrink, to_sparse  # noqa: E402


@pytest.fixture(scope="module")
def dash():
    d = PruningDashboard(sparsity=0.9)
    d.fig.canvas.draw()
    yield d
    d.close()


@pytest.fixture(scope="module")
def base():
    return shared_baseline("mnist-5k")


def set_controls(d, **values):
    for name, value in values.items():
        d.controls[name].value = value
    assert d.last_error is None, d.last_error


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_report_counts_the_stored_format_like_the_library(dash, base, fmt):
    set_controls(dash, structure="weights", criterion="magnitude", scope="global", output=False, sparsity=0.95,
                 format=fmt)
    reference = prune(base.network, 0.95)
    stored = to_sparse(reference.network, fmt)
    r = dash.report
    assert r.accuracy == reference.network.score(base.dataset.X_test, base.dataset.y_test)
    assert r.storage_bits == stored.storage_bits()
    assert r.params == stored.n_params
    assert r.flops == stored.flops(len(base.dataset.y_test))
    assert r.alpha == pytest.approx(base.network.storage_bits() / stored.storage_bits())
    assert dash.kept == pytest.approx(reference.kept)
    np.testing.assert_array_equal(dash.plot.pixels, reference.masks[0].sum(axis=1))
    shown = dash.plot.image.to_rgba(dash.plot.image.get_array(), bytes=True).reshape(-1, 4)  # PowerNorm's colours
    expected = ScalarMappable(PowerNorm(0.4, vmin=0, vmax=300), "viridis").to_rgba(dash.plot.pixels, bytes=True)
    assert np.abs(shown.astype(int) - expected).max() <= 1


def test_the_file_and_the_speed_arrive_once_still(dash, base):
    # every control the reference below depends on (earlier tests, in any order, leave others set)
    set_controls(dash, structure="weights", criterion="magnitude", scope="global", output=False, format="csr",
                 sparsity=0.98)
    assert dash.report.file_bytes is None and "measuring" in dash.readout.value
    dash.settle(timeout=120)
    r = dash.report
    stored = to_sparse(prune(base.network, 0.98).network, "csr")
    assert r.file_bytes == stored.serialized_bytes()
    assert r.timing is not None and r.latency is not None and r.timing.blas_threads == 1
    set_controls(dash, batch=1)
    assert dash.measured_delta(dash.report) == r.latency.measured
    set_controls(dash, batch=1000)
    assert dash.measured_delta(dash.report) == r.timing.measured


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_spare_output_keeps_the_output_layer(dash, base, scope):
    set_controls(dash, structure="weights", criterion="magnitude", scope=scope, output=True, sparsity=0.9)
    assert dash.kept[-1] == 1.0
    expected = prune(base.network, 0.9 if scope == "global" else [0.9, 0.9, 0.0], scope=scope, spare_output=True)
    assert dash.kept == pytest.approx(expected.kept)
    set_controls(dash, output=False)


def test_neurons_make_a_smaller_dense_network_and_disable_the_format(dash, base):
    set_controls(dash, structure="neurons", criterion="magnitude", scope="global", sparsity=0.5)
    assert dash.controls["format"].disabled and dash.controls["output"].disabled
    ranking = rank_neurons(base.network, "magnitude", scope="global")
    small = shrink(base.network, ranking.kept_units(0.5)).network
    assert dash.network.hidden_layer_sizes == small.hidden_layer_sizes
    assert dash.report.accuracy == small.score(base.dataset.X_test, base.dataset.y_test)
    assert dash.report.storage_bits == small.storage_bits()
    set_controls(dash, sparsity=0.995)                      # would empty a layer: clamped, with a note
    assert "would empty a layer" in dash.readout.value
    assert all(h >= 1 for h in dash.network.hidden_layer_sizes)
    set_controls(dash, structure="weights", sparsity=0.9)
    assert not dash.controls["format"].disabled


def test_fine_tune_disables_the_controls_keeps_the_mask_and_adds_a_point(dash, base, monkeypatch):
    import compresslab.dashboards.pruning as module

    set_controls(dash, structure="weights", criterion="magnitude", scope="global", sparsity=0.9, format="csr")
    dash.controls["epochs"].value = 1
    seen = {}
    real = module.fine_tune

    def spy(*args, **kwargs):
        seen["disabled"] = {name: c.disabled for name, c in dash.controls.items()}
        seen["bar"] = dash.progress.layout.visibility
        out = real(*args, **kwargs)
        seen["network"] = out.network
        return out

    monkeypatch.setattr(module, "fine_tune", spy)
    before = len(dash.tuned)
    dash.controls["fine_tune"].click()
    assert dash.last_error is None, dash.last_error
    assert all(seen["disabled"].values()) and seen["bar"] == "visible"
    assert not any(dash.controls[name].disabled for name in ("sparsity", "criterion", "fine_tune"))
    assert dash.progress.layout.visibility == "hidden"
    assert len(dash.tuned) == before + 1
    mask = prune(base.network, 0.9).masks
    for layer, m in zip(seen["network"].layers, mask):
        assert np.all(layer.weight[~m] == 0)                 # the projection kept pruned weights at 0
    assert "fine-tuned" in dash.readout.value and "after 1 epoch" in dash.readout.value


def test_curves_follow_the_format(dash):
    set_controls(dash, structure="weights", format="dense")
    xs, _ = dash.plot.curves[("magnitude", "global")].get_data()
    assert np.allclose(xs, 1.0)                              # zeros stored densely: no saving at any sparsity
    set_controls(dash, format="csr")
    xs, _ = dash.plot.curves[("magnitude", "global")].get_data()
    assert np.all(np.diff(xs) > 0) and xs[-1] > 50


def test_revisiting_a_setting_reuses_its_report(dash):
    set_controls(dash, structure="weights", sparsity=0.8, format="csr")
    first = dash.report
    set_controls(dash, sparsity=0.9)
    set_controls(dash, sparsity=0.8)
    assert dash.report is not first and dash.report.accuracy == first.accuracy


def test_layout_holds_still_and_follows_the_suite_style(dash):
    from compresslab.dashboards.pruning import READOUT_HEIGHT      # fixed; taller than the base: more rows
    from compresslab.plots import STYLE

    assert int(dash.controls["sparsity"].layout.width.rstrip("px")) >= 420
    assert dash.readout.layout.height == READOUT_HEIGHT and "compresslab-notes" in dash.readout.value
    fig = dash.fig
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert fig.get_figwidth() * fig.dpi <= 900 and fig.canvas.header_visible is False
    (legend,) = fig.legends                            # one legend for both plots, below them
    a = legend.get_window_extent(renderer)
    assert 0 <= a.x0 and a.x1 <= fig.bbox.width       # inside the figure
    assert all(t.get_fontsize() == STYLE["legend.fontsize"] for t in legend.get_texts())
    for ax in (dash.plot.ax_acc, dash.plot.ax_speed, dash.plot.ax_pix):
        b = ax.get_tightbbox(renderer)                 # the axes with their tick labels and titles
        assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1), ax.get_title()
    for ax in (dash.plot.ax_acc, dash.plot.ax_speed):
        assert all(t.get_fontsize() == STYLE["xtick.labelsize"] for t in ax.get_xticklabels() + ax.get_yticklabels())


def test_a_format_change_blits_the_curves_without_a_full_redraw(dash, monkeypatch):
    set_controls(dash, structure="weights", sparsity=0.9, format="csr")
    dash.fig.canvas.draw()                                   # what the browser asks for at first
    canvas, calls = dash.fig.canvas, []
    monkeypatch.setattr(canvas, "draw", lambda *a, **k: calls.append("draw"))
    monkeypatch.setattr(canvas, "draw_idle", lambda *a, **k: calls.append("draw_idle"))
    before = np.asarray(canvas.buffer_rgba()).copy()
    for fmt in ("relative", "bitmask", "csr", "dense"):       # first visits and revisits alike
        set_controls(dash, format=fmt)
        after = np.asarray(canvas.buffer_rgba()).copy()
        assert not np.array_equal(before, after), fmt        # the curves moved on the canvas
        before = after
    assert calls == [] and dash.plot.curves_shown == "dense"
    xs, _ = dash.plot.curves[("magnitude", "global")].get_data()
    assert len(xs) and np.allclose(xs, 1.0)                  # the lines hold this format's curve (for savefig)
    set_controls(dash, format="csr")


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("criterion", ["magnitude", "taylor", "random"])
def test_spared_ranking_is_the_library_ranking(base, criterion, scope):
    from compresslab.dashboards.pruning import spared
    from compresslab.pruning import rank_weights

    ds = base.dataset
    kwargs = dict(scope=scope, X=ds.X_train, y=ds.y_train)
    expected = rank_weights(base.network, criterion, spare_output=True, **kwargs)
    got = spared(rank_weights(base.network, criterion, **kwargs))
    assert got.prunable == expected.prunable and len(got.order) == len(expected.order)
    for a, b in zip(got.order, expected.order):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(got.masks(0.9 if scope == "global" else [0.9, 0.9, 0.0]),
                    expected.masks(0.9 if scope == "global" else [0.9, 0.9, 0.0])):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="every layer prunable"):
        spared(got)


def test_the_warmup_scores_every_position_and_ranks_the_neurons(dash, base):
    from compresslab.dashboards.pruning import SPARSITY_PERCENT
    from compresslab.pruning import rank_neurons

    dash.warmup.join(timeout=600)
    assert not dash.warmup.is_alive() and dash.last_error is None
    for criterion in ("magnitude", "taylor", "random"):
        for scope in ("global", "layer"):
            assert (criterion, scope) in dash._neuron_rankings
            for spare in (False, True):
                for p in (0, 50, 90, 99):
                    assert ("weights", criterion, scope, spare, p / 100) in dash._scored
    assert len(dash._scored) >= 2 * 2 * 3 * len(SPARSITY_PERCENT) - 12    # a few would empty a layer
    for criterion in ("magnitude", "taylor", "random"):
        assert ("neurons", criterion, "layer", 0.5) in dash._scored
    warm = dash._scored.get(("weights", "random", "layer", True, 0.95), lambda: None)
    expected = prune(base.network, [0.95, 0.95, 0.0], criterion="random", scope="layer", spare_output=True).network
    assert warm.accuracy == expected.score(base.dataset.X_test, base.dataset.y_test)
    got = dash.neuron_ranking("taylor", "layer")
    expected = rank_neurons(base.network, "taylor", scope="layer", X=base.dataset.X_train, y=base.dataset.y_train)
    for a, b in zip(got.kept_units(0.5), expected.kept_units(0.5)):
        np.testing.assert_array_equal(a, b)
