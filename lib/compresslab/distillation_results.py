"""The distillation notebook's measured results, precomputed (data/distillation_results.npz).

Every student in notebooks/04_distillation.ipynb and in its dashboard is a
real training run; together they take about 18 minutes with ``--jobs 2`` (on this
2-core machine), more than a notebook may take, so they are run once by

    python -m compresslab.distillation_results --jobs 2   # writes data/distillation_results.npz

and loaded with ``load_results()`` (``allow_pickle=False``: plain arrays only).
The shipped file was written by that command in one go (``--fix-oof`` only
repairs a file written before two old fixes).
``--regression`` redoes experiment 5 only; ``--pruned`` redoes the pruned
student of experiment 4, ``--fitnets`` the hint-training comparison and
``--pitfall`` the teachers side by side (notebook section 3; about 6 minutes);
the flags combine, keeping the rest of the file.
tests/test_distillation_dashboard.py recomputes a grid point from the stored
teacher logits and gets the same accuracies; tests/test_distillation.py does
the same for a pruned student and a FitNets student.

The rules, fixed before anything is measured:

- data: mnist-5k (3,500 train / 500 validation / 1,000 test);
- the teacher is the 3-fold out-of-fold teacher (``distillation.out_of_fold_teacher``):
  every training image gets soft targets from a member that never saw it, and
  test images the members' average;
- students are trained by the engine with Adam (lr 1e-3, batch 128) for
  ``EPOCHS`` epochs and reported at the epoch of best VALIDATION accuracy
  (early stopping on validation; QAT students: their last epoch);
- temperature and soft_weight are chosen on validation (the grid, seed 0);
  test accuracy is only reported;
- the pitfall's side by side (notebook section 3): each source of soft targets
  gets its own (T, w), chosen on validation (seed 0) from ``PITFALL_GRID``; the
  early-stopped teacher's epochs are chosen from ``EARLY_CANDIDATES`` by its
  student's validation accuracy; the transfer set is the training images moved
  by ``SHIFT_PIXELS`` (``distillation.shifted_copies``), soft targets only, and
  its control the same moved images with their labels and no teacher;
- seeds 0, 1, 2 wherever two students are compared;
- the pruned student is the shipped teacher pruned to ``PRUNED_SPARSITY``
  (magnitude, global), its masks kept while it trains (``distill``'s pruned
  student); its size is that of its CSR form;
- FitNets: the hint is a hidden layer of the shipped teacher (hints need one
  network; the out-of-fold teacher is three), the hint stage's teacher layer,
  student layer and epochs chosen on validation (seed 0), then the same
  distillation as the plain student (out-of-fold soft targets, same T, soft
  weight, epochs and early stopping).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from . import distillation as D
from .data import _write_atomically, load_dataset
from .network import random_network
from .training import train

RESULTS_FILE = Path(__file__).resolve().parents[2] / "data" / "distillation_results.npz"
EPOCHS = 40                         # the best validation epoch of a hard-label 784-30-10 student: 19-35
SEEDS = (0, 1, 2)
GRID_T = (1.0, 2.0, 4.0, 8.0, 20.0, 50.0)
GRID_W = (0.25, 0.5, 0.75, 0.9, 1.0)
GRID_SIZES = (10, 30, 100)
GRID_KINDS = ("relu", "tanh", "2 layers", "softmax regression")     # softmax regression: no size (one run)
N_FOLDS, TEACHER_MAX_ITER = 3, 30
N_ENSEMBLE = 5                      # the ensemble teacher: the shipped recipe, seeds 0-4, all 3,500 images
EARLY_CANDIDATES = (2, 3, 5, 8)     # the early-stopped teacher's epochs; chosen by its student's validation
PITFALL_GRID = tuple((T, w) for T in (1.0, 2.0, 4.0, 8.0) for w in (0.25, 0.5, 0.9))   # each teacher's (T, w)
SHIFT_PIXELS = 1                    # the transfer set: the training images moved 1 pixel, 4 ways (14,000)
N_LABELLED = 500
OMITTED = 3
LOWRANK_RANKS = (10, 10, 10)
PRUNED_SPARSITY = 0.95
FITNETS_STUDENT = ("2 layers", 30)                       # the thin, deeper student of experiment 4
FITNETS_GRID = dict(teacher_layer=(1, 2), student_layer=(1, 2), hint_epochs=(2, 5, 10))
REGRESSION = dict(teacher_hidden=(50, 50), student_hidden=(3,), early_stopping=True, max_iter=500)


def make_student(kind, size, seed, n_features=784):
    """A fresh student: ``kind`` "relu" / "tanh" (784-size-10), "2 layers" (784-size-size-10),
    "softmax regression" (784-10), "14x14 input" (196-size-10)."""
    if kind in ("relu", "tanh"):
        return random_network((n_features, size, 10), activation=kind, random_state=seed)
    if kind == "2 layers":
        return random_network((n_features, size, size, 10), random_state=seed)
    if kind == "softmax regression":
        return D.softmax_regression(n_features, 10, random_state=seed)
    if kind == "14x14 input":
        return random_network((196, size, 10), random_state=seed)
    raise ValueError(f"kind must be one of ('relu', 'tanh', '2 layers', 'softmax regression', '14x14 input'); "
                     f"got {kind!r}")


def fit_student(student, X, y, ds, *, logits=None, T=1.0, w=0.0, X_transfer_logits=None, X_transfer=None,
                epochs=None, seed=0, transform=None, on_epoch=None):
    """Train a copy of ``student`` (engine, soft targets from precomputed ``logits``) and
    return dict(val, test, epoch, network): the accuracies at the epoch of best
    validation accuracy. ``transform``: the student's view of an image (downsample);
    ``on_epoch(epoch, history)``: called after each epoch (a progress bar).
    ``student`` may be a ``pruning.PruneResult``: its masks are kept as ``distill`` keeps them."""
    epochs = EPOCHS if epochs is None else epochs
    student, masks = D.pruned_student(student)
    view = (lambda A: A) if transform is None else transform
    hard_weight = None
    if X_transfer is not None:                       # as distill(): transfer rows get no hard loss
        n, m = X.shape[0], X_transfer.shape[0]
        X = np.vstack([X, X_transfer])
        y = np.concatenate([y, np.resize(y, m)])
        logits = np.vstack([logits, X_transfer_logits])
        hard_weight = np.concatenate([np.full(n, (n + m) / n), np.zeros(m)])
    Xs, Xv, Xt = view(X), view(ds.X_val), view(ds.X_test)
    net = student.copy()
    curve = []
    if masks is None:
        after_step = None
    else:
        from .pruning import mask_projection          # pruning's own hook (lazy: scipy.sparse)

        after_step = mask_projection(masks)

    def score(epoch, history):
        curve.append((net.score(Xv, ds.y_val), net.score(Xt, ds.y_test)))
        if on_epoch is not None:
            on_epoch(epoch, history)

    train(net, Xs, y, epochs=epochs, teacher_logits=logits if w > 0 else None, temperature=T, soft_weight=w,
          hard_weight=hard_weight, random_state=seed, progress=False, on_epoch=score, after_step=after_step)
    best = int(np.argmax([v for v, _ in curve]))
    return dict(val=curve[best][0], test=curve[best][1], epoch=best + 1, network=net)


def _log(*args):
    print(*args, flush=True, file=sys.stderr)


def _teachers(ds, max_iter=TEACHER_MAX_ITER):
    """The out-of-fold teacher (the rules' teacher) and the shipped one."""
    t0 = time.perf_counter()
    oof = D.out_of_fold_teacher(ds.X_train, ds.y_train, N_FOLDS, max_iter=max_iter)
    _log(f"out-of-fold teacher: {time.perf_counter() - t0:.0f} s")
    return oof, D.default_teacher()


def grid_point(results, kind, size, T, w, seed=0):
    """Recompute one grid student from the stored teacher logits: dict(val, test, epoch)."""
    from threadpoolctl import threadpool_limits

    ds = load_dataset("mnist-5k")
    logits = results["teacher_train_logits"].astype(float)
    with threadpool_limits(limits=1):                    # as the file was made: the same sums, bit for bit
        r = fit_student(make_student(kind, size, seed), ds.X_train, ds.y_train, ds, logits=logits, T=T, w=w,
                        seed=seed, epochs=int(results["epochs"]))
    return {k: r[k] for k in ("val", "test", "epoch")}


def grid_cell(kind, size, V, grid_T=GRID_T, grid_w=GRID_W, epochs=None) -> dict:
    """One (kind, size) of the dashboard's grid, seed 0: the hard-label student and a
    distilled one at every (T, w) (soft targets: the logits ``V``). One BLAS thread, so
    a run gives the same sums in a worker process as in the main one."""
    from threadpoolctl import threadpool_limits

    ds = load_dataset("mnist-5k")
    val, test = np.zeros((len(grid_T), len(grid_w))), np.zeros((len(grid_T), len(grid_w)))
    with threadpool_limits(limits=1):
        student = make_student(kind, size, 0)
        hard = fit_student(student, ds.X_train, ds.y_train, ds, epochs=epochs)
        for a, T in enumerate(grid_T):
            for b, w in enumerate(grid_w):
                r = fit_student(student, ds.X_train, ds.y_train, ds, logits=V, T=T, w=w, epochs=epochs)
                val[a, b], test[a, b] = r["val"], r["test"]
    _log(f"grid {kind} {size}: hard {hard['val']:.3f}, best distilled {val.max():.3f} (val)")
    return dict(bytes=student.storage_bits() / 8, hard_val=hard["val"], hard_test=hard["test"], val=val, test=test)


def compute_grid(V, kinds, sizes, grid_T, grid_w, epochs, jobs=1) -> dict:
    """The dashboard's grid kind x size x T x w (seed 0) in ``jobs`` processes. A student
    without a hidden layer ("softmax regression") has no size: one run, copied to every size."""
    cells = [(k, h) for k in kinds for h in (sizes if k != "softmax regression" else sizes[:1])]
    args = [(k, h, V, grid_T, grid_w, epochs) for k, h in cells]
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(zip(cells, pool.map(grid_cell, *zip(*args))))
    else:
        done = {cell: grid_cell(*a) for cell, a in zip(cells, args)}
    shape = (len(kinds), len(sizes))
    out = {key: np.zeros(shape + (len(grid_T), len(grid_w))) for key in ("grid_val", "grid_test")}
    out.update({key: np.zeros(shape) for key in ("grid_hard_val", "grid_hard_test", "grid_bytes")})
    for i, k in enumerate(kinds):
        for j, h in enumerate(sizes):
            c = done.get((k, h), done.get((k, sizes[0])))
            out["grid_val"][i, j], out["grid_test"][i, j] = c["val"], c["test"]
            out["grid_hard_val"][i, j], out["grid_hard_test"][i, j] = c["hard_val"], c["hard_test"]
            out["grid_bytes"][i, j] = c["bytes"]
    return out


def tuned_student(ds, size, logits, seeds, *, grid=None, chosen=None, X_transfer=None,
                  X_transfer_logits=None) -> dict:
    """A 784-size-10 student distilled from ``logits``: (T, w) chosen on validation
    (seed 0, over ``grid``, default ``PITFALL_GRID``), then trained with every seed.
    dict(T, w, val, grid_val, test). ``chosen``: an earlier result of this function for
    the same logits and ``seeds[:1]``; its choice is kept and only the other seeds train."""
    def run(seed, T, w):
        return fit_student(make_student("relu", size, seed), ds.X_train, ds.y_train, ds, logits=logits, T=T, w=w,
                           X_transfer=X_transfer, X_transfer_logits=X_transfer_logits, seed=seed)

    if chosen is None:
        grid = PITFALL_GRID if grid is None else grid
        first = [run(seeds[0], T, w) for T, w in grid]
        best = int(np.argmax([r["val"] for r in first]))
        chosen = dict(T=grid[best][0], w=grid[best][1], val=first[best]["val"],
                      grid_val=np.array([r["val"] for r in first]), test=np.array([first[best]["test"]]))
    T, w = chosen["T"], chosen["w"]
    test = [chosen["test"][0]] + [run(seed, T, w)["test"] for seed in seeds[1:]]
    return dict(chosen, test=np.array(test))


def ensemble_teacher(ds, n_members=None, **mlp_kwargs) -> D.Ensemble:
    """Section 3's ensemble: ``N_ENSEMBLE`` teachers of the shipped recipe (seeds 0, 1, ...)
    on all the training images, their logits averaged."""
    n_members = N_ENSEMBLE if n_members is None else n_members
    return D.Ensemble([D.fit_teacher(ds.X_train, ds.y_train, random_state=s, **mlp_kwargs) for s in range(n_members)])


def moved_transfer(teacher, X) -> dict:
    """Section 3's transfer set: ``X`` moved by ``SHIFT_PIXELS`` four ways and the teacher's
    logits there, as ``fit_student``'s X_transfer / X_transfer_logits."""
    moved = D.shifted_copies(X, SHIFT_PIXELS)
    return dict(X_transfer=moved, X_transfer_logits=D.teacher_logits(teacher, moved))


def compute(quick=False, jobs=1) -> dict:
    """Run every experiment; returns the arrays saved in the results file.
    ``quick``: tiny settings, for a smoke test of this code (not for the notebook);
    ``jobs``: processes for the dashboard's grid (the same numbers at any count)."""
    global EPOCHS, PITFALL_GRID, EARLY_CANDIDATES, N_ENSEMBLE
    ds = load_dataset("mnist-5k")
    grid_T, grid_w, sizes, kinds, seeds = GRID_T, GRID_W, GRID_SIZES, GRID_KINDS, SEEDS
    if quick:
        EPOCHS, grid_T, grid_w, sizes, seeds = 1, (1.0, 4.0), (0.5,), (10, 30), (0, 1)
        PITFALL_GRID, EARLY_CANDIDATES, N_ENSEMBLE = ((1.0, 0.5), (4.0, 0.9)), (2, 3), 2
    out = dict(grid_T=np.array(grid_T), grid_w=np.array(grid_w), grid_sizes=np.array(sizes),
               grid_kinds=np.array(kinds), seeds=np.array(seeds), epochs=np.array(EPOCHS))
    oof, shipped = _teachers(ds, 2 if quick else TEACHER_MAX_ITER)
    V = D.teacher_logits(oof, ds.X_train)                       # (3500, 10): each from the member that did not see it
    out["teacher_train_logits"] = V            # float64: the grid students train on exactly these
    out["teacher_test_logits"] = D.teacher_logits(oof, ds.X_test).astype(np.float32)
    out["shipped_train_logits"] = D.teacher_logits(shipped, ds.X_train).astype(np.float32)
    out["teacher_test_pred"] = oof.predict(ds.X_test)
    out["teacher_val"] = np.array(oof.score(ds.X_val, ds.y_val))
    out["shipped_test_pred"] = shipped.predict(ds.X_test)
    out["teacher_bytes"] = np.array(shipped.storage_bits() / 8)

    # --- the dashboard's grid: kind x size x T x w, seed 0, + the hard-label student -------
    out.update(compute_grid(V, kinds, sizes, grid_T, grid_w, EPOCHS, jobs))
    val = out["grid_val"]

    def chosen(kind, size):
        i, j = kinds.index(kind), sizes.index(size)
        a, b = np.unravel_index(np.argmax(val[i, j]), val[i, j].shape)
        return float(grid_T[a]), float(grid_w[b])

    # --- 1. Hinton's pattern + accuracy vs size: relu students, 3 seeds, T/w chosen on val ----
    hard = np.zeros((len(sizes), len(seeds)))
    dist, chosen_Tw = np.zeros_like(hard), np.zeros((len(sizes), 2))
    hard_pred = np.zeros((len(sizes), len(seeds), len(ds.y_test)), dtype=np.int64)
    dist_pred = np.zeros_like(hard_pred)
    for j, size in enumerate(sizes):
        T, w = chosen("relu", size)
        chosen_Tw[j] = T, w
        for s, seed in enumerate(seeds):
            student = make_student("relu", size, seed)
            for arr, pred, kw in ((hard, hard_pred, {}), (dist, dist_pred, dict(logits=V, T=T, w=w))):
                r = fit_student(student, ds.X_train, ds.y_train, ds, seed=seed, **kw)
                arr[j, s], pred[j, s] = r["test"], r["network"].predict(ds.X_test)
        _log(f"sizes {size}: hard {hard[j].mean():.3f}, distilled {dist[j].mean():.3f}")
    out.update(sizes_hard_test=hard, sizes_dist_test=dist, sizes_Tw=chosen_Tw, sizes_hard_pred=hard_pred,
               sizes_dist_pred=dist_pred)

    # --- the pitfall and its fixes: the same student, each source of soft targets with its own T, w ----
    size = 30 if 30 in sizes else sizes[0]
    T, w = chosen("relu", size)                       # the out-of-fold teacher's: experiments 2-4 use these
    out.update(pitfall(ds, V, shipped, size, seeds, hard[sizes.index(size)], quick))
    out.update(pitfall_Tw=np.array([T, w]))

    # --- 2. the omitted 3 ---------------------------------------------------------------
    keep = ds.y_train != OMITTED
    omit = {k: np.zeros((len(seeds),)) for k in ("hard_before", "hard_after", "dist_before", "dist_after",
                                                   "hard_shift", "dist_shift", "hard_all", "dist_all",
                                                   "hard_all_after", "dist_all_after")}
    threes = ds.y_test == OMITTED
    for s, seed in enumerate(seeds):
        for name, kw in (("hard", {}), ("dist", dict(logits=V[keep], T=T, w=w))):
            r = fit_student(make_student("relu", size, seed), ds.X_train[keep], ds.y_train[keep], ds, seed=seed, **kw)
            net = r["network"]
            shift, _ = D.choose_bias_shift(net, ds.X_train, ds.y_train, OMITTED)      # training rows, 3s included
            shifted = D.shift_bias(net, OMITTED, shift)
            omit[f"{name}_before"][s] = np.mean(net.predict(ds.X_test[threes]) == OMITTED)
            omit[f"{name}_after"][s] = np.mean(shifted.predict(ds.X_test[threes]) == OMITTED)
            omit[f"{name}_shift"][s] = shift
            omit[f"{name}_all"][s] = net.score(ds.X_test, ds.y_test)
            omit[f"{name}_all_after"][s] = shifted.score(ds.X_test, ds.y_test)
    out.update({f"omit_{k}": v for k, v in omit.items()})
    _log(f"omitted 3: dist before {omit['dist_before'].mean():.3f} after {omit['dist_after'].mean():.3f}")

    # --- 3. less labelled data: 500 labels + 3,000 unlabelled transfer images ----------
    out.update(less_labelled(ds, V, T, w, size, seeds))

    # --- 4. regardless of structure ---------------------------------------------------
    struct_names, struct_hard, struct_dist, struct_bytes = [], [], [], []
    lowrank_start = D.lowrank_student(shipped, list(LOWRANK_RANKS))
    kinds4 = [("2 layers", "2 layers", 30), ("tanh", "tanh", 30), ("softmax regression", "softmax regression", 0),
              ("14x14 input", "14x14 input", 30)]
    for label, kind, width in kinds4:
        h, d = [], []
        transform = D.downsample if kind == "14x14 input" else None
        for seed in seeds:
            student = make_student(kind, width, seed)
            h.append(fit_student(student, ds.X_train, ds.y_train, ds, seed=seed, transform=transform)["test"])
            d.append(fit_student(student, ds.X_train, ds.y_train, ds, logits=V, T=T, w=w, seed=seed,
                                 transform=transform)["test"])
        struct_names.append(label + ("" if width == 0 else f" ({width})"))
        struct_hard.append(h), struct_dist.append(d), struct_bytes.append(student.storage_bits() / 8)
        _log(f"structure {label}: hard {np.mean(h):.3f} distilled {np.mean(d):.3f}")
    h, d = [], []
    for seed in seeds:                                      # the start is deterministic; seeds shuffle batches
        h.append(fit_student(lowrank_start, ds.X_train, ds.y_train, ds, seed=seed)["test"])
        d.append(fit_student(lowrank_start, ds.X_train, ds.y_train, ds, logits=V, T=T, w=w, seed=seed)["test"])
    struct_names.append(lowrank_label(lowrank_start))
    struct_hard.append(h), struct_dist.append(d), struct_bytes.append(lowrank_start.storage_bits() / 8)
    _log(f"structure low-rank: hard {np.mean(h):.3f} distilled {np.mean(d):.3f}")
    for scheme, bits in (("symmetric", 2), ("binary", 1)):
        h, d = [], []
        for seed in seeds:
            student = make_student("relu", 100, seed)
            for arr, weight in ((h, 0.0), (d, w)):
                q, _ = D.distill_quantized(oof, student, ds.X_train, ds.y_train, scheme, bits, granularity="neuron"
                                           if scheme == "symmetric" else "tensor", temperature=T, soft_weight=weight,
                                           epochs=EPOCHS, random_state=seed, progress=False)
                arr.append(q.score(ds.X_test, ds.y_test))
        struct_names.append(f"{bits}-bit {scheme} QAT (100)")
        struct_hard.append(h), struct_dist.append(d), struct_bytes.append(q.storage_bits() / 8)
        _log(f"structure {scheme} {bits}: hard {np.mean(h):.3f} distilled {np.mean(d):.3f}")
    out.update(struct_names=np.array(struct_names), struct_hard_test=np.array(struct_hard),
               struct_dist_test=np.array(struct_dist), struct_bytes=np.array(struct_bytes))
    add_pruned(out, ds, V, T, w, seeds, shipped)
    # the other families on the same axes: the shipped teacher compressed without retraining
    from .lowrank import factorize
    from .quantization import quantize
    others = {"teacher float64": shipped, "teacher 4-bit PTQ": quantize(shipped, "symmetric", 4, granularity="neuron"),
              "teacher low-rank (20, 20, 10)": factorize(shipped, ranks=[20, 20, 10]).network}
    out.update(family_names=np.array(list(others)),
               family_bytes=np.array([n.storage_bits() / 8 for n in others.values()]),
               family_test=np.array([n.score(ds.X_test, ds.y_test) for n in others.values()]))

    out.update(fitnets(ds, V, T, w, seeds, shipped, quick))
    out.update(regression(quick))
    return out


def pitfall(ds, V, shipped, size, seeds, hard_test, quick=False) -> dict:
    """Section 3 of the notebook: soft targets for the training images from each teacher,
    side by side, each at its own (T, w) chosen on validation (``tuned_student``):
    the shipped teacher (memorised), an ensemble of ``N_ENSEMBLE`` (memorised too), an
    early-stopped teacher (its epochs chosen by its student's validation accuracy), the
    out-of-fold teacher (``V``), and the shipped teacher with a transfer set of the
    training images moved by ``SHIFT_PIXELS`` (soft targets only there). The control
    for the last: the same moved images with their labels, no teacher."""
    X = ds.X_train
    shipped_logits = D.teacher_logits(shipped, X)
    ensemble = ensemble_teacher(ds, **({"max_iter": 2} if quick else {}))
    early = {}
    for epochs in EARLY_CANDIDATES:          # the teacher's epochs are a setting of the distillation
        teacher = D.early_stopped_teacher(X, ds.y_train, max_iter=epochs)
        early[epochs] = (teacher, tuned_student(ds, size, D.teacher_logits(teacher, X), seeds[:1]))
    early_epochs = max(early, key=lambda e: early[e][1]["val"])      # the first best
    early_teacher, early_choice = early[early_epochs]
    transfer = moved_transfer(shipped, X)
    moved = transfer["X_transfer"]
    sources = {
        "shipped (memorised)": dict(logits=shipped_logits),
        f"ensemble of {len(ensemble.members)} (memorised)": dict(logits=D.teacher_logits(ensemble, X)),
        f"early-stopped ({early_epochs} epochs)": dict(logits=D.teacher_logits(early_teacher, X),
                                                       chosen=early_choice),      # its seed 0 ran above
        f"out-of-fold ({N_FOLDS} folds)": dict(logits=V),
        f"shipped + {len(moved):,} moved images": dict(logits=shipped_logits, **transfer),
    }
    runs = {name: tuned_student(ds, size, seeds=seeds, **kw) for name, kw in sources.items()}
    entropy = []                             # on every image the student gets soft targets for
    for kw in sources.values():
        logits = np.vstack([kw["logits"]] + ([kw["X_transfer_logits"]] if "X_transfer" in kw else []))
        entropy.append([np.mean(D.entropy(D.soften(logits, T))) for T in (1.0, 4.0)])
    control = [fit_student(make_student("relu", size, seed), np.vstack([X, moved]),
                           np.concatenate([ds.y_train, np.tile(ds.y_train, len(moved) // len(X))]), ds,
                           seed=seed)["test"] for seed in seeds]
    _log("pitfall: " + ", ".join(f"{n} {r['test'].mean():.3f} (T={r['T']:g}, w={r['w']:g})" for n, r in runs.items())
         + f"; moved images with labels {np.mean(control):.3f}")
    return dict(pitfall_teachers=np.array(list(runs)), pitfall_test=np.array([r["test"] for r in runs.values()]),
                pitfall_teacher_Tw=np.array([[r["T"], r["w"]] for r in runs.values()]),
                pitfall_val=np.array([r["val"] for r in runs.values()]),
                pitfall_entropy=np.array(entropy), pitfall_hard_test=np.asarray(hard_test),
                pitfall_size=np.array(size), pitfall_grid=np.array(PITFALL_GRID),       # tuned_student's grid
                pitfall_control_test=np.array(control), pitfall_moved=np.array(len(moved)),
                early_candidates=np.array(list(early)),
                early_candidates_val=np.array([e[1]["val"] for e in early.values()]),
                early_epochs=np.array(early_epochs), early_val=np.array(early_teacher.score(ds.X_val, ds.y_val)),
                early_test=np.array(early_teacher.score(ds.X_test, ds.y_test)),
                ensemble_val=np.array(ensemble.score(ds.X_val, ds.y_val)),
                ensemble_test=np.array(ensemble.score(ds.X_test, ds.y_test)),
                shipped_moved_accuracy=np.array(shipped.score(moved, np.tile(ds.y_train, 4))))


def pitfall_point(results, row, seed=0) -> dict:
    """Recompute one student of the side by side (row ``row`` of ``pitfall_teachers``) at
    its stored T and w: dict(val, test, epoch). The ensemble and early-stopped teachers are
    refit by their recipe (deterministic); the others come from the shipped teacher or
    the stored out-of-fold logits."""
    from threadpoolctl import threadpool_limits

    ds = load_dataset("mnist-5k")
    X, name, extra = ds.X_train, str(results["pitfall_teachers"][row]), {}
    T, w = (float(v) for v in results["pitfall_teacher_Tw"][row])
    with threadpool_limits(limits=1):
        if name.startswith("shipped"):
            shipped = D.default_teacher()
            logits = D.teacher_logits(shipped, X)
            if "moved" in name:
                extra = moved_transfer(shipped, X)
        elif name.startswith("ensemble"):
            logits = D.teacher_logits(ensemble_teacher(ds), X)
        elif name.startswith("early"):
            logits = D.teacher_logits(D.early_stopped_teacher(X, ds.y_train, max_iter=int(results["early_epochs"])), X)
        else:
            logits = results["teacher_train_logits"].astype(float)
        r = fit_student(make_student("relu", int(results["pitfall_size"]), seed), X, ds.y_train, ds, logits=logits,
                        T=T, w=w, seed=seed, epochs=int(results["epochs"]), **extra)
    return {k: r[k] for k in ("val", "test", "epoch")}


def pruned_start(shipped=None):
    """The pruned student's start: the shipped teacher pruned to ``PRUNED_SPARSITY`` (a ``PruneResult``)."""
    from .pruning import prune

    return prune(D.default_teacher() if shipped is None else shipped, PRUNED_SPARSITY)


def add_pruned(out, ds, V, T, w, seeds, shipped=None):
    """4, the pruned student: its row (re)placed at the end of the ``struct_*`` arrays of ``out``."""
    from .pruning import to_sparse

    start = pruned_start(shipped)
    h = [fit_student(start, ds.X_train, ds.y_train, ds, seed=seed)["test"] for seed in seeds]
    d = [fit_student(start, ds.X_train, ds.y_train, ds, logits=V, T=T, w=w, seed=seed)["test"] for seed in seeds]
    name = f"pruned {PRUNED_SPARSITY:.0%} from the teacher (CSR)"
    keep = [i for i, n in enumerate(out["struct_names"]) if not str(n).startswith("pruned")]
    out["struct_names"] = np.array([str(out["struct_names"][i]) for i in keep] + [name])
    for key, row in (("struct_hard_test", h), ("struct_dist_test", d),
                     ("struct_bytes", to_sparse(start.network, "csr").storage_bits() / 8)):
        out[key] = np.concatenate([np.asarray(out[key])[keep], [row]])
    out["pruned_sparsity"] = np.array(start.sparsity)
    out["pruned_start_test"] = np.array(start.network.score(ds.X_test, ds.y_test))
    _log(f"structure pruned: hard {np.mean(h):.3f} distilled {np.mean(d):.3f}")
    return out


def fitnets_run(ds, V, T, w, seed, shipped, teacher_layer, student_layer, hint_epochs):
    """One FitNets student: hint stage (``D.hint_train``) then the plain student's distillation."""
    kind, width = FITNETS_STUDENT
    guided, history = D.hint_train(shipped, make_student(kind, width, seed), ds.X_train,
                                   student_layer=student_layer, teacher_layer=teacher_layer, epochs=hint_epochs,
                                   random_state=seed, progress=False)
    r = fit_student(guided, ds.X_train, ds.y_train, ds, logits=V, T=T, w=w, seed=seed)
    return dict(r, hint_mse=history.hint_mse)


def fitnets(ds, V, T, w, seeds, shipped=None, quick=False) -> dict:
    """Hints (Romero et al. 2015) against plain distillation for the same student and seeds."""
    shipped = D.default_teacher() if shipped is None else shipped
    kind, width = FITNETS_STUDENT
    grid = [(t, s, e) for t in FITNETS_GRID["teacher_layer"] for s in FITNETS_GRID["student_layer"]
            for e in FITNETS_GRID["hint_epochs"]]
    if quick:
        grid = grid[:2]
    grid_val = [fitnets_run(ds, V, T, w, seeds[0], shipped, *g)["val"] for g in grid]
    choice = grid[int(np.argmax(grid_val))]                         # the first best: validation, seed 0
    hard, plain, hints, mse = [], [], [], []
    for seed in seeds:
        student = make_student(kind, width, seed)
        hard.append(fit_student(student, ds.X_train, ds.y_train, ds, seed=seed)["test"])
        plain.append(fit_student(student, ds.X_train, ds.y_train, ds, logits=V, T=T, w=w, seed=seed)["test"])
        r = fitnets_run(ds, V, T, w, seed, shipped, *choice)
        hints.append(r["test"])
        mse.append(r["hint_mse"])
    _log(f"fitnets {choice}: plain {np.mean(plain):.3f} hints {np.mean(hints):.3f} hard {np.mean(hard):.3f}")
    return dict(fitnets_student=np.array(f"{kind} ({width})"), fitnets_grid=np.array(grid),
                fitnets_grid_val=np.array(grid_val), fitnets_choice=np.array(choice),
                fitnets_hard_test=np.array(hard), fitnets_plain_test=np.array(plain),
                fitnets_test=np.array(hints), fitnets_hint_mse=np.array(mse))


def pruned_point(results, seed=0, distilled=True):
    """Recompute one pruned student of experiment 4 from the stored teacher logits: dict(val, test, epoch)."""
    from threadpoolctl import threadpool_limits

    ds = load_dataset("mnist-5k")
    T, w = (float(v) for v in results["pitfall_Tw"])
    kw = dict(logits=results["teacher_train_logits"].astype(float), T=T, w=w) if distilled else {}
    with threadpool_limits(limits=1):
        r = fit_student(pruned_start(), ds.X_train, ds.y_train, ds, seed=seed, **kw)
    return {k: r[k] for k in ("val", "test", "epoch")}


def fitnets_point(results, seed=0):
    """Recompute one FitNets student at the stored choice: dict(val, test, epoch, hint_mse)."""
    from threadpoolctl import threadpool_limits

    ds = load_dataset("mnist-5k")
    T, w = (float(v) for v in results["pitfall_Tw"])
    with threadpool_limits(limits=1):
        r = fitnets_run(ds, results["teacher_train_logits"].astype(float), T, w, seed, D.default_teacher(),
                        *(int(c) for c in results["fitnets_choice"]))
    return {k: r[k] for k in ("val", "test", "epoch", "hint_mse")}


def less_labelled(ds, V, T, w, size, seeds, arms=(0, 1, 2)) -> dict:
    """3. ``N_LABELLED`` labelled images, the rest an unlabelled transfer set. Arms: 0 hard
    labels, 1 distilled from a teacher fit on the labelled images only, 2 distilled with
    the out-of-fold logits ``V`` (rows of ``ds.X_train``, matched to the split by content)."""
    X_lab, y_lab, X_unlab = D.split_labelled(ds.X_train, ds.y_train, N_LABELLED)
    row_of = {k: i for i, k in enumerate(D._row_keys(ds.X_train))}
    V_lab = V[[row_of[k] for k in D._row_keys(X_lab)]]        # the split shuffles: match rows by content
    V_unlab = V[[row_of[k] for k in D._row_keys(X_unlab)]]
    small_teacher = D.fit_teacher(X_lab, y_lab, max_iter=200)                  # saw the 500 labels only
    S_lab, S_unlab = D.teacher_logits(small_teacher, X_lab), D.teacher_logits(small_teacher, X_unlab)
    lab_epochs = EPOCHS * 7                                 # 500 rows: as many steps as EPOCHS epochs of 3,500
    less = np.full((3, len(seeds)), np.nan)
    for s, seed in enumerate(seeds):
        student = make_student("relu", size, seed)
        if 0 in arms:
            less[0, s] = fit_student(student, X_lab, y_lab, ds, epochs=lab_epochs, seed=seed)["test"]
        for arm, (A, B) in ((1, (S_lab, S_unlab)), (2, (V_lab, V_unlab))):
            if arm in arms:
                less[arm, s] = fit_student(student, X_lab, y_lab, ds, logits=A, T=T, w=w, X_transfer=X_unlab,
                                           X_transfer_logits=B, seed=seed)["test"]
    _log(f"less labelled: {less.mean(axis=1)}")
    return dict(less_test=less, less_names=np.array(["hard labels (500)", "distilled, teacher fit on the 500",
                                                     "distilled, out-of-fold teacher (all 3,500 labels)"]),
                less_small_teacher_test=np.array(small_teacher.score(ds.X_test, ds.y_test)),
                less_n_labelled=np.array(N_LABELLED))


def regression(quick=False) -> dict:
    """5. Regression with sklearn's bundled diabetes data (442 patients, 10 features)."""
    from sklearn.datasets import load_diabetes

    Xd, yd = load_diabetes(return_X_y=True)
    reg = D.regression_distillation(Xd, yd, seeds=(0,) if quick else tuple(range(5)), **REGRESSION)
    _log(f"regression: {({k: float(v.mean()) for k, v in reg.items()})}")
    return {f"reg_{k}": v for k, v in reg.items()}


def lowrank_label(network) -> str:
    """"low-rank (10, 10, dense) from the teacher": each layer's rank, "dense" where
    ``factorize`` kept it whole (a rank at or above the break-even)."""
    ranks = ", ".join(str(layer.rank) if hasattr(layer, "rank") else "dense" for layer in network.layers)
    return f"low-rank ({ranks}) from the teacher"


def save(results: dict, path=RESULTS_FILE):
    arrays = {k: np.asarray(v) for k, v in results.items()}
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError(f"results[{k!r}] must be a plain array (no pickles); got dtype object")
    _write_atomically(Path(path), **arrays)          # a killed run leaves the old file whole


def load_results(path=RESULTS_FILE) -> dict:
    """The precomputed results as a dict of arrays (see the module doc for the command)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: regenerate it with python -m compresslab.distillation_results")
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def parse_args(argv):
    """The command line; ``--help`` lists it (and an unknown flag is refused before any run)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m compresslab.distillation_results",
                                     description="Run the distillation notebook's training runs (about 18 "
                                                 "minutes with --jobs 2) and write data/distillation_results.npz.")
    parser.add_argument("--quick", action="store_true", help="a small, fast version (to try the command)")
    parser.add_argument("--regression", action="store_true", help="redo experiment 5 only, keep the rest")
    parser.add_argument("--pruned", action="store_true", help="redo the pruned student only, keep the rest")
    parser.add_argument("--fitnets", action="store_true", help="redo the FitNets comparison only, keep the rest")
    parser.add_argument("--pitfall", action="store_true",
                        help="redo the teachers side by side (notebook section 3) only, keep the rest")
    parser.add_argument("--fix-oof", action="store_true",
                        help="refit the out-of-fold teacher and redo its arm of experiment 3 (an old file)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes for the dashboard's grid (default 1; the numbers do not depend on it)")
    parser.add_argument("--out", default=None, help=f"another path for the .npz (default {RESULTS_FILE})")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    quick = args.quick
    from threadpoolctl import threadpool_limits
    t0 = time.perf_counter()
    parts = [f"--{name}" for name in ("regression", "pruned", "fitnets", "pitfall") if getattr(args, name)]
    with threadpool_limits(limits=1):
        if parts:                               # redo these parts only, keep the rest of the file
            results = load_results()
            if "--regression" in parts:
                results.update(regression(quick))
            if "--pruned" in parts or "--fitnets" in parts or "--pitfall" in parts:
                ds = load_dataset("mnist-5k")
                V = results["teacher_train_logits"].astype(float)
                T, w = (float(v) for v in results["pitfall_Tw"])
                seeds = tuple(int(s) for s in results["seeds"])
                if "--pruned" in parts:
                    add_pruned(results, ds, V, T, w, seeds)
                if "--fitnets" in parts:
                    results.update(fitnets(ds, V, T, w, seeds, quick=quick))
                if "--pitfall" in parts:
                    results.update(pitfall(ds, V, D.default_teacher(), int(results["pitfall_size"]), seeds,
                                           results["pitfall_hard_test"], quick))
        elif args.fix_oof:
            # a file written before two fixes: the out-of-fold training logits stored in float32
            # (the students trained on the float64 ones: refit the deterministic teacher), and
            # the out-of-fold arm of part 3 (its rows were misaligned with the shuffled split)
            results = load_results()
            ds = load_dataset("mnist-5k")
            V = D.teacher_logits(D.out_of_fold_teacher(ds.X_train, ds.y_train, N_FOLDS, max_iter=TEACHER_MAX_ITER),
                                 ds.X_train)
            stored = results["teacher_train_logits"]
            if not np.array_equal(V.astype(stored.dtype), stored):
                raise RuntimeError("the refitted out-of-fold teacher differs from the stored logits")
            results["teacher_train_logits"] = V
            T, w = (float(v) for v in results["pitfall_Tw"])
            fixed = less_labelled(ds, V, T, w, int(results["pitfall_size"]), tuple(results["seeds"]), arms=(2,))
            results["less_test"][2] = fixed["less_test"][2]
        else:
            results = compute(quick=quick, jobs=args.jobs)
    path = RESULTS_FILE if args.out is None else Path(args.out)
    save(results, path)
    _log(f"wrote {path} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
