import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compresslab.metrics import (Report, Speedup, compression_rate, evaluate, index_space_saving,
                                 model_size, speedup, sweep)
from compresslab.network import Dense, Network, random_network


def _net(sizes, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return Network([Dense(rng.normal(size=(a, b)), rng.normal(size=b))
                    for a, b in zip(sizes, sizes[1:])]).astype(dtype)


shapes = st.lists(st.integers(1, 40), min_size=2, max_size=5).map(lambda s: s + [3])


@settings(max_examples=30, deadline=None)
@given(shapes)
def test_network_against_itself(sizes):
    net = _net(sizes)
    for by in ("params", "bits", "bytes"):
        assert compression_rate(net, net, by=by) == 1.0
        assert index_space_saving(net, net, by=by) == 0.0
    assert speedup(net, net, np.ones((4, sizes[0])), repeats=1).theoretical == 1.0


@settings(max_examples=30, deadline=None)
@given(shapes)
def test_float32_halves_the_bits_not_the_params(sizes):
    net = _net(sizes)
    net32 = net.astype("float32")
    assert compression_rate(net, net32, by="bits") == 2.0
    assert compression_rate(net, net32, by="params") == 1.0
    assert index_space_saving(net, net32, by="bits") == 1.0
    # a float32 original counted as float32: no saving
    assert compression_rate(net32, net32, by="bits", baseline_dtype="float32") == 1.0
    assert compression_rate(net32, net32, by="bits", baseline_dtype=None) == 1.0


@settings(max_examples=20, deadline=None)
@given(shapes, st.integers(0, 3))
def test_theoretical_speedup_is_flops_ratio(sizes, n_drop):
    big = _net(sizes)
    small_sizes = [sizes[0]] + [max(1, s - n_drop) for s in sizes[1:-1]] + [sizes[-1]]
    small = _net(small_sizes)
    result = speedup(big, small, np.ones((5, sizes[0])), repeats=1)
    assert result.theoretical == pytest.approx(big.flops(5) / small.flops(5))
    expected = sum(2 * a * b + b for a, b in zip(sizes, sizes[1:])) / \
        sum(2 * a * b + b for a, b in zip(small_sizes, small_sizes[1:]))
    assert result.theoretical == pytest.approx(expected)


def test_bits_count_weights_and_biases():
    net = _net([10, 4, 3])
    assert model_size(net, "params") == 10 * 4 + 4 + 4 * 3 + 3
    assert model_size(net, "bits") == 64 * (10 * 4 + 4 + 4 * 3 + 3)


def test_bytes_are_a_real_file(tmp_path):
    net = _net([50, 20, 3])
    path = tmp_path / "net.npz"
    net.save(path)
    assert model_size(net, "bytes") == path.stat().st_size
    assert model_size(net, "bytes") < model_size(net, "bits") / 8 + 2000   # container overhead is small


def test_speedup_is_measured(mnist_net, mnist5k):
    small = mnist_net.replace_layers([Dense(l.weight[:, :], l.bias) for l in mnist_net.layers])
    result = speedup(mnist_net, small, mnist5k.X_test, repeats=3)
    assert isinstance(result, Speedup)
    assert result.seconds_original > 0 and result.seconds_compressed > 0
    assert result.batch_size == 1000 and result.repeats == 3 and result.blas_threads >= 1
    assert result.measured > 0 and result.theoretical == 1.0


def test_float32_has_the_same_flops(mnist_net, mnist5k):
    """float32 vs float64: no FLOPs saved (its real measured speedup: python -m compresslab.bench)."""
    result = speedup(mnist_net, mnist_net.astype("float32"), mnist5k.X_test, repeats=3)
    assert result.theoretical == 1.0 and result.measured > 0


def test_evaluate_report(digits_net, digits):
    report = evaluate(digits_net, digits)
    assert isinstance(report, Report)
    assert report.accuracy == digits_net.score(digits.X_test, digits.y_test)
    assert report.params == digits_net.n_params and report.storage_bits == 64 * digits_net.n_params
    assert report.alpha == 1.0 and report.beta == 0.0 and report.alpha_bytes == 1.0
    assert report.speedup_theoretical == 1.0 and report.speedup_measured > 0
    assert report.flops == digits_net.flops(len(digits.y_test))
    half = evaluate(digits_net.astype("float32"), digits, baseline=digits_net, measure=False)
    assert half.alpha == 2.0 and half.alpha_params == 1.0 and half.speedup_measured is None
    assert "alpha 2.00" in half.summary()


def test_sweep_gives_one_report_per_value(digits_net, digits):
    reports = sweep(lambda dtype: digits_net.astype(dtype), ["float64", "float32"], digits, digits_net,
                    measure=False)
    assert [r.label for r in reports] == ["float64", "float32"]
    assert [r.alpha for r in reports] == [1.0, 2.0]


def test_bad_metric_arguments(digits_net, digits):
    with pytest.raises(ValueError, match="by must be one of.*'kilobytes'"):
        compression_rate(digits_net, digits_net, by="kilobytes")
    with pytest.raises(TypeError, match="Network"):
        compression_rate(digits_net, "model")
    with pytest.raises(ValueError, match="dtype must be one of"):
        compression_rate(digits_net, digits_net, baseline_dtype="int8")
    with pytest.raises(ValueError, match="64 features"):
        speedup(digits_net, digits_net, np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"repeats must be in \[1, inf\]; got 0"):
        speedup(digits_net, digits_net, digits.X_test, repeats=0)
    with pytest.raises(TypeError, match="Network"):
        evaluate(object(), digits)


def test_serialized_bytes_memo_follows_content(digits_net):
    first = digits_net.serialized_bytes()
    assert digits_net.copy().serialized_bytes() == first
    changed = digits_net.copy()
    changed.layers[0].params["weight"][:] = 0.0          # zeros deflate to almost nothing
    assert changed.serialized_bytes() < first / 2


def test_evaluate_with_baseline_seconds(digits_net, digits):
    from compresslab.metrics import time_forward

    seconds = time_forward(digits_net, digits.X_test)
    report = evaluate(digits_net.astype("float32"), digits, digits_net, baseline_seconds=seconds, repeats=3)
    assert report.speedup_measured == pytest.approx(seconds / report.seconds)
    assert report.seconds > 0


def test_file_bytes_can_be_filled_in_later(digits_net, digits):
    from compresslab.metrics import with_file_bytes

    net32 = digits_net.astype("float32")
    fast = evaluate(net32, digits, digits_net, measure=False, count_file_bytes=False)
    assert fast.file_bytes is None and fast.alpha_bytes is None and "file not written" in fast.summary()
    full = evaluate(net32, digits, digits_net, measure=False)
    with_file_bytes(fast, net32, digits_net)
    assert fast == full


def test_measured_speedup_is_the_median_of_interleaved_ratios(monkeypatch, digits_net, digits):
    """With a fake clock: original takes 2, 2, 2; compressed 1, 1, 4 -> ratios 2, 2, 0.5 -> median 2."""
    durations = [2, 1, 2, 1, 2, 4]                       # interleaved: original, compressed, ...
    stamps = iter(np.cumsum([0] + [d for dur in durations for d in (dur, 0)])[:-1].tolist())
    import compresslab.metrics as metrics

    monkeypatch.setattr(metrics.time, "perf_counter", lambda: next(stamps))
    result = speedup(digits_net, digits_net.astype("float32"), digits.X_test, repeats=3)
    assert result.measured == 2.0
    assert result.seconds_original == 2.0 and result.seconds_compressed == 1.0


def test_as_baseline_copies_only_when_the_dtype_changes(digits_net):
    from compresslab.metrics import as_baseline

    assert as_baseline(digits_net, "float64") is digits_net
    assert as_baseline(digits_net, None) is digits_net
    as32 = as_baseline(digits_net, "float32")
    assert as32.dtype == np.float32 and as32 is not digits_net
    assert as_baseline(as32, "float64").storage_bits() == digits_net.storage_bits()


# --- issue #10 section 2: no NaN, zero or negative numbers from bad arguments --------------

def test_time_forward_checks_its_arguments(digits_net, digits):
    from compresslab.metrics import time_forward

    with pytest.raises(ValueError, match=r"repeats must be in \[1, inf\]; got 0"):
        time_forward(digits_net, digits.X_test, repeats=0)          # used to return NaN
    with pytest.raises(TypeError, match="network must be a compresslab Network; convert"):
        time_forward(digits_net.to_sklearn(), digits.X_test)
    with pytest.raises(ValueError, match="X must have 64 features"):
        time_forward(digits_net, digits.X_test[:, :5])


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_evaluate_rejects_a_baseline_time_that_is_not_positive(digits_net, digits, bad):
    with pytest.raises(ValueError, match=r"baseline_seconds must be (in \(0, inf\]|finite)"):
        evaluate(digits_net, digits, baseline_seconds=bad)        # used to give a 0, negative or NaN speedup


def test_metrics_name_the_argument(digits_net, digits):
    with pytest.raises(TypeError, match="compressed must be a compresslab Network"):
        compression_rate(digits_net, None)
    with pytest.raises(ValueError, match="baseline_dtype must be one of"):
        compression_rate(digits_net, digits_net, baseline_dtype="float16")
    with pytest.raises(ValueError, match="compressed must take the same inputs as original"):
        speedup(digits_net, random_network((10, 3)), digits.X_test)
    with pytest.raises(TypeError, match="measure must be True or False"):
        evaluate(digits_net, digits, measure="yes")
    bad = digits_net.copy()
    bad.layers[0].params["weight"][0, 0] = np.inf
    with pytest.raises(ValueError, match="baseline weights must be finite"):
        evaluate(digits_net, digits, baseline=bad, measure=False)
