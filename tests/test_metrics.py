import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import threading

import compresslab.metrics as metrics
from compresslab.metrics import (Report, Speedup, blas_threads, busy_jobs, compression_rate, evaluate,
                                 index_space_saving, interleaved_times, measure_speedup, model_size,
                                 relative_se_of_median, speedup, sweep, timing_guard, wait_until_quiet)
from compresslab.network import Dense, Network, random_network


# seen without it: 'QuantizationDashboard: .npz deflate' left running in a test expecting no job
pytestmark = pytest.mark.usefixtures("suite_quiet")


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


def test_speedup_is_measured(mnist_net, mnist5k):
    small = mnist_net.replace_layers([Dense(l.weight[:, :], l.bias) for l in mnist_net.layers])
    before = blas_threads()
    result = speedup(mnist_net, small, mnist5k.X_test, repeats=3, max_seconds=0)
    assert isinstance(result, Speedup)
    assert result.seconds_original > 0 and result.seconds_compressed > 0
    assert result.batch_size == 1000 and result.repeats == 3 and result.blas_threads == 1
    assert result.measured > 0 and result.theoretical == 1.0 and result.spread >= 0
    assert result.method == "interleaved median of ratios" and result.quiet
    assert blas_threads() == before                  # the thread limit is lifted afterwards
    assert "batch 1,000, 1 BLAS thread, interleaved median of ratios of 3 pairs" in result.summary()


def test_float32_has_the_same_flops(mnist_net, mnist5k):
    """float32 vs float64: no FLOPs saved (its real measured speedup: python -m compresslab.bench)."""
    result = speedup(mnist_net, mnist_net.astype("float32"), mnist5k.X_test, repeats=3)
    assert result.theoretical == 1.0 and result.measured > 0


def test_evaluate_report(digits_net, digits):
    report = evaluate(digits_net, digits, repeats=2, max_seconds=0)
    assert isinstance(report, Report)
    p, n = digits_net.score(digits.X_test, digits.y_test), len(digits.y_test)
    assert report.accuracy == p and report.n_test == n
    assert report.accuracy_se == pytest.approx(np.sqrt(p * (1 - p) / n))
    assert report.params == digits_net.n_params and report.storage_bits == 64 * digits_net.n_params
    assert report.alpha == 1.0 and report.beta == 0.0 and report.alpha_bytes == 1.0
    assert report.speedup_theoretical == 1.0 and report.speedup_measured > 0
    assert report.flops == digits_net.flops(len(digits.y_test))
    # how the time was taken: throughput on the test set and latency at batch 1, one BLAS thread
    assert report.timing.batch_size == n and report.timing.repeats == 2 and report.timing.blas_threads == 1
    assert report.speedup_measured == report.timing.measured and report.seconds == report.timing.seconds_compressed
    assert report.latency.batch_size == 1 and report.latency.repeats == metrics.LATENCY_REPEATS
    text = report.summary()
    assert f"accuracy {100 * p:.1f} % ± {100 * report.accuracy_se:.1f} (n = {n})" in text
    assert "throughput: delta" in text and "latency: delta" in text and "batch 1, 1 BLAS thread" in text
    half = evaluate(digits_net.astype("float32"), digits, baseline=digits_net, measure=False)
    assert half.alpha == 2.0 and half.alpha_params == 1.0 and half.speedup_measured is None
    assert half.timing is None and half.latency is None
    assert "alpha 2.00" in half.summary() and "not measured" in half.summary()


def test_evaluate_threads_and_no_latency(digits_net, digits):
    report = evaluate(digits_net, digits, repeats=2, max_seconds=0, latency=False, threads=2)
    assert report.latency is None and report.timing.blas_threads in (1, 2)   # BLAS may cap it at its build
    assert report.as_dict()["timing"]["method"] == "interleaved median of ratios"


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
    with pytest.raises(TypeError, match="latency must be True or False"):
        evaluate(digits_net, digits, latency=1)


def test_serialized_bytes_memo_follows_content(digits_net):
    first = digits_net.serialized_bytes()
    assert digits_net.copy().serialized_bytes() == first
    changed = digits_net.copy()
    changed.layers[0].params["weight"][:] = 0.0          # zeros deflate to almost nothing
    assert changed.serialized_bytes() < first / 2


def test_baseline_seconds_is_deprecated_and_ignored(digits_net, digits):
    with pytest.warns(DeprecationWarning, match="baseline_seconds.*deprecated.*interleaved"):
        report = evaluate(digits_net.astype("float32"), digits, digits_net, baseline_seconds=1e9, repeats=2,
                          max_seconds=0, latency=False)
    assert report.speedup_measured == report.timing.measured < 1e6     # not 1e9 / seconds


