"""Dashboards without a browser: set each control's value, check report and plotted data.

Every fixture builds a fresh dashboard (function scope): the tests pass in any
order (``-p randomly``). Building one closes the previous one of its class,
and the per-dataset curves are cached by content, so a rebuild is cheap.
"""
import dataclasses
import threading

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from compresslab.dashboards import IntroductionDashboard  # noqa: E402


@pytest.fixture()
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
    bits64 = intro.report.storage_bits
    intro.controls["dtype"].value = "float32"
    assert intro.report.storage_bits * 2 == bits64
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
    assert y[0] == pytest.approx(1 - intro.report.accuracy)            # drawn as test error


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


# --- low-rank ---------------------------------------------------------------------------

from compresslab.dashboards import LowRankDashboard  # noqa: E402
from compresslab.lowrank import LowRank  # noqa: E402


@pytest.fixture()
def lowrank():
    dash = LowRankDashboard(ranks=(20, 20, 10))
    dash.measure_seconds = 0.05               # quick timings: the tests check the plumbing, not the machine
    dash.fig.canvas.draw()                    # the first full draw captures the blit background
    return dash


def test_lowrank_contract(lowrank):
    assert {"dataset", "mode", "rank0", "rank1", "rank2", "energy", "budget", "fine_tune"} <= set(lowrank.controls)
    assert lowrank.last_error is None and lowrank.widget is not None
    assert lowrank.factorization.ranks == [20, 20, None]        # 100x10 at rank 10: past break-even
    assert lowrank.report.params == 20 * (784 + 300) + 300 + 20 * (300 + 100) + 100 + 100 * 10 + 10
    assert len(lowrank.plot.curve_energy.get_xdata()) > 5 and len(lowrank.plot.curve_global.get_xdata()) > 5


@pytest.mark.parametrize("layer, rank", [(0, 5), (1, 60), (2, 4)])
def test_lowrank_rank_sliders(lowrank, layer, rank):
    lowrank.controls["mode"].value = "per layer"
    before_alpha = lowrank.report.alpha
    before_cutoff = lowrank.plot.cutoffs[layer].get_xdata()[0]
    lowrank.controls[f"rank{layer}"].value = rank
    assert lowrank.last_error is None
    assert lowrank.factorization.ranks[layer] == rank
    assert isinstance(lowrank.network.layers[layer], LowRank)
    assert lowrank.report.alpha != before_alpha
    assert lowrank.plot.cutoffs[layer].get_xdata()[0] == rank != before_cutoff
    x, y = lowrank.plot.current_acc.get_data()
    assert x[0] == pytest.approx(lowrank.report.alpha) and y[0] == pytest.approx(lowrank.report.accuracy)


def test_lowrank_energy_mode(lowrank):
    lowrank.controls["mode"].value = "energy"
    assert lowrank.controls["rank0"].disabled and not lowrank.controls["energy"].disabled
    lowrank.controls["energy"].value = 0.5
    low = lowrank.report.params
    ranks_low = list(lowrank.factorization.requested)
    lowrank.controls["energy"].value = 0.8
    assert lowrank.report.params > low
    assert lowrank.controls["rank0"].value == lowrank.factorization.requested[0] > ranks_low[0]
    for svd, k in zip(lowrank.svds, lowrank.factorization.requested):
        assert svd.energy(k) >= 0.8


def test_lowrank_global_budget_mode(lowrank):
    lowrank.controls["mode"].value = "global budget"
    for percent in (5.0, 15.0):
        lowrank.controls["budget"].value = percent
        assert lowrank.last_error is None
        assert lowrank.report.params <= max(percent / 100 * lowrank.baseline.n_params, lowrank.budget_range[0])
    lowrank.controls["mode"].value = "per layer"


def test_lowrank_file_size_arrives(lowrank):
    lowrank.file_size_delay = 0
    lowrank.controls["rank0"].value = 30
    lowrank.settle(timeout=30)
    assert lowrank.report.file_bytes > 0 and lowrank.report.alpha_bytes > 1
    assert "deflating" not in lowrank.readout.value


def test_lowrank_fine_tune_adds_a_point(lowrank):
    lowrank.controls["mode"].value = "per layer"
    lowrank.controls["rank0"].value = 8
    lowrank.controls["rank1"].value = 8
    before = lowrank.report.accuracy
    lowrank.controls["epochs"].value = 2
    lowrank.controls["fine_tune"].click()
    assert lowrank.last_error is None
    assert lowrank.fine_tuned_report.accuracy > before
    x, y = lowrank.plot.tuned_acc.get_data()
    assert y[0] == pytest.approx(lowrank.fine_tuned_report.accuracy)
    assert "fine-tuned" in lowrank.readout.value


def test_lowrank_dataset_switch(lowrank):
    lowrank.controls["dataset"].value = "digits"
    assert lowrank.last_error is None
    assert lowrank.controls["rank0"].max == 64 and lowrank.baseline.n_features == 64
    assert lowrank.report.accuracy > 0.5
    assert lowrank.plot.spectra[0].get_xdata()[-1] == 64
    lowrank.controls["dataset"].value = "mnist-5k"
    assert lowrank.controls["rank0"].max == 300


