"""Bench section: knowledge distillation on mnist-5k (``bench_distillation``).

For three one-hidden-layer students (784-h-10), the same student trained on the
hard labels and distilled from a teacher, test accuracy as mean ± sd over
seeds, and seconds per student. Temperature and soft_weight are chosen per
size on the validation split (seed 0 only); test accuracy is only reported.
Also: the dashboard's hot path, the teacher's softened distribution for one
test image over 100 temperatures (teacher forward included), in ms.

The teacher is the k-fold out-of-fold teacher by default (the shipped teacher
memorised its training images; see ``distillation`` module doc), fit once here
with a capped ``max_iter`` so the section stays within minutes.

    python -c "from compresslab.bench_distillation import main; main()"
"""
from __future__ import annotations

import time

import numpy as np

from .data import load_dataset
from .network import random_network

TITLE = ("Distillation: 784-h-10 students on mnist-5k, hard labels vs distilled (T, soft_weight chosen "
         "on validation); test accuracy mean ± sd over seeds; seconds per student")


def _teacher(kind, ds, n_folds, max_iter):
    from . import distillation as D

    if kind == "shipped":
        return D.default_teacher()
    if kind == "early-stopped":
        return D.early_stopped_teacher(ds.X_train, ds.y_train, max_iter=max_iter)
    if kind == "out-of-fold":
        return D.out_of_fold_teacher(ds.X_train, ds.y_train, n_folds, max_iter=max_iter)
    raise ValueError(f"teacher must be one of ('shipped', 'early-stopped', 'out-of-fold'); got {kind!r}")


def bench_distillation(sizes=(10, 30, 100), seeds=(0, 1, 2), epochs=30, teacher="out-of-fold", n_folds=3,
                       teacher_max_iter=30, temperatures=(1.0, 2.0, 4.0, 8.0), soft_weights=(0.25, 0.5, 0.9),
                       verbose=True) -> list[dict]:
    """One row per student size: the chosen T and soft_weight (the grid offers T = 1 and
    w = 0.25, the least distillation: validation chose them for the notebook's
    students), the teacher's soft-target entropy (bits, T = 1, on the training
    images), test accuracy hard vs distilled (mean ± sd over ``seeds``), seconds per
    student, and the dashboard curve latency."""
    from . import distillation as D
    from .training import train

    ds = load_dataset("mnist-5k")
    start = time.perf_counter()
    teach = _teacher(teacher, ds, n_folds, teacher_max_iter)
    teacher_s = time.perf_counter() - start
    H = D.soft_target_entropy(teach, ds.X_train, 1.0)
    teacher_test = teach.score(ds.X_test, ds.y_test)
    # the dashboard's hot path: one image's logits and its softened curve over 100 temperatures
    x, T_grid = ds.X_test[:1], np.geomspace(1, 50, 100)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        D.softened_curve(D.teacher_logits(teach, x)[0], T_grid)
        times.append(time.perf_counter() - t0)
    curve_ms = 1e3 * float(np.median(times))
    logits = D.teacher_logits(teach, ds.X_train)          # computed once, reused by every student

    def distilled(h, seed, T, w):
        student = random_network((784, h, 10), random_state=seed)
        t0 = time.perf_counter()
        train(student, ds.X_train, ds.y_train, epochs=epochs, teacher_logits=logits, temperature=T,
              soft_weight=w, random_state=seed, progress=False)
        return student, time.perf_counter() - t0

    rows = []
    for h in sizes:
        # choose (T, w) on validation, seed 0
        scores = {(T, w): distilled(h, seeds[0], T, w)[0].score(ds.X_val, ds.y_val)
                  for T in temperatures for w in soft_weights}
        T, w = max(scores, key=scores.get)
        hard, soft, secs = [], [], []
        for seed in seeds:
            student, s_hard = distilled(h, seed, 1.0, 0.0)      # soft_weight 0: plain training
            hard.append(student.score(ds.X_test, ds.y_test))
            student, s_soft = distilled(h, seed, T, w)
            soft.append(student.score(ds.X_test, ds.y_test))
            secs += [s_hard, s_soft]
        sd = (lambda a: float(np.std(a, ddof=1))) if len(seeds) > 1 else (lambda a: float("nan"))
        rows.append(dict(hidden=h, params=random_network((784, h, 10)).n_params, teacher=teacher,
                         teacher_test=teacher_test, entropy_bits=H, T=T, soft_weight=w,
                         val_best=scores[T, w], hard_test=float(np.mean(hard)), hard_sd=sd(hard),
                         distilled_test=float(np.mean(soft)), distilled_sd=sd(soft),
                         seconds_per_student=float(np.mean(secs)), teacher_fit_s=teacher_s,
                         curve_ms=curve_ms, seeds=len(seeds), epochs=epochs))
        if verbose:
            r = rows[-1]
            print(f"  h={h}: hard {r['hard_test']:.3f} ± {r['hard_sd']:.3f}, distilled {r['distilled_test']:.3f} "
                  f"± {r['distilled_sd']:.3f} (T={T}, w={w})", flush=True)
    return rows


