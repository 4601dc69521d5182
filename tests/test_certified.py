"""CertifiedLogits: the quantization dashboard's scoring pass (first two layers in float32).

What it promises: the predicted labels (so the accuracy) are exactly those of
``network.logits`` in float64, whatever the network; the logits of certain
samples are within their proven bound; a network with an activation quantizer
takes the exact float64 road; any other network takes ``network.logits``."""
import threading

import numpy as np
import pytest

from compresslab.dashboards.certified import SAFETY, CertifiedLogits, gamma
from compresslab.lowrank import factorize
from compresslab.network import Dense, Network
from compresslab.quantization import activation_ranges, quantize, quantize_activations


@pytest.fixture(scope="module")
def scorer(mnist5k):
    return CertifiedLogits(mnist5k.X_test)


@pytest.mark.parametrize("scheme, bits", [("symmetric", 8), ("symmetric", 4), ("symmetric", 2), ("affine", 3),
                                          ("kmeans", 2), ("binary", 1), ("ternary", 2), ("float16", 16)])
def test_labels_and_accuracy_are_float64s(scorer, mnist_net, mnist5k, scheme, bits):
    q = quantize(mnist_net, scheme, bits)
    reference = q.logits(mnist5k.X_test)
    got = scorer.logits(q)
    assert np.array_equal(got.argmax(axis=1), reference.argmax(axis=1))
    assert q.score_logits(got, mnist5k.y_test) == q.score(mnist5k.X_test, mnist5k.y_test)
    assert scorer.last_uncertain < len(got) // 4              # the float32 road was taken, mostly certain
    assert np.abs(got - reference).max() < 1e-3


def test_logits_stay_within_the_proven_bound(scorer, mnist_net, mnist5k):
    """Certain samples: |float32 road - float64| <= the bound the certificate used, and
    that bound is its formula: the first float32 product's r_i p_j and the second's
    gamma32 max_j |a_ij| ||w_k||_1, carried through |W| (the float32 sums with the
    biases and the float64 roundings add the rest, a few % at most)."""
    q = quantize(mnist_net, "symmetric", 6)
    reference, got = q.logits(mnist5k.X_test), scorer.logits(q)
    bound = scorer.logit_bound(q)
    W1, W2, W3 = (np.abs(layer.value("weight")) for layer in q.layers)
    p = np.linalg.norm(W1[scorer.columns], axis=0)
    A = np.maximum(q.layers[0].forward(mnist5k.X_test), 0)          # the first layer's activations
    second = SAFETY * gamma(W2.shape[0] + 2) * np.outer(A.max(axis=1), W2.sum(axis=0))
    formula = (np.outer(scorer.row_bound, p) @ W2 + second) @ W3
    assert np.all(bound >= formula * (1 - 1e-6)) and np.all(bound <= formula * 1.05)
    assert np.all(np.abs(got - reference) <= bound)
    # and the bound is a worst case, not a guess: the error seen is far below it
    assert np.abs(got - reference).max() < 0.1 * bound.max()


def test_the_float32_dot_product_error_is_within_gamma(rng):
    """Higham's bound |fl32(x.w) - x.w| <= gamma_{K+2} |x|.|w| (float64 as the exact value)."""
    X, W = rng.standard_normal((200, 784)), rng.standard_normal((784, 50))
    error = np.abs((X.astype(np.float32) @ W.astype(np.float32)).astype(np.float64) - X @ W)
    assert np.all(error <= gamma(784 + 2) * (np.abs(X) @ np.abs(W)))
    assert gamma(10, 0.01) == pytest.approx(0.1 / 0.9)
    with pytest.raises(ValueError, match="n u < 1"):
        gamma(100, 0.01)


def test_zero_terms_add_no_rounding_so_gamma_counts_the_nonzero_ones(rng):
    """|fl32(x.w) - x.w| <= gamma_{K+2} |x|.|w| with K the nonzero terms of x (the
    certificate's r_i), checked on images as sparse as MNIST's (80 % zeros)."""
    X = rng.random((300, 784)) * (rng.random((300, 784)) < 0.2)
    W = rng.standard_normal((784, 50))
    error = np.abs((X.astype(np.float32) @ W.astype(np.float32)).astype(np.float64) - X @ W)
    nonzero = np.count_nonzero(X, axis=1)
    bound = np.array([gamma(k + 2) for k in nonzero])[:, None] * (X @ np.abs(W))
    assert np.all(error <= bound)
    assert nonzero.max() < 200                                    # 4x tighter than gamma_{784+2}


