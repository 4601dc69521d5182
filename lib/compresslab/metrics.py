"""The criteria of Cheng et al. 2018 ("Model compression and acceleration for
deep neural networks"), computed honestly.

- compression rate    alpha = a / a*      (a, a*: size of original, compressed)
- index space saving  beta  = a / a* - 1
- speedup rate        delta = s / s*      (s, s*: running time of original, compressed)

Sizes are counted three ways: ``params`` (how many numbers), ``bits`` (what
the layers need to be rebuilt: values, indices, codebooks, scales, biases) and
``bytes`` (the length of a real ``np.savez_compressed`` file). The original is
counted as stored in ``baseline_dtype``: float64 by default, because the
lecture's source model (Scala) and scikit-learn both store 64-bit doubles.

Speedup is always given twice: measured (``measure_speedup``: the median
ratio of interleaved, warmed-up timings of both networks in one measurement,
BLAS threads fixed through threadpoolctl, at the whole test set and at batch
size 1, never while the suite's own background work runs: ``timing_guard``)
and theoretical (FLOPs ratio). They differ, and the difference teaches something:
NumPy has no fast low-bit or sparse matmul, and small matrices are dominated
by call overhead. Only the layer protocol is used, never a technique's name.
"""
from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

import numpy as np

from ._validation import (check_array_2d, check_bool, check_callable, check_choice, check_float, check_int,
                          check_network)
from .network import Network, float_dtype
from .stats import accuracy_se, relative_mad

SIZE_UNITS = ("params", "bits", "bytes")


def _check_network(name, network):
    check_network(name, network, finite=False)     # sizes and times do not need finite weights


def as_baseline(network: Network, baseline_dtype="float64") -> Network:
    """The network counted as stored in ``baseline_dtype`` (None: as it is).

    No copy when it already is: ``evaluate`` runs on every slider move."""
    if baseline_dtype is None or network.dtype == float_dtype(baseline_dtype):
        return network
    return network.astype(float_dtype(baseline_dtype))


def model_size(network: Network, by: str = "bits") -> int:
    """Size of a network in params, bits (to rebuild it) or bytes (a real file)."""
    _check_network("network", network)
    check_choice("by", by, SIZE_UNITS)
    if by == "params":
        return network.n_params
    if by == "bits":
        return network.storage_bits()
    return network.serialized_bytes()


def compression_rate(original: Network, compressed: Network, by: str = "bits",
                     baseline_dtype="float64") -> float:
    """alpha = a / a*: how many times smaller ``compressed`` is than ``original``.

    ``baseline_dtype`` is the dtype the original is counted in (None: as it is).
    """
    _check_network("original", original)
    _check_network("compressed", compressed)
    check_choice("by", by, SIZE_UNITS)
    if baseline_dtype is not None:
        float_dtype(baseline_dtype, "baseline_dtype")
    return model_size(as_baseline(original, baseline_dtype), by) / model_size(compressed, by)


def index_space_saving(original: Network, compressed: Network, by: str = "bits",
                       baseline_dtype="float64") -> float:
    """beta = a / a* - 1 (0 means no saving)."""
    return compression_rate(original, compressed, by, baseline_dtype) - 1.0


# --- timing that holds still -------------------------------------------------------------

METHOD = "interleaved median of ratios"

# The clock every timing reads. Tests replace ``metrics.clock`` with a fake one
# (never the global ``time.perf_counter``, which other code reads too).
clock = time.perf_counter


class _TimingGuard:
    """Who in the suite is computing right now (per thread), and a count of every start."""

    def __init__(self):
        self.condition = threading.Condition()
        self.busy: dict[int, list[str]] = {}       # thread id -> names of its running jobs
        self.starts = 0                            # grows by one at every registration

    def others(self) -> list[str]:
        me = threading.get_ident()
        return [name for tid, names in self.busy.items() if tid != me for name in names]


_guard = _TimingGuard()