DASHBOARD_TITLE = ("Distillation dashboard: one control change in the kernel (softened bars, entropies, "
                   "report from the stored grid, blit), ms; and the shipped grid's students (seed 0 grid, "
                   "3 seeds at the T and soft_weight chosen on validation)")


def bench_distillation_dashboard(measure_controls=True) -> list[dict]:
    """Milliseconds per move of each live control of ``DistillationDashboard`` (compute +
    redraw + the diff image ipympl sends, as ``bench.bench_dashboards`` times the others),
    timing off (``measure_speed = False``)."""
    import matplotlib

    matplotlib.use("Agg")
    from .bench import _time_moves
    from .dashboards import DistillationDashboard

    start = time.perf_counter()
    dash = DistillationDashboard()
    build_s = time.perf_counter() - start
    dash.measure_speed = False
    dash.fig.canvas.draw()
    T = dash.controls["temperature"].options
    moves = {"temperature": [("temperature", t) for t in T[::2] + T[::-3]],
             "image": [("image", i) for i in (1, 50, 300, 999, 7, 18)],
             "soft_weight": [("soft_weight", w) for w in (0.0, 0.5, 0.9, 0.0, 0.9)],
             "size": [("size", h) for h in (10, 100, 30, 10, 30)],
             "kind": [("kind", k) for k in ("tanh", "relu", "tanh", "relu")]}
    rows = []
    for control, steps in moves.items():
        times = _time_moves(dash, steps)
        rows.append(dict(control=control, moves=len(steps), median_ms=1e3 * float(np.median(times)),
                         max_ms=1e3 * max(times), build_s=build_s))
    dash.close()
    return rows


def shipped_table() -> list[dict]:
    """The accuracies of the shipped results file (no training): hard vs distilled per size."""
    from .distillation_results import load_results

    r = load_results()
    return [dict(hidden=int(h), T=float(r["sizes_Tw"][j, 0]), soft_weight=float(r["sizes_Tw"][j, 1]),
                 **_arms(r["sizes_hard_test"][j], r["sizes_dist_test"][j]), epochs=int(r["epochs"]))
            for j, h in enumerate(r["grid_sizes"])]


def _arms(hard, distilled) -> dict:
    """Hard-label and distilled test accuracies over the seeds, as mean and sd (``stats.mean_sd``)."""
    from .stats import mean_sd

    h, d = mean_sd(hard), mean_sd(distilled)
    return dict(hard_test=h.mean, hard_sd=h.sd, distilled_test=d.mean, distilled_sd=d.sd, seeds=h.n)


STUDENTS_TITLE = ("Distillation: experiment 4's students (pruned included) and FitNets hints, from the shipped "
                  "results (data/distillation_results.npz); test accuracy mean ± sd over seeds")


def students_table() -> list[dict]:
    """Experiment 4's students and the FitNets comparison from the shipped results (no training)."""
    from .distillation_results import load_results

    r = load_results()
    rows = [dict(student=str(n), kb=float(b) / 1024, **_arms(h, d))
            for n, b, h, d in zip(r["struct_names"], r["struct_bytes"], r["struct_hard_test"], r["struct_dist_test"])]
    t, s, e = (int(c) for c in r["fitnets_choice"])
    rows.append(dict(student=f"{r['fitnets_student']} + hints (teacher layer {t} -> student layer {s}, {e} epochs)",
                     kb=rows[0]["kb"], **_arms(r["fitnets_plain_test"], r["fitnets_test"])))
    return rows                     # FitNets row: "hard" = plain distillation, "distilled" = hints + distillation


def main(argv=None):
    from .bench import print_table

    print_table(bench_distillation_dashboard(), DASHBOARD_TITLE)
    print_table(shipped_table(), "Shipped results (data/distillation_results.npz)")
    print_table(students_table(), STUDENTS_TITLE + " (last row: plain distillation vs hints + distillation)")
    print_table(bench_distillation(), TITLE)


if __name__ == "__main__":
    main()