# --- quantization ---------------------------------------------------------------------------

from compresslab.dashboards import QuantizationDashboard  # noqa: E402
from compresslab.encoding import QuantizedArray  # noqa: E402
from compresslab.quantization import QuantizedInput  # noqa: E402
from compresslab.metrics import evaluate  # noqa: E402


@pytest.fixture()
def quant():
    dash = QuantizationDashboard(bits=4, scheme="symmetric")
    dash.measure_seconds = 0.05
    dash.fig.canvas.draw()
    return dash


def _levels_x(dash):
    x = dash.plot.levels.get_xdata()
    return np.asarray(x, float)[~np.isnan(np.asarray(x, float))]


def _prefetched(dash):
    """Wait for the warm-up and the prefetch, then fill the caches (the kernel's side)."""
    dash.warmup is None or dash.warmup.join(timeout=120)
    dash.settle(timeout=60)
    assert dash.wait_prefetched(timeout=120)
    assert dash.prefetch_errors == []


@pytest.mark.parametrize("scheme, granularity, activation_bits", [("symmetric", "tensor", 0),
                                                                  ("affine", "neuron", 4), ("kmeans", "tensor", 0)])
def test_quantization_prefetch_scores_every_bit_width_so_a_bits_move_is_a_lookup(scheme, granularity,
                                                                                activation_bits, monkeypatch):
    """While the user looks, the nearest settings one move away (other positions of
    either slider, another scheme, granularity or range) are scored in the
    background; each prefetched report is the one a move would compute, and such a
    move runs no forward pass. After a move, the settings around the new one are
    scored in turn."""
    from compresslab.dashboards import base as dashboard_base

    dash = QuantizationDashboard(dataset="digits", bits=4, scheme=scheme)
    dash.measure_delay, dash.measure_speed = 0, False
    dash.controls["granularity"].value = granularity
    dash.controls["activation_bits"].value = activation_bits
    _prefetched(dash)
    from compresslab.dashboards.quantization import PREFETCH_KEPT

    ahead = dash.prefetch_keys()
    assert 5 < len(ahead) <= PREFETCH_KEPT
    one_move_away, seen = [], set()
    for _, name, value in dash.one_move_away():               # the moves that reach those settings
        key = (dash.dataset.name, *dash.setting(**{name: value})[0].values())
        if key in ahead and key not in seen:
            seen.add(key)
            one_move_away.append((name, value))
    assert seen == set(ahead)
    assert {name for name, _ in one_move_away} >= {"bits", "activation_bits", "scheme"}
    expected = []
    for name, value in one_move_away:
        setting, _ = dash.setting(**{name: value})
        key = (dash.dataset.name, *setting.values())
        assert key in dash._prefetched or key in dash.reports, setting
        reference = evaluate(dash.network_for(**setting), dash.dataset, dash.baseline, measure=False,
                             count_file_bytes=False)
        expected.append((reference.accuracy, reference.storage_bits, reference.alpha))
    scored = []
    monkeypatch.setattr(dashboard_base.metrics, "evaluate", lambda *a, **k: scored.append(1))
    for (name, value), numbers in zip(one_move_away, expected):
        dash.controls[name].value = value
        r = dash.report
        assert dash.last_error is None and (r.accuracy, r.storage_bits, r.alpha) == numbers, (name, value)
        with dash.syncing():                              # back, without a move: one move away again
            for control, start in (("bits", 4), ("activation_bits", activation_bits), ("scheme", scheme),
                                   ("granularity", granularity), ("range", "minmax")):
                dash.controls[control].value = start
    assert scored == []                                   # every move a lookup
    monkeypatch.undo()
    thread = dash.prefetch
    dash.controls["scheme"].value = "symmetric" if scheme != "symmetric" else "affine"
    _prefetched(dash)
    assert dash.prefetch is thread and thread.is_alive()              # one thread for the dashboard's life
    assert (dash.dataset.name, *dash.setting(bits=3)[0].values()) in dash._prefetched
    dash.close()


def test_the_prefetch_survives_dataset_switches_and_never_mixes_two_datasets():
    """The dataset changes while the prefetch and the warm-ups run: no error, everything
    the prefetch kept was computed on the dataset its key names (784 or 64 inputs), and
    each warm-up fitted its k-means networks into its own dataset's dict (a warm-up
    once read the dict when it resumed, by then another dataset's)."""
    import time as _time

    dash = QuantizationDashboard(dataset="digits", bits=4, scheme="symmetric")
    dash.measure_delay, dash.measure_speed = 0, False
    inputs = {"digits": 64, "mnist-5k": 784}
    for pause in (0.35, 0.4, 0.5, 0.45, 0.6, 0.35):
        dash.controls["dataset"].value = "mnist-5k" if dash.controls["dataset"].value == "digits" else "digits"
        dash.controls["activation_bits"].value = 4 if dash.controls["activation_bits"].value == 0 else 0
        _time.sleep(pause)                                # the prefetch starts scoring meanwhile
        dash.flush()
        assert dash.last_error is None, dash.last_error
    _prefetched(dash)
    assert dash.last_error is None, dash.last_error
    kept = list(dash._prefetched._items.items())
    assert kept
    for key, (weights, q, report) in kept:
        assert q.layers[0].n_inputs == weights.layers[0].n_inputs == inputs[key[0]], key
    # the warm-ups of the datasets left behind filled their own k-means dicts, not this one
    assert dash._kmeans and all(net.layers[0].n_inputs == inputs[dash.dataset.name] for net in dash._kmeans.values())
    dash.close()


