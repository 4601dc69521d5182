"""Baseline MLPs trained with scikit-learn, and their shipped weights.

``mnist-5k`` and ``mnist`` use LeNet-300-100 (784-300-100-10), the MLP of
Han et al. 2015 ("Learning both weights and connections") and Deep
Compression (Han et al. 2016), so numbers can be set beside the papers'.
``digits`` uses a small 64-64-32-10 MLP that still shows every effect.

``load_pretrained(name)`` rebuilds the fitted ``MLPClassifier`` from
``data/pretrained/<name>.npz`` (no pickle) in milliseconds;
``python -m compresslab.models --retrain`` regenerates those files.
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from ._validation import check_choice
from .data import Dataset, data_dir, load_dataset

LENET_300_100 = (300, 100)
DEFAULT_HIDDEN_LAYER_SIZES = {"digits": (64, 32), "mnist-5k": LENET_300_100,
                              "mnist": LENET_300_100, "fashion-mnist": LENET_300_100}
# Adam with a little L2; stops when the training loss stops improving.
DEFAULT_MLP_KWARGS = dict(activation="relu", solver="adam", alpha=1e-4, batch_size=128,
                          learning_rate_init=1e-3, max_iter=100, tol=1e-4, n_iter_no_change=5)
PRETRAINED = ("digits", "mnist-5k")


def pretrained_path(name: str) -> Path:
    return data_dir() / "pretrained" / f"{name}.npz"


def train_baseline(dataset, hidden_layer_sizes=None, random_state=0, **mlp_kwargs):
    """Fit a scikit-learn ``MLPClassifier`` on a dataset's training split.

    Parameters
    ----------
    dataset : a ``Dataset`` or a dataset name (see ``compresslab.data.DATASETS``).
    hidden_layer_sizes : tuple of ints; default per dataset
        (``DEFAULT_HIDDEN_LAYER_SIZES``: LeNet-300-100 for MNIST).
    random_state : seed of the weights' initialisation and of the batches.
    **mlp_kwargs : override ``DEFAULT_MLP_KWARGS`` (any MLPClassifier argument).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset or a dataset name; got {type(dataset).__name__}")
    if hidden_layer_sizes is None:
        hidden_layer_sizes = DEFAULT_HIDDEN_LAYER_SIZES.get(dataset.name, (100,))
    hidden_layer_sizes = tuple(hidden_layer_sizes)
    if not hidden_layer_sizes or any(int(h) != h or h < 1 for h in hidden_layer_sizes):
        raise ValueError(f"hidden_layer_sizes must be positive integers; got {hidden_layer_sizes}")
    kwargs = {**DEFAULT_MLP_KWARGS, **mlp_kwargs}
    mlp = MLPClassifier(hidden_layer_sizes=hidden_layer_sizes, random_state=random_state, **kwargs)
    with warnings.catch_warnings():
        # A capped max_iter is a teaching choice (seconds, not minutes), not an error.
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(dataset.X_train, dataset.y_train)
    return mlp


