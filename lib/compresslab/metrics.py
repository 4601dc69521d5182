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

Speedup is always given twice: measured (median ratio of interleaved,
warmed-up timings of the whole forward pass on the same batch) and
theoretical (FLOPs ratio). They differ, and the difference teaches something:
NumPy has no fast low-bit or sparse matmul, and small matrices are dominated
by call overhead. Only the layer protocol is used, never a technique's name.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

import numpy as np

from ._validation import (check_array_2d, check_bool, check_callable, check_choice, check_float, check_int,
                          check_network)
from .network import Network, float_dtype

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


@dataclass
class Speedup:
    """delta = s / s*, measured and theoretical, with how it was measured."""

    measured: float
    theoretical: float
    seconds_original: float
    seconds_compressed: float
    batch_size: int
    repeats: int
    blas_threads: int


def blas_threads() -> int:
    """Threads the BLAS behind NumPy uses (recorded with every timing)."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else 1


def time_forward(network: Network, X, repeats: int = 7, warmup: bool = True) -> float:
    """Median seconds of ``network.logits(X)`` (after one warm-up call)."""
    _check_network("network", network)
    X = check_array_2d("X", X, n_features=network.n_features)
    repeats = check_int("repeats", repeats, low=1)
    check_bool("warmup", warmup)
    if warmup:
        network.logits(X)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        network.logits(X)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def speedup(original: Network, compressed: Network, X, repeats: int = 7) -> Speedup:
    """delta = s / s*: measured on the whole forward pass over the batch ``X``.

    Timings are interleaved (original, compressed, original, ...) after a
    warm-up of each, so a slow moment of the machine hits both; the measured
    delta is the median of the per-pair ratios. The theoretical delta is the
    ratio of FLOPs.
    """
    _check_network("original", original)
    _check_network("compressed", compressed)
    if compressed.n_features != original.n_features:
        raise ValueError(f"compressed must take the same inputs as original ({original.n_features} features); "
                         f"got {compressed.n_features}")
    X = check_array_2d("X", X, n_features=original.n_features)
    repeats = check_int("repeats", repeats, low=1)
    original.logits(X), compressed.logits(X)                   # warm-up
    t_orig, t_comp = [], []
    for _ in range(repeats):
        for net, times in ((original, t_orig), (compressed, t_comp)):
            start = time.perf_counter()
            net.logits(X)
            times.append(time.perf_counter() - start)
    ratios = np.array(t_orig) / np.array(t_comp)
    n = X.shape[0]
    return Speedup(measured=float(np.median(ratios)),
                   theoretical=original.flops(n) / compressed.flops(n),
                   seconds_original=float(np.median(t_orig)), seconds_compressed=float(np.median(t_comp)),
                   batch_size=n, repeats=repeats, blas_threads=blas_threads())


@dataclass
class Report:
    """Everything a notebook shows about one (compressed) network.

    ``alpha``/``beta`` are by bits (everything needed to rebuild the model);
    ``alpha_params`` and ``alpha_bytes`` count numbers and real file bytes.
    ``speedup_measured`` is None when timing was skipped (``measure=False``).
    """

    accuracy: float
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

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        measured = "not measured" if self.speedup_measured is None else f"{self.speedup_measured:.2f}x"
        file = "file not written" if self.file_bytes is None else f"{self.file_bytes:,} bytes"
        alpha_bytes = "-" if self.alpha_bytes is None else f"{self.alpha_bytes:.2f}"
        return (f"accuracy {self.accuracy:.4f} | {self.params:,} params | {file} | "
                f"alpha {self.alpha:.2f} (bits), {self.alpha_params:.2f} (params), "
                f"{alpha_bytes} (bytes) | beta {self.beta:.2f} | "
                f"delta {self.speedup_theoretical:.2f}x (FLOPs), {measured} (measured)")


def evaluate(network: Network, dataset, baseline: Network | None = None, *, measure=True,
             repeats: int = 5, baseline_dtype="float64", baseline_seconds: float | None = None,
             count_file_bytes: bool = True, label: str = "") -> Report:
    """Accuracy on the test split and every size/speed criterion against ``baseline``.

    ``baseline`` defaults to ``network`` itself (alpha = 1, delta = 1 for a
    float64 network). ``measure=False`` skips the timing. For slider speed,
    ``baseline_seconds`` (the baseline's forward time on the test set, timed
    once with ``time_forward``) replaces the interleaved timing: only the
    network is timed, and measured delta = baseline_seconds / its time.
    ``count_file_bytes=False`` leaves ``file_bytes`` and ``alpha_bytes`` as None (deflating
    a large file takes tens of ms; a dashboard fills them in afterwards with
    ``with_file_bytes``).
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
        baseline_seconds = check_float("baseline_seconds", baseline_seconds, low=0, low_open=True)
    check_bool("measure", measure)
    check_bool("count_file_bytes", count_file_bytes)
    X, y = dataset.X_test, dataset.y_test
    reference = as_baseline(baseline, baseline_dtype)
    n = X.shape[0]
    units = SIZE_UNITS if count_file_bytes else ("params", "bits")
    size = {by: model_size(network, by) for by in units}
    ref_size = {by: model_size(reference, by) for by in units}
    report = Report(accuracy=network.score(X, y), params=size["params"], storage_bits=size["bits"],
                    file_bytes=size.get("bytes"), flops=network.flops(n),
                    alpha=ref_size["bits"] / size["bits"], beta=ref_size["bits"] / size["bits"] - 1,
                    alpha_params=ref_size["params"] / size["params"],
                    alpha_bytes=ref_size["bytes"] / size["bytes"] if count_file_bytes else None,
                    speedup_theoretical=reference.flops(n) / network.flops(n), label=label)
    if measure and baseline_seconds is not None:
        report.seconds = time_forward(network, X, repeats=repeats, warmup=False)  # score() warmed it
        report.speedup_measured = baseline_seconds / report.seconds
    elif measure:
        timing = speedup(reference, network, X, repeats=repeats)
        report.speedup_measured, report.seconds = timing.measured, timing.seconds_compressed
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
