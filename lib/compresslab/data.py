"""Datasets: small ones shipped or bundled, full MNIST fetched once and cached.

``load_dataset(name)`` returns a ``Dataset`` with features scaled to [0, 1]
(float64) and a stratified, deterministic train/test split.

| name            | samples | source                                   | offline |
| --------------- | ------- | ---------------------------------------- | ------- |
| "digits"        | 1,797   | scikit-learn's bundled 8x8 digits        | yes     |
| "mnist-5k"      | 5,000   | data/mnist_5k.npz (see data/README.md)   | yes     |
| "mnist"         | 70,000  | OpenML "mnist_784", cached in data/      | no      |
| "fashion-mnist" | 70,000  | OpenML "Fashion-MNIST", cached in data/  | no      |
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validation import check_choice

DATASETS = ("digits", "mnist-5k", "mnist", "fashion-mnist")
OFFLINE_DATASETS = ("digits", "mnist-5k")

# sha256 of the shipped file; data/README.md records how it was made.
MNIST_5K_SHA256 = "1c8fe51b67e8450b5da2ec557a76ac16d9f186a35a5e1cc634546611d4ea4e73"

OPENML_NAMES = {"mnist": "mnist_784", "fashion-mnist": "Fashion-MNIST"}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DatasetUnavailableError(RuntimeError):
    """A dataset that must be downloaded could not be fetched."""


@dataclass
class Dataset:
    """A train/test split of an image classification dataset.

    ``X_*`` are float64 in [0, 1], one flattened image per row; ``y_*`` are
    integer labels; ``classes`` names the labels 0..n-1.
    """

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    classes: tuple = field(default_factory=tuple)
    image_shape: tuple = (0, 0)
    description: str = ""

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def __repr__(self):
        return (f"Dataset({self.name!r}: {len(self.y_train)} train / {len(self.y_test)} test, "
                f"{self.n_features} features, {len(self.classes)} classes)")


def data_dir() -> Path:
    """Folder holding the shipped data: $COMPRESSLAB_DATA, else the repo's data/."""
    env = os.environ.get("COMPRESSLAB_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_dataset(name: str, *, random_state: int = 0) -> Dataset:
    """Load a dataset by name, split stratified and deterministically.

    Parameters
    ----------
    name : one of ``DATASETS``.
    random_state : seed of the train/test split.
    """
    check_choice("name", name, DATASETS)
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        X, y = bunch.data / 16.0, bunch.target    # pixels are 0..16
        return _split(name, X, y, test_size=450, random_state=random_state,
                      classes=tuple(str(c) for c in range(10)), image_shape=(8, 8),
                      description="scikit-learn's 1,797 handwritten digits, 8x8 pixels (UCI)")
    if name == "mnist-5k":
        X, y = _load_mnist_5k()
        return _split(name, X / 255.0, y, test_size=1000, random_state=random_state,
                      classes=tuple(str(c) for c in range(10)), image_shape=(28, 28),
                      description="5,000 MNIST digits (500 per class), 28x28 pixels, shipped in data/")
    X, y = _load_openml_cached(name)
    classes = FASHION_CLASSES if name == "fashion-mnist" else tuple(str(c) for c in range(10))
    return _split(name, X / 255.0, y, test_size=10000, random_state=random_state,
                  classes=classes, image_shape=(28, 28),
                  description=f"full {name} (70,000 images, 28x28), from OpenML, cached in data/")


def _split(name, X, y, *, test_size, random_state, **info) -> Dataset:
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float64), y.astype(np.int64), test_size=test_size,
        stratify=y, random_state=random_state)
    return Dataset(name, X_train, X_test, y_train, y_test, **info)


def _load_mnist_5k():
    path = data_dir() / "mnist_5k.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it ships with the repository (see data/README.md)")
    digest = sha256_of(path)
    if digest != MNIST_5K_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, expected {MNIST_5K_SHA256}: "
                         f"the file is damaged or was changed; restore it from git")
    with np.load(path, allow_pickle=False) as f:
        return f["X"], f["y"]


def _load_openml_cached(name):
    """Full MNIST / Fashion-MNIST: read the cache, or fetch once and write it atomically."""
    cache = data_dir() / f"{name}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as f:
            return f["X"], f["y"]
    X, y = _fetch_openml(name)
    _write_atomically(cache, X=X, y=y)
    return X, y


def _fetch_openml(name):
    """Download from OpenML; a clear error offline. Returns uint8 pixels and labels."""
    from sklearn.datasets import fetch_openml

    try:
        X, y = fetch_openml(OPENML_NAMES[name], version=1, as_frame=False, return_X_y=True,
                            parser="liac-arff")
    except Exception as exc:   # URLError, HTTPError, timeouts, OpenML errors: all mean "not here"
        raise DatasetUnavailableError(
            f"could not download {name!r} from OpenML ({type(exc).__name__}: {exc}). "
            f"It needs the internet once; the datasets that work offline are "
            f"{', '.join(OFFLINE_DATASETS)}.") from exc
    return np.asarray(X).astype(np.uint8), np.asarray(y).astype(np.int64).astype(np.uint8)


def _write_atomically(path: Path, **arrays) -> None:
    """Write an .npz so that a crash or error never leaves a half-written file:
    write to a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