@contextmanager
def timing_guard(name: str = "background work"):
    """Mark a computation of the suite as busy: timings wait (bounded) until it ends.

    A dashboard wraps its background jobs (warm-up threads, deflating files,
    fine-tuning) in it::

        def _warm(self):
            with metrics.timing_guard("quantization warm-up"):
                ...                       # heavy NumPy work

    and every ``speedup`` / ``evaluate`` timing first calls ``wait_until_quiet``,
    so no timing runs while the suite itself computes. A thread's own jobs never
    block its own timing.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string naming the job; got {name!r}")
    tid = threading.get_ident()
    with _guard.condition:
        _guard.busy.setdefault(tid, []).append(name)
        _guard.starts += 1
    try:
        yield
    finally:
        with _guard.condition:
            _guard.busy[tid].remove(name)
            if not _guard.busy[tid]:
                del _guard.busy[tid]
            _guard.condition.notify_all()


def busy_jobs() -> list[str]:
    """Names of the suite's jobs running now in other threads (see ``timing_guard``)."""
    with _guard.condition:
        return _guard.others()


def wait_until_quiet(timeout: float = 5.0) -> bool:
    """Wait until no job of the suite runs in another thread, at most ``timeout`` seconds.

    Returns True when quiet, False when the wait timed out (the timing then goes
    ahead and is recorded as ``quiet=False``)."""
    timeout = check_float("timeout", timeout, low=0)
    with _guard.condition:
        return _guard.condition.wait_for(lambda: not _guard.others(), timeout=timeout)


_blas_lock = threading.Lock()
_blas_holds: dict = {}           # one entry per limit in force: id of its token -> the thread count it asks
_blas_own = None                 # each BLAS library's own thread count, kept while a limit is in force
_blas_libs = None                # (setters, getters) of the BLAS libraries loaded at the latest first limit
_blas_modules = -1               # len(sys.modules) when _blas_libs was read
_blas_any_thread = True          # every BLAS library's count can be set from any thread (_blas_setters)


def _blas_setters():
    """For every BLAS library loaded: a function setting its thread count from any thread,
    and one reading it. OpenBLAS's ``openblas_set_num_threads`` is obeyed from a thread
    other than the main one only until the main thread has called it once (measured);
    ``openblas_set_num_threads_local`` (OpenBLAS 0.3.27+) is obeyed from any thread and
    sets the same process-wide count. Other libraries: threadpoolctl's setter.

    Listing the libraries takes ~3 ms (threadpoolctl walks every loaded shared
    object), too much for each slider move, so the list is kept; a BLAS library is
    loaded by an import (numpy, scipy.linalg, torch), so it is read again only when
    ``sys.modules`` has grown since."""
    global _blas_libs, _blas_modules, _blas_any_thread
    if _blas_libs is not None and _blas_modules == len(sys.modules):
        return _blas_libs
    from threadpoolctl import ThreadpoolController

    libs = ThreadpoolController().select(user_api="blas").lib_controllers     # ~1 ms: at a first limit
    setters, getters = [], []
    _blas_any_thread = True
    for lib in libs:
        local = getattr(getattr(lib, "dynlib", None), "openblas_set_num_threads_local", None)
        if local is not None:
            local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
            setters.append(local)
        else:
            setters.append(lib.set_num_threads)
            _blas_any_thread = _blas_any_thread and getattr(lib, "internal_api", "") != "openblas"
        getters.append(lambda lib=lib: lib.num_threads)
    _blas_libs, _blas_modules = (setters, getters), len(sys.modules)
    return _blas_libs


def _blas_limits_from_the_main_thread_are_safe() -> bool:
    """Whether the kernel's (main) thread may limit BLAS without breaking the background
    threads' limits: not with an OpenBLAS older than 0.3.27 (numpy < 2), whose
    ``openblas_set_num_threads`` then ignores the other threads (see ``_blas_setters``)."""
    with _blas_lock:
        _blas_setters()
        return _blas_any_thread


def _blas_apply() -> None:
    """Under ``_blas_lock``: BLAS at the fewest threads any hold asks, or at its own
    count when none is left."""
    global _blas_own
    setters, _ = _blas_libs
    if _blas_holds:
        counts = [min(_blas_holds.values())] * len(setters)
    else:
        counts, _blas_own = _blas_own, None                         # each library back to its own count
    for set_threads, count in zip(setters, counts):
        set_threads(count)


