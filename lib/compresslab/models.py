"""Baseline MLPs trained with scikit-learn, and their shipped weights.

``mnist-5k`` and ``mnist`` use LeNet-300-100 (784-300-100-10), the MLP of
Han et al. 2015 ("Learning both weights and connections") and Deep
Compression (Han et al. 2016), so numbers can be set beside the papers'.
``digits`` uses a small 64-64-32-10 MLP that still shows every effect.

``load_pretrained(name)`` rebuilds the fitted ``MLPClassifier`` from
``data/pretrained/<name>.npz`` (no pickle) in milliseconds, after checking
the file's sha256 against the one recorded in ``data/pretrained/SHA256SUMS``;
anything wrong with the file raises ``PretrainedFileError``.
``python -m compresslab.models --retrain`` regenerates those files, trained on
the training split only (validation and test accuracy are recorded in the
file), and records their new sha256s, so a retrained file loads at once.
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
# Layer widths of the shipped files, input to output.
PRETRAINED_LAYER_SIZES = {"digits": (64, 64, 32, 10), "mnist-5k": (784, 300, 100, 10)}
# sha256 of each file, in `sha256sum` format beside the files; a retrain rewrites it.
SHA256_MANIFEST = "SHA256SUMS"
RETRAIN_COMMAND = "python -m compresslab.models --retrain"
_INFO_KEYS = ("val_accuracy", "test_accuracy", "n_train", "n_val", "n_test", "train_seconds",
              "sklearn_version", "n_iter")
_PRETRAINED_KEYS = ("n_layers", "activation", "out_activation", "classes", "alpha", "solver",
                    "random_state") + _INFO_KEYS


class PretrainedFileError(ValueError):
    """A pretrained-weights file is damaged, truncated or was changed."""


def pretrained_path(name: str) -> Path:
    return data_dir() / "pretrained" / f"{name}.npz"


def recorded_sha256(name: str) -> str | None:
    """The sha256 recorded for ``<name>.npz`` in data/pretrained/SHA256SUMS (None: not recorded)."""
    manifest = data_dir() / "pretrained" / SHA256_MANIFEST
    if not manifest.exists():
        return None
    for line in manifest.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == f"{name}.npz":
            return parts[0]
    return None


def _record_sha256(out_dir: Path, digests: dict) -> None:
    """Write the manifest (atomically), keeping entries of files not retrained."""
    manifest = out_dir / SHA256_MANIFEST
    entries = {}
    if manifest.exists():
        for line in manifest.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                entries[parts[1].lstrip("*")] = parts[0]
    entries.update({f"{name}.npz": digest for name, digest in digests.items()})
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text("".join(f"{digest}  {file}\n" for file, digest in sorted(entries.items())))
    tmp.replace(manifest)


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


def _damaged(path, why):
    return PretrainedFileError(
        f"{path} cannot be used: {why}. The file is damaged or was changed. Restore the shipped file "
        f"(git checkout -- data/pretrained/{Path(path).name}) or regenerate it with "
        f"`{RETRAIN_COMMAND}` (which records the new sha256 in data/pretrained/{SHA256_MANIFEST}).")


def _read_pretrained(name: str, *, check_sha256: bool = True) -> dict:
    """Every array of ``data/pretrained/<name>.npz``, checked: sha256, readable, complete, right shapes."""
    from .data import _remove_stale_temp_files, sha256_of

    check_choice("name", name, PRETRAINED)
    path = pretrained_path(name)
    if path.parent.is_dir():
        _remove_stale_temp_files(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `{RETRAIN_COMMAND}`")
    if check_sha256:
        digest, expected = sha256_of(path), recorded_sha256(name)
        if digest != expected:
            raise _damaged(path, f"its sha256 is {digest}, expected {expected} "
                                 f"(data/pretrained/{SHA256_MANIFEST})")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, ValueError (pickle, not .npz), OSError
        raise _damaged(path, f"it does not read as an .npz ({type(exc).__name__}: {exc})") from exc
    missing = [k for k in _PRETRAINED_KEYS if k not in arrays]
    if missing:
        raise _damaged(path, f"it lacks {', '.join(missing)}")
    sizes = PRETRAINED_LAYER_SIZES[name]
    if arrays["n_layers"].shape != () or int(arrays["n_layers"]) != len(sizes) - 1:
        raise _damaged(path, f"n_layers is {arrays['n_layers']}, expected {len(sizes) - 1}")
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for key, shape in ((f"coef_{i}", (n_in, n_out)), (f"intercept_{i}", (n_out,))):
            a = arrays.get(key)
            if a is None or a.shape != shape or a.dtype != np.float64 or not np.isfinite(a).all():
                got = "missing" if a is None else f"{a.dtype} {a.shape}"
                raise _damaged(path, f"{key} is {got}, expected finite float64 {shape}")
    expected = {"activation": DEFAULT_MLP_KWARGS["activation"], "out_activation": "softmax",
                "solver": DEFAULT_MLP_KWARGS["solver"]}
    for key, value in expected.items():
        if arrays[key].shape != () or str(arrays[key]) != value:
            raise _damaged(path, f"{key} is {arrays[key]!r}, expected {value!r}")
    if not np.array_equal(arrays["classes"], np.arange(sizes[-1])):
        raise _damaged(path, f"classes are {arrays['classes']}, expected 0..{sizes[-1] - 1}")
    for key in ("val_accuracy", "test_accuracy"):
        if arrays[key].shape != () or not 0.0 <= float(arrays[key]) <= 1.0:
            raise _damaged(path, f"{key} is {arrays[key]!r}, expected a number in [0, 1]")
    return arrays


def load_pretrained(name: str, *, check_sha256: bool = True):
    """The shipped baseline for ``name`` ("digits" or "mnist-5k"), as a fitted MLPClassifier.

    The file must have the sha256 recorded in data/pretrained/SHA256SUMS; any damaged or
    changed file raises ``PretrainedFileError`` naming the file and the retrain command.
    ``check_sha256=False`` accepts a file you regenerated yourself (its shapes are still checked).
    """
    f = _read_pretrained(name, check_sha256=check_sha256)
    n = int(f["n_layers"])
    return mlp_from_arrays([f[f"coef_{i}"] for i in range(n)], [f[f"intercept_{i}"] for i in range(n)],
                           activation=str(f["activation"]), out_activation=str(f["out_activation"]),
                           classes=f["classes"], alpha=float(f["alpha"]), solver=str(f["solver"]),
                           random_state=int(f["random_state"]))


def pretrained_info(name: str, *, check_sha256: bool = True) -> dict:
    """What was recorded when the shipped model was trained (accuracies, split sizes, seconds, ...)."""
    f = _read_pretrained(name, check_sha256=check_sha256)
    return {k: f[k].item() for k in _INFO_KEYS}


def retrain(names=PRETRAINED, out_dir=None, verbose=True) -> dict:
    """Train the baselines again (on the training split only) and write them to ``out_dir``
    (default data/pretrained/).

    Returns {name: {"val_accuracy": ..., "test_accuracy": ..., "sha256": ...}}.
    """
    import sklearn

    from .data import sha256_of

    out_dir = Path(out_dir) if out_dir is not None else data_dir() / "pretrained"
    results = {}
    for name in names:
        check_choice("name", name, PRETRAINED)
        dataset = load_dataset(name)
        start = time.perf_counter()
        mlp = train_baseline(dataset)
        seconds = time.perf_counter() - start
        val_accuracy = mlp.score(dataset.X_val, dataset.y_val)
        test_accuracy = mlp.score(dataset.X_test, dataset.y_test)
        path = out_dir / f"{name}.npz"
        save_pretrained(mlp, path, val_accuracy=val_accuracy, test_accuracy=test_accuracy,
                        train_seconds=seconds, sklearn_version=sklearn.__version__,
                        n_train=len(dataset.y_train), n_val=len(dataset.y_val), n_test=len(dataset.y_test))
        results[name] = dict(val_accuracy=val_accuracy, test_accuracy=test_accuracy, sha256=sha256_of(path))
        if verbose:
            print(f"{name}: hidden {mlp.hidden_layer_sizes}, {mlp.n_iter_} epochs, {seconds:.1f} s, "
                  f"validation accuracy {val_accuracy:.4f}, test accuracy {test_accuracy:.4f} -> {path}\n"
                  f"  sha256 {results[name]['sha256']}")
    _record_sha256(out_dir, {name: r["sha256"] for name, r in results.items()})
    if verbose:
        print(f"sha256s recorded in {out_dir / SHA256_MANIFEST}; update the table in data/README.md.")
    return results


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