def mlp_from_arrays(coefs, intercepts, *, activation="relu", out_activation=None,
                    classes=None, multilabel=False, **hyper):
    """A fitted ``MLPClassifier`` built from its weights, without training or pickle."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import LabelBinarizer

    coefs = [np.asarray(W) for W in coefs]
    intercepts = [np.asarray(b) for b in intercepts]
    n_outputs = coefs[-1].shape[1]
    if out_activation is None:
        out_activation = "logistic" if (multilabel or n_outputs == 1) else "softmax"
    mlp = MLPClassifier(hidden_layer_sizes=tuple(W.shape[1] for W in coefs[:-1]),
                        activation=activation, **hyper)
    mlp.coefs_, mlp.intercepts_ = coefs, intercepts
    mlp.n_layers_ = len(coefs) + 1
    mlp.n_outputs_ = n_outputs
    mlp.out_activation_ = out_activation
    mlp.n_features_in_ = coefs[0].shape[0]
    mlp.n_iter_ = 0
    mlp.t_ = 0
    mlp.loss_ = float("nan")
    binarizer = LabelBinarizer()
    binarizer.fit(np.eye(n_outputs, dtype=int) if multilabel else np.asarray(classes))
    mlp._label_binarizer = binarizer
    mlp.classes_ = binarizer.classes_
    return mlp


def save_pretrained(mlp, path, **info) -> None:
    """Write a fitted MLPClassifier's weights and settings as a pickle-free .npz."""
    from .data import _write_atomically

    arrays = {f"coef_{i}": W for i, W in enumerate(mlp.coefs_)}
    arrays.update({f"intercept_{i}": b for i, b in enumerate(mlp.intercepts_)})
    arrays.update(activation=np.array(mlp.activation), out_activation=np.array(mlp.out_activation_),
                  classes=np.asarray(mlp.classes_), n_layers=np.array(len(mlp.coefs_)),
                  alpha=np.array(mlp.alpha), solver=np.array(mlp.solver),
                  random_state=np.array(mlp.random_state), n_iter=np.array(mlp.n_iter_))
    arrays.update({k: np.array(v) for k, v in info.items()})
    _write_atomically(Path(path), **arrays)


def load_pretrained(name: str):
    """The shipped baseline for ``name`` ("digits" or "mnist-5k"), as a fitted MLPClassifier."""
    check_choice("name", name, PRETRAINED)
    path = pretrained_path(name)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `python -m compresslab.models --retrain`")
    with np.load(path, allow_pickle=False) as f:
        n = int(f["n_layers"])
        return mlp_from_arrays([f[f"coef_{i}"] for i in range(n)], [f[f"intercept_{i}"] for i in range(n)],
                               activation=str(f["activation"]), out_activation=str(f["out_activation"]),
                               classes=f["classes"], alpha=float(f["alpha"]), solver=str(f["solver"]),
                               random_state=int(f["random_state"]))


def pretrained_info(name: str) -> dict:
    """What was recorded when the shipped model was trained (accuracy, seconds, ...)."""
    check_choice("name", name, PRETRAINED)
    with np.load(pretrained_path(name), allow_pickle=False) as f:
        return {k: f[k].item() for k in ("test_accuracy", "train_seconds", "sklearn_version", "n_iter")}


def retrain(names=PRETRAINED, out_dir=None, verbose=True) -> dict:
    """Train the baselines again and write them to ``out_dir`` (default data/pretrained/).

    Returns {name: test accuracy}.
    """
    import sklearn

    out_dir = Path(out_dir) if out_dir is not None else data_dir() / "pretrained"
    accuracies = {}
    for name in names:
        check_choice("name", name, PRETRAINED)
        dataset = load_dataset(name)
        start = time.perf_counter()
        mlp = train_baseline(dataset)
        seconds = time.perf_counter() - start
        accuracy = mlp.score(dataset.X_test, dataset.y_test)
        save_pretrained(mlp, out_dir / f"{name}.npz", test_accuracy=accuracy, train_seconds=seconds,
                        sklearn_version=sklearn.__version__)
        accuracies[name] = accuracy
        if verbose:
            print(f"{name}: hidden {mlp.hidden_layer_sizes}, {mlp.n_iter_} epochs, "
                  f"{seconds:.1f} s, test accuracy {accuracy:.4f} -> {out_dir / (name + '.npz')}")
    return accuracies


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m compresslab.models",
                                     description="Show or regenerate the shipped baseline MLPs.")
    parser.add_argument("--retrain", action="store_true", help="train again and overwrite data/pretrained/")
    parser.add_argument("names", nargs="*", default=list(PRETRAINED), help=f"any of {PRETRAINED}")
    args = parser.parse_args(argv)
    if args.retrain:
        retrain(args.names)
    else:
        for name in args.names:
            print(name, pretrained_info(name))


if __name__ == "__main__":
    main()