def test_file_bytes_can_be_filled_in_later(digits_net, digits):
    from compresslab.metrics import with_file_bytes

    net32 = digits_net.astype("float32")
    fast = evaluate(net32, digits, digits_net, measure=False, count_file_bytes=False)
    assert fast.file_bytes is None and fast.alpha_bytes is None and "file not written" in fast.summary()
    full = evaluate(net32, digits, digits_net, measure=False)
    with_file_bytes(fast, net32, digits_net)
    assert fast == full


class FakeClock:
    """A clock that only moves when a fake call says how long it took."""

    def __init__(self):
        self.now = 0.0
        self.calls = []

    def __call__(self):
        return self.now

    def run(self, name, durations):
        """A function of the pair index i that 'takes' durations[i] (cycled)."""
        def call(i, *args):
            self.calls.append((name, i))
            self.now += durations[i % len(durations)]
        return call


def test_pairs_alternate_their_order():
    clock = FakeClock()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(metrics, "clock", clock)
        interleaved_times(clock.run("A", [2]), clock.run("B", [1]), min_repeats=4, max_seconds=0)
    assert clock.calls == [("A", 0), ("B", 0), ("B", 1), ("A", 1), ("A", 2), ("B", 2), ("B", 3), ("A", 3)]


def test_measured_speedup_is_the_median_of_interleaved_ratios(monkeypatch):
    """Original takes 2, 2, 2; compressed 1, 1, 4 -> ratios 2, 2, 0.5 -> median 2 (not mean 2/2 = 1)."""
    clock = FakeClock()
    monkeypatch.setattr(metrics, "clock", clock)
    t_a, t_b = interleaved_times(clock.run("A", [2, 2, 2]), clock.run("B", [1, 1, 4]), min_repeats=3,
                                 max_seconds=0)
    assert t_a.tolist() == [2, 2, 2] and t_b.tolist() == [1, 1, 4]
    assert np.median(t_a / t_b) == 2.0


