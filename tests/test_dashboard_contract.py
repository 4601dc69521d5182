"""One contract for every dashboard ``compresslab.dashboards`` exports: a new
dashboard is tested from its first commit.

Each dashboard must build cleanly; have the members of ``Dashboard``; answer
every value of every control (each option of a dropdown or toggle; min, middle
and max of a slider) with a new ``report`` at once, no error, and a changed
figure; show an error raised in ``update`` in its error panel; and not pile
up figures when it is built again and again.
"""
import inspect
import io
import warnings

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import compresslab.dashboards as dashboards  # noqa: E402
from compresslab.dashboards import Dashboard  # noqa: E402

DASHBOARDS = [cls for _, cls in inspect.getmembers(dashboards, inspect.isclass)
              if issubclass(cls, Dashboard) and not inspect.isabstract(cls)]
MEMBERS = ("controls", "live_controls", "fig", "report", "widget", "errors", "last_error", "update")


def test_every_exported_dashboard_is_found():
    assert {c.__name__ for c in DASHBOARDS} >= {"IntroductionDashboard", "LowRankDashboard",
                                                 "QuantizationDashboard"}


def test_the_contract_is_abstract():
    assert inspect.isabstract(Dashboard)
    assert set(MEMBERS) <= Dashboard.__abstractmethods__


@pytest.fixture(params=DASHBOARDS, ids=lambda c: c.__name__)
def dash(request):
    d = request.param()
    d.fig.canvas.draw()
    yield d
    d.close()


def control_values(control):
    """The values the contract sets: every option, or min / middle / max."""
    if isinstance(control, (widgets.Dropdown, widgets.ToggleButtons, widgets.SelectionSlider,
                            widgets.RadioButtons)):
        return [value for _, value in control._options_full] if hasattr(control, "_options_full") else \
            list(control.options)
    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
        middle = (control.min + control.max) / 2
        return [control.min, type(control.value)(middle) if isinstance(control, widgets.IntSlider) else middle,
                control.max]
    raise TypeError(f"the contract test does not know how to move a {type(control).__name__}; teach it")


def untimed(report):
    import dataclasses

    fields = {f.name for f in dataclasses.fields(report)}
    timing = {k: None for k in ("speedup_measured", "seconds", "timing", "latency", "file_bytes", "alpha_bytes")
              if k in fields}
    return dataclasses.replace(report, **timing)


def picture(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def test_builds_with_the_members(dash):
    for name in MEMBERS:
        assert hasattr(dash, name), name
    assert dash.last_error is None
    assert isinstance(dash.controls, dict) and dash.controls
    assert isinstance(dash.widget, widgets.Widget) and isinstance(dash.errors, widgets.Output)
    assert dash.report is not None and 0 <= dash.report.accuracy <= 1


def test_every_control_value_updates_report_and_figure(dash):
    assert set(dash.live_controls) <= set(dash.controls)
    for name in dash.live_controls:
        control = dash.controls[name]
        for value in control_values(control):
            if control.disabled or value == control.value:
                continue
            before_report, before_picture = dash.report, picture(dash.fig)
            control.value = value
            assert dash.last_error is None, (name, value, dash.last_error)
            # recomputed synchronously, or (a setting in effect the same, e.g. a clamped value or
            # the histogram's layer) the report cached for that setting
            assert dash.report is not before_report or untimed(dash.report) == untimed(before_report), (name, value)
            # the figure changes unless the setting is in effect the same (a clamped value: the
            # report is the same but for what is measured later), or what it plots moved by less than
            # a pixel (activations at 16 bits add 128 bits to a model of millions)
            assert not np.array_equal(before_picture, picture(dash.fig)) or (
                untimed(dash.report) == untimed(before_report)) or (
                abs(dash.report.accuracy - before_report.accuracy) < 0.004        # a pixel of the 0-1 axis
                and dash.report.alpha == pytest.approx(before_report.alpha, rel=1e-3)), (name, value, "figure unchanged")


def test_errors_in_update_reach_the_error_panel(dash, monkeypatch):
    def broken():
        raise RuntimeError("boom in update")

    monkeypatch.setattr(dash, "update", broken)
    dash.refresh()
    assert isinstance(dash.last_error, RuntimeError)
    assert "boom in update" in "".join(o.get("text", "") for o in dash.errors.outputs)
    monkeypatch.undo()
    dash.refresh()
    assert dash.last_error is None and dash.errors.outputs == ()


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_figure_saves_in_every_format(dash, fmt):
    buffer = io.BytesIO()
    dash.fig.savefig(buffer, format=fmt)
    assert buffer.getbuffer().nbytes > 1000
    before = picture(dash.fig)                 # and the live canvas still blits afterwards
    dash.refresh()
    assert dash.last_error is None and before.shape == picture(dash.fig).shape


def test_figure_fits_900_px(dash):
    assert dash.fig.get_figwidth() * dash.fig.dpi <= 900


def test_no_legend_title_or_label_is_cut_at_the_figure_edge(dash):
    fig = dash.fig
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        pieces = [("title", ax.title), ("x label", ax.xaxis.label), ("y label", ax.yaxis.label)]
        pieces += [("legend", ax.get_legend())] if ax.get_legend() is not None else []
        for what, artist in pieces:
            box = artist.get_window_extent(renderer)
            if box.width > 0:
                assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, \
                    f"{what} of the axes {ax.get_title()!r} runs past the figure: x from {box.x0:.0f} to {box.x1:.0f}"
    legends = [ax.get_legend().get_window_extent(renderer) for ax in fig.axes if ax.get_legend() is not None]
    for i, a in enumerate(legends):
        for b in legends[i + 1:]:
            assert not a.overlaps(b), f"two legends overlap: {a} and {b}"


@pytest.mark.parametrize("cls", DASHBOARDS, ids=lambda c: c.__name__)
def test_rebuilding_does_not_pile_up_figures(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # matplotlib's "More than 20 figures" is a RuntimeWarning
        for _ in range(25):
            d = cls()
    assert len(plt.get_fignums()) <= len(DASHBOARDS) + 1
    d.close()