def test_pixels_dark_in_every_image_are_left_out_of_the_product(scorer, mnist5k):
    X = mnist5k.X_test
    assert np.all(X[:, np.setdiff1d(np.arange(X.shape[1]), scorer.columns)] == 0)
    assert np.all((X[:, scorer.columns] != 0).any(axis=0))
    assert scorer.X32.shape == (len(X), len(scorer.columns)) and len(scorer.columns) < X.shape[1]


def _tied_network(rng, n_inputs=20):
    """Output classes 0 and 1 with the same weights: every sample a tie, no certificate possible."""
    W1, W2 = rng.standard_normal((n_inputs, 8)), rng.standard_normal((8, 3))
    W2[:, 1] = W2[:, 0]
    layers = [Dense(W1, rng.standard_normal(8)), Dense(W2, np.zeros(3))]
    return Network(layers, activation="relu", out_activation="softmax", classes=np.arange(3))


def test_a_tie_is_never_certified_and_is_computed_in_float64(rng):
    X = np.abs(rng.standard_normal((50, 20)))
    net = _tied_network(rng)
    scorer = CertifiedLogits(X)
    got = scorer.logits(net)
    reference = net.logits(X)
    tied = reference.argmax(axis=1) < 2                 # the top class is one of the tied pair
    assert tied.any() and scorer.last_uncertain >= tied.sum()
    assert np.array_equal(got[tied], reference[tied])   # recomputed: float64's very numbers
    assert np.array_equal(got.argmax(axis=1), reference.argmax(axis=1))


@pytest.mark.parametrize("activation_bits", [8, 4, 2])
def test_activation_quantizers_take_the_exact_road(scorer, mnist_net, mnist5k, activation_bits):
    ranges = activation_ranges(mnist_net, mnist5k.X_train)
    q = quantize(mnist_net, "symmetric", 4)
    qa = quantize_activations(q, activation_bits, ranges)
    assert np.array_equal(scorer.logits(qa), qa.logits(mnist5k.X_test))     # bit for bit
    assert scorer.last_uncertain == 0


def test_an_activation_move_reuses_the_first_layer(mnist_net, mnist5k, monkeypatch):
    scorer = CertifiedLogits(mnist5k.X_test)
    ranges = activation_ranges(mnist_net, mnist5k.X_train)
    q = quantize(mnist_net, "symmetric", 4)
    scorer.logits(quantize_activations(q, 8, ranges))
    products, this_thread = [], threading.get_ident()
    original = Dense.forward

    def recorded(self, X):
        if threading.get_ident() == this_thread:      # not a background thread another test left running
            products.append(X.shape)
        return original(self, X)

    monkeypatch.setattr(Dense, "forward", recorded)
    for bits in (6, 4, 2):
        qa = quantize_activations(q, bits, ranges)              # shares q's first layer
        scorer.logits(qa)
    assert (len(mnist5k.X_test), 784) not in products         # the 784-input product was kept


def test_other_networks_take_the_plain_road(scorer, mnist_net, mnist5k):
    for other in (mnist_net.astype("float32"), factorize(mnist_net, ranks=[20, 20, 10]).network):
        assert not CertifiedLogits.supports(other)
        assert np.array_equal(scorer.logits(other), other.logits(mnist5k.X_test))
    assert CertifiedLogits.supports(mnist_net) and SAFETY >= 2


def _two_layer(W1, b1, W2, b2):
    f = lambda a: np.array(a, dtype=float)
    return Network([Dense(f(W1), f(b1)), Dense(f(W2), f(b2))], activation="relu", out_activation="softmax",
                   classes=np.arange(len(b2)))


_OVERFLOW_W1 = np.zeros((5, 2))
_OVERFLOW_W1[:, 0], _OVERFLOW_W1[4, 1] = [3e38, 3e38, -3e38, -3e38, 0], 1.0


