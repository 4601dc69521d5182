import hashlib
import os
import stat
import threading
import time

import numpy as np
import pytest

from compresslab import data
from compresslab.data import DATASETS, DatasetUnavailableError, load_dataset


@pytest.mark.parametrize("name, n_train, n_val, n_test, n_features, shape", [
    ("digits", 1147, 200, 450, 64, (8, 8)),
    ("mnist-5k", 3500, 500, 1000, 784, (28, 28)),
])
def test_offline_datasets(name, n_train, n_val, n_test, n_features, shape):
    ds = load_dataset(name)
    assert ds.X_train.shape == (n_train, n_features) and ds.X_test.shape == (n_test, n_features)
    assert ds.X_val.shape == (n_val, n_features) and ds.y_val.shape == (n_val,)
    assert ds.y_train.shape == (n_train,) and ds.y_test.shape == (n_test,)
    assert ds.X_train.dtype == ds.X_val.dtype == np.float64
    assert f"{n_train} train / {n_val} validation / {n_test} test" in repr(ds)
    for X in (ds.X_train, ds.X_val, ds.X_test):
        assert X.min() >= 0.0 and X.max() <= 1.0
    assert X.max() == 1.0                       # scaled by the true pixel range
    assert ds.image_shape == shape and int(np.prod(shape)) == n_features
    assert len(ds.classes) == 10 and ds.name == name and ds.description


@pytest.mark.parametrize("name", ["digits", "mnist-5k"])
def test_split_is_stratified_and_deterministic(name):
    a, b = load_dataset(name), load_dataset(name)
    for part in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    c = load_dataset(name, random_state=1)
    assert not np.array_equal(a.y_test, c.y_test) and not np.array_equal(a.y_val, c.y_val)
    shares = [np.bincount(y, minlength=10) / len(y) for y in (a.y_train, a.y_val, a.y_test)]
    np.testing.assert_allclose(shares[0], shares[2], atol=0.01)
    np.testing.assert_allclose(shares[1], shares[2], atol=0.01)


def _rows(X):
    return {row.tobytes() for row in X}


@pytest.mark.parametrize("name", ["digits", "mnist-5k"])
def test_train_validation_test_are_disjoint_and_cover_the_data(name):
    ds = load_dataset(name)
    train, val, test = _rows(ds.X_train), _rows(ds.X_val), _rows(ds.X_test)
    assert not (train & val) and not (train & test) and not (val & test)
    n_total = data.SPLITS[name][0]
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == n_total
    if name == "mnist-5k":                       # every digit 500 times: the split is exact per class
        np.testing.assert_array_equal(np.bincount(ds.y_val), [50] * 10)
        np.testing.assert_array_equal(np.bincount(ds.y_test), [100] * 10)
    # together they are the whole dataset, each image once
    if name == "digits":
        from sklearn.datasets import load_digits

        original = load_digits().data / 16.0
    else:
        with np.load(data.data_dir() / "mnist_5k.npz", allow_pickle=False) as f:
            original = f["X"] / 255.0
    together = np.vstack([ds.X_train, ds.X_val, ds.X_test])
    for a, b in zip(np.unique(together, axis=0, return_counts=True),
                    np.unique(original, axis=0, return_counts=True)):      # same images, same counts
        np.testing.assert_array_equal(a, b)


