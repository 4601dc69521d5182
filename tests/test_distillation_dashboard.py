"""The distillation dashboard driven through ``.value``, and the shipped results file.

The dashboard reads data/distillation_results.npz (python -m compresslab.distillation_results);
the last test recomputes one of its grid points from the stored teacher logits.
"""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compresslab import distillation as D  # noqa: E402
from compresslab import distillation_results as R  # noqa: E402
from compresslab.dashboards import DistillationDashboard  # noqa: E402


@pytest.fixture(scope="module")
def results():
    return R.load_results()


@pytest.fixture()
def dash(results):
    d = DistillationDashboard(temperature=4.0, soft_weight=0.9, size=30, kind="relu", results=results)
    d.measure_speed = False            # no timing threads in these tests (speed goes into the bench)
    d.fig.canvas.draw()
    yield d
    d.close()


def _nearest(grid, T):
    return int(np.argmin(np.abs(np.log(grid) - np.log(T))))


def test_results_file_is_plain_arrays_with_consistent_shapes(results):
    with np.load(R.RESULTS_FILE, allow_pickle=False) as f:      # no pickles anywhere
        assert set(f.files) == set(results)
    K, S, T, W = (len(results[k]) for k in ("grid_kinds", "grid_sizes", "grid_T", "grid_w"))
    assert results["grid_val"].shape == results["grid_test"].shape == (K, S, T, W)
    assert results["grid_hard_test"].shape == (K, S)
    assert results["teacher_train_logits"].shape == (3500, 10) and results["teacher_test_logits"].shape == (1000, 10)
    n_seeds = len(results["seeds"])
    for key in ("sizes_hard_test", "sizes_dist_test", "pitfall_test", "less_test", "struct_hard_test"):
        assert results[key].shape[-1] == n_seeds, key
    for key in ("grid_val", "grid_test", "sizes_dist_test", "struct_dist_test", "omit_dist_after"):
        assert np.all((results[key] >= 0) & (results[key] <= 1)), key


def test_temperature_moves_the_bars_entropy_and_report(dash, results):
    V = results["teacher_test_logits"].astype(float)
    for T in (1.0, dash.controls["temperature"].options[12], 50.0):
        dash.controls["temperature"].value = T
        assert dash.last_error is None
        q = D.soften(V[0], T)
        xs, ys = dash.plot.bars.get_data()
        np.testing.assert_allclose(ys[1::3], np.maximum(q, 1e-7))            # the bar tops are the soft targets
        assert dash.entropy_image == pytest.approx(float(D.entropy(q)))
        assert dash.entropy_train == pytest.approx(float(np.mean(D.entropy(D.soften(
            results["teacher_train_logits"].astype(float), T)))))
        a = _nearest(results["grid_T"], T)
        i, j = list(results["grid_kinds"]).index("relu"), list(results["grid_sizes"]).index(30)
        b = int(np.argmin(np.abs(results["grid_w"] - 0.9)))
        assert dash.report.accuracy == results["grid_test"][i, j, a, b]     # the stored run, never interpolated
        assert "bits" in dash.readout.value


def test_higher_temperature_means_more_entropy(dash):
    entropies = []
    for T in dash.controls["temperature"].options[::6]:
        dash.controls["temperature"].value = T
        entropies.append(dash.entropy_train)
    assert np.all(np.diff(entropies) > 0)


def test_soft_weight_zero_is_the_hard_label_student(dash, results):
    dash.controls["soft_weight"].value = 0.0
    i, j = list(results["grid_kinds"]).index("relu"), list(results["grid_sizes"]).index(30)
    assert dash.report.accuracy == results["grid_hard_test"][i, j]
    assert "hard labels" in dash.report.label


@pytest.mark.parametrize("size", [10, 100])
def test_size_and_kind_change_the_student(dash, results, size):
    before = dash.report
    dash.controls["size"].value = size
    dash.controls["kind"].value = "tanh"
    assert dash.last_error is None and dash.report.params != before.params
    assert dash.report.params == R.make_student("tanh", size, 0).n_params


