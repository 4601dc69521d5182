"""Datasets: small ones shipped or bundled, full MNIST fetched once and cached.

``load_dataset(name)`` returns a ``Dataset`` with features scaled to [0, 1]
(float64) and three stratified, deterministic splits: train, validation, test.

| name            | samples | train  | validation | test   | source                                  | offline |
| --------------- | ------- | ------ | ---------- | ------ | --------------------------------------- | ------- |
| "digits"        | 1,797   | 1,147  | 200        | 450    | scikit-learn's bundled 8x8 digits       | yes     |
| "mnist-5k"      | 5,000   | 3,500  | 500        | 1,000  | data/mnist_5k.npz (see data/README.md)  | yes     |
| "mnist"         | 70,000  | 55,000 | 5,000      | 10,000 | OpenML "mnist_784", cached in data/     | no      |
| "fashion-mnist" | 70,000  | 55,000 | 5,000      | 10,000 | OpenML "Fashion-MNIST", cached in data/ | no      |

How the splits are made (``random_state`` seeds both steps; default 0):

1. the test set is split off first, stratified, exactly as before the
   validation split existed, so test numbers stay comparable across versions;
2. the validation set is then split off the rest, stratified, with the same seed.

Fit on ``X_train``; choose anything you choose by looking at accuracy (rank,
bit-width, sparsity, temperature, epochs) on ``X_val``; only report ``X_test``.

The full datasets are downloaded in a background thread with a bounded wait
(``download_timeout``, default ``DOWNLOAD_TIMEOUT`` seconds, or
$COMPRESSLAB_DOWNLOAD_TIMEOUT); a cache that does not look like the dataset is
fetched again.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validation import check_choice, check_float

DATASETS = ("digits", "mnist-5k", "mnist", "fashion-mnist")
OFFLINE_DATASETS = ("digits", "mnist-5k")

# name -> (samples, test size, validation size); the table in the docstring says the same.
SPLITS = {"digits": (1797, 450, 200), "mnist-5k": (5000, 1000, 500),
          "mnist": (70000, 10000, 5000), "fashion-mnist": (70000, 10000, 5000)}

# sha256 of the shipped file; data/README.md records how it was made.
MNIST_5K_SHA256 = "1c8fe51b67e8450b5da2ec557a76ac16d9f186a35a5e1cc634546611d4ea4e73"

OPENML_NAMES = {"mnist": "mnist_784", "fashion-mnist": "Fashion-MNIST"}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# Seconds to wait for an OpenML download (it includes parsing the ARFF file).
DOWNLOAD_TIMEOUT = 60.0
# A "<stem>.*.tmp" file older than this is the leftover of a killed write; younger
# ones may belong to a write in progress (another kernel), so they are left alone.
STALE_TEMP_SECONDS = 600.0


class DatasetUnavailableError(RuntimeError):
    """A dataset that must be downloaded could not be fetched."""


@dataclass
class Dataset:
    """A train/validation/test split of an image classification dataset.

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
    X_val: np.ndarray = None
    y_val: np.ndarray = None

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def __repr__(self):
        n_val = 0 if self.y_val is None else len(self.y_val)
        return (f"Dataset({self.name!r}: {len(self.y_train)} train / {n_val} validation / "
                f"{len(self.y_test)} test, {self.n_features} features, {len(self.classes)} classes)")


