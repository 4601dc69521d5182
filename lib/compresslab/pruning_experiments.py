"""The pruning notebook's slow experiments, run once and shipped as plain arrays.

Multi-seed training runs take minutes, more than a notebook may take, so they
run here and ship as ``data/pruning_experiments.npz`` (test-set predictions,
validation accuracies, sizes, the measured speed curves); the notebook
computes every accuracy, standard deviation and paired test from them.
Regenerate with

    python -m compresslab.pruning_experiments --regenerate

(about 17 minutes on one core; ``--only distilled`` reruns one experiment and keeps the
rest); tests/test_pruning.py recomputes a point and a lottery seed. The distilled MLPs
read notebook 04's shipped teacher logits (``distillation_results``).
The technique itself is ``pruning.py``.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_choice
from .network import random_network
from .pruning import (apply_masks, fine_tune, iterative_prune, lottery_ticket, prune, rank_weights,
                      retrain_from_scratch, sizes, to_sparse)

EXPERIMENTS_FILE = "pruning_experiments.npz"
EXPERIMENT_SEEDS = (0, 1, 2)
COMPARE_SPARSITIES = (0.9, 0.95, 0.98)    # one-shot vs iterative; pruned vs smaller dense MLPs
COMPARE_EPOCHS = 6                         # the same training budget for one-shot (6 epochs) and iterative (6 x 1)
HAN_SPARSITY = 0.92                        # 1 / (1 - 0.92) = 12.5x fewer nonzero weights
HAN_STEPS, HAN_EPOCHS_PER_STEP = 6, 2
SCOPE_VARIANTS = ("global", "layer", "layer, output spared")
SCOPE_SPARSITY, SCOPE_EPOCHS = 0.9, 5
SCRATCH_EPOCHS = 15                        # Liu et al.: the pruned architecture trained from a fresh init
DENSE_EPOCHS = 40                          # small dense MLPs from scratch: at most, the best epoch on validation kept
DENSE_L2 = (1e-4, 1e-3)                    # their L2 penalties tried (chosen on validation)
DISTILL_SETTINGS = ((1.0, 0.5), (4.0, 0.5), (4.0, 0.9))   # (T, soft weight) tried for the distilled MLPs
OVERFIT_SAMPLES_PER_CLASS = 50             # a 500-image training subset
OVERFIT_SPARSITIES = (0.5, 0.8, 0.9, 0.95)
OVERFIT_EPOCHS, OVERFIT_FT_EPOCHS = 60, 20
LOTTERY_SPARSITY, LOTTERY_ROUNDS, LOTTERY_EPOCHS = 0.95, 3, 5
SPEED_SPARSITIES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995)
SPEED_UNIT_FRACTIONS = (0.25, 0.5, 0.75, 0.9)   # neuron pruning: fraction of each hidden layer's units removed
SPEED_BATCHES = (1, 1000)


def _lenet():
    from .data import load_dataset
    from .models import load_pretrained
    from .network import from_sklearn

    return load_dataset("mnist-5k"), from_sklearn(load_pretrained("mnist-5k"))


def _preds(network, ds):
    return network.predict(ds.X_test).astype(np.int8), network.score(ds.X_val, ds.y_val)


def _exp_iterative(ds, net, seed, sparsities=COMPARE_SPARSITIES):
    """One-shot + COMPARE_EPOCHS epochs against iterative (cubic, COMPARE_EPOCHS steps of 1 epoch)."""
    out = {k: [] for k in ("one_shot.pred", "one_shot.val", "iterative.pred", "iterative.val",
                           "iterative.kept", "iterative.csr_bytes")}
    for s in sparsities:
        one = fine_tune(prune(net, s), ds.X_train, ds.y_train, COMPARE_EPOCHS, random_state=seed)
        it = iterative_prune(net, s, ds.X_train, ds.y_train, steps=COMPARE_EPOCHS, epochs_per_step=1,
                             random_state=seed)
        for name, result in (("one_shot", one), ("iterative", it)):
            pred, val = _preds(result.network, ds)
            out[f"{name}.pred"].append(pred)
            out[f"{name}.val"].append(val)
        out["iterative.kept"].append(it.kept)
        out["iterative.csr_bytes"].append(it.sparse("csr").serialized_bytes())
    return out


def _exp_han(ds, net, seed):
    """Iterative magnitude pruning to HAN_SPARSITY (Han et al. 2015 on our data)."""
    result = iterative_prune(net, HAN_SPARSITY, ds.X_train, ds.y_train, steps=HAN_STEPS,
                             epochs_per_step=HAN_EPOCHS_PER_STEP, random_state=seed)
    pred, val = _preds(result.network, ds)
    return {"han.pred": pred, "han.val": val, "han.kept": result.kept,
            "han.nonzeros": sum(int(np.count_nonzero(layer.to_dense().weight)) for layer in result.network.layers)}


def _exp_scopes(ds, net, seed, variants=SCOPE_VARIANTS):
    """Global vs layer-wise magnitude pruning at SCOPE_SPARSITY, then SCOPE_EPOCHS of fine-tuning."""
    out = {"scopes.pred": [], "scopes.val": []}
    for variant in variants:
        if variant == "global":
            result = prune(net, SCOPE_SPARSITY)
        else:
            last = 0.0 if "spared" in variant else SCOPE_SPARSITY
            result = prune(net, [SCOPE_SPARSITY, SCOPE_SPARSITY, last], scope="layer")
        tuned = fine_tune(result, ds.X_train, ds.y_train, SCOPE_EPOCHS, random_state=seed)
        pred, val = _preds(tuned.network, ds)
        out["scopes.pred"].append(pred)
        out["scopes.val"].append(val)
    return out


def _exp_scratch(ds, net, seed, sparsities=COMPARE_SPARSITIES):
    """Liu et al. 2019: the masks of one-shot global magnitude pruning, trained from a fresh init."""
    out = {"scratch.pred": [], "scratch.val": []}
    for s in sparsities:
        fresh = retrain_from_scratch(prune(net, s), ds.X_train, ds.y_train, SCRATCH_EPOCHS, random_state=seed + 1)
        pred, val = _preds(fresh.network, ds)
        out["scratch.pred"].append(pred)
        out["scratch.val"].append(val)
    return out


def dense_shapes(n_params: int, n_inputs=784, n_classes=10) -> list:
    """Hidden sizes of the two candidate dense MLPs with about ``n_params`` weights + biases:
    one hidden layer (h), and two with LeNet's 3:1 ratio (h, h / 3)."""
    one = max(1, round((n_params - n_classes) / (n_inputs + 1 + n_classes)))
    # two layers, h and h/3: n h + h + h^2/3 + h/3 + 10 h/3 + 10 = P  ->  a h^2 + b h + c = 0
    a, b, c = 1 / 3, n_inputs + 1 + 1 / 3 + n_classes / 3, n_classes - n_params
    h = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return [(one,), (max(3, round(h)), max(1, round(h / 3)))]


