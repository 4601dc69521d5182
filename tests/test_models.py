import subprocess
import sys

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from compresslab.models import (DEFAULT_HIDDEN_LAYER_SIZES, load_pretrained, pretrained_info, retrain,
                                train_baseline)


@pytest.mark.parametrize("name, hidden", [("digits", (64, 32)), ("mnist-5k", (300, 100))])
def test_pretrained_models_load_fast_and_score(name, hidden, request):
    mlp = load_pretrained(name)              # its time: python -m compresslab.bench
    assert isinstance(mlp, MLPClassifier) and mlp.hidden_layer_sizes == hidden
    ds = request.getfixturevalue("digits" if name == "digits" else "mnist5k")
    accuracy = mlp.score(ds.X_test, ds.y_test)
    assert accuracy == pytest.approx(pretrained_info(name)["test_accuracy"], abs=1e-12)
    assert accuracy > (0.95 if name == "digits" else 0.93)


def test_lenet_300_100_is_the_mnist_default():
    assert DEFAULT_HIDDEN_LAYER_SIZES["mnist-5k"] == DEFAULT_HIDDEN_LAYER_SIZES["mnist"] == (300, 100)


def test_train_baseline_returns_fitted_mlp(digits):
    mlp = train_baseline(digits, hidden_layer_sizes=(16,), max_iter=60)
    assert isinstance(mlp, MLPClassifier) and mlp.hidden_layer_sizes == (16,)
    assert mlp.score(digits.X_test, digits.y_test) > 0.9


@pytest.mark.slow
def test_retrain_reproduces_shipped_accuracy_within_one_point(tmp_path):
    accuracies = retrain(out_dir=tmp_path, verbose=False)
    for name, accuracy in accuracies.items():
        assert abs(accuracy - pretrained_info(name)["test_accuracy"]) <= 0.01
        with np.load(tmp_path / f"{name}.npz", allow_pickle=False) as f:
            assert "coef_0" in f.files


def test_retrain_command_line_shows_info():
    out = subprocess.run([sys.executable, "-m", "compresslab.models", "digits"], capture_output=True,
                         text=True, check=True)
    assert "test_accuracy" in out.stdout and "Warning" not in out.stderr


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