@pytest.mark.parametrize("case, X, network", [
    # x rounds to 0 in float32: no relative bound
    ("x underflows", [[1e-50]], _two_layer([[1, 0]], [0, 0], [[1, 0], [0, 0]], [-5e-51, 0])),
    # the product is subnormal in float32
    ("product underflows", [[1e-20]], _two_layer([[3e-25, 0]], [0, 0], [[1, 0], [0, 0]], [-2.9e-45, 0])),
    # a partial sum overflows float32 though every term is finite
    ("sum overflows", np.ones((1, 5)), _two_layer(_OVERFLOW_W1, [0, 0], [[1, -1], [0.1, 10]], [0, 0])),
    # a bias 2^30 x the product: its float64 rounding is far above the float32 bound
    ("bias rounding", [[1.0]], _two_layer([[2.0**-23 * (1 + 2.0**-30), 0]], [2.0**30, 2.0**30],
                                          [[1, 0], [-1, 0]], [-2.0**-23, 0])),
])
def test_numbers_at_the_edges_of_float32_never_get_a_wrong_label(case, X, network):
    """Found by a review: each of these once came out certain and wrong. Underflow is in
    the bound (2^-150 absolute), a possible overflow takes the plain road, and the
    float64 rounding of biases and later layers is bounded explicitly."""
    X = np.asarray(X, dtype=float)
    scorer = CertifiedLogits(X)
    assert np.array_equal(scorer.logits(network).argmax(axis=1), network.logits(X).argmax(axis=1))


@pytest.mark.parametrize("activation, road", [("relu", "float32"), ("identity", "float32"), ("tanh", "plain"),
                                              ("logistic", "plain")])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_every_hidden_activation_and_depth_gets_float64s_labels(rng, activation, road, depth):
    """relu and identity are exact in float32: they take the float32 road (two float32
    products); tanh and logistic are not, and are scored in float64 (the plain road)."""
    sizes = [30, 40, 20, 12, 5][:depth] + [5]
    layers = [Dense(rng.standard_normal((a, b)) / np.sqrt(a), 0.1 * rng.standard_normal(b))
              for a, b in zip(sizes[:-1], sizes[1:])]
    network = Network(layers, activation=activation, out_activation="softmax", classes=np.arange(5))
    X = np.abs(rng.standard_normal((400, 30))) * (rng.random((400, 30)) < 0.3)
    scorer = CertifiedLogits(X)
    got, reference = scorer.logits(network), network.logits(X)
    assert np.array_equal(got.argmax(axis=1), reference.argmax(axis=1))
    if road == "float32":
        assert 0 < (np.abs(got - reference).max()) < 1e-4 and scorer.last_uncertain < len(X) // 4
        assert np.all(np.abs(got - reference) <= scorer.logit_bound(network))
    else:
        assert scorer.last_uncertain == len(X) and np.array_equal(got, reference)


def test_a_second_layer_that_could_overflow_float32_takes_the_plain_road():
    """|a| |w| K above 2^100 in the second product: float32 could overflow there."""
    network = _two_layer([[1e20, 0]], [0, 0], [[1e20, -1e20], [0, 0]], [0, 0])
    scorer = CertifiedLogits(np.ones((3, 1)))
    assert np.array_equal(scorer.logits(network), network.logits(np.ones((3, 1))))
    assert scorer.last_uncertain == 3


@pytest.mark.parametrize("where", ["second weights", "second bias", "first bias"])
def test_a_non_finite_number_in_the_first_two_layers_is_refused_as_network_logits_refuses(where):
    W1, b1, W2, b2 = [[1.0, 0.5]], [0.0, 0.1], [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]
    if where == "second weights":
        W2 = [[np.nan, 0.0], [0.0, 1.0]]
    elif where == "second bias":
        b2 = [np.inf, 0.0]
    else:
        b1 = [np.nan, 0.0]
    network = _two_layer(W1, b1, W2, b2)
    with pytest.raises(ValueError, match="finite"):
        network.logits(np.ones((2, 1)))
    with pytest.raises(ValueError, match="finite"):
        CertifiedLogits(np.ones((2, 1))).logits(network)