def budgets(net, sparsities=COMPARE_SPARSITIES) -> dict:
    """Per sparsity, the pruned LeNet's stored numbers (nonzero weights + biases) and its CSR
    file bytes (float64, one-shot global magnitude masks: the file of a fine-tuned network
    differs only in the deflated values)."""
    ranking = rank_weights(net)
    out = {"nonzeros": [], "bytes": []}
    for s in sparsities:
        pruned = to_sparse(apply_masks(net, ranking.masks(s)), "csr")
        out["nonzeros"].append(pruned.n_params)
        out["bytes"].append(pruned.serialized_bytes())
    return out


def _dense_of_bytes(target_bytes, shape_of) -> tuple:
    """The hidden sizes (from ``shape_of(params)``) whose float64 .npz is closest to ``target_bytes``."""
    guess = int(target_bytes / 8)
    for _ in range(4):                    # deflate squeezes dense float64 a little: correct the guess
        sizes = shape_of(guess)
        net = random_network((784, *sizes, 10))
        guess = int(guess * target_bytes / net.serialized_bytes())
    return shape_of(guess)


def _candidate_shapes(budget, kind, k) -> list:
    """The two candidate hidden sizes at budget ``k``: by stored numbers or by file bytes."""
    if kind == "nonzeros":
        return dense_shapes(budget["nonzeros"][k])
    return [_dense_of_bytes(budget["bytes"][k], lambda p, j=j: dense_shapes(p)[j]) for j in range(2)]