def test_a_setting_the_prefetch_cannot_score_is_skipped_and_kept_as_an_error():
    """One failing setting: the error reaches the panel and ``prefetch_errors``, the
    others are still scored, the thread lives on, and a move to that setting
    computes it on the move."""
    dash = QuantizationDashboard(dataset="digits", bits=4, scheme="symmetric", prefetch=False)
    dash.measure_delay, dash.measure_speed = 0, False
    compute, failing = dash._prefetch_compute, []

    def flaky(data, key, setting, built):
        if setting["bits"] == 5 and not failing:
            failing.append(key)
            raise RuntimeError("cannot score this one")
        return compute(data, key, setting, built)

    dash._prefetch_compute = flaky
    dash.prefetch_enabled = True
    dash.controls["bits"].value = 3                       # the prefetch starts: bits 5 is one move away
    dash.warmup is None or dash.warmup.join(timeout=120)
    dash.settle(timeout=60)
    assert dash.wait_prefetched(timeout=120)
    assert [key for key, _ in dash.prefetch_errors] == failing and len(failing) == 1
    assert isinstance(dash.last_error, RuntimeError) and "cannot score this one" in str(dash.last_error)
    assert failing[0] not in dash._prefetched and len(dash._prefetched) >= 5
    assert dash.prefetch.is_alive()
    dash.controls["bits"].value = 5                       # computed on the move, no error
    reference = evaluate(dash.network_for(**dash.setting()[0]), dash.dataset, dash.baseline, measure=False,
                         count_file_bytes=False)
    assert dash.last_error is None and dash.report.accuracy == reference.accuracy
    dash.close()


def test_a_prefetch_does_not_push_visited_settings_out_of_the_caches():
    """Visited settings, then the prefetches of three other schemes (18 settings each,
    more than the caches hold): every visited setting is still a lookup (a prefetch
    keeps its results apart until a move reaches them)."""
    dash = QuantizationDashboard(dataset="digits", bits=4, scheme="symmetric")
    dash.measure_delay, dash.measure_speed = 0, False
    visited = []
    for bits in (2, 3, 5, 6, 7, 8):
        dash.controls["bits"].value = bits
        visited.append((dash.dataset.name, *dash.setting()[0].values()))
    for scheme in ("kmeans", "binary", "affine"):
        dash.controls["scheme"].value = scheme
        _prefetched(dash)
    for key in visited:
        assert key in dash.reports, key
    dash.close()
    dash.prefetch.join(timeout=10)
    assert not dash.prefetch.is_alive()                                # it ends with the dashboard


def test_quantization_contract(quant):
    assert {"bits", "scheme", "granularity", "range", "activation_bits", "qat"} <= set(quant.controls)
    assert quant.last_error is None and quant.widget is not None
    assert all(isinstance(l.encoded["weight"], QuantizedArray) and l.encoded["weight"].bits == 4
               for l in quant.network.layers)
    assert len(np.unique(_levels_x(quant))) == 15          # symmetric 4 bit: q in [-7, 7]
    if quant.warmup is not None:                           # k-means is fitted off the build path
        quant.warmup.join(timeout=300)
    quant.flush()
    for scheme in ("symmetric", "affine", "kmeans", "binary", "float"):
        assert len(quant.plot.curves[scheme].get_xdata()) >= 1


@pytest.mark.parametrize("bits", [2, 3, 8, 16])
def test_quantization_bits_slider(quant, bits):
    quant.controls["scheme"].value = "symmetric"
    quant.controls["bits"].value = bits
    assert quant.last_error is None
    assert quant.network.layers[0].encoded["weight"].bits == bits
    assert quant.report.storage_bits == quant.network.storage_bits()
    n_levels = len(np.unique(_levels_x(quant)))
    assert n_levels == (2**bits - 1 if bits <= 8 else 0)      # symmetric; 12+ bits: too dense to draw
    x, y = quant.plot.current.get_data()
    assert x[0] == pytest.approx(quant.report.alpha) and y[0] == pytest.approx(quant.report.accuracy)


def test_quantization_float_bit_widths(quant):
    quant.controls["bits"].value = 32
    assert quant.report.alpha == pytest.approx(64 * 266610 / quant.report.storage_bits)
    quant.controls["bits"].value = 64
    assert quant.report.alpha == 1.0 and quant.report.accuracy == quant.baseline_accuracy
    assert "float format" in quant.plot.levels_text.get_text()


