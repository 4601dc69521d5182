"""Dashboards without a browser: set each control's value, check report and plotted data."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compresslab.dashboards import IntroductionDashboard  # noqa: E402


@pytest.fixture(scope="module")
def intro():
    return IntroductionDashboard()


def _bar_widths(dash):
    return [bar.get_width() for bar in dash.plot.bars64]


def test_contract(intro):
    assert set(intro.controls) >= {"dataset", "hidden1", "hidden2", "dtype", "train"}
    assert intro.fig is intro.plot.fig and intro.widget is not None
    assert intro.last_error is None
    assert intro.trained and intro.report.accuracy > 0.9          # pretrained LeNet-300-100
    assert intro.report.params == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10


def test_hidden_sliders_change_report_and_bars(intro):
    before_params, before_bars = intro.report.params, _bar_widths(intro)
    intro.controls["hidden1"].value = 64
    assert intro.last_error is None
    assert intro.report.params == 784 * 64 + 64 + 64 * 100 + 100 + 100 * 10 + 10
    assert _bar_widths(intro) != before_bars and intro.report.params < before_params
    assert not intro.trained and "untrained" in intro.readout.value
    intro.controls["hidden2"].value = 0                            # one hidden layer
    assert intro.report.params == 784 * 64 + 64 + 64 * 10 + 10
    assert _bar_widths(intro)[2] < 1e-6                            # third bar hidden
    assert intro.report.alpha == pytest.approx(266610 / intro.report.params)


def test_dtype_toggle_halves_bits(intro):
    intro.controls["dtype"].value = "float64"
    bits64 = intro.report.bits
    intro.controls["dtype"].value = "float32"
    assert intro.report.bits * 2 == bits64
    intro.controls["dtype"].value = "float64"


def test_train_button_adds_a_trained_point(intro):
    intro.controls["dataset"].value = "digits"
    intro.controls["hidden1"].value = 16
    intro.controls["hidden2"].value = 0
    assert not intro.trained
    n_points = len(intro.plot.trained.get_xdata())
    intro.controls["epochs"].value = 15
    intro.controls["train"].click()
    assert intro.last_error is None
    assert intro.trained and intro.report.accuracy > 0.85
    assert intro.progress.value == 15
    assert len(intro.plot.trained.get_xdata()) == n_points + 1
    x, y = intro.plot.current.get_data()
    assert y[0] == pytest.approx(intro.report.accuracy)


def test_dataset_dropdown_switches_baseline(intro):
    intro.controls["dataset"].value = "digits"
    intro.controls["hidden1"].value = 64
    intro.controls["hidden2"].value = 32
    assert intro.trained and intro.report.alpha == 1.0
    assert "pretrained" in intro.readout.value
    assert intro.report.params == 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    intro.controls["dataset"].value = "mnist-5k"
    assert intro.report.params != 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10


def test_errors_are_shown_not_lost(intro):
    def broken():
        raise RuntimeError("boom")

    intro.safely(broken)()
    assert isinstance(intro.last_error, RuntimeError)
    intro.safely(intro.update)()
    assert intro.last_error is None


def test_background_warmup_fills_the_file_size_memo(intro):
    from compresslab.network import _SERIALIZED_BYTES

    intro.warmup.join(timeout=60)
    assert not intro.warmup.is_alive()
    net = intro._untrained(intro.dataset, (8, 10)).astype("float32")
    assert net._content_digest() in _SERIALIZED_BYTES