def _exp_dense(ds, net, seed, sparsities=COMPARE_SPARSITIES, teacher_logits=None, settings=((1.0, 0.0),)):
    """A smaller dense MLP from scratch at each pruned budget, by nonzeros and by bytes. Tuned on
    *validation* per seed: the shape (two candidates), the L2 penalty (``DENSE_L2``), the epoch
    (the best of up to DENSE_EPOCHS: early stopping) and, when distilled, the temperature and soft
    weight; the test predictions of the best are reported. ``teacher_logits``: soft targets for
    the training images (``_exp_distilled``), trained with every (T, w) of ``settings``."""
    from .training import train

    budget = budgets(net, sparsities)
    distilled = teacher_logits is not None
    out = {k: [] for k in ("dense.pred", "dense.val", "dense.params", "dense.bytes", "dense.hidden",
                           "dense.l2", "dense.epoch") + (("dense.Tw",) if distilled else ())}
    for kind in ("nonzeros", "bytes"):
        for k in range(len(sparsities)):
            best = dict(val=-1.0)
            for sizes in _candidate_shapes(budget, kind, k):
                for l2 in DENSE_L2:
                    for T, w in settings:
                        model = random_network((784, *sizes, 10), classes=net.classes, random_state=seed)

                        def keep_best(epoch, history, model=model, sizes=sizes, l2=l2, Tw=(T, w)):
                            val = model.score(ds.X_val, ds.y_val)
                            if val > best["val"]:
                                best.update(val=val, model=model.copy(), sizes=sizes, l2=l2, epoch=epoch + 1, Tw=Tw)
                        train(model, ds.X_train, ds.y_train, epochs=DENSE_EPOCHS, l2=l2, random_state=seed,
                              progress=False, teacher_logits=teacher_logits if w > 0 else None, temperature=T,
                              soft_weight=w, on_epoch=keep_best)
            model = best["model"]
            out["dense.pred"].append(model.predict(ds.X_test).astype(np.int8))
            out["dense.val"].append(best["val"])
            out["dense.params"].append(model.n_params)
            out["dense.bytes"].append(model.serialized_bytes())
            out["dense.hidden"].append(list(best["sizes"]) + [0] * (2 - len(best["sizes"])))
            out["dense.l2"].append(best["l2"])
            out["dense.epoch"].append(best["epoch"])
            if distilled:                    # plain training has no temperature, no soft weight
                out["dense.Tw"].append(best["Tw"])
    return out


def _exp_distilled(ds, net, seed, sparsities=COMPARE_SPARSITIES):
    """The same smaller dense MLPs, distilled (Hinton et al. 2015): soft targets from notebook 04's
    out-of-fold teacher (``distillation_results``: each training image's targets come from a
    LeNet-300-100 that did not see it; the shipped LeNet has memorised its training images and
    gives near one-hot targets), T and the soft weight chosen on validation with the shape."""
    from .distillation_results import load_results

    logits = load_results()["teacher_train_logits"].astype(float)
    out = _exp_dense(ds, net, seed, sparsities, teacher_logits=logits, settings=DISTILL_SETTINGS)
    return {key.replace("dense.", "distilled."): value for key, value in out.items()}


def overfit_subset(ds, per_class=OVERFIT_SAMPLES_PER_CLASS):
    """The first ``per_class`` training images of each digit (indices into the training split)."""
    return np.sort(np.concatenate([np.flatnonzero(ds.y_train == c)[:per_class] for c in np.unique(ds.y_train)]))