def test_quantization_two_bit_minmax_collapses_and_mse_rescues(quant):
    quant.controls["scheme"].value = "symmetric"
    quant.controls["granularity"].value = "tensor"
    quant.controls["bits"].value = 2
    quant.controls["range"].value = "minmax"
    collapsed = quant.report.accuracy
    quant.controls["range"].value = "mse"
    assert quant.report.accuracy > collapsed + 0.3
    quant.controls["granularity"].value = "neuron"
    assert quant.network.layers[0].encoded["weight"].scale.size == 300
    assert "widest neuron" in quant.plot.levels_text.get_text()


@pytest.mark.parametrize("scheme, granularity, bits", [("symmetric", "tensor", 4), ("symmetric", "neuron", 4),
                                                      ("symmetric", "tensor", 12), ("affine", "neuron", 16),
                                                      ("kmeans", "tensor", 3), ("symmetric", "tensor", 64)])
def test_every_histogram_label_is_rendered_ahead(quant, scheme, granularity, bits):
    """The histogram's label strings are laid out at the full draw (``LEVEL_LABELS``):
    every string a move can show is one of them, so no move lays out glyphs."""
    from compresslab.plots.quantization import QuantizationFigure

    quant.controls["scheme"].value = scheme
    quant.controls["granularity"].value = granularity
    quant.controls["bits"].value = bits
    assert quant.plot.levels_text.get_text() in QuantizationFigure.LEVEL_LABELS


@pytest.mark.parametrize("scheme, granularity, bits", [("symmetric", "tensor", 4), ("symmetric", "tensor", 8),
                                                      ("symmetric", "neuron", 2), ("kmeans", "tensor", 3),
                                                      ("binary", "neuron", 1)])
def test_every_level_is_drawn_inside_the_histogram_axes(quant, scheme, granularity, bits):
    """No level sits on (or beyond) the histogram's axis lines, where it would hide:
    the axes reach +-max|w|, where symmetric levels end. (Affine levels may pass the
    weights by half a step: the zero point is rounded.)"""
    quant.controls["scheme"].value = scheme
    quant.controls["granularity"].value = granularity
    quant.controls["bits"].value = bits
    low, high = quant.plot.ax_hist.get_xlim()
    margin = 0.01 * (high - low)
    x = _levels_x(quant)
    assert len(x) and x.min() > low + margin and x.max() < high - margin


def test_forget_visits_makes_the_next_visit_a_first_one(monkeypatch):
    quant = QuantizationDashboard(bits=4, scheme="symmetric", prefetch=False)     # moves alone score
    scored = []
    logits = quant.certified.logits
    monkeypatch.setattr(quant.certified, "logits", lambda network: scored.append(network) or logits(network))
    quant.controls["bits"].value = 6
    quant.controls["bits"].value = 7
    accuracy = quant.report.accuracy
    quant.controls["bits"].value = 6
    quant.controls["bits"].value = 7
    assert len(scored) == 2                                        # revisits: the kept reports
    quant.forget_visits()
    assert len(quant.reports) == 0 and len(quant._networks) == 0
    quant.controls["bits"].value = 6
    quant.controls["bits"].value = 7
    assert len(scored) == 4 and quant.report.accuracy == accuracy   # scored again, the same numbers
    quant.close()


@pytest.mark.parametrize("scheme, bits, expected_bits", [("kmeans", 3, 3), ("binary", 5, 1), ("affine", 1, 2)])
def test_quantization_scheme_toggle(quant, scheme, bits, expected_bits):
    quant.controls["bits"].value = bits
    quant.controls["scheme"].value = scheme
    assert quant.last_error is None
    assert quant.network.layers[0].encoded["weight"].encoding == scheme and quant.network.layers[0].encoded["weight"].bits == expected_bits
    assert (quant.note != "") == (bits != expected_bits)
    assert len(np.unique(_levels_x(quant))) == 2**expected_bits


def test_quantization_activation_bits(quant):
    quant.controls["scheme"].value = "symmetric"
    quant.controls["bits"].value = 8
    bits_before = quant.report.storage_bits
    quant.controls["activation_bits"].value = 2
    assert isinstance(quant.network.layers[1], QuantizedInput) and quant.network.layers[1].bits == 2
    assert quant.report.storage_bits == bits_before + 2 * 2 * 32
    quant.controls["activation_bits"].value = 0
    assert not isinstance(quant.network.layers[1], QuantizedInput)


def test_quantization_qat_button(quant):
    quant.controls["scheme"].value = "symmetric"
    quant.controls["granularity"].value = "tensor"
    quant.controls["range"].value = "minmax"
    quant.controls["bits"].value = 2
    ptq = quant.report.accuracy
    quant.controls["epochs"].value = 2
    quant.controls["qat"].click()
    assert quant.last_error is None
    assert quant.qat_report.accuracy > ptq + 0.2
    assert quant.plot.qat.get_data()[1][0] == pytest.approx(quant.qat_report.accuracy)
    assert "QAT" in quant.readout.value and quant.progress.value == 2