@pytest.mark.parametrize("kind", ["relu", "tanh", "2 layers", "softmax regression"])
def test_every_student_kind_shows_its_own_stored_run(dash, results, kind):
    dash.controls["kind"].value = kind
    assert dash.last_error is None
    kinds, sizes = list(results["grid_kinds"]), list(results["grid_sizes"])
    i, j = kinds.index(kind), sizes.index(30)
    a = _nearest(results["grid_T"], dash.setting()["T"])
    b = int(np.argmin(np.abs(results["grid_w"] - 0.9)))
    assert dash.report.accuracy == results["grid_test"][i, j, a, b]
    student = R.make_student(kind, 30, 0)
    assert dash.report.params == student.n_params
    widths = "-".join(str(n) for n in [784] + [layer.n_outputs for layer in student.layers])
    assert widths in dash.readout.value
    assert dash.controls["size"].disabled == (kind == "softmax regression")      # no hidden layer, no size


def test_softmax_regression_is_one_run_for_every_size(results):
    i = list(results["grid_kinds"]).index("softmax regression")
    for key in ("grid_val", "grid_test", "grid_hard_test", "grid_bytes"):
        assert np.all(results[key][i] == results[key][i][0]), key


def test_every_soft_weight_is_a_stored_run(dash, results):
    options = dash.controls["soft_weight"].options
    assert tuple(options) == (0.0,) + tuple(float(w) for w in results["grid_w"])
    i, j = list(results["grid_kinds"]).index("relu"), list(results["grid_sizes"]).index(30)
    a = _nearest(results["grid_T"], dash.setting()["T"])
    for b, w in enumerate(options[1:]):
        dash.controls["soft_weight"].value = w
        assert dash.report.accuracy == results["grid_test"][i, j, a, b]
        assert f"w = {w:g}" in dash.report.label


def test_readout_names_the_compression_rate_not_alpha(dash):
    """alpha is the compression rate elsewhere and the soft weight in the papers: the readout says which."""
    assert "compression rate" in dash.readout.value and "alpha" not in dash.readout.value.lower()


def test_image_slider_shows_that_image(dash, mnist5k):
    dash.controls["image"].value = 7
    np.testing.assert_array_equal(dash.plot.image.get_array(), mnist5k.X_test[7].reshape(28, 28))


def test_train_button_disables_controls_and_adds_a_point(dash, monkeypatch):
    seen = []
    real_fit = R.fit_student

    def spy(*args, on_epoch=None, **kwargs):
        def tick(epoch, history):
            seen.append((dash.controls["temperature"].disabled, dash.progress.layout.visibility,
                         dash.progress.value))
            on_epoch(epoch, history)
        return real_fit(*args, on_epoch=tick, **kwargs)

    import compresslab.dashboards.distillation as module
    monkeypatch.setattr(module, "fit_student", spy)
    dash.controls["epochs"].value = 2
    dash.controls["train"].click()
    assert dash.last_error is None, dash.last_error
    assert seen and all(disabled and visible == "visible" for disabled, visible, _ in seen)
    assert dash.progress.layout.visibility == "hidden" and not dash.controls["temperature"].disabled
    assert 0 <= dash.trained["test"] <= 1 and dash.trained["epochs"] == 2
    assert dash.plot.trained_T.get_data()[0][0] == dash.setting()["T"]
    assert "trained here" in dash.readout.value


@pytest.mark.parametrize("kind", ["relu", "softmax regression"])
def test_a_grid_point_recomputes_to_the_stored_numbers(results, kind):
    kinds, sizes = list(results["grid_kinds"]), list(results["grid_sizes"])
    i, j, a, b = kinds.index(kind), sizes.index(10), 2, len(results["grid_w"]) - 1
    T, w = float(results["grid_T"][a]), float(results["grid_w"][b])
    point = R.grid_point(results, kind, 10, T, w)
    assert point["val"] == results["grid_val"][i, j, a, b]
    assert point["test"] == results["grid_test"][i, j, a, b]
