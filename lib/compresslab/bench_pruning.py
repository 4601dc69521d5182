"""Bench sections for pruning (``python -m compresslab.bench pruning pruning-break-even pruning-dashboard``).

LeNet-300-100 on mnist-5k, magnitude pruning with global scope, one-shot and
after a 1-epoch fine-tune: test accuracy, alpha by the bytes of the real
``.npz`` (CSR network against the float64 dense baseline), measured and FLOPs
delta at batch 1 and at the 1,000 test images, and the sparsity at which CSR
breaks even with dense BLAS; and the dashboard's latency per control change. Every timing runs with one BLAS thread
(``threadpoolctl.threadpool_limits(1)``): sparse kernels in scipy are
single-threaded, so this is the fair comparison, and it is stable.

    PYTHONPATH=lib python -m compresslab.bench_pruning
"""
from __future__ import annotations

import numpy as np

SPARSITIES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
BREAK_EVEN_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)


def _deltas(speedup, dense, compressed, X):
    one = speedup(dense, compressed, X[:1], repeats=301)        # ~0.1 ms a call: many repeats
    full = speedup(dense, compressed, X, repeats=9)
    return one, full


def bench_pruning(sparsities=SPARSITIES, fine_tune_epochs=1) -> list[dict]:
    """One row per sparsity and method (one-shot, fine-tuned; and neuron pruning)."""
    from threadpoolctl import threadpool_limits

    from .data import load_dataset
    from .metrics import speedup
    from .models import load_pretrained
    from .network import from_sklearn
    from .pruning import fine_tune, prune, rank_weights

    ds = load_dataset("mnist-5k")
    net = from_sklearn(load_pretrained("mnist-5k"))
    dense_bytes = net.serialized_bytes()
    ranking = rank_weights(net)                         # sorted once, indexed per sparsity
    rows = [dict(method="dense", sparsity=0.0, accuracy=net.score(ds.X_test, ds.y_test), file_bytes=dense_bytes,
                 alpha_bytes=1.0, delta_b1=1.0, delta_test=1.0, delta_flops=1.0)]
    with threadpool_limits(1):
        for s in sparsities:
            one_shot = prune(net, s)
            assert all(np.array_equal(a, b) for a, b in zip(one_shot.masks, ranking.masks(s)))
            tuned = fine_tune(one_shot, ds.X_train, ds.y_train, fine_tune_epochs)
            for method, result in (("one-shot", one_shot), (f"fine-tuned {fine_tune_epochs} ep", tuned)):
                csr = result.sparse("csr")
                one, full = _deltas(speedup, net, csr, ds.X_test)
                size = csr.serialized_bytes()
                rows.append(dict(method=method, sparsity=result.sparsity, accuracy=csr.score(ds.X_test, ds.y_test),
                                 file_bytes=size, alpha_bytes=dense_bytes / size, delta_b1=one.measured,
                                 delta_test=full.measured, delta_flops=full.theoretical))
        for s in (0.5, 0.8, 0.9):                       # structured: units removed, a smaller dense net
            result = prune(net, [s, s], structure="neurons")
            tuned = fine_tune(result, ds.X_train, ds.y_train, fine_tune_epochs)
            one, full = _deltas(speedup, net, tuned.network, ds.X_test)
            size = tuned.network.serialized_bytes()
            rows.append(dict(method=f"neurons, ft {fine_tune_epochs} ep", sparsity=tuned.sparsity,
                             accuracy=tuned.network.score(ds.X_test, ds.y_test), file_bytes=size,
                             alpha_bytes=dense_bytes / size, delta_b1=one.measured, delta_test=full.measured,
                             delta_flops=full.theoretical))
    return rows