def test_quantization_qat_needs_a_quantized_format(quant):
    quant.controls["bits"].value = 64
    quant.controls["qat"].click()
    assert quant.last_error is None and "QAT needs a quantized format" in quant.readout.value


def test_quantization_file_size_and_layer_dropdown(quant):
    quant.file_size_delay = 0
    quant.controls["bits"].value = 5
    quant.settle(timeout=30)
    assert quant.report.file_bytes < quant.baseline.serialized_bytes() / 5
    before = quant.plot.hist_line.get_xdata().copy()
    quant.controls["layer"].value = 2
    assert not np.array_equal(before, quant.plot.hist_line.get_xdata())
    assert quant.last_error is None


def test_quantization_keeps_a_bounded_number_of_networks(quant):
    from compresslab.dashboards.quantization import CACHED_NETWORKS

    settings = [(scheme, granularity, bits) for scheme in ("symmetric", "affine")
                for granularity in ("tensor", "neuron") for bits in range(2, 17)]
    assert len(settings) > CACHED_NETWORKS
    for scheme, granularity, bits in settings:
        quant.controls["scheme"].value = scheme
        quant.controls["granularity"].value = granularity
        quant.controls["bits"].value = bits
    assert len(quant._networks) == CACHED_NETWORKS
    assert quant.last_error is None


# --- background work: failures reach the panel, waits are bounded, readouts are consistent -----

def test_a_failing_file_size_job_is_shown_and_the_next_move_completes(monkeypatch):
    import compresslab.metrics as metrics

    dash = QuantizationDashboard(bits=4)
    dash.file_size_delay, dash.measure_seconds = 0, 0.05
    real, calls = metrics.with_file_bytes, []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("no room to deflate")
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics, "with_file_bytes", fails_once)
    dash.controls["bits"].value = 6
    with pytest.raises(MemoryError):
        dash.file_size_job.result(timeout=30)              # the Future is completed, not left hanging
    dash.controls["bits"].value = 5                        # the next move does not wait forever
    assert dash.last_error is None and dash.report.params > 0
    dash.flush()                                           # the failure reaches the panel on this thread
    assert isinstance(dash.last_error, MemoryError)
    assert "no room to deflate" in "".join(o.get("text", "") for o in dash.errors.outputs)
    dash.settle(timeout=30)
    assert dash.report.file_bytes > 0 and "deflating" not in dash.readout.value
    dash.close()


def _readout_rows(html_text):
    import re

    return dict(re.findall(r"nowrap'>([^<]+)</td><td[^>]*><b>([^<]*)</b>", html_text))


def test_every_rendered_readout_matches_its_own_settings():
    """Random moves with background completions interleaved: every readout ever
    rendered shows the numbers of the setting it names (never new settings
    beside old numbers)."""
    import html as html_lib

    from compresslab.metrics import evaluate
    from compresslab.quantization import activation_ranges, quantize, quantize_activations

    dash = QuantizationDashboard(bits=4)
    dash.file_size_delay, dash.measure_seconds = 0, 0.05
    rendered = []
    dash.readout.observe(lambda change: rendered.append(change["new"]), names="value")
    rng = np.random.default_rng(0)
    moves = {"bits": (2, 3, 4, 8, 32), "scheme": ("symmetric", "affine", "binary"),
             "granularity": ("tensor", "neuron"), "activation_bits": (0, 4)}
    for _ in range(14):
        name = rng.choice(list(moves))
        dash.controls[name].value = moves[name][rng.integers(len(moves[name]))]
        if rng.random() < 0.5:
            dash.settle(timeout=30)                       # a completion lands between moves
        elif rng.random() < 0.5:
            dash.flush()                                  # or a stale one may land
    dash.settle(timeout=30)
    assert dash.last_error is None
    ranges = activation_ranges(dash.baseline, dash.dataset.X_train)
    checked = set()
    for text in rendered:
        rows = {k: html_lib.unescape(v) for k, v in _readout_rows(text).items()}
        weights = [w.strip() for w in rows["weights"].split(",")]
        scheme, bits = weights[0], int(weights[1].split()[0])
        granularity = next((w.split()[1] for w in weights if w.startswith("per ")), "tensor")
        range_method = next((w.split()[1] for w in weights if w.startswith("range ")), "minmax")
        act = 0 if rows["activations"] == "float" else int(rows["activations"].split()[0])
        key = (scheme, bits, granularity, range_method, act, rows["size (.npz file)"])
        if key in checked:
            continue
        checked.add(key)
        q = dash.baseline if scheme == "float64" else quantize(dash.baseline, scheme, bits, granularity=granularity,
                                                               range_method=range_method)
        if act:
            q = quantize_activations(q, act, ranges)
        r = evaluate(q, dash.dataset, dash.baseline, measure=False)
        assert rows["accuracy"] == f"{100 * r.accuracy:.1f} % ± {100 * r.accuracy_se:.1f}, test", (key, rows)
        assert rows["beta (bits)"] == f"{r.beta:.2f}", (key, rows)
        if "B" in rows["size (.npz file)"]:
            from compresslab.dashboards.base import fmt_bytes

            assert rows["size (.npz file)"] == fmt_bytes(q.serialized_bytes()), (key, rows)
    assert len(checked) >= 5
    dash.close()