def test_test_split_is_the_one_without_validation():
    """The validation set comes out of the training data: the test set is the old one."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    _, X_test, _, y_test = train_test_split(bunch.data / 16.0, bunch.target, test_size=450,
                                            stratify=bunch.target, random_state=0)
    ds = load_dataset("digits")
    np.testing.assert_array_equal(ds.X_test, X_test)
    np.testing.assert_array_equal(ds.y_test, y_test)


def test_data_dir_without_the_repository_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPRESSLAB_DATA", raising=False)
    fake_package = tmp_path / "site-packages" / "compresslab" / "data.py"   # no data/ two levels up
    monkeypatch.setattr(data, "__file__", str(fake_package))
    with pytest.raises(FileNotFoundError, match="COMPRESSLAB_DATA") as info:
        data.data_dir()
    assert "mnist_5k.npz" in str(info.value) and "pretrained" in str(info.value)
    monkeypatch.setenv("COMPRESSLAB_DATA", str(tmp_path))
    assert data.data_dir() == tmp_path


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


N_FAKE = 300       # a small stand-in for the 70,000 images: 200 train / 40 validation / 60 test


def _fake_openml(n=N_FAKE):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(n, 784)).astype(float)
    y = np.array([str(i % 10) for i in range(n)], dtype=object)
    return X, y


@pytest.fixture()
def small_openml(tmp_path, monkeypatch):
    """Full datasets shrunk to N_FAKE images, cached in tmp_path; returns the list of fetch calls."""
    monkeypatch.setenv("COMPRESSLAB_DATA", str(tmp_path))
    for name in data.OPENML_NAMES:
        monkeypatch.setitem(data.SPLITS, name, (N_FAKE, 60, 40))
    calls = []

    def fake_fetch(openml_name, **kwargs):
        calls.append(openml_name)
        return _fake_openml()

    monkeypatch.setattr("sklearn.datasets.fetch_openml", fake_fetch)
    return calls


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_full_datasets_fetch_once_then_read_cache(name, tmp_path, small_openml):
    calls = small_openml
    ds = load_dataset(name)
    assert calls == [data.OPENML_NAMES[name]]
    assert ds.X_test.shape == (60, 784) and ds.X_val.shape == (40, 784) and ds.X_train.shape == (200, 784)
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


def test_cache_file_is_readable_by_everyone(tmp_path, small_openml):
    load_dataset("mnist")
    assert stat.S_IMODE(os.stat(tmp_path / "mnist.npz").st_mode) == 0o644


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "wrong dtype", "wrong count",
                                    "missing key"])
def test_damaged_cache_is_fetched_again(damage, tmp_path, small_openml):
    calls = small_openml
    cache = tmp_path / "mnist.npz"
    good = load_dataset("mnist")
    assert len(calls) == 1
    X = (np.asarray(_fake_openml()[0])).astype(np.uint8)
    y = (np.arange(N_FAKE) % 10).astype(np.uint8)
    if damage == "garbage":
        cache.write_bytes(b"\x00not an npz" * 50)
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:1000])
    elif damage == "wrong shape":
        np.savez_compressed(cache, X=X.reshape(-1, 28, 28), y=y)
    elif damage == "wrong dtype":
        np.savez_compressed(cache, X=X.astype(np.float32), y=y)
    elif damage == "wrong count":
        np.savez_compressed(cache, X=X[:-7], y=y[:-7])
    elif damage == "missing key":
        np.savez_compressed(cache, X=X)
    again = load_dataset("mnist")
    assert len(calls) == 2                                  # fetched again
    np.testing.assert_array_equal(again.X_train, good.X_train)
    with np.load(cache, allow_pickle=False) as f:           # and the cache is sound again
        assert f["X"].shape == (N_FAKE, 784) and f["X"].dtype == np.uint8


def test_damaged_cache_offline_says_both(tmp_path, monkeypatch, small_openml):
    (tmp_path / "mnist.npz").write_bytes(b"broken")

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", offline)
    with pytest.raises(DatasetUnavailableError, match="damaged") as info:
        load_dataset("mnist")
    assert str(tmp_path / "mnist.npz") in str(info.value) and "digits, mnist-5k" in str(info.value)


def test_hanging_download_times_out_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPRESSLAB_DATA", str(tmp_path))
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(30)          # a server that never answers (until the test lets it go)
        raise OSError("connection reset")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", hang)
    try:
        with pytest.raises(DatasetUnavailableError, match="took more than 0.05 s") as info:
            load_dataset("fashion-mnist", download_timeout=0.05)
        assert "digits, mnist-5k" in str(info.value) and "download_timeout" in str(info.value)
        monkeypatch.setenv("COMPRESSLAB_DOWNLOAD_TIMEOUT", "0.05")       # the same through the variable
        with pytest.raises(DatasetUnavailableError, match="took more than 0.05 s"):
            load_dataset("fashion-mnist")
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while data._DOWNLOADS and time.monotonic() < deadline:               # the background thread ends
        time.sleep(0.01)
    assert not data._DOWNLOADS and not (tmp_path / "fashion-mnist.npz").exists()


def test_download_that_outlives_the_wait_still_fills_the_cache(tmp_path, small_openml, monkeypatch):
    release = threading.Event()

    def slow(openml_name, **kwargs):
        release.wait(30)
        return _fake_openml()

    monkeypatch.setattr("sklearn.datasets.fetch_openml", slow)
    with pytest.raises(DatasetUnavailableError, match="background"):
        load_dataset("mnist", download_timeout=0.05)
    release.set()
    ds = load_dataset("mnist", download_timeout=10)          # waits for the same download
    assert ds.X_train.shape == (200, 784) and (tmp_path / "mnist.npz").exists()


def test_bad_download_timeout():
    with pytest.raises(ValueError, match="download_timeout"):
        load_dataset("mnist", download_timeout=0)


def test_leftover_temp_file_of_a_killed_write_is_removed(tmp_path, small_openml):
    old = tmp_path / "mnist.k1ll3d.tmp"
    fresh = tmp_path / "mnist.wr1t1ng.tmp"            # maybe another kernel writing right now
    other = tmp_path / "fashion-mnist.x.tmp"
    for p in (old, fresh, other):
        p.write_bytes(b"half a file")
    an_hour_ago = time.time() - 3600
    for p in (old, other):
        os.utime(p, (an_hour_ago, an_hour_ago))
    load_dataset("mnist")
    assert not old.exists() and fresh.exists() and other.exists()
    load_dataset("fashion-mnist")
    assert not other.exists()


def test_download_into_a_folder_it_cannot_write_still_returns_the_data(tmp_path, small_openml, monkeypatch):
    def read_only(path, **arrays):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "_write_atomically", read_only)
    with pytest.warns(RuntimeWarning, match="COMPRESSLAB_DATA"):
        ds = load_dataset("mnist")
    assert ds.X_train.shape == (200, 784) and not (tmp_path / "mnist.npz").exists()