@contextmanager
def _blas_threads_limited(threads: int, *, below_own: bool = False):
    """BLAS limited to ``threads`` threads; yields the count in effect. ``below_own``:
    never more than BLAS's own count (a timing may ask for more; a move never does).

    BLAS's thread count is one setting for the whole process, and threads of the
    suite (a warm-up, a measurement, the prefetch) limit it at once. When each
    saved and restored the count it found, the count was left wrong: A saves 2
    and sets 1, B saves 1, A restores 2, B restores 1; and OpenBLAS ignored a
    background thread's "back to 2" once the main thread had set it (see
    ``_blas_setters``). The kernel then ran every product on one thread for the
    rest of the session (a quantization move 26 ms instead of 17). So the limits
    in force are counted here: BLAS runs at the fewest threads any of them asks,
    and returns to its own count when the last one ends, whichever thread ends it."""
    global _blas_own
    token = object()
    with _blas_lock:
        if not _blas_holds:
            _, getters = _blas_setters()
            _blas_own = [get() for get in getters]
        _blas_holds[id(token)] = min(threads, min(_blas_own)) if below_own and _blas_own else threads
        _blas_apply()
        counts = [get() for get in _blas_libs[1]]
    try:
        yield max(counts) if counts else 1
    finally:
        with _blas_lock:
            del _blas_holds[id(token)]
            _blas_apply()


@contextmanager
def _gc_paused():
    """No garbage collection inside a timing (as ``timeit`` does): a collection
    would land on one network's call only."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def relative_se_of_median(ratios) -> float:
    """Standard error of the median, relative to it, for n roughly normal values:
    1.2533 * sigma / sqrt(n) with sigma ~ 1.4826 * MAD."""
    ratios = np.asarray(ratios, dtype=float)
    return 1.2533 * 1.4826 * relative_mad(ratios) / np.sqrt(ratios.size)


def interleaved_times(run_a: Callable[[int], object], run_b: Callable[[int], object], *, min_repeats: int,
                      max_seconds: float, precision: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of ``run_a(i)`` and ``run_b(i)`` timed in adjacent pairs, i = 0, 1, 2, ...

    The order alternates A B, B A, A B, ... so that a steady drift of the
    machine (a clock ramping up, a cache filling) favours neither. After
    ``min_repeats`` pairs, more pairs are timed while the median ratio is still
    uncertain (its relative standard error above ``precision``, see
    ``relative_se_of_median``) and the time spent is below ``max_seconds``:
    a noisy machine gets more repeats, a quiet one finishes early.
    """
    t_a, t_b = [], []
    start = clock()
    target, i = min_repeats, 0
    while True:
        while i < target and (i < min_repeats or clock() - start < max_seconds):
            order = ((run_a, t_a), (run_b, t_b)) if i % 2 == 0 else ((run_b, t_b), (run_a, t_a))
            for run, times in order:
                t0 = clock()
                run(i)
                times.append(clock() - t0)
            i += 1
        if i < target or relative_se_of_median(np.array(t_a) / np.array(t_b)) <= precision:
            return np.array(t_a), np.array(t_b)
        target = 2 * i


@dataclass
class Speedup:
    """delta = s / s*, measured and theoretical, with how it was measured.

    ``seconds_*`` are medians per call of ``batch_size`` samples; ``repeats`` is
    the number of interleaved pairs; ``spread`` is MAD / median of the per-pair
    ratios; ``quiet`` is False when the suite's own background work ran during
    the timing (see ``timing_guard``).
    """

    measured: float
    theoretical: float
    seconds_original: float
    seconds_compressed: float
    batch_size: int
    repeats: int
    blas_threads: int
    spread: float = 0.0
    method: str = METHOD
    quiet: bool = True

    @property
    def kind(self) -> str:
        return "latency" if self.batch_size == 1 else "throughput"

    def how(self) -> str:
        """How the time was taken, in one line."""
        threads = f"{self.blas_threads} BLAS thread" + ("s" if self.blas_threads != 1 else "")
        noisy = "; suite busy meanwhile" if not self.quiet else ""
        return (f"batch {self.batch_size:,}, {threads}, {self.method} of {self.repeats} pairs, "
                f"spread {100 * self.spread:.0f} %{noisy}")

    def summary(self) -> str:
        return (f"{self.kind}: delta {self.measured:.2f}x measured ({self.how()}), "
                f"{self.theoretical:.2f}x by FLOPs")