# --- the timing API: score on a move, measure when still, cache per setting ---------------------

def test_a_move_scores_once_and_measures_later(quant):
    quant.measure_delay = 0
    quant.controls["bits"].value = 6
    assert quant.report.timing is None and "measuring" in quant.readout.value      # not timed on the move
    quant.settle(timeout=60)
    r = quant.report
    assert r.timing is not None and r.latency is not None and r.latency.batch_size == 1
    assert r.timing.batch_size == len(quant.dataset.y_test) and r.timing.blas_threads == 1
    assert r.file_bytes is not None
    assert "δ measured" in quant.readout.value and "batch-1 latency" in quant.readout.value


def test_a_revisited_setting_shows_its_measurement_at_once(quant):
    quant.measure_delay = 0
    quant.controls["bits"].value = 6
    quant.settle(timeout=60)
    measured = quant.report.timing.measured
    quant.controls["bits"].value = 3
    quant.controls["bits"].value = 6                       # back: a lookup, no new timing needed
    assert quant.report.timing is not None and quant.report.timing.measured == measured
    assert "measuring" not in quant.readout.value


def test_a_result_for_an_old_setting_is_not_shown(quant):
    quant.measure_delay = 0
    quant.controls["bits"].value = 6
    quant.measurement_job.result(timeout=60)             # finished, not yet flushed
    with quant.syncing():
        quant.controls["bits"].value = 3
    quant.update()                                        # a newer setting is shown
    quant._stop_measurement()
    quant.flush()
    assert quant.report.timing is None or quant._setting["bits"] == 3
    assert "3 bit" in quant.readout.value


def test_warmup_steps_run_under_the_timing_guard_and_pause_for_moves(quant):
    import threading

    from compresslab import metrics

    release, started = threading.Event(), threading.Event()

    def step():
        started.set()
        release.wait(30)

    thread = quant.start_warmup([step], name="test step")
    assert started.wait(30)
    assert any("test step" in job for job in metrics.busy_jobs())
    release.set()
    thread.join(30)
    # other dashboards' warm-ups (left by earlier tests, in any order) may still run: only ours must be gone
    assert not [job for job in metrics.busy_jobs() if "test step" in job]
    ran = []
    with quant.moving():                                  # a move in progress: the next step waits
        thread = quant.start_warmup([lambda: ran.append(1)], name="paused")
        thread.join(0.3)
        assert ran == []
    thread.join(30)
    assert ran == [1]


def test_no_deprecated_baseline_seconds(recwarn):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for cls in (IntroductionDashboard, LowRankDashboard, QuantizationDashboard):
            cls().close()


def test_accuracy_and_speed_texts():
    from compresslab.dashboards.base import accuracy_text, speed_text
    from compresslab.metrics import Report, Speedup

    r = Report(accuracy=0.94, n_test=1000, accuracy_se=0.0075, params=1, storage_bits=1, file_bytes=None,
               flops=1, alpha=1, beta=0, alpha_params=1, alpha_bytes=None, speedup_theoretical=3.5)
    assert accuracy_text(r) == "94.0 % ± 0.8, test"
    assert speed_text(r) == "δ measuring… · FLOPs δ 3.5×"
    r.timing = Speedup(measured=2.31, theoretical=3.5, seconds_original=1, seconds_compressed=1, batch_size=1000,
                       repeats=7, blas_threads=1, spread=0.04)
    r.latency = Speedup(measured=1.6, theoretical=3.5, seconds_original=1, seconds_compressed=1, batch_size=1,
                        repeats=300, blas_threads=1)
    assert speed_text(r) == ("δ measured 2.31× (1 thread, batch 1,000; spread 4 %) · batch-1 latency 1.6× · "
                             "FLOPs δ 3.5×")


# --- a layout that holds still (issue 12) ----------------------------------------------------------

@pytest.fixture(params=["intro", "lowrank", "quant"])
def any_dash(request):
    return request.getfixturevalue(request.param)


def test_sliders_are_wide_with_unit_keyboard_steps(any_dash):
    import ipywidgets as widgets

    sliders = [c for c in any_dash.controls.values()
               if isinstance(c, (widgets.IntSlider, widgets.FloatSlider, widgets.SelectionSlider))]
    assert sliders
    for s in sliders:
        assert int(s.layout.width.rstrip("px")) >= 420, s.description
        if isinstance(s, widgets.IntSlider):
            assert s.step == 1