def test_a_float64_near_tie_is_decided_by_network_logits_own_numbers(rng):
    """Found by a review: a recomputed row is float64, but a (rows, K) product sums in
    other blocks than network.logits's (n, K) one. Where the two float64 results are
    within their rounding of a tie, network.logits's numbers decide: over 81 biases an
    ulp apart around the tie of sample 0, every label is network.logits's."""
    n, k, m = 255, 509, 153
    X, W1 = rng.standard_normal((n, k)), rng.standard_normal((k, m))
    direction = np.sign(rng.standard_normal(m))
    W2 = np.column_stack([np.zeros(m), direction])
    tie = -(X @ W1 @ direction)[0]
    scorer = CertifiedLogits(X)
    for step in range(-40, 41):
        network = _two_layer(W1, np.zeros(m), W2, [0.0, tie + step * np.spacing(tie)])
        network = Network(network.layers, activation="identity", out_activation="softmax", classes=np.arange(2))
        assert np.array_equal(scorer.logits(network).argmax(axis=1), network.logits(X).argmax(axis=1))


def _three_layer(W1, W2, W3, activation="relu"):
    f = lambda a: np.array(a, dtype=float)
    layers = [Dense(f(W), np.zeros(np.shape(W)[1])) for W in (W1, W2, W3)]
    return Network(layers, activation=activation, out_activation="softmax", classes=np.arange(np.shape(W3)[1]))


@pytest.mark.parametrize("case, X, network", [
    # logits in float64's subnormal range: the road's 5e-324 against float64's 0
    ("subnormal logits", [[1.0]], _three_layer([[1 / 6 - 2.0**-40]], [[1.0]], [[0.0, 3 * 2.0**-1074]])),
    # float64 overflows in the road's third layer but not in network.logits's
    ("the road overflows", [[1.0]], _three_layer([[2 - 2.0**-30]], [[1.0]], [[2.0**1023, 0.0]])),
    # and the other way round
    ("the reference overflows", [[2.0**20]], _three_layer([[2.0**-20 * (1 + 2.0**-30)]], [[1.0]],
                                                          [[np.finfo(float).max, 0.0]])),
])
def test_float64_edges_in_later_layers_give_network_logits_answer(case, X, network):
    """Found by a review: below float64's normal range a rounding errs absolutely (in the
    bound now), and a float64 layer near overflow takes the plain road: the same logits,
    or the same error, as network.logits."""
    X = np.asarray(X, dtype=float)
    scorer = CertifiedLogits(X)
    try:
        with np.errstate(over="ignore"):               # the overflow is the case
            reference = network.logits(X)
    except ValueError as error:
        with np.errstate(over="ignore"), pytest.raises(ValueError, match="finite"):
            scorer.logits(network)
        assert "finite" in str(error)
        return
    assert np.array_equal(scorer.logits(network).argmax(axis=1), reference.argmax(axis=1))


def test_a_layer_changed_in_place_is_scored_again(mnist_net, mnist5k):
    """The first layer's product is kept only for layers whose arrays are encoded
    (immutable); a float layer trained in place is computed again."""
    network = mnist_net.replace_layers([layer.astype("float64") for layer in mnist_net.layers])
    X = mnist5k.X_test[:200]
    scorer = CertifiedLogits(X)
    scorer.logits(network)
    network.layers[0].params["weight"] *= -1
    assert np.array_equal(scorer.logits(network).argmax(axis=1), network.logits(X).argmax(axis=1))


def test_an_empty_x_is_refused_as_network_logits_refuses():
    with pytest.raises(ValueError, match="at least one sample"):
        CertifiedLogits(np.zeros((0, 5)))


def test_what_network_logits_refuses_the_scorer_refuses(mnist5k, mnist_net):
    """Dropped pixels must not hide a bad network: a wrong input count, or a NaN weight in
    a row no test image lights, raise as ``network.logits`` does."""
    scorer = CertifiedLogits(mnist5k.X_test[:, :700])
    with pytest.raises(ValueError, match="features"):
        scorer.logits(mnist_net)
    W = mnist_net.layers[0].weight.copy()
    dark = np.flatnonzero(~(mnist5k.X_test != 0).any(axis=0))[0]
    W[dark, 0] = np.nan
    broken = mnist_net.replace_layers([Dense(W, mnist_net.layers[0].bias), *mnist_net.layers[1:]])
    with pytest.raises(ValueError, match="finite"):
        CertifiedLogits(mnist5k.X_test).logits(broken)