def break_even(grid=BREAK_EVEN_GRID) -> list[dict]:
    """The sparsity where CSR's measured delta crosses 1, at batch 1 and at the test set
    (linear interpolation between the grid points around the crossing)."""
    from threadpoolctl import threadpool_limits

    from .data import load_dataset
    from .metrics import speedup
    from .models import load_pretrained
    from .network import from_sklearn
    from .pruning import apply_masks, rank_weights, to_sparse

    ds = load_dataset("mnist-5k")
    net = from_sklearn(load_pretrained("mnist-5k"))
    ranking = rank_weights(net)
    rows = []
    with threadpool_limits(1):
        deltas = {1: [], len(ds.X_test): []}
        for s in grid:
            csr = to_sparse(apply_masks(net, ranking.masks(s)), "csr")
            one, full = _deltas(speedup, net, csr, ds.X_test)
            deltas[1].append(one.measured)
            deltas[len(ds.X_test)].append(full.measured)
    for batch, d in deltas.items():
        rows.append(dict(batch=batch, break_even_sparsity=_crossing(np.array(grid), np.array(d)),
                         **{f"d@{s:g}": v for s, v in zip(grid, d)}))
    return rows


def _crossing(s, d) -> float:
    """First sparsity where delta reaches 1 (NaN if it never does on the grid)."""
    from .pruning import break_even_sparsity

    return break_even_sparsity(s, d)


DASHBOARD_MOVES = ([("sparsity", v) for v in (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)]
                   + [("criterion", "taylor"), ("criterion", "random"), ("criterion", "magnitude"),
                      ("scope", "layer"), ("scope", "global"), ("output", True), ("output", False),
                      ("format", "bitmask"), ("format", "relative"), ("format", "csr"), ("batch", 1),
                      ("structure", "neurons"), ("sparsity", 0.5), ("structure", "weights")])


def bench_pruning_dashboard() -> list[dict]:
    """Milliseconds from one control change to a redrawn figure (Agg + the PNG diff ipympl
    sends), in the kernel: every move of DASHBOARD_MOVES right after the build (while the
    background warm-up scores the slider positions), then on a new dashboard once its
    warm-up is done, first visit and again; ``slowest`` names the slowest move."""
    import os
    import time

    import matplotlib

    matplotlib.use("Agg")
    from .bench import _time_moves
    from .dashboards import PruningDashboard

    def row(name, visit, times, build_s, ready_s):
        slowest = DASHBOARD_MOVES[int(np.argmax(times))]
        return dict(dashboard=name, visit=visit, moves=len(times), median_ms=1e3 * float(np.median(times)),
                    max_ms=1e3 * max(times), slowest=f"{slowest[0]}={slowest[1]}", build_s=build_s,
                    ready_s=ready_s, load_average=os.getloadavg()[0])

    rows = []
    for warm in (False, True):           # a new dashboard: its caches are empty, the one-shot curves kept
        start = time.perf_counter()
        dash = PruningDashboard()
        build_s = time.perf_counter() - start
        dash.fig.canvas.draw()
        dash.measure_speed = False       # the timing API runs after the move; here only the move is timed
        if not warm:
            rows.append(row("pruning, during warm-up", "first", _time_moves(dash, DASHBOARD_MOVES), build_s,
                            float("nan")))
        else:
            dash.warmup.join(timeout=600)
            ready_s = time.perf_counter() - start
            for visit in ("first", "again"):
                rows.append(row("pruning (mnist-5k)", visit, _time_moves(dash, DASHBOARD_MOVES), build_s, ready_s))
        dash.settle(timeout=60)
        dash.close()
    return rows


SECTIONS = {
    "pruning": (lambda: bench_pruning(), "Pruning: LeNet-300-100 (mnist-5k), magnitude, global; CSR network; "
                                         "alpha by .npz bytes vs float64 dense; delta at batch 1 and 1,000, 1 thread"),
    "pruning-break-even": (lambda: break_even(), "Pruning: CSR break-even sparsity (measured delta = 1), "
                                                 "1 BLAS thread"),
    "pruning-dashboard": (bench_pruning_dashboard, "Pruning dashboard: one control change (compute + evaluate + "
                                                   "blit + PNG diff), ms"),
}


def main():
    from .bench import print_table
    from .metrics import blas_threads

    print(f"BLAS threads outside the timings: {blas_threads()} (timings use 1)")
    for fn, title in SECTIONS.values():
        print_table(fn(), title)


if __name__ == "__main__":
    main()