def test_readout_and_notes_have_a_fixed_place(any_dash):
    from compresslab.dashboards.base import READOUT_HEIGHT

    assert any_dash.readout.layout.height == READOUT_HEIGHT
    assert "compresslab-notes" in any_dash.readout.value          # the box is there even without a note
    name = next(n for n in any_dash.live_controls if hasattr(any_dash.controls[n], "options"))
    options = [v for _, v in any_dash.controls[name]._options_full]
    any_dash.controls[name].value = options[-1] if any_dash.controls[name].value != options[-1] else options[0]
    assert any_dash.readout.layout.height == READOUT_HEIGHT and "compresslab-notes" in any_dash.readout.value


def test_a_long_speed_line_grows_instead_of_covering_the_notes():
    """A fixed height drew the third line of the quantization readout's speed over its note (seen in
    Chromium at 1 bit): the line keeps room for three lines and grows past them."""
    import re

    from compresslab.dashboards.base import readout_table

    html = readout_table([("weights", "symmetric")], notes=["symmetric works with 2-16 bits: using 2"],
                         speed="δ measured 1.00× " * 20)
    style = re.search(r"<div class='compresslab-speed' style='([^']*)'", html).group(1)
    rules = dict(rule.split(":", 1) for rule in style.split(";") if rule)
    assert rules.get("min-height") == "4.1em" and "height" not in rules and "overflow" not in rules
    # each note is marked (a bar beside it) and escaped
    assert html.count("class='compresslab-note'") == 1 and "<b>Note:</b> symmetric works with 2-16 bits" in html
    assert "&lt;b&gt;" in readout_table([], notes=["<b>"])


def test_controls_are_disabled_while_training_and_the_bar_hides_after(any_dash, monkeypatch):
    import importlib

    module = importlib.import_module(type(any_dash).__module__)
    seen = []

    def fake_train(network, *args, on_epoch=None, **kwargs):
        on_epoch(0, None)
        seen.append({n: c.disabled for n, c in any_dash.controls.items() if hasattr(c, "disabled")})
        seen.append(any_dash.progress.layout.visibility)
        from compresslab.training import History

        history = History()
        history.seconds = 0.0
        return (network, history) if module.__name__.endswith("quantization") else history

    button = {"IntroductionDashboard": "train", "LowRankDashboard": "fine_tune",
              "QuantizationDashboard": "qat"}[type(any_dash).__name__]
    if hasattr(module, "train"):
        monkeypatch.setattr(module, "train", fake_train)
    if hasattr(module, "quantization_aware_training"):
        monkeypatch.setattr(module, "quantization_aware_training",
                            lambda base, *a, on_epoch=None, **k: fake_train(base.copy(), on_epoch=on_epoch))
    before = {n: c.disabled for n, c in any_dash.controls.items() if hasattr(c, "disabled")}
    any_dash.controls[button].click()
    assert any_dash.last_error is None, any_dash.last_error
    disabled, visibility = seen
    assert all(disabled.values()) and visibility == "visible"
    assert {n: c.disabled for n, c in any_dash.controls.items() if hasattr(c, "disabled")} == before
    assert any_dash.progress.layout.visibility == "hidden"


def _overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("name", ["lowrank", "quant"])
def test_legends_and_labels_sit_outside_the_data_area(request, name):
    dash = request.getfixturevalue(name)
    fig = dash.fig
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) >= 2
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            assert not _overlap(box, ax.get_window_extent(renderer)), ax.get_title()
            assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, f"legend of {ax.get_title()!r} cut at the edge"
    if name == "quant":
        text = dash.plot.levels_text.get_window_extent(renderer)
        assert not _overlap(text, dash.plot.ax_hist.get_window_extent(renderer))


def test_every_dashboard_figure_uses_the_suite_style(any_dash):
    from compresslab.plots import STYLE

    fig = any_dash.fig
    assert fig.get_figwidth() * fig.dpi <= 900
    assert fig.canvas.toolbar_visible is False and fig.canvas.header_visible is False
    for ax in fig.axes:
        ticks = ax.get_xticklabels() + ax.get_yticklabels()
        assert ticks and all(t.get_fontsize() == STYLE["xtick.labelsize"] for t in ticks)
        for label in (ax.xaxis.label, ax.yaxis.label):
            assert label.get_fontsize() == STYLE["axes.labelsize"] >= STYLE["font.size"]
        if ax.get_title():
            assert ax.title.get_fontsize() >= STYLE["font.size"]
        if ax.get_legend() is not None:
            assert all(t.get_fontsize() == STYLE["legend.fontsize"] for t in ax.get_legend().get_texts())


def test_lru_keeps_the_most_recent_and_peek_stores_nothing():
    from compresslab.dashboards.base import LRU

    cache = LRU(maxsize=2)
    assert cache.peek("a") is None and "a" not in cache          # a miss is not remembered
    assert cache.get("a", lambda: 1) == 1 and cache.get("a", lambda: 2) == 1
    cache.put("b", 2)
    assert cache.peek("a") == 1                                    # now the most recent
    cache.put("c", 3)                                              # evicts b, the least recent
    assert "b" not in cache and cache.peek("a") == 1 and cache.peek("c") == 3 and len(cache) == 2


