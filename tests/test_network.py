import copy
import io
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from compresslab.network import HIDDEN_ACTIVATIONS, Dense, Network, from_sklearn, random_network


def _fit(X, y, activation, hidden=(7, 5)):
    mlp = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mlp.fit(X, y)


@pytest.fixture(scope="module")
def problems():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6))
    return {
        "multiclass": (X, np.array(["a", "b", "c"])[rng.integers(0, 3, 80)]),
        "binary": (X, rng.integers(0, 2, 80) * 3 + 1),            # labels {1, 4}
        "multilabel": (X, rng.integers(0, 2, size=(80, 4))),
    }


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("problem", ["multiclass", "binary", "multilabel"])
def test_from_sklearn_matches_sklearn(problems, activation, problem):
    X, y = problems[problem]
    mlp = _fit(X, y, activation)
    net = from_sklearn(mlp)
    assert net.out_activation == mlp.out_activation_
    np.testing.assert_allclose(net.predict_proba(X), mlp.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(net.predict(X), mlp.predict(X))
    assert net.score(X, y) == pytest.approx(mlp.score(X, y), abs=1e-15)
    # and back: scikit-learn scores the Network's weights itself
    back = net.to_sklearn()
    np.testing.assert_allclose(back.predict_proba(X), mlp.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(back.predict(X), mlp.predict(X))


def test_pretrained_matches_sklearn(digits_mlp, digits):
    net = from_sklearn(digits_mlp)
    np.testing.assert_allclose(net.predict_proba(digits.X_test), digits_mlp.predict_proba(digits.X_test),
                               rtol=0, atol=1e-12)
    assert net.score(digits.X_test, digits.y_test) == digits_mlp.score(digits.X_test, digits.y_test)


def test_from_sklearn_copies_weights(digits_mlp):
    net = from_sklearn(digits_mlp)
    net.layers[0].params["weight"][:] = 0
    assert np.any(digits_mlp.coefs_[0] != 0)


def test_dense_protocol_numbers(rng):
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    layer = Dense(W, b)
    assert layer.n_params == 18
    assert layer.storage_bits() == 18 * 64
    assert layer.astype("float32").storage_bits() == 18 * 32
    assert layer.flops(10) == 2 * 10 * 5 * 3 + 10 * 3
    X = rng.normal(size=(4, 5))
    np.testing.assert_allclose(layer.forward(X), X @ W + b)
    copy = layer.to_dense()                       # an independent copy, never the layer itself
    assert copy is not layer and not np.shares_memory(copy.weight, layer.weight)
    np.testing.assert_array_equal(copy.weight, W)


def test_network_sizes_are_sums_over_layers(digits_net):
    assert digits_net.n_params == 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert digits_net.storage_bits() == 64 * digits_net.n_params
    assert digits_net.flops(1) == sum(layer.flops(1) for layer in digits_net.layers)
    assert digits_net.hidden_layer_sizes == (64, 32)


def test_float32_inference(digits_net, digits):
    net32 = digits_net.astype("float32")
    P32 = net32.predict_proba(digits.X_test)
    assert P32.dtype == np.float32
    np.testing.assert_allclose(P32, digits_net.predict_proba(digits.X_test), atol=1e-5)
    assert net32.score(digits.X_test, digits.y_test) == pytest.approx(
        digits_net.score(digits.X_test, digits.y_test), abs=0.005)
    assert digits_net.predict_proba(digits.X_test).dtype == np.float64


def test_save_load_round_trip(digits_net, digits):
    buffer = io.BytesIO()
    digits_net.save(buffer)
    assert digits_net.serialized_bytes() == len(buffer.getvalue())
    buffer.seek(0)
    loaded = Network.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(digits.X_test), digits_net.predict_proba(digits.X_test))
    assert loaded.activation == digits_net.activation
    np.testing.assert_array_equal(loaded.classes, digits_net.classes)


def test_bad_inputs(digits_net):
    with pytest.raises(TypeError, match="MLPClassifier"):
        from_sklearn("not a model")
    with pytest.raises(Exception, match="not fitted"):
        from_sklearn(MLPClassifier())
    with pytest.raises(ValueError, match="must have 64 features.*got 10"):
        digits_net.predict(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="2-D"):
        digits_net.predict(np.zeros(64))
    with pytest.raises(ValueError, match="NaN"):
        digits_net.predict(np.full((2, 64), np.nan))
    with pytest.raises(TypeError, match="real numbers"):
        digits_net.predict(np.array([["a"] * 64]))
    with pytest.raises(ValueError, match="activation must be one of.*'swish'"):
        Network([Dense(np.ones((2, 3)), np.ones(3))], activation="swish")
    with pytest.raises(ValueError, match="layer 0 has 3 outputs but layer 1 expects 4"):
        Network([Dense(np.ones((2, 3)), np.ones(3)), Dense(np.ones((4, 2)), np.ones(2))])
    with pytest.raises(ValueError, match="dtype must be one of"):
        digits_net.astype("float16")
    with pytest.raises(ValueError, match="bias must have shape"):
        Dense(np.ones((2, 3)), np.ones(2))


def test_random_network_shapes_and_init_bounds():
    from compresslab.network import random_network

    net = random_network((64, 20, 10), random_state=3)
    assert [l.weight.shape for l in net.layers] == [(64, 20), (20, 10)]
    bound = np.sqrt(6 / (64 + 20))
    assert np.abs(net.layers[0].weight).max() <= bound
    assert np.abs(net.layers[0].weight).max() > 0.9 * bound
    again = random_network((64, 20, 10), random_state=3)
    np.testing.assert_array_equal(net.layers[1].weight, again.layers[1].weight)
    assert random_network((4, 3), dtype="float32").dtype == np.float32
    with pytest.raises(ValueError, match="layer_sizes"):
        random_network((64,))


# --- issue #10 section 2: bad input gives a clear error, never a wrong number -------------

def test_score_rejects_labels_of_the_wrong_shape(digits_net, digits):
    X, y = digits.X_test, digits.y_test
    assert digits_net.score(X, y) > 0.95
    with pytest.raises(ValueError, match=r"y must be 1-D \(n_samples,\); got shape \(450, 1\)"):
        digits_net.score(X, y[:, None])           # used to give 0.10 for a 97.8 % model


@pytest.mark.parametrize("bad", [lambda y: y.astype(str), lambda y: y + 0.5, lambda y: np.where(y == 0, 11, y)])
def test_score_rejects_labels_not_among_the_classes(digits_net, digits, bad):
    with pytest.raises(ValueError, match=r"y must only hold the network's classes \[0, 1, 2"):
        digits_net.score(digits.X_test, bad(digits.y_test))      # used to give 0.0


@pytest.mark.parametrize("value, what", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_weights_are_refused_by_score_and_predict(digits_net, digits, value, what):
    digits_net.layers[0].params["weight"].flat[:3] = value
    message = f"network weights must be finite; layer 1 'weight' has 3 {what}"
    with pytest.raises(ValueError, match=message):
        digits_net.score(digits.X_test, digits.y_test)            # used to give 0.1
    with pytest.raises(ValueError, match=message):
        digits_net.predict(digits.X_test)


def test_non_finite_inputs_are_refused(digits_net, digits):
    X = digits.X_test.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X must not contain NaN"):
        digits_net.score(X, digits.y_test)
    with pytest.raises(TypeError, match="X must be a 2-D array of numbers"):
        digits_net.predict([[1.0, 2.0], [3.0]])


def test_from_sklearn_and_random_network_name_their_bad_arguments(digits_mlp):
    mlp = copy.deepcopy(digits_mlp)
    mlp.coefs_[1][0, 0] = np.nan
    with pytest.raises(ValueError, match="mlp weights must be finite; layer 2 'weight' has 1 NaN"):
        from_sklearn(mlp)
    with pytest.raises(TypeError, match="layer_sizes entry must be an integer; got 2.5"):
        random_network((2.5, 3))
    with pytest.raises(TypeError, match="random_state must be None, an integer seed"):
        random_network((4, 3), random_state="seed")
    with pytest.raises(TypeError, match="dtype must be one of"):
        random_network((4, 3), dtype=None)
    with pytest.raises(ValueError, match="activation must be one of"):
        random_network((4, 3), activation=np.array(["relu", "tanh"]))