def data_dir() -> Path:
    """Folder holding the shipped data: $COMPRESSLAB_DATA, else the repository's data/.

    A non-editable install (pip install . / a wheel) has no data/ next to the
    package: then set COMPRESSLAB_DATA to a folder holding mnist_5k.npz and pretrained/.
    """
    env = os.environ.get("COMPRESSLAB_DATA")
    if env:
        return Path(env)
    repo_data = Path(__file__).resolve().parents[2] / "data"
    if not repo_data.is_dir():
        raise FileNotFoundError(
            f"compresslab's data folder was not found at {repo_data} (it ships with the repository, "
            f"not with a non-editable install). Set the environment variable COMPRESSLAB_DATA to a folder "
            f"holding mnist_5k.npz and pretrained/ (a copy of the repository's data/), or install the "
            f"repository in editable mode: pip install -e .")
    return repo_data


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_dataset(name: str, *, random_state: int = 0, download_timeout: float | None = None) -> Dataset:
    """Load a dataset by name, split stratified and deterministically into train/validation/test.

    Parameters
    ----------
    name : one of ``DATASETS``.
    random_state : seed of the splits.
    download_timeout : seconds to wait for a download ("mnist", "fashion-mnist" only);
        default $COMPRESSLAB_DOWNLOAD_TIMEOUT, else ``DOWNLOAD_TIMEOUT``.
    """
    check_choice("name", name, DATASETS)
    digit_names = tuple(str(c) for c in range(10))
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        X, y = bunch.data / 16.0, bunch.target    # pixels are 0..16
        return _split(name, X, y, random_state=random_state, classes=digit_names, image_shape=(8, 8),
                      description="scikit-learn's 1,797 handwritten digits, 8x8 pixels (UCI)")
    if name == "mnist-5k":
        X, y = _load_mnist_5k()
        return _split(name, X / 255.0, y, random_state=random_state, classes=digit_names,
                      image_shape=(28, 28),
                      description="5,000 MNIST digits (500 per class), 28x28 pixels, shipped in data/")
    X, y = _load_openml_cached(name, _timeout(download_timeout))
    classes = FASHION_CLASSES if name == "fashion-mnist" else digit_names
    return _split(name, X / 255.0, y, random_state=random_state, classes=classes, image_shape=(28, 28),
                  description=f"full {name} (70,000 images, 28x28), from OpenML, cached in data/")


def _split(name, X, y, *, random_state, **info) -> Dataset:
    from sklearn.model_selection import train_test_split

    _, test_size, val_size = SPLITS[name]
    X, y = X.astype(np.float64), y.astype(np.int64)
    # Step 1 is the split every earlier version made: the test set does not move.
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, stratify=y,
                                                      random_state=random_state)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=val_size, stratify=y_rest,
                                                      random_state=random_state)
    return Dataset(name, X_train, X_test, y_train, y_test, X_val=X_val, y_val=y_val, **info)


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


def _timeout(download_timeout):
    if download_timeout is None:
        env = os.environ.get("COMPRESSLAB_DOWNLOAD_TIMEOUT")
        try:
            download_timeout = float(env) if env else DOWNLOAD_TIMEOUT
        except ValueError:
            raise ValueError(f"COMPRESSLAB_DOWNLOAD_TIMEOUT must be a number of seconds; got {env!r}") from None
    return check_float("download_timeout", download_timeout, low=0, low_open=True)


def _check_images(X, y, n_samples):
    """Why (X, y) is not a full MNIST-like dataset, or None when it is."""
    if not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray)):
        return "not arrays"
    if X.dtype != np.uint8 or y.dtype != np.uint8:
        return f"dtypes {X.dtype}, {y.dtype}; expected uint8, uint8"
    if X.shape != (n_samples, 784) or y.shape != (n_samples,):
        return f"shapes {X.shape}, {y.shape}; expected ({n_samples}, 784), ({n_samples},)"
    if y.max() > 9:
        return f"labels up to {y.max()}; expected 0..9"
    return None


def _read_cache(cache: Path, n_samples):
    """(X, y, None) from a sound cache, else (None, None, why it is not usable)."""
    try:
        with np.load(cache, allow_pickle=False) as f:
            X, y = f["X"], f["y"]
    except Exception as exc:      # BadZipFile, zlib.error, EOFError, KeyError, ValueError, OSError
        return None, None, f"unreadable ({type(exc).__name__}: {exc})"
    why = _check_images(X, y, n_samples)
    return (None, None, why) if why else (X, y, None)