# --- the delayed call behind schedule_measurement -----------------------------------------
def test_delayed_call_runs_only_the_latest_after_its_delay_in_one_thread():
    """Moves schedule a measurement each; only the last runs, once, after the
    delay, and all of them share one thread (no thread started per move)."""
    import threading

    from compresslab.dashboards.base import _DelayedCall

    ran, threads = [], set()
    delayed = _DelayedCall("test delayed")

    def call(i):
        threads.add(threading.current_thread().name)
        ran.append(i)

    before = threading.active_count()
    for i in range(20):
        delayed.schedule(0.05, lambda i=i: call(i))
    assert threading.active_count() <= before + 1
    assert delayed.join(timeout=10)
    assert ran == [19] and threads == {"test delayed"}
    delayed.schedule(30.0, lambda: call("cancelled"))        # far in the future, then cancelled
    delayed.cancel()
    assert delayed.join(timeout=1)
    delayed.schedule(0.0, lambda: 1 / 0)                      # an error does not end the thread
    assert delayed.join(timeout=10)
    delayed.schedule(0.0, lambda: call("after the error"))
    assert delayed.join(timeout=10)
    assert ran[-1] == "after the error" and "cancelled" not in ran
    delayed.close()
    assert delayed.schedule(0.0, lambda: call("after close")) is False
    assert delayed.join(timeout=1) and "after close" not in ran


def test_a_measurement_scheduled_after_close_is_cancelled_not_left_pending():
    """A Future that nothing will run must not stay pending (settle would time out)."""
    dash = LowRankDashboard(dataset="digits")
    dash.measure_delay = 0
    dash.update()
    dash.settle(timeout=60)
    dash.close()
    dash.reports.clear()
    dash.update()
    assert dash.measurement_job.cancelled()
    assert dash.settle(timeout=1) >= 0 and not dash._pending


def test_a_measured_network_given_as_a_function_is_built_on_the_background_thread_only_when_needed():
    """``schedule_measurement(network=callable)``: the move does not build the network;
    the measurement builds it off the kernel's thread and measures that network; a
    setting with nothing left to measure never builds it."""
    dash = LowRankDashboard(dataset="digits")
    dash.measure_delay = 0
    network = dash.network
    built = []

    def build():
        built.append(threading.current_thread())
        return network

    dash.settle(timeout=60)
    dash._report = dataclasses.replace(dash.report, file_bytes=None, timing=None, latency=None)  # all missing
    job = dash.schedule_measurement(build, dash.baseline, key=None)
    assert built == [] or built[0] is not threading.main_thread()
    filled = job.result(timeout=60)
    assert len(built) == 1 and built[0] is not threading.main_thread()
    assert filled.file_bytes == network.serialized_bytes() and filled.timing is not None
    dash._report = filled                               # everything measured: nothing to build
    dash.schedule_measurement(build, dash.baseline).result(timeout=5)
    assert len(built) == 1
    dash.close()


@pytest.mark.parametrize("ranks", [[1, 1, 1], [5, 20, 10], [100, 50, 10], [300, 100, 10], [37, 99, 3]])
def test_prefix_forward_gives_the_networks_own_logits(ranks):
    """The dashboard scores a move from the kept activations of the layers before
    the moved slider (and layer 1 from a slice of X U S): the same logits as the
    factorized network's own forward pass (to 1e-12) and the same accuracy, whatever
    order the sliders were moved in."""
    from compresslab.dashboards.lowrank import PrefixForward
    from compresslab.lowrank import factorize, layer_svds
    from compresslab.metrics import evaluate

    dash = LowRankDashboard(dataset="digits")
    net, X, y = dash.baseline, dash.dataset.X_test, dash.dataset.y_test
    svds = layer_svds(net)
    ranks = [min(k, svd.full_rank) for k, svd in zip(ranks, svds)]
    prefix = PrefixForward(net, svds, X)
    for first in ([ranks[0], 2, 2], [ranks[0], ranks[1], 1], ranks):    # later layers computed from kept ones
        prefix.logits(factorize(net, ranks=first, svds=svds))
    result = factorize(net, ranks=ranks, svds=svds)
    np.testing.assert_allclose(prefix.logits(result), result.network.logits(X), rtol=1e-12, atol=1e-12)
    assert result.network.score_logits(prefix.logits(result), y) == result.network.score(X, y)
    dash.controls["mode"].value = "per layer"
    for i, k in enumerate(ranks):
        dash.controls[f"rank{i}"].value = k
    assert dash.last_error is None
    assert dash.report.accuracy == evaluate(result.network, dash.dataset, measure=False).accuracy
    dash.close()


def test_score_logits_refuses_logits_of_another_shape_or_not_finite(digits_net):
    with pytest.raises(ValueError, match=r"logits must have shape \(n_samples, 10\); got \(5, 3\)"):
        digits_net.score_logits(np.zeros((5, 3)), np.zeros(5, int))
    logits = np.zeros((5, 10))
    logits[2, 3] = np.nan
    with pytest.raises(ValueError, match="logits must be finite"):
        digits_net.score_logits(logits, np.zeros(5, int))
