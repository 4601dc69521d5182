import hashlib
import os

import numpy as np
import pytest

from compresslab import data
from compresslab.data import DATASETS, DatasetUnavailableError, load_dataset


@pytest.mark.parametrize("name, n_train, n_test, n_features, shape", [
    ("digits", 1347, 450, 64, (8, 8)),
    ("mnist-5k", 4000, 1000, 784, (28, 28)),
])
def test_offline_datasets(name, n_train, n_test, n_features, shape):
    ds = load_dataset(name)
    assert ds.X_train.shape == (n_train, n_features) and ds.X_test.shape == (n_test, n_features)
    assert ds.y_train.shape == (n_train,) and ds.y_test.shape == (n_test,)
    assert ds.X_train.dtype == np.float64
    for X in (ds.X_train, ds.X_test):
        assert X.min() >= 0.0 and X.max() <= 1.0
    assert X.max() == 1.0                       # scaled by the true pixel range
    assert ds.image_shape == shape and int(np.prod(shape)) == n_features
    assert len(ds.classes) == 10 and ds.name == name and ds.description


@pytest.mark.parametrize("name", ["digits", "mnist-5k"])
def test_split_is_stratified_and_deterministic(name):
    a, b = load_dataset(name), load_dataset(name)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = load_dataset(name, random_state=1)
    assert not np.array_equal(a.y_test, c.y_test)
    train_share = np.bincount(a.y_train) / len(a.y_train)
    test_share = np.bincount(a.y_test) / len(a.y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)


def test_mnist_5k_file_matches_recorded_sha256():
    path = data.data_dir() / "mnist_5k.npz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == data.MNIST_5K_SHA256
    readme = (data.data_dir() / "README.md").read_text()
    assert data.MNIST_5K_SHA256 in readme


def test_mnist_5k_has_500_images_per_digit():
    with np.load(data.data_dir() / "mnist_5k.npz", allow_pickle=False) as f:
        assert f["X"].dtype == np.uint8 and f["X"].shape == (5000, 784)
        np.testing.assert_array_equal(np.bincount(f["y"]), [500] * 10)


def test_damaged_mnist_5k_is_refused(tmp_path, monkeypatch):
    (tmp_path / "mnist_5k.npz").write_bytes(b"not the file")
    monkeypatch.setenv("COMPRESSLAB_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="sha256"):
        load_dataset("mnist-5k")


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="name must be one of") as info:
        load_dataset("cifar")
    for name in DATASETS:
        assert name in str(info.value)
    assert "'cifar'" in str(info.value)


def _fake_openml(n=120):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(n, 784)).astype(float)
    y = np.array([str(i % 10) for i in range(n)], dtype=object)
    return X, y


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_full_datasets_fetch_once_then_read_cache(name, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPRESSLAB_DATA", str(tmp_path))
    calls = []

    def fake_fetch(openml_name, **kwargs):
        calls.append(openml_name)
        return _fake_openml(11000)

    monkeypatch.setattr("sklearn.datasets.fetch_openml", fake_fetch)
    ds = load_dataset(name)
    assert calls == [data.OPENML_NAMES[name]]
    assert ds.X_test.shape == (10000, 784) and ds.X_train.shape == (1000, 784)
    assert ds.X_train.max() <= 1.0
    assert (tmp_path / f"{name}.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.npz"]     # no temp files left
    again = load_dataset(name)                                          # from the cache
    assert calls == [data.OPENML_NAMES[name]]
    np.testing.assert_array_equal(ds.X_train, again.X_train)


def test_offline_error_names_offline_datasets_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPRESSLAB_DATA", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", offline)
    with pytest.raises(DatasetUnavailableError, match="digits, mnist-5k"):
        load_dataset("mnist")
    assert list(tmp_path.iterdir()) == []


def test_failed_cache_write_leaves_no_half_written_file(tmp_path, monkeypatch):
    def broken_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken_savez)
    target = tmp_path / "mnist.npz"
    with pytest.raises(OSError, match="disk full"):
        data._write_atomically(target, X=np.zeros(3))
    assert list(tmp_path.iterdir()) == []
