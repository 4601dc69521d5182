import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compresslab.metrics import (Report, Speedup, compression_rate, evaluate, index_space_saving,
                                 model_size, speedup, sweep)
from compresslab.network import Dense, Network


def _net(sizes, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return Network([Dense(rng.normal(size=(a, b)), rng.normal(size=b))
                    for a, b in zip(sizes, sizes[1:])]).astype(dtype)


shapes = st.lists(st.integers(1, 40), min_size=2, max_size=5).map(lambda s: s + [3])


def _params(sizes):
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


@settings(max_examples=30, deadline=None)
@given(shapes, st.integers(0, 3))
def test_compression_rate_is_the_ratio_of_hand_counted_sizes(sizes, n_drop):
    small_sizes = [sizes[0]] + [max(1, s - n_drop) for s in sizes[1:-1]] + [sizes[-1]]
    net, small = _net(sizes), _net(small_sizes, seed=1, dtype="float32")
    alpha_params = _params(sizes) / _params(small_sizes)
    assert compression_rate(net, small, by="params") == pytest.approx(alpha_params)
    assert compression_rate(net, small, by="bits") == pytest.approx(2 * alpha_params)      # 64 over 32 bits
    assert index_space_saving(net, small, by="bits") == pytest.approx(2 * alpha_params - 1)
    assert compression_rate(net, small, by="bytes") == pytest.approx(
        model_size(net, "bytes") / model_size(small, "bytes"))
    for by in ("params", "bits", "bytes"):
        assert index_space_saving(net, net, by=by) == 0.0


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


def test_speedup_times_both_networks_in_turns_after_a_warmup(mnist_net, mnist5k):
    """Which forward passes are timed, and the FLOPs ratio by hand (the clock itself: the fake-clock test)."""
    from threadpoolctl import threadpool_info

    calls = []
    original, small = mnist_net.copy(), _net([784, 30, 10])
    for name, net in (("original", original), ("compressed", small)):
        net.logits = (lambda forward, name: lambda X: calls.append((name, len(X))) or forward(X))(net.logits, name)
    result = speedup(original, small, mnist5k.X_test, repeats=3)
    assert isinstance(result, Speedup)
    assert calls == [("original", 1000), ("compressed", 1000)] * 4          # warm-up, then 3 interleaved pairs
    flops = (2 * 784 * 300 + 300 + 2 * 300 * 100 + 100 + 2 * 100 * 10 + 10) / (2 * 784 * 30 + 30 + 2 * 30 * 10 + 10)
    assert result.theoretical == pytest.approx(flops)
    assert result.batch_size == 1000 and result.repeats == 3
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert result.blas_threads == (max(blas) if blas else 1)
    assert np.isfinite(result.measured) and result.measured > 0
    assert result.seconds_original > 0 and result.seconds_compressed > 0


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