def blas_threads() -> int:
    """Threads the BLAS behind NumPy uses now (outside a timing, which sets its own)."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else 1


def time_forward(network: Network, X, repeats: int = 7, warmup: bool = True, *, threads: int = 1) -> float:
    """Median seconds of ``network.logits(X)`` with ``threads`` BLAS threads (after one warm-up call).

    Alone, a time says little on a shared machine: for a speedup use
    ``measure_speedup``, which times both networks interleaved."""
    _check_network("network", network)
    X = check_array_2d("X", X, n_features=network.n_features)
    repeats = check_int("repeats", repeats, low=1)
    check_bool("warmup", warmup)
    threads = check_int("threads", threads, low=1)
    with _blas_threads_limited(threads), _gc_paused():
        if warmup:
            network.logits(X)
        times = []
        for _ in range(repeats):
            start = clock()
            network.logits(X)
            times.append(clock() - start)
    return float(np.median(times))


LATENCY_REPEATS = 300            # single-sample calls are short and noisy: a few hundred pairs


def measure_speedup(original: Network, compressed: Network, X, *, threads: int = 1, batch_size: int | None = None,
                    min_repeats: int | None = None, max_seconds: float = 1.0, precision: float = 0.02,
                    quiet_timeout: float = 5.0) -> Speedup:
    """delta = s / s*, measured so that it holds still, and by FLOPs.

    - both networks are timed in the same measurement, in interleaved pairs
      (A B, B A, ...) after a warm-up, and delta is the median of the per-pair
      ratios s_i / s*_i: a busy moment of the machine hits both halves of a pair;
    - BLAS is held at ``threads`` threads (threadpoolctl; 1 by default: a
      latency, and no fight for the cores with the rest of the machine);
    - ``batch_size=None`` times the whole of ``X`` per call (throughput);
      ``batch_size=1`` times single samples, cycling through the rows of X
      (latency; ``min_repeats`` defaults to 300 pairs then, else 7);
    - noisy machine: pairs are added until the median ratio is known to
      ``precision`` (relative standard error) or ``max_seconds`` have passed;
    - it first waits (at most ``quiet_timeout`` s) until no background job of
      the suite runs (``timing_guard``).

    The theoretical delta is the FLOPs ratio at the same batch size.
    """
    _check_network("original", original)
    _check_network("compressed", compressed)
    if compressed.n_features != original.n_features:
        raise ValueError(f"compressed must take the same inputs as original ({original.n_features} features); "
                         f"got {compressed.n_features}")
    X = check_array_2d("X", X, n_features=original.n_features)
    n = X.shape[0]
    if n == 0:
        raise ValueError("X must hold at least one sample to time; got 0 rows")
    threads = check_int("threads", threads, low=1)
    batch = n if batch_size is None else check_int("batch_size", batch_size, low=1, high=n)
    if min_repeats is None:
        min_repeats = LATENCY_REPEATS if batch == 1 else 7
    min_repeats = check_int("min_repeats", min_repeats, low=1)
    max_seconds = check_float("max_seconds", max_seconds, low=0)
    precision = check_float("precision", precision, low=0)
    quiet_timeout = check_float("quiet_timeout", quiet_timeout, low=0)
    batches = [X[k * batch:(k + 1) * batch] for k in range(n // batch)]      # each (batch, n_features)

    quiet = wait_until_quiet(quiet_timeout)
    starts = _guard.starts
    with _blas_threads_limited(threads) as threads_in_effect, _gc_paused():
        for xb in batches[:3]:                                                # warm-up
            original.logits(xb), compressed.logits(xb)
        t_orig, t_comp = interleaved_times(lambda i: original.logits(batches[i % len(batches)]),
                                           lambda i: compressed.logits(batches[i % len(batches)]),
                                           min_repeats=min_repeats, max_seconds=max_seconds, precision=precision)
    quiet = quiet and _guard.starts == starts and not busy_jobs()            # nothing started meanwhile
    ratios = t_orig / t_comp
    return Speedup(measured=float(np.median(ratios)),
                   theoretical=original.flops(batch) / compressed.flops(batch),
                   seconds_original=float(np.median(t_orig)), seconds_compressed=float(np.median(t_comp)),
                   batch_size=batch, repeats=len(ratios), blas_threads=threads_in_effect,
                   spread=relative_mad(ratios), quiet=quiet)


def speedup(original: Network, compressed: Network, X, repeats: int = 7, *, threads: int = 1,
            batch_size: int | None = None, max_seconds: float = 1.0) -> Speedup:
    """delta = s / s*: ``measure_speedup`` with at least ``repeats`` interleaved pairs.

    ``batch_size=None``: the whole batch ``X`` per call (throughput);
    ``batch_size=1``: single samples (latency). See ``measure_speedup``.
    """
    repeats = check_int("repeats", repeats, low=1)
    return measure_speedup(original, compressed, X, threads=threads, batch_size=batch_size, min_repeats=repeats,
                           max_seconds=max_seconds)


@dataclass
class Report:
    """Everything a notebook shows about one (compressed) network.

    ``accuracy`` is on the ``n_test`` test samples, with its binomial standard
    error ``accuracy_se`` = sqrt(p (1 - p) / n_test).
    ``alpha``/``beta`` are by bits (everything needed to rebuild the model);
    ``alpha_params`` and ``alpha_bytes`` count numbers and real file bytes.
    ``speedup_measured`` (throughput: the whole test set per call) and
    ``seconds`` (its median time per call) come from ``timing``, the full
    record of how the time was taken (method, threads, batch size, repeats,
    spread); ``latency`` is the same at batch size 1. All three are None when
    timing was skipped (``measure=False``).
    """

    accuracy: float
    n_test: int
    accuracy_se: float
    params: int
    storage_bits: int            # bits needed to rebuild the model (values, indices, scales, biases)
    file_bytes: int | None       # length of a real np.savez_compressed file (None: not written)
    flops: int
    alpha: float
    beta: float
    alpha_params: float
    alpha_bytes: float | None
    speedup_theoretical: float
    speedup_measured: float | None = None
    seconds: float | None = None
    label: str = ""
    timing: Speedup | None = None          # throughput: the whole test set per call
    latency: Speedup | None = None         # batch size 1

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        file = "file not written" if self.file_bytes is None else f"{self.file_bytes:,} bytes"
        alpha_bytes = "-" if self.alpha_bytes is None else f"{self.alpha_bytes:.2f}"
        text = (f"accuracy {100 * self.accuracy:.1f} % ± {100 * self.accuracy_se:.1f} (n = {self.n_test:,}) | "
                f"{self.params:,} params | {file} | "
                f"alpha {self.alpha:.2f} (bits), {self.alpha_params:.2f} (params), "
                f"{alpha_bytes} (bytes) | beta {self.beta:.2f} | delta {self.speedup_theoretical:.2f}x (FLOPs)")
        if self.timing is None:
            return text + ", not measured"
        for timing in (self.timing, self.latency):
            if timing is not None:
                text += f"\n  {timing.kind}: delta {timing.measured:.2f}x measured ({timing.how()})"
        return text


def evaluate(network: Network, dataset, baseline: Network | None = None, *, measure=True,
             repeats: int = 5, baseline_dtype="float64", baseline_seconds: float | None = None,
             count_file_bytes: bool = True, label: str = "", threads: int = 1, latency: bool = True,
             max_seconds: float = 1.0, test_logits=None) -> Report:
    """Accuracy (± its standard error) on the test split and every size/speed criterion against ``baseline``.

    ``baseline`` defaults to ``network`` itself (alpha = 1, delta = 1 for a
    float64 network). ``measure=False`` skips the timing. Measured delta always
    times the baseline and the network together (``measure_speedup``): at
    least ``repeats`` interleaved pairs on the whole test set (throughput,
    ``report.timing``) and, when ``latency``, a few hundred single-sample pairs
    (``report.latency``); BLAS at ``threads`` threads; each measurement stops
    adding pairs after ``max_seconds``.
    ``baseline_seconds`` is deprecated and ignored (it timed the baseline once,
    at load, in other conditions than the network); it goes in the next release.
    ``count_file_bytes=False`` leaves ``file_bytes`` and ``alpha_bytes`` as None (deflating
    a large file takes tens of ms; a dashboard fills them in afterwards with
    ``with_file_bytes``).
    ``test_logits``: ``network.logits(dataset.X_test)`` when the caller already has
    them (a dashboard that reused the activations of the layers a move did not
    change); the accuracy is then computed from them (``score_logits``).
    """
    check_network("network", network)
    baseline = network if baseline is None else baseline
    check_network("baseline", baseline)
    if not (hasattr(dataset, "X_test") and hasattr(dataset, "y_test")):
        raise TypeError(f"dataset must be a compresslab Dataset (with X_test and y_test); got {type(dataset).__name__}")
    if baseline_dtype is not None:
        float_dtype(baseline_dtype, "baseline_dtype")
    repeats = check_int("repeats", repeats, low=1)
    if baseline_seconds is not None:
        check_float("baseline_seconds", baseline_seconds, low=0, low_open=True)
        warnings.warn("evaluate(baseline_seconds=...) is deprecated and ignored: the baseline is now timed "
                      "together with the network, interleaved (measure_speedup); drop the argument",
                      DeprecationWarning, stacklevel=2)
    check_bool("measure", measure)
    check_bool("count_file_bytes", count_file_bytes)
    check_bool("latency", latency)
    threads = check_int("threads", threads, low=1)
    max_seconds = check_float("max_seconds", max_seconds, low=0)
    X, y = dataset.X_test, dataset.y_test
    reference = as_baseline(baseline, baseline_dtype)
    n = X.shape[0]
    units = SIZE_UNITS if count_file_bytes else ("params", "bits")
    size = {by: model_size(network, by) for by in units}
    ref_size = {by: model_size(reference, by) for by in units}
    accuracy = network.score(X, y) if test_logits is None else network.score_logits(test_logits, y)
    report = Report(accuracy=accuracy, n_test=n, accuracy_se=accuracy_se(accuracy, n),
                    params=size["params"], storage_bits=size["bits"],
                    file_bytes=size.get("bytes"), flops=network.flops(n),
                    alpha=ref_size["bits"] / size["bits"], beta=ref_size["bits"] / size["bits"] - 1,
                    alpha_params=ref_size["params"] / size["params"],
                    alpha_bytes=ref_size["bytes"] / size["bytes"] if count_file_bytes else None,
                    speedup_theoretical=reference.flops(n) / network.flops(n), label=label)
    if measure:
        report.timing = measure_speedup(reference, network, X, threads=threads, min_repeats=repeats,
                                        max_seconds=max_seconds)
        report.speedup_measured, report.seconds = report.timing.measured, report.timing.seconds_compressed
        if latency:
            report.latency = measure_speedup(reference, network, X, threads=threads, batch_size=1,
                                             max_seconds=max_seconds)
    return report


def with_file_bytes(report: Report, network: Network, baseline: Network, baseline_dtype="float64") -> Report:
    """Fill in ``file_bytes`` and ``alpha_bytes`` of a report made with ``count_file_bytes=False``."""
    reference = as_baseline(baseline, baseline_dtype)
    report.file_bytes = model_size(network, "bytes")
    report.alpha_bytes = model_size(reference, "bytes") / report.file_bytes
    return report


def sweep(make_network: Callable[[object], Network], values: Iterable, dataset, baseline: Network,
          **evaluate_kwargs) -> list[Report]:
    """Reports for ``make_network(v)`` at each v: the points of a curve.

    Each report's ``label`` is ``str(v)``.
    """
    check_callable("make_network", make_network, allow_none=False)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"values must be a list of the values to sweep; got {values!r}")
    return [evaluate(make_network(v), dataset, baseline, label=str(v), **evaluate_kwargs) for v in values]