def _exp_overfit(ds, net, seed, sparsities=OVERFIT_SPARSITIES):
    """Dense LeNet from scratch on a 500-image subset (OVERFIT_EPOCHS + OVERFIT_FT_EPOCHS epochs) against
    the same network pruned after OVERFIT_EPOCHS and fine-tuned OVERFIT_FT_EPOCHS: equal training."""
    from .training import train

    idx = overfit_subset(ds)
    X, y = ds.X_train[idx], ds.y_train[idx]
    model = random_network((784, 300, 100, 10), classes=net.classes, random_state=seed)
    opts = dict(l2=1e-4, batch_size=32, random_state=seed, progress=False)
    train(model, X, y, epochs=OVERFIT_EPOCHS, **opts)
    snapshot = model.copy()
    train(model, X, y, epochs=OVERFIT_FT_EPOCHS, **opts)
    out = {"overfit.dense_pred": model.predict(ds.X_test).astype(np.int8), "overfit.dense_train": model.score(X, y),
           "overfit.pred": [], "overfit.train": []}
    for s in sparsities:
        tuned = fine_tune(prune(snapshot, s), X, y, OVERFIT_FT_EPOCHS, batch_size=32, random_state=seed)
        out["overfit.pred"].append(tuned.network.predict(ds.X_test).astype(np.int8))
        out["overfit.train"].append(tuned.network.score(X, y))
    return out


def _exp_lottery(ds, net, seed):
    """Frankle & Carbin 2019 from sklearn's initialisation with this seed (accuracies on the test set:
    reported, nothing is chosen from them)."""
    init = random_network((784, 300, 100, 10), classes=net.classes, random_state=seed)
    result = lottery_ticket(init, ds.X_train, ds.y_train, ds.X_test, ds.y_test, final_sparsity=LOTTERY_SPARSITY,
                            rounds=LOTTERY_ROUNDS, epochs=LOTTERY_EPOCHS, scope="global", random_state=seed,
                            fresh_seed=seed + 100)
    return {"lottery.dense": result.dense_accuracy,
            "lottery.sparsity": [r["sparsity"] for r in result.rounds],
            "lottery.rounds": [r["accuracy"] for r in result.rounds],
            "lottery.fresh_init": result.same_mask_fresh_init, "lottery.random_mask": result.random_mask}


SEEDED_EXPERIMENTS = {"iterative": _exp_iterative, "han": _exp_han, "scopes": _exp_scopes,
                      "scratch": _exp_scratch, "dense": _exp_dense, "distilled": _exp_distilled,
                      "overfit": _exp_overfit,
                      "lottery": _exp_lottery}


def run_experiment(name, seed, **kwargs) -> dict:
    """One seed of one precomputed experiment (what ``--regenerate`` runs), with one BLAS thread."""
    from threadpoolctl import threadpool_limits

    check_choice("name", name, tuple(SEEDED_EXPERIMENTS))
    ds, net = _lenet()
    with threadpool_limits(1):
        return {k: np.asarray(v) for k, v in SEEDED_EXPERIMENTS[name](ds, net, seed, **kwargs).items()}


def speed_curves(max_seconds=0.5) -> dict:
    """Measured delta (1 BLAS thread) of CSR-stored magnitude pruning at SPEED_SPARSITIES and of
    neuron pruning (a smaller dense network) at SPEED_UNIT_FRACTIONS, at each of SPEED_BATCHES."""
    from .metrics import measure_speedup

    ds, net = _lenet()
    ranking = rank_weights(net)
    out = {"speed.sparsity": np.array(SPEED_SPARSITIES), "speed.batches": np.array(SPEED_BATCHES)}
    csr = [to_sparse(apply_masks(net, ranking.masks(s)), "csr") for s in SPEED_SPARSITIES]
    neurons = [prune(net, [f, f], structure="neurons") for f in SPEED_UNIT_FRACTIONS]
    out["speed.neuron_sparsity"] = np.array([r.sparsity for r in neurons])
    for batch in SPEED_BATCHES:
        X = ds.X_test[:max(batch, 50)] if batch == 1 else ds.X_test[:batch]
        kw = dict(batch_size=1 if batch == 1 else None, max_seconds=max_seconds)
        out[f"speed.csr_b{batch}"] = np.array([measure_speedup(net, c, X, **kw).measured for c in csr])
        out[f"speed.neurons_b{batch}"] = np.array([measure_speedup(net, r.network, X, **kw).measured
                                                   for r in neurons])
    return out



