import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from compresslab import models
from compresslab.data import data_dir
from compresslab.models import (DEFAULT_HIDDEN_LAYER_SIZES, SHA256_MANIFEST, PretrainedFileError,
                                load_pretrained, pretrained_info, recorded_sha256, retrain, train_baseline)


@pytest.mark.parametrize("name, hidden", [("digits", (64, 32)), ("mnist-5k", (300, 100))])
def test_pretrained_models_load_fast_and_score(name, hidden, request):
    mlp = load_pretrained(name)              # its time: python -m compresslab.bench
    assert isinstance(mlp, MLPClassifier) and mlp.hidden_layer_sizes == hidden
    ds = request.getfixturevalue("digits" if name == "digits" else "mnist5k")
    info = pretrained_info(name)
    accuracy = mlp.score(ds.X_test, ds.y_test)
    assert accuracy == pytest.approx(info["test_accuracy"], abs=1e-12)
    assert mlp.score(ds.X_val, ds.y_val) == pytest.approx(info["val_accuracy"], abs=1e-12)
    assert accuracy > (0.95 if name == "digits" else 0.93)
    # trained on the training split only
    assert (info["n_train"], info["n_val"], info["n_test"]) == (len(ds.y_train), len(ds.y_val), len(ds.y_test))


@pytest.mark.parametrize("name", models.PRETRAINED)
def test_shipped_files_match_recorded_sha256(name):
    path = data_dir() / "pretrained" / f"{name}.npz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded_sha256(name)
    assert recorded_sha256(name) in (data_dir() / "README.md").read_text()


def _edit(path, change):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez_compressed(path, **arrays)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_bytes(path):
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 16] = bytes(b ^ 0xFF for b in raw[middle:middle + 16])
    path.write_bytes(bytes(raw))


def _scale_weights(arrays):
    arrays["coef_0"] = arrays["coef_0"] * 1.01


def _tanh(arrays):
    arrays["activation"] = np.array("tanh")


def _drop_intercept(arrays):
    del arrays["intercept_1"]


def _transpose(arrays):
    arrays["coef_1"] = arrays["coef_1"].T.copy()


DAMAGE = {
    "truncated": _truncate,
    "flipped bytes": _flip_bytes,
    "not a zip": lambda path: path.write_bytes(b"these are not the weights"),
    "edited weights": lambda path: _edit(path, _scale_weights),
    "activation changed": lambda path: _edit(path, _tanh),
    "missing key": lambda path: _edit(path, _drop_intercept),
    "wrong shape": lambda path: _edit(path, _transpose),
    "pickled object": lambda path: np.savez(path, coef_0=np.array([{"a": 1}], dtype=object)),
}


@pytest.fixture()
def copied_pretrained(tmp_path, monkeypatch):
    """The shipped files copied to tmp_path, which becomes the data folder."""
    shutil.copytree(data_dir() / "pretrained", tmp_path / "pretrained")
    monkeypatch.setenv("COMPRESSLAB_DATA", str(tmp_path))
    return tmp_path / "pretrained"


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("trust_sha256", [False, True], ids=["sha256", "shapes"])
def test_damaged_pretrained_file_gives_one_clear_error(damage, trust_sha256, copied_pretrained, monkeypatch):
    path = copied_pretrained / "digits.npz"
    DAMAGE[damage](path)
    if trust_sha256:
        # as if the damaged file had been recorded: what the checks after the sha256 catch
        manifest = copied_pretrained / SHA256_MANIFEST
        manifest.write_text(manifest.read_text().replace(recorded_sha256("digits"),
                                                         hashlib.sha256(path.read_bytes()).hexdigest()))
        if damage == "edited weights":           # a valid file with other numbers: only the sha256 knows
            assert isinstance(load_pretrained("digits"), MLPClassifier)
            return
    for load in (load_pretrained, pretrained_info):
        with pytest.raises(PretrainedFileError) as info:
            load("digits")
        message = str(info.value)
        assert str(path) in message and "python -m compresslab.models --retrain" in message
    assert isinstance(info.value, ValueError)
    assert isinstance(load_pretrained("mnist-5k"), MLPClassifier)     # the other file is untouched


def test_missing_pretrained_file_names_the_command(copied_pretrained):
    (copied_pretrained / "mnist-5k.npz").unlink()
    with pytest.raises(FileNotFoundError, match="python -m compresslab.models --retrain"):
        load_pretrained("mnist-5k")


def test_a_retrained_file_loads_without_the_sha256_check(copied_pretrained):
    _edit(copied_pretrained / "digits.npz", _scale_weights)
    with pytest.raises(PretrainedFileError, match="sha256"):
        load_pretrained("digits")
    assert isinstance(load_pretrained("digits", check_sha256=False), MLPClassifier)


def test_lenet_300_100_is_the_mnist_default():
    assert DEFAULT_HIDDEN_LAYER_SIZES["mnist-5k"] == DEFAULT_HIDDEN_LAYER_SIZES["mnist"] == (300, 100)


def test_train_baseline_returns_fitted_mlp(digits):
    mlp = train_baseline(digits, hidden_layer_sizes=(16,), max_iter=60)
    assert isinstance(mlp, MLPClassifier) and mlp.hidden_layer_sizes == (16,)
    assert mlp.score(digits.X_test, digits.y_test) > 0.9


@pytest.mark.slow
def test_retrain_reproduces_shipped_accuracy_within_one_point(tmp_path):
    results = retrain(out_dir=tmp_path, verbose=False)
    for name, result in results.items():
        for key in ("val_accuracy", "test_accuracy"):
            assert abs(result[key] - pretrained_info(name)[key]) <= 0.01
        with np.load(tmp_path / f"{name}.npz", allow_pickle=False) as f:
            assert "coef_0" in f.files


def test_a_retrained_file_is_recorded_and_loads(copied_pretrained, monkeypatch):
    """The error message sends a student to the retrain command: what it writes must load."""
    results = retrain(["digits"], out_dir=copied_pretrained, verbose=False)
    assert recorded_sha256("digits") == results["digits"]["sha256"]
    assert recorded_sha256("mnist-5k") is not None                   # the other entry is kept
    assert isinstance(load_pretrained("digits"), MLPClassifier)


def test_retrain_command_line_shows_info():
    out = subprocess.run([sys.executable, "-m", "compresslab.models", "digits"], capture_output=True,
                         text=True, check=True)
    assert "test_accuracy" in out.stdout and "val_accuracy" in out.stdout and "Warning" not in out.stderr


def test_bad_model_arguments(digits):
    with pytest.raises(ValueError, match="name must be one of.*'mnist'"):
        load_pretrained("mnist")
    with pytest.raises(ValueError, match="hidden_layer_sizes must be positive integers"):
        train_baseline(digits, hidden_layer_sizes=(0,))
    with pytest.raises(TypeError, match="Dataset"):
        train_baseline(42)


def test_benchmark_core_section_runs():
    from compresslab.bench import bench_core

    (row,) = bench_core(["digits"])
    assert row["dataset"] == "digits" and row["test_samples"] == 450
    assert row["network_ms"] > 0 and row["raw_ms"] > 0 and row["epoch_s"] > 0
