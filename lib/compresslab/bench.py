"""Benchmarks: ``python -m compresslab.bench`` prints what the suite costs here.

Speed is measured by this command, never by timed tests. Every timing is the
median of several repeats after a warm-up; the BLAS thread count is printed.

Sections:
- core: forward pass through ``Network`` vs the raw ``X @ W + b`` chain
  (the engine's overhead), ``evaluate``, one training epoch, ``load_pretrained``;
- speed-stability: ten readings of the same measured speedup agree within 15 %
  (idle, and with one core kept busy by another process);
- training: one epoch against scikit-learn's MLPClassifier, float64 and float32;
  ``quantize`` per scheme;
- pruning, pruning-break-even, distillation: the families' own tables
  (bench_pruning.py, bench_distillation.py);
- dashboards: how long one control change takes inside the kernel, the build,
  and moves while a warm-up runs;
- dashboard-stability: ten readings of the same dashboard setting taken as a
  user would (away, back, wait for the measurement), idle and one core busy;
- memory: peak RSS of building and stressing each dashboard (budget 400 MB).
- notebooks (opt-in: ``--notebooks``): each notebook run top to bottom on a fresh
  kernel, its time against its budget. The tests only check that the notebooks
  run; whether they run fast enough is measured here, on an idle machine.
"""
from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .data import load_dataset
from .metrics import _blas_threads_limited, blas_threads, evaluate
from .stats import relative_mad
from .models import load_pretrained
from .network import activate, from_sklearn
from .training import train