def _run_seeded(names, seeds, progress) -> dict:
    """Every seed of the experiments ``names``: their arrays stacked, leading axis the seed."""
    import time

    arrays = {}
    for name in names:
        for seed in seeds:
            start = time.perf_counter()
            for key, value in run_experiment(name, seed).items():
                arrays.setdefault(key, []).append(value)
            progress(f"{name}, seed {seed}: {time.perf_counter() - start:.0f} s")
    return {k: np.stack(v) for k, v in arrays.items()}          # (seeds, ...)


def regenerate(path=None, seeds=EXPERIMENT_SEEDS, names=None, progress=print) -> str:
    """Run every precomputed experiment for every seed and the speed curves; write the .npz."""
    import time

    from .data import _write_atomically, data_dir

    path = data_dir() / EXPERIMENTS_FILE if path is None else path
    names = list(SEEDED_EXPERIMENTS) if names is None else list(names)
    arrays = _run_seeded(names, seeds, progress)
    start = time.perf_counter()
    arrays.update(speed_curves())
    progress(f"speed curves: {time.perf_counter() - start:.0f} s")
    arrays["seeds"] = np.array(seeds)
    arrays["machine"] = _machine()
    _write_atomically(path, **arrays)          # a killed run leaves the old file whole
    return str(path)


def regenerate_only(names, path=None, seeds=EXPERIMENT_SEEDS, progress=print) -> str:
    """Run the seeded experiments ``names`` again (every seed) and replace their arrays in the
    existing file; every other array is kept (``--regenerate --only NAME``)."""
    from .data import _write_atomically, data_dir

    for name in names:
        check_choice("name", name, tuple(SEEDED_EXPERIMENTS))
    path = data_dir() / EXPERIMENTS_FILE if path is None else path
    arrays = load_experiments(path)
    if arrays["seeds"].tolist() != list(seeds):
        raise ValueError(f"the file's seeds are {arrays['seeds'].tolist()}; regenerate all with these seeds: "
                         f"{list(seeds)}")
    arrays = {k: v for k, v in arrays.items() if k.split(".")[0] not in names}
    arrays.update(_run_seeded(names, seeds, progress))
    _write_atomically(path, **arrays)          # a killed run leaves the old file whole
    return str(path)


def regenerate_speed(path=None, progress=print) -> str:
    """Measure the speed curves again and replace them (and the machine line) in the
    existing file; the seeded experiments are kept. Run it on a quiet machine."""
    import time

    from .data import _write_atomically, data_dir

    path = data_dir() / EXPERIMENTS_FILE if path is None else path
    arrays = load_experiments(path)
    start = time.perf_counter()
    arrays.update(speed_curves())
    progress(f"speed curves: {time.perf_counter() - start:.0f} s")
    arrays["machine"] = _machine()
    _write_atomically(path, **arrays)          # a killed run leaves the old file whole
    return str(path)


def _machine():
    import os
    import platform

    return np.array(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                    f"load average {os.getloadavg()[0]:.1f} while measuring, numpy {np.__version__}")


def load_experiments(path=None) -> dict:
    """The precomputed arrays (see ``regenerate``), keyed like ``"iterative.pred"``:
    leading axis the seed, then the sparsity where there is one."""
    from .data import data_dir

    path = data_dir() / EXPERIMENTS_FILE if path is None else path
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m compresslab.pruning_experiments",
                                     description="Regenerate the pruning notebook's precomputed experiments.")
    parser.add_argument("--regenerate", action="store_true", help=f"write data/{EXPERIMENTS_FILE}")
    parser.add_argument("--speed-only", action="store_true",
                        help="with --regenerate: measure the speed curves again, keep the seeded runs")
    parser.add_argument("--only", nargs="+", choices=tuple(SEEDED_EXPERIMENTS), metavar="NAME",
                        help="with --regenerate: run these seeded experiments again, keep everything else "
                             f"({', '.join(SEEDED_EXPERIMENTS)})")
    parser.add_argument("--output", default=None, help="another path for the .npz")
    args = parser.parse_args(argv)
    if not args.regenerate:
        parser.print_help()
        return
    if args.only:
        print("wrote", regenerate_only(args.only, args.output))
    else:
        print("wrote", (regenerate_speed if args.speed_only else regenerate)(args.output))


if __name__ == "__main__":
    main()