def _remove_stale_temp_files(path: Path) -> None:
    """Delete "<stem>.*.tmp" files that a killed ``_write_atomically`` left beside ``path``."""
    now = time.time()
    for tmp in path.parent.glob(f"{path.stem}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TEMP_SECONDS:
                tmp.unlink()
        except OSError:           # removed meanwhile, or not ours to remove
            pass


def _load_openml_cached(name, timeout):
    """Full MNIST / Fashion-MNIST: read the cache, or fetch once and write it atomically."""
    cache = data_dir() / f"{name}.npz"
    n_samples = SPLITS[name][0]
    damaged = None
    if cache.parent.is_dir():
        _remove_stale_temp_files(cache)
    if cache.exists():
        X, y, damaged = _read_cache(cache, n_samples)
        if damaged is None:
            return X, y
    try:
        return _fetch_openml(name, cache, timeout)
    except DatasetUnavailableError as exc:
        if damaged is None:
            raise
        raise DatasetUnavailableError(f"the cached file {cache} is damaged ({damaged}), and fetching it "
                                      f"again failed: {exc}") from exc


# cache path -> (thread, result dict): one download per file, even across calls that timed out.
_DOWNLOADS = {}
_DOWNLOADS_LOCK = threading.Lock()


def _fetch_openml(name, cache: Path, timeout):
    """Download from OpenML in a background thread, validate, write the cache; wait at most ``timeout`` s.

    A download that outlives the wait goes on in the background and still writes the
    cache; the next call waits for that same download instead of starting another.
    """
    from sklearn.datasets import fetch_openml

    offline = (f"The datasets that work offline are {', '.join(OFFLINE_DATASETS)}; the full ones need "
               f"the internet once, then load from {cache}.")

    def work(result):
        try:
            X, y = fetch_openml(OPENML_NAMES[name], version=1, as_frame=False, return_X_y=True,
                                parser="liac-arff")
            X = np.asarray(X).astype(np.uint8)                        # (70000, 784)
            y = np.asarray(y).astype(np.int64).astype(np.uint8)       # (70000,)
            why = _check_images(X, y, SPLITS[name][0])
            if why:
                raise ValueError(f"OpenML sent something else than {name}: {why}")
            result["data"] = X, y
            try:
                _write_atomically(cache, X=X, y=y)
            except OSError as exc:    # a read-only folder: use the data now, download again next time
                warnings.warn(f"could not cache {name} in {cache} ({exc}); set COMPRESSLAB_DATA to a "
                              f"writable folder to keep it", RuntimeWarning, stacklevel=1)
        except BaseException as exc:   # URLError, HTTPError, OpenML errors, bad data: all mean "not here"
            result["error"] = exc
        finally:
            with _DOWNLOADS_LOCK:
                _DOWNLOADS.pop(cache, None)

    with _DOWNLOADS_LOCK:
        if cache not in _DOWNLOADS:
            result = {}
            thread = threading.Thread(target=work, args=(result,), name=f"compresslab-download-{name}",
                                      daemon=True)
            _DOWNLOADS[cache] = thread, result
            thread.start()
        thread, result = _DOWNLOADS[cache]
    thread.join(timeout)
    if thread.is_alive():
        raise DatasetUnavailableError(
            f"downloading {name!r} from OpenML took more than {timeout:g} s. It goes on in the background "
            f"and will be cached in {cache}: call load_dataset({name!r}) again to wait more, or pass a larger "
            f"download_timeout (or set COMPRESSLAB_DOWNLOAD_TIMEOUT). {offline}")
    if "error" in result:
        exc = result["error"]
        raise DatasetUnavailableError(
            f"could not download {name!r} from OpenML ({type(exc).__name__}: {exc}). {offline}") from exc
    return result["data"]


def _write_atomically(path: Path, **arrays) -> None:
    """Write an .npz so that a crash or error never leaves a half-written file:
    write to a temporary file in the same folder, then rename it into place.
    A killed write leaves "<stem>.*.tmp", removed by a later load (``_remove_stale_temp_files``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o644)          # mkstemp makes 0600; the data is for every user of the folder
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