def median_seconds(fn, repeats=7, warmup=1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def interleaved_medians(fns, repeats=15) -> list[float]:
    """Median seconds of each function, timed in turns (a, b, a, b, ...) so that
    a busy moment of the machine hits all of them alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, t in zip(fns, times):
            start = time.perf_counter()
            fn()
            t.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def raw_forward(weights, biases, X):
    """The same model as a bare chain of matrix products (the lower bound)."""
    A = X
    for W, b in zip(weights[:-1], biases[:-1]):
        A = np.maximum(A @ W + b, 0)
    return activate("softmax", A @ weights[-1] + biases[-1])


def import_seconds() -> float:
    """Seconds for ``import compresslab`` in a fresh interpreter (median of 5)."""
    import subprocess
    import sys

    code = "import time; t = time.perf_counter(); import compresslab; print(time.perf_counter() - t)"
    return float(np.median([float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                 check=True).stdout) for _ in range(5)]))


def bench_core(names=("digits", "mnist-5k")) -> list[dict]:
    rows = []
    import_ms = 1e3 * import_seconds()
    for name in names:
        ds = load_dataset(name)
        load_s = median_seconds(lambda: load_pretrained(name), repeats=5)
        net = from_sklearn(load_pretrained(name))
        W = [layer.weight for layer in net.layers]
        b = [layer.bias for layer in net.layers]
        X = ds.X_test
        net_s, raw_s = interleaved_medians([lambda: net.predict_proba(X), lambda: raw_forward(W, b, X)],
                                           repeats=21)
        eval_s = median_seconds(lambda: evaluate(net, ds), repeats=3)
        eval_fast_s = median_seconds(lambda: evaluate(net, ds, measure=False), repeats=5)
        epoch_s = median_seconds(lambda: train(net.copy(), ds.X_train, ds.y_train, epochs=1,
                                               progress=False), repeats=3, warmup=0)
        rows.append(dict(dataset=name, test_samples=len(X), network_ms=1e3 * net_s, raw_ms=1e3 * raw_s,
                         overhead=net_s / raw_s, evaluate_ms=1e3 * eval_s, evaluate_nomeasure_ms=1e3 * eval_fast_s,
                         epoch_s=epoch_s, load_pretrained_ms=1e3 * load_s, import_ms=import_ms))
    return rows


FIRST_VISIT_ROUNDS = 3      # back-to-back first visits pooled over rounds: one round is 17 moves


def _time_moves(dash, moves, threads=None) -> list[float]:
    """Seconds per control change, including the diff image ipympl would send, encoded
    as the suite's figures encode it (``plots.blit.DiffEncoder``: changed pixels only,
    unfiltered PNG). ``threads``: a list to append each move's BLAS thread count to
    (``dash.move_threads``; BLAS's own count where the move did not limit it)."""
    from .plots.blit import DiffEncoder

    encoder = DiffEncoder()
    encoder.encode(dash.fig.canvas.buffer_rgba())
    times = []
    for name, value in moves:
        t = time.perf_counter()
        dash.controls[name].value = value
        encoder.encode(dash.fig.canvas.buffer_rgba())
        times.append(time.perf_counter() - t)
        assert dash.last_error is None, dash.last_error
        if threads is not None:
            threads.append(dash.move_threads or blas_threads())
    return times


@contextmanager
def _one_core_busy():
    """Another process keeps a core busy meanwhile (a classroom laptop is never idle).
    Waits until the dashboards' ``CoreShare`` has had a whole window of it."""
    import subprocess
    import sys

    from .dashboards.cores import CORES

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(2.5 * CORES.window)
        CORES.update()
        yield
    finally:
        spinner.kill()
        spinner.wait()
        time.sleep(1.5 * CORES.window)       # a fresh reading: the rows after this one see an idle machine
        CORES.update()


def _threads_text(threads) -> str:
    """The BLAS thread counts moves used: "2", or "1-2"."""
    low, high = min(threads), max(threads)
    return str(low) if low == high else f"{low}-{high}"


def _lowrank_first_visits(dash, moves, start_ranks, threads) -> list[float]:
    """The rank-slider moves from ``start_ranks``, every setting computed afresh."""
    with dash.syncing():
        for name, value in start_ranks.items():
            dash.controls[name].value = value
    dash.refresh()
    dash.settle(timeout=60)
    dash.reports.clear()
    dash.prefix_forward._kept.clear()
    return _time_moves(dash, moves, threads)


def _quantization_first_visits(dash, moves, start_setting, threads) -> list[float]:
    """``FIRST_VISIT_ROUNDS`` rounds of ``moves`` from the same start, every setting
    forgotten before each: first visits, back to back."""
    times = []
    for _ in range(FIRST_VISIT_ROUNDS):
        for name, value in start_setting.items():
            dash.controls[name].value = value
        dash.settle(timeout=60)
        dash.forget_visits()
        times += _time_moves(dash, moves, threads)
    return times


def bench_dashboards() -> list[dict]:
    """Milliseconds from setting a control's value to a redrawn figure, in the kernel.

    Drawing uses Agg synchronously (what ipympl renders after the callback),
    and each time includes the PNG diff image ipympl then sends, so a time is
    compute + evaluate + redraw. The introduction redraws its whole figure;
    the low-rank dashboard blits its moving artists. "first" visits a setting
    for the first time, "again" revisits it.
    """
    import matplotlib

    matplotlib.use("Agg")
    from .dashboards import IntroductionDashboard, LowRankDashboard, QuantizationDashboard

    rows = []
    start = time.perf_counter()
    dash = IntroductionDashboard(dataset="mnist-5k")
    build_s = time.perf_counter() - start
    dash.warmup.join()                     # file sizes compressed in the background
    warm_s = time.perf_counter() - start
    moves = [("hidden1", v) for v in (200, 100, 64, 32, 300)] + [("hidden2", v) for v in (64, 32, 0, 100)] + \
        [("dtype", "float32"), ("dtype", "float64")]
    for visit in ("first", "again"):
        times = _time_moves(dash, moves)
        rows.append(dict(dashboard="introduction (mnist-5k)", visit=visit, moves=len(moves),
                         median_ms=1e3 * float(np.median(times)), max_ms=1e3 * max(times),
                         build_s=build_s, ready_s=warm_s))
    dash.settle(timeout=60)
    dash.close()

    start = time.perf_counter()
    dash = LowRankDashboard(dataset="mnist-5k")
    build_s = time.perf_counter() - start
    dash.fig.canvas.draw()                 # the first full draw, as the browser asks for it
    moves = [(f"rank{i}", k) for i, ranks in enumerate([(5, 10, 20, 50, 100, 200), (5, 20, 50, 90), (3, 5, 8)])
             for k in ranks]
    start_ranks = {name: dash.controls[name].value for name, _ in moves}
    for visit in ("first", "again"):
        for name, value in start_ranks.items():     # "again" revisits the very same settings
            dash.controls[name].value = value
        threads = []
        times = _time_moves(dash, moves, threads)
        dash.settle(timeout=60)
        rows.append(dict(dashboard="low-rank, rank sliders (mnist-5k)", visit=visit, moves=len(moves),
                         median_ms=1e3 * float(np.median(times)), max_ms=1e3 * max(times),
                         threads=_threads_text(threads), build_s=build_s, ready_s=build_s))
    threads = []
    with _one_core_busy():
        times = _lowrank_first_visits(dash, moves, start_ranks, threads)
    rows.append(dict(dashboard="low-rank, rank sliders (mnist-5k), one core busy", visit="first",
                     moves=len(times), median_ms=1e3 * float(np.median(times)), max_ms=1e3 * max(times),
                     threads=_threads_text(threads), build_s=build_s, ready_s=build_s))
    dash.controls["mode"].value = "energy"
    times = _time_moves(dash, [("energy", e) for e in (0.3, 0.5, 0.7, 0.8, 0.85, 0.9)])
    rows.append(dict(dashboard="low-rank, energy slider (mnist-5k)", visit="first", moves=len(times),
                     median_ms=1e3 * float(np.median(times)), max_ms=1e3 * max(times),
                     build_s=build_s, ready_s=build_s))
    dash.controls["mode"].value = "global budget"
    times = _time_moves(dash, [("budget", b) for b in (2.0, 5.0, 10.0, 20.0, 40.0)])
    rows.append(dict(dashboard="low-rank, budget slider (mnist-5k)", visit="first", moves=len(times),
                     median_ms=1e3 * float(np.median(times)), max_ms=1e3 * max(times),
                     build_s=build_s, ready_s=build_s))
    dash.settle(timeout=60)
    dash.close()

    moves = [("bits", b) for b in (8, 6, 3, 2, 16, 1, 32, 64, 4)] + [
        ("range", "mse"), ("granularity", "neuron"), ("scheme", "affine"), ("scheme", "kmeans"),
        ("scheme", "binary"), ("scheme", "symmetric"), ("activation_bits", 4), ("activation_bits", 2)]
    for prefetch in (False, True):
        start = time.perf_counter()
        dash = QuantizationDashboard(dataset="mnist-5k", bits=5, prefetch=prefetch)
        build_s = time.perf_counter() - start
        start_setting = {name: dash.controls[name].value for name in ("bits", "scheme", "granularity", "range",
                                                                        "activation_bits")}
        dash.fig.canvas.draw()
        if not prefetch:             # moves while the k-means warm-up still runs (target: none over 100 ms)
            threads = []
            warming = _time_moves(dash, [("bits", b) for b in (7, 9, 10, 11, 12, 13, 14)], threads)
            rows.append(dict(dashboard="quantization, during warm-up", visit="first", moves=len(warming),
                             median_ms=1e3 * float(np.median(warming)), max_ms=1e3 * max(warming),
                             threads=_threads_text(threads), build_s=build_s, ready_s=float("nan")))
        if dash.warmup is not None:
            dash.warmup.join()
        dash.settle(timeout=60)
        dash.flush()
        ready_s = time.perf_counter() - start
        if prefetch:                 # a user who looks before each move: what is one move away is scored
            times, threads = [], []
            for move in moves:
                dash.settle(timeout=60)
                dash.wait_prefetched()
                times += _time_moves(dash, [move], threads)
            what = "first visit after a pause (prefetched)"
        else:                        # three rounds from the same start, every setting forgotten before each
            threads = []
            times = _quantization_first_visits(dash, moves, start_setting, threads)
            what = f"first visit, back to back (computed on the move), {FIRST_VISIT_ROUNDS} rounds"
        rows.append(dict(dashboard=f"quantization (mnist-5k), {what}", visit="first", moves=len(times),
                         median_ms=1e3 * float(np.median(times)), max_ms=1e3 * max(times),
                         threads=_threads_text(threads), build_s=build_s, ready_s=ready_s))
        for name, value in (("bits", 5), ("range", "minmax"), ("granularity", "tensor"), ("activation_bits", 0)):
            dash.controls[name].value = value
        threads = []
        times = _time_moves(dash, moves, threads)
        rows.append(dict(dashboard="quantization (mnist-5k), the same moves again", visit="again",
                         moves=len(moves), median_ms=1e3 * float(np.median(times)), max_ms=1e3 * max(times),
                         threads=_threads_text(threads), build_s=build_s, ready_s=ready_s))
        if not prefetch:
            threads = []
            with _one_core_busy():
                times = _quantization_first_visits(dash, moves, start_setting, threads)
            rows.append(dict(dashboard="quantization (mnist-5k), first visit, back to back, one core busy",
                             visit="first", moves=len(times), median_ms=1e3 * float(np.median(times)),
                             max_ms=1e3 * max(times), threads=_threads_text(threads), build_s=build_s,
                             ready_s=ready_s))
        dash.close()
    return rows


def _user_readings(dash, setting, away, readings):
    """``readings`` measured deltas of one setting, taken as a user would: move away,
    move back, wait for the measurement. The per-setting cache is emptied first
    (else a revisit shows the reading it already has)."""
    values = []
    for _ in range(readings):
        dash.controls[away[0]].value = away[1]
        dash.reports.clear()
        dash.controls[setting[0]].value = setting[1]
        dash.settle(timeout=120)
        r = dash.report
        assert dash.last_error is None and r.timing is not None, dash.last_error
        values.append((r.timing.measured, r.latency.measured))
    return np.array(values)


def bench_dashboard_stability(readings=10, busy=True) -> list[dict]:
    """Issue 9's target: ten readings of the same dashboard setting, taken as a user
    would, agree within 15 % (MAD / median), idle and with one core busy."""
    import subprocess
    import sys

    import matplotlib

    matplotlib.use("Agg")
    from .dashboards import LowRankDashboard, QuantizationDashboard

    cases = [(LowRankDashboard(dataset="mnist-5k"), ("rank0", 20), ("rank0", 50), "low-rank rank 1 = 20"),
             (QuantizationDashboard(dataset="mnist-5k"), ("bits", 4), ("bits", 8), "quantization 4 bit")]
    for dash, *_ in cases:
        dash.measure_delay = 0.05
        if dash.warmup is not None:
            dash.warmup.join()
        dash.flush()
    rows = []
    for condition in ("idle", "1 core busy") if busy else ("idle",):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if condition != "idle" else None
        try:
            for dash, setting, away, name in cases:
                v = _user_readings(dash, setting, away, readings)
                for col, kind in enumerate(("throughput", "latency")):
                    x = v[:, col]
                    rows.append(dict(condition=condition, setting=name, speed=kind, readings=len(x),
                                     median_delta=float(np.median(x)), mad_over_median=relative_mad(x),
                                     min=float(x.min()), max=float(x.max()), within_15pct=relative_mad(x) <= 0.15))
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    return rows


STRESS_MOVES = {
    "IntroductionDashboard": [("hidden1", v) for v in (200, 100, 64, 32, 8, 300)] + [("hidden2", v) for v in (64, 0, 100)]
    + [("dtype", "float32"), ("dataset", "digits"), ("hidden1", 16), ("dataset", "mnist-5k")],
    "LowRankDashboard": [(f"rank{i}", k) for i in range(3) for k in (2, 8, 30, 60)]
    + [("mode", "energy"), ("energy", 0.5), ("energy", 0.95), ("mode", "global budget"), ("budget", 5.0),
       ("budget", 40.0), ("dataset", "digits"), ("dataset", "mnist-5k")],
    "QuantizationDashboard": [("bits", b) for b in range(1, 17)] + [("range", "mse"), ("granularity", "neuron")]
    + [("bits", b) for b in range(2, 17)] + [("scheme", s) for s in ("affine", "kmeans", "binary", "symmetric")]
    + [("activation_bits", a) for a in (8, 4, 2, 0)] + [("dataset", "digits"), ("dataset", "mnist-5k")],
}


def dashboard_peak_rss_mb(name: str) -> float:
    """Peak resident memory (MB) of a fresh interpreter that builds dashboard
    ``name`` (a class in ``compresslab.dashboards``) and moves every control
    through ``STRESS_MOVES``, with the background file sizes waited for."""
    import subprocess
    import sys

    code = f"""
import resource, matplotlib
matplotlib.use("Agg")
import compresslab.dashboards as d
from compresslab.bench import STRESS_MOVES
dash = getattr(d, {name!r})()
dash.fig.canvas.draw()
for control, value in STRESS_MOVES[{name!r}]:
    dash.controls[control].value = value
    dash.fig.canvas.draw()
    dash.settle(timeout=60)
    assert dash.last_error is None, dash.last_error
if getattr(dash, "warmup", None) is not None:
    dash.warmup.join(timeout=120)
try:        # this process's own peak (ru_maxrss keeps the forking parent's peak across exec on Linux)
    with open("/proc/self/status") as status:
        print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024)
except (OSError, StopIteration):
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def bench_memory() -> list[dict]:
    """Peak RSS of building and stressing each dashboard, each in its own process."""
    return [dict(dashboard=name, peak_rss_mb=dashboard_peak_rss_mb(name)) for name in STRESS_MOVES]


def bench_lowrank(ranks=(5, 10, 20, 50, 80)) -> list[dict]:
    """LeNet-300-100 on mnist-5k, first two layers at rank k (output layer dense):
    accuracy, alpha, and speedup on the 1,000 test images, measured and by FLOPs."""
    from .lowrank import factorize, layer_svds

    ds = load_dataset("mnist-5k")
    net = from_sklearn(load_pretrained("mnist-5k"))
    start = time.perf_counter()
    layer_svds(net)
    svd_s = time.perf_counter() - start
    rows = []
    for k in ranks:
        start = time.perf_counter()
        result = factorize(net, ranks=[k, k, 10])
        factorize_ms = 1e3 * (time.perf_counter() - start)
        r = evaluate(result.network, ds, net, repeats=15)
        rows.append(dict(rank=k, accuracy=r.accuracy, params=r.params, alpha=r.alpha,
                         delta_measured=r.speedup_measured, delta_flops=r.speedup_theoretical,
                         factorize_ms=factorize_ms, svd_once_ms=1e3 * svd_s))
    return rows


def bench_quantization(bits_list=(8, 4, 2, 1), qat_epochs=3) -> list[dict]:
    """LeNet-300-100 on mnist-5k: PTQ and QAT (symmetric per neuron, MSE range;
    binary at 1 bit). Accuracy and alpha by bytes of the real file, against the
    float64 and the float32 network; measured speedup of dequantize-then-multiply."""
    from .metrics import speedup
    from .quantization import quantization_aware_training, quantize

    ds = load_dataset("mnist-5k")
    net = from_sklearn(load_pretrained("mnist-5k"))
    bytes64, bytes32 = net.serialized_bytes(), net.astype("float32").serialized_bytes()
    rows = [dict(method="float32", bits=32, accuracy=net.astype("float32").score(ds.X_test, ds.y_test),
                 file_bytes=bytes32, alpha_vs_f64=bytes64 / bytes32, alpha_vs_f32=1.0,
                 delta_measured=speedup(net, net.astype("float32"), ds.X_test, repeats=9).measured,
                 seconds=0.0)]
    for bits in bits_list:
        scheme = "binary" if bits == 1 else "symmetric"
        options = dict(granularity="neuron", range_method="mse") if bits > 1 else {}
        start = time.perf_counter()
        ptq = quantize(net, scheme, bits, **options)
        ptq_s = time.perf_counter() - start
        start = time.perf_counter()
        qat, _ = quantization_aware_training(net, ds.X_train, ds.y_train, scheme, bits, epochs=qat_epochs,
                                             progress=False, **options)
        qat_s = time.perf_counter() - start
        for method, q, seconds in (("PTQ", ptq, ptq_s), (f"QAT {qat_epochs} ep", qat, qat_s)):
            size = q.serialized_bytes()
            rows.append(dict(method=f"{method} {scheme}", bits=bits, accuracy=q.score(ds.X_test, ds.y_test),
                             file_bytes=size, alpha_vs_f64=bytes64 / size, alpha_vs_f32=bytes32 / size,
                             delta_measured=speedup(net, q, ds.X_test, repeats=9).measured, seconds=seconds))
    return rows


def _stability_rows(condition, readings, settings, ds, net, max_seconds=1.0) -> list[dict]:
    """``readings`` readings of each setting, taken as a user would: alternating settings,
    each reading a fresh ``evaluate`` (throughput on the test set, latency at batch 1)."""
    values = {(name, kind): [] for name in settings for kind in ("throughput", "latency")}
    repeats = {key: [] for key in values}
    quiet = {key: True for key in values}
    for _ in range(readings):
        for name, low in settings.items():
            r = evaluate(low, ds, net, measure=True, count_file_bytes=False, max_seconds=max_seconds)
            for kind, timing in (("throughput", r.timing), ("latency", r.latency)):
                values[name, kind].append(timing.measured)
                repeats[name, kind].append(timing.repeats)
                quiet[name, kind] &= timing.quiet
    rows = []
    for (name, kind), v in values.items():
        v = np.array(v)
        rows.append(dict(condition=condition, ranks=name, speed=kind, readings=len(v),
                         median_delta=float(np.median(v)), mad_over_median=relative_mad(v),
                         max_dev=float(np.max(np.abs(v / np.median(v) - 1))), min=float(v.min()), max=float(v.max()),
                         pairs=int(np.median(repeats[name, kind])), threads=1, within_15pct=relative_mad(v) <= 0.15))
    return rows


def bench_speed_stability(readings=10, busy=True, idle=True, max_seconds=1.0) -> list[dict]:
    """Does a measured delta hold still? Low-rank LeNet-300-100 on mnist-5k, ranks
    [20, 20, 10] and [50, 50, 10], ``readings`` readings each (alternating settings);
    target: MAD / median of the readings <= 15 %. Run idle, then (``busy``) while
    another process keeps one core busy (a ``while True: pass`` child, ended after).
    ``max_seconds``: evaluate's time cap per measurement (its default: 1 s)."""
    import subprocess
    import sys

    from .lowrank import factorize

    ds = load_dataset("mnist-5k")
    net = from_sklearn(load_pretrained("mnist-5k"))
    settings = {str(ranks): factorize(net, ranks=ranks).network for ranks in ([20, 20, 10], [50, 50, 10])}
    rows = _stability_rows("idle", readings, settings, ds, net, max_seconds) if idle else []
    if busy:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            rows += _stability_rows("1 core busy", readings, settings, ds, net, max_seconds)
        finally:
            spinner.kill()
            spinner.wait()
    return rows


# Seconds each notebook should take top to bottom on an idle 2-core machine (targets, not limits).
NOTEBOOK_BUDGET_SECONDS = {"00_introduction.ipynb": 10, "01_low_rank_factorization.ipynb": 10,
                           "02_quantization.ipynb": 45, "03_pruning.ipynb": 60, "04_distillation.ipynb": 90}
NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def bench_notebooks(notebook_dir=NOTEBOOK_DIR, cell_timeout=900) -> list[dict]:
    """Seconds to run each notebook on a fresh kernel (as ``make test`` runs them), against
    its budget; the kernel's start-up is timed apart. Outputs are kept in memory, never saved."""
    import nbformat
    from nbclient import NotebookClient

    rows = []
    for path in sorted(Path(notebook_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        with client.setup_kernel():
            started = time.perf_counter()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            done = time.perf_counter()
        budget = NOTEBOOK_BUDGET_SECONDS.get(path.name)
        cells = done - started
        rows.append(dict(notebook=path.name, kernel_start_s=started - start, cells_s=cells,
                         budget_s="-" if budget is None else float(budget),
                         verdict="-" if budget is None else ("within" if cells <= budget else
                                                               f"OVER x{cells / budget:.1f}")))
    return rows


def _sklearn_one_epoch(mlp, X, y, batch_size):
    """A function training a copy of ``mlp`` for one epoch with scikit-learn itself:
    the same network, Adam, learning rate, batch size and loss (no L2: alpha=0, as l2=0)."""
    import copy
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    start = MLPClassifier(mlp.hidden_layer_sizes, activation=mlp.activation, solver="adam", alpha=0.0,
                          batch_size=batch_size, learning_rate_init=1e-3, max_iter=1, shuffle=True,
                          warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)      # max_iter=1 is the point
        start.fit(X[:batch_size], y[:batch_size])                # sets up its bookkeeping
    start.coefs_ = [W.copy() for W in mlp.coefs_]
    start.intercepts_ = [b.copy() for b in mlp.intercepts_]

    def one_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            copy.deepcopy(start).fit(X, y)                       # warm start: one epoch from these weights
    return one_epoch


def bench_training(name="mnist-5k", batch_size=128, repeats=11) -> list[dict]:
    """One epoch of Adam on the training split, from the pretrained weights:
    scikit-learn's MLPClassifier against ``train`` in float64 and float32 (timed
    in turns), then ``quantize`` per scheme, against the scikit-learn KMeans it replaced."""
    from .quantization import quantize

    ds = load_dataset(name)
    mlp = load_pretrained(name)
    net = from_sklearn(mlp)
    net32 = net.astype("float32")
    X, y = ds.X_train, ds.y_train

    def ours(network, **kwargs):
        return lambda: train(network.copy(), X, y, epochs=1, batch_size=batch_size, progress=False, **kwargs)

    # One BLAS thread for every contender, as every timing of the suite: with two
    # threads on a shared 2-core machine, BLAS threads wait on each other and an
    # epoch's time swings by 10x with the load (1.65 s against 0.15 s idle, seen here).
    with _blas_threads_limited(1):
        sk_s, f64_s, f32_s, acc_s = interleaved_medians(
            [_sklearn_one_epoch(mlp, X, y, batch_size), ours(net), ours(net32), ours(net, track_accuracy=True)],
            repeats=repeats)
    what = f"{name}, {len(X)} images, batch {batch_size}"
    rows = [dict(measure=f"epoch, scikit-learn MLPClassifier ({what})", ms=1e3 * sk_s, ratio=1.0,
                 relative_to="scikit-learn"),
            dict(measure="epoch, train float64", ms=1e3 * f64_s, ratio=f64_s / sk_s, relative_to="scikit-learn"),
            dict(measure="epoch, train float32", ms=1e3 * f32_s, ratio=f32_s / sk_s, relative_to="scikit-learn"),
            dict(measure="epoch, train float32", ms=1e3 * f32_s, ratio=f32_s / f64_s, relative_to="float64"),
            dict(measure="epoch, train float64, track_accuracy=True", ms=1e3 * acc_s, ratio=acc_s / f64_s,
                 relative_to="float64")]
    cases = [("symmetric", 4), ("binary", 1), ("kmeans", 4)]
    times = interleaved_medians([lambda s=s, b=b: quantize(net, s, b) for s, b in cases], repeats=repeats)
    for (scheme, bits), seconds in zip(cases, times):
        rows.append(dict(measure=f"quantize {scheme} {bits}-bit", ms=1e3 * seconds, ratio=float("nan"),
                         relative_to=""))
    sklearn_kmeans_s = median_seconds(lambda: _quantize_with_sklearn_kmeans(net, 4), repeats=3)
    rows.append(dict(measure="quantize kmeans 4-bit with sklearn KMeans (before)", ms=1e3 * sklearn_kmeans_s,
                     ratio=times[-1] / sklearn_kmeans_s, relative_to="sklearn KMeans"))
    return rows


def _quantize_with_sklearn_kmeans(net, bits):
    """``quantize(net, "kmeans", bits)`` fitting its codebooks with scikit-learn's KMeans."""
    from sklearn.cluster import KMeans

    from . import quantization

    def sklearn_kmeans(x, centroids, max_iter=100, tol=1e-4):
        return KMeans(centroids.size, init=centroids.reshape(-1, 1), n_init=1, max_iter=max_iter, tol=tol,
                      random_state=0).fit(x.reshape(-1, 1)).cluster_centers_.ravel()

    fast, quantization._kmeans_1d = quantization._kmeans_1d, sklearn_kmeans
    try:
        return quantization.quantize(net, "kmeans", bits)
    finally:
        quantization._kmeans_1d = fast


def _lazy(module, name):
    """A bench function from its own module (bench_pruning.py, bench_distillation.py), imported on use."""
    import importlib

    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def print_table(rows, title):
    print(f"\n{title}")
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))     # every row's columns, in order of appearance
    widths = [max(len(k), *(len(_fmt(r.get(k, ""))) for r in rows)) for k in keys]
    print("  ".join(k.rjust(w) for k, w in zip(keys, widths)))
    for r in rows:
        print("  ".join(_fmt(r.get(k, "")).rjust(w) for k, w in zip(keys, widths)))


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


SECTIONS = {"core": (bench_core, "Core: forward pass (test set) through Network vs raw X @ W chain; "
                                 "evaluate; one training epoch; load_pretrained"),
            "lowrank": (bench_lowrank, "Low-rank: LeNet-300-100 (mnist-5k), layers 1-2 at rank k, "
                                       "batch of 1,000 test images"),
            "quantization": (bench_quantization, "Quantization: LeNet-300-100 (mnist-5k), PTQ and QAT; "
                                                 "alpha by .npz bytes; measured delta on 1,000 test images"),
            "speed-stability": (bench_speed_stability, "Speed stability: measured delta of low-rank LeNet-300-100 "
                                "(mnist-5k), 10 readings per setting, alternating; target MAD/median <= 15 %"),
            "training": (bench_training, "Training: one Adam epoch, scikit-learn vs train (float64, float32), "
                                         "timed in turns, 1 BLAS thread; quantize per scheme, ms"),
            "pruning": (lambda: _lazy("bench_pruning", "bench_pruning")(),
                        "Pruning: LeNet-300-100 (mnist-5k), magnitude, global; CSR network; alpha by .npz bytes "
                        "vs float64 dense; delta at batch 1 and 1,000, 1 thread"),
            "pruning-break-even": (lambda: _lazy("bench_pruning", "break_even")(),
                                   "Pruning: CSR break-even sparsity (measured delta = 1), 1 BLAS thread"),
            "distillation": (lambda: _lazy("bench_distillation", "bench_distillation")(),
                             "Distillation: 784-h-10 students on mnist-5k, hard labels vs distilled "
                             "(T and soft_weight chosen on validation), test accuracy mean +- sd over seeds"),
            "distillation-students": (lambda: _lazy("bench_distillation", "students_table")(),
                                      "Distillation: experiment 4's students (pruned included) from the shipped "
                                      "results, test accuracy mean +- sd over seeds; last row: plain distillation "
                                      "(hard_*) vs FitNets hints + distillation (distilled_*)"),
            "distillation-dashboard": (lambda: _lazy("bench_distillation", "bench_distillation_dashboard")(),
                                       "Distillation dashboard: one control change (softened bars, entropies, "
                                       "stored grid, blit), ms"),
            "dashboards": (bench_dashboards, "Dashboards: one control change (compute + evaluate + redraw), ms; "
                                             "targets: median <= 15 ms, <= 100 ms during warm-up, quantization "
                                             "built in <= 1.2 s"),
            "dashboard-stability": (bench_dashboard_stability, "Dashboards: ten readings of one setting "
                                    "(move away, back, wait); target MAD/median <= 15 %"),
            "memory": (bench_memory, "Dashboards: peak RSS (MB) of building one and moving every control, "
                                     "each in a fresh process (budget 400 MB)")}
# Opt-in (they take minutes): python -m compresslab.bench --notebooks
OPT_IN = {"notebooks": (bench_notebooks, "Notebooks: top to bottom on a fresh kernel, seconds against the budget "
                                         "(targets for an idle machine)")}

from .bench_pruning import SECTIONS as _PRUNING_SECTIONS  # noqa: E402  (bench_pruning imports bench lazily)

SECTIONS.update(_PRUNING_SECTIONS)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m compresslab.bench", description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", help=f"any of {list(SECTIONS) + list(OPT_IN)} "
                                                    f"(default: {list(SECTIONS)})")
    parser.add_argument("--notebooks", action="store_true",
                        help="run every notebook and report its time against its budget "
                             "(alone: only this section)")
    args = parser.parse_args(argv)
    sections = list(args.sections) or ([] if args.notebooks else list(SECTIONS))
    if args.notebooks and "notebooks" not in sections:
        sections.append("notebooks")
    known = {**SECTIONS, **OPT_IN}
    for section in sections:
        if section not in known:
            parser.error(f"section must be one of {list(known)}; got {section!r}")
    print(f"compresslab benchmark | numpy {np.__version__} | BLAS threads: {blas_threads()}")
    for section in sections:
        fn, title = known[section]
        print_table(fn(), title)


if __name__ == "__main__":
    main()