def test_a_steady_machine_stops_at_min_repeats(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(metrics, "clock", clock)
    t_a, _ = interleaved_times(clock.run("A", [3]), clock.run("B", [1]), min_repeats=5, max_seconds=1e9)
    assert len(t_a) == 5                      # spread 0: nothing to gain from more pairs


@pytest.mark.parametrize("max_seconds", [50, 200, 1000])
def test_a_noisy_machine_gets_more_repeats_up_to_the_time_cap(monkeypatch, max_seconds):
    """Ratios 2, 4, 1, 3 (spread 1/3 of the median): the precision is never reached in
    the cap, so pairs are added until the fake clock passes max_seconds."""
    clock = FakeClock()
    monkeypatch.setattr(metrics, "clock", clock)
    t_a, t_b = interleaved_times(clock.run("A", [2, 4, 1, 3]), clock.run("B", [1]), min_repeats=4,
                                 max_seconds=max_seconds, precision=1e-6)
    pair = 2.5 + 1                            # mean fake seconds per pair
    assert max_seconds <= t_a.sum() + t_b.sum() < max_seconds + 4 + 1  # stops within one pair of the cap
    assert len(t_a) > 4 and len(t_a) == pytest.approx(max_seconds / pair, abs=2)


def test_noise_stops_once_the_median_is_precise(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(metrics, "clock", clock)
    t_a, t_b = interleaved_times(clock.run("A", [2, 2.2, 1.8, 2.1, 1.9]), clock.run("B", [1]), min_repeats=5,
                                 max_seconds=1e9, precision=0.01)
    ratios = t_a / t_b
    assert relative_se_of_median(ratios) <= 0.01
    assert relative_se_of_median(ratios[:len(ratios) // 2]) > 0.01       # the round before was not enough
    # 1.2533 * 1.4826 * MAD / median / sqrt(n), by hand for ratios 2, 2.2, 1.8, 2.1, 1.9
    assert relative_se_of_median([2, 2.2, 1.8, 2.1, 1.9]) == pytest.approx(1.2533 * 1.4826 * 0.1 / 2 / np.sqrt(5))


def test_measure_speedup_with_a_fake_clock(monkeypatch, digits_net, digits):
    """Whole path: warm-up, then interleaved pairs on the test set; original 'takes' 2, compressed 1."""
    clock = FakeClock()
    monkeypatch.setattr(metrics, "clock", clock)
    original, compressed = digits_net, digits_net.astype("float32")
    seen = []

    def fake(name, seconds):
        def logits(X):
            seen.append((name, X))
            clock.now += seconds
            return np.zeros((len(X), 10))
        return logits

    monkeypatch.setattr(original, "logits", fake("original", 2.0), raising=False)
    monkeypatch.setattr(compressed, "logits", fake("compressed", 1.0), raising=False)
    result = measure_speedup(original, compressed, digits.X_test, min_repeats=4, max_seconds=1e9)
    assert result.measured == 2.0 and result.spread == 0.0 and result.repeats == 4
    assert result.seconds_original == 2.0 and result.seconds_compressed == 1.0
    assert len(seen) == 2 + 8                                  # one warm-up each, then 4 pairs
    assert all(X is not None and X.shape == digits.X_test.shape for _, X in seen)

    seen.clear()                                               # batch size 1: single rows, in turn
    result = measure_speedup(original, compressed, digits.X_test, batch_size=1, min_repeats=5)
    assert result.batch_size == 1 and result.repeats == 5 and result.measured == 2.0
    rows = [X for name, X in seen[6:] if name == "original"]  # after 3 warm-up pairs
    assert all(X.shape == (1, 64) for X in rows)
    np.testing.assert_array_equal(np.vstack(rows), digits.X_test[:5])


def test_batch_size_and_threads_are_checked(digits_net, digits):
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, 450\]; got 0"):
        measure_speedup(digits_net, digits_net, digits.X_test, batch_size=0)
    with pytest.raises(ValueError, match=r"threads must be in \[1, inf\]; got 0"):
        measure_speedup(digits_net, digits_net, digits.X_test, threads=0)
    with pytest.raises(ValueError, match=r"max_seconds must be in \[0, inf\]; got -1"):
        evaluate(digits_net, digits, max_seconds=-1)


# --- the suite's own background work and timing ---------------------------------------

def _busy_thread(name):
    """A thread inside ``timing_guard(name)`` until released."""
    entered, release = threading.Event(), threading.Event()

    def job():
        with timing_guard(name):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    assert entered.wait(10)
    return thread, release


def test_timing_waits_for_the_suite_to_be_quiet():
    assert busy_jobs() == [] and wait_until_quiet(0) is True
    thread, release = _busy_thread("warm-up")
    try:
        assert busy_jobs() == ["warm-up"]
        assert wait_until_quiet(0.01) is False                # bounded: gives up, says so
    finally:
        release.set()
    assert wait_until_quiet(10) is True
    thread.join(10)
    assert busy_jobs() == []


def test_a_thread_does_not_wait_for_its_own_jobs():
    with timing_guard("my own sweep"):
        assert busy_jobs() == [] and wait_until_quiet(0) is True


def test_timing_beside_busy_suite_work_is_marked_not_quiet(digits_net, digits):
    thread, release = _busy_thread("deflate")
    try:
        result = measure_speedup(digits_net, digits_net, digits.X_test, min_repeats=1, max_seconds=0,
                                 quiet_timeout=0)
    finally:
        release.set()
        thread.join(10)
    assert result.quiet is False and "suite busy meanwhile" in result.how()


def test_timing_resumes_when_the_job_ends(digits_net, digits):
    thread, release = _busy_thread("warm-up")
    threading.Timer(0.05, release.set).start()              # the job ends soon; the wait bound is far
    result = measure_speedup(digits_net, digits_net, digits.X_test, min_repeats=1, max_seconds=0,
                             quiet_timeout=30)
    thread.join(10)
    assert result.quiet is True


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


def test_blas_limits_held_by_several_threads_at_once_leave_the_count_as_it_was():
    """After the main thread has set BLAS's count once (as a measurement does), two
    background threads limit it to 1, overlapping, and end in the order that broke
    it (the first to start ends first): BLAS is at 1 while either holds, and back
    at its own count after, though neither ended on the main thread."""
    import threading

    from compresslab.metrics import _blas_threads_limited

    with _blas_threads_limited(1):
        pass
    before = blas_threads()
    events = {name: threading.Event() for name in ("a in", "a go", "a out", "b in", "b go", "b out")}
    seen = {}

    def hold(me, after):
        events[after].wait(10) if after else None
        with _blas_threads_limited(1) as threads:
            seen[me] = threads
            events[f"{me} in"].set()
            events[f"{me} go"].wait(10)
        events[f"{me} out"].set()

    threads = [threading.Thread(target=hold, args=("a", None)), threading.Thread(target=hold, args=("b", "a in"))]
    for t in threads:
        t.start()
    assert events["b in"].wait(10)
    events["a go"].set()
    assert events["a out"].wait(10)
    after_a = blas_threads()                            # b still holds it
    events["b go"].set()
    for t in threads:
        t.join(10)
    assert seen == {"a": 1, "b": 1} and after_a == 1
    assert blas_threads() == before
