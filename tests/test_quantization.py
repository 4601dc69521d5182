import numpy as np
import pytest

from compresslab.network import Dense, Network
from compresslab.quantization import (BIT_RANGES, QuantizedArray, QuantizedInput, activation_ranges,
                                      gradient_quantizer, pack_codes, quantization_aware_training, quantize,
                                      quantize_binary, quantize_array, quantize_kmeans, quantize_layer,
                                      unpack_codes, weight_quantizer)
from compresslab.training import loss_and_gradients, target_matrix, train


@pytest.fixture(scope="module")
def W():
    return np.random.default_rng(0).normal(size=(40, 12)) * np.linspace(0.1, 2, 12)   # columns of different scale


@pytest.mark.parametrize("bits", range(1, 17))
def test_codes_round_trip_through_packing(bits):
    codes = np.random.default_rng(bits).integers(0, 2**bits, size=1001)
    packed = pack_codes(codes, bits)
    assert packed.dtype == np.uint8 and packed.size == int(np.ceil(1001 * bits / 8))
    np.testing.assert_array_equal(unpack_codes(packed, bits, 1001), codes)


@pytest.mark.parametrize("bits", [2, 3, 4, 8, 12, 16])
@pytest.mark.parametrize("scheme", ["symmetric", "affine"])
@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
def test_uniform_error_is_within_half_a_step(W, bits, scheme, granularity):
    layer = quantize_array(W, scheme, bits, granularity=granularity)
    error = np.abs(layer.decode() - W)
    scale = layer.scale.astype(np.float64) if granularity == "neuron" else float(layer.scale[0])
    assert np.all(error <= scale / 2 + 1e-9)
    assert layer.codes.max() < 2**bits


@pytest.mark.parametrize("scheme, bits, n_levels", [("symmetric", 2, 3), ("symmetric", 4, 15), ("affine", 3, 8),
                                                    ("binary", 1, 2), ("ternary", 2, 3)])
def test_levels_are_the_values_the_weights_take(W, scheme, bits, n_levels):
    layer = quantize_array(W, scheme, bits, granularity="neuron")
    levels = layer.levels(5)
    assert len(levels) == n_levels
    used = np.unique(layer.decode()[:, 5])
    assert np.all(np.min(np.abs(used[:, None] - levels[None, :]), axis=1) < 1e-6)


def test_per_neuron_scales_beat_per_tensor_on_uneven_columns(W):
    errors = {g: np.sum((quantize_array(W, "symmetric", 4, granularity=g)
                         .decode() - W) ** 2) for g in ("tensor", "neuron")}
    assert errors["neuron"] < errors["tensor"]


def test_affine_uses_the_whole_range_of_a_lopsided_distribution():
    W = np.random.default_rng(1).uniform(0.5, 1.0, size=(50, 4))         # all positive
    err = {s: np.abs(quantize_array(W, s, 4).decode() - W).max()
           for s in ("symmetric", "affine")}
    assert err["affine"] < err["symmetric"]


@pytest.mark.parametrize("bits", [2, 3])
def test_mse_clipping_beats_minmax_at_low_bits(bits):
    rng = np.random.default_rng(2)
    W = rng.normal(size=(200, 20))
    W[rng.random(W.shape) < 0.005] *= 8                                   # a few outliers, as in trained layers
    err = {r: np.sum((quantize_array(W, "symmetric", bits, range_method=r)
                      .decode() - W) ** 2) for r in ("minmax", "mse")}
    assert err["mse"] < 0.8 * err["minmax"]


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
def test_mse_range_is_never_worse_than_minmax(W, bits, granularity):
    err = {r: np.sum((quantize_array(W, "affine", bits, granularity=granularity,
                                     range_method=r).decode() - W) ** 2) for r in ("minmax", "mse")}
    assert err["mse"] <= err["minmax"] * (1 + 1e-12)


@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_mse_search_picks_the_grid_ratio_a_plain_loop_picks(rng, granularity, symmetric, bits):
    """The search tries its candidates in chunks; the choice is a one-at-a-time loop's:
    the ratio of least squared error on the same rows, the first of equal ones."""
    from compresslab.quantization import _per_column, _search_clip, _uniform_params, _uniform_round_trip

    G = _per_column(rng.laplace(size=(120, 9)), granularity)
    lo, hi = G.min(axis=0), G.max(axis=0)
    best_err, best_ratio = np.full(G.shape[1], np.inf), np.ones(G.shape[1])
    for ratio in np.linspace(1 / 32, 1.0, 32):
        _, approx = _uniform_round_trip(G, *_uniform_params(lo * ratio, hi * ratio, bits, symmetric))
        err = np.sum((G - approx) ** 2, axis=0)
        better = err < best_err
        best_err[better], best_ratio[better] = err[better], ratio
    got_lo, got_hi = _search_clip(G, bits, symmetric)
    np.testing.assert_array_equal(got_lo, lo * best_ratio)
    np.testing.assert_array_equal(got_hi, hi * best_ratio)


def test_16_bit_reproduces_the_weights(W):
    for scheme in ("symmetric", "affine"):
        np.testing.assert_allclose(quantize_array(W, scheme, 16).decode(), W,
                                   atol=np.abs(W).max() * 2e-4)
    np.testing.assert_allclose(quantize_array(W, "float16", 16).decode(), W,
                               rtol=1e-3)


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_kmeans_with_enough_centroids_reproduces_the_weights(bits):
    values = np.random.default_rng(3).normal(size=2**bits)
    W = np.random.default_rng(4).choice(values, size=(30, 10))
    codes, codebook = quantize_kmeans(W, bits)
    np.testing.assert_array_equal(codebook[codes], W)


def test_kmeans_assigns_each_weight_to_its_nearest_centroid(W):
    codes, codebook = quantize_kmeans(W, 3)
    nearest = np.argmin(np.abs(W[..., None] - codebook), axis=-1)
    np.testing.assert_array_equal(codebook[codes], codebook[nearest])


def test_binarization_keeps_sign_and_the_optimal_scale(W):
    layer = quantize_array(W, "binary", 1)
    Wb = layer.decode()
    assert np.all(np.sign(Wb) == np.where(W >= 0, 1, -1))
    _, scale = quantize_binary(W)
    np.testing.assert_allclose(np.abs(Wb).max(axis=0), scale, rtol=1e-6)
    # the scale minimises ||W - a sign(W)||^2 over a, per neuron: nudging it only makes it worse
    for factor in (0.9, 1.1):
        worse = np.sum((W - factor * Wb) ** 2, axis=0)
        assert np.all(worse > np.sum((W - Wb) ** 2, axis=0))


def test_ternary_has_three_levels_per_neuron(W):
    Wt = quantize_array(W, "ternary", 2).decode()
    for column in Wt.T:
        assert len(np.unique(column)) <= 3 and 0.0 in column


@pytest.mark.parametrize("scheme, bits", [("symmetric", 4), ("affine", 3), ("kmeans", 2), ("binary", 1),
                                          ("ternary", 2), ("float16", 16), ("symmetric", 16)])
@pytest.mark.parametrize("granularity", ["tensor", "neuron"])
def test_storage_bits_equal_the_formula(W, scheme, bits, granularity):
    m, n = W.shape
    layer = quantize_layer(Dense(W, np.zeros(n)), scheme, bits, granularity=granularity)
    groups = n if (granularity == "neuron" or scheme in ("binary", "ternary")) else 1
    extra = {"symmetric": groups * 32, "affine": 2 * groups * 32, "kmeans": 2**bits * 32,
             "binary": n * 32, "ternary": n * 32, "float16": 0}[scheme]
    assert layer.storage_bits() == m * n * bits + extra + n * 32          # + float32 bias
    assert layer.n_params == m * n + n and layer.flops(5) == 2 * 5 * m * n + 5 * n


def test_quantized_network_saves_loads_and_its_file_shrinks(mnist_net, mnist5k, tmp_path):
    q = quantize(mnist_net, "affine", 4, granularity="neuron")
    q.save(tmp_path / "q.npz")
    loaded = Network.load(tmp_path / "q.npz")
    np.testing.assert_array_equal(loaded.predict_proba(mnist5k.X_test), q.predict_proba(mnist5k.X_test))
    assert q.serialized_bytes() < mnist_net.serialized_bytes() / 10


@pytest.mark.parametrize("bits, floor", [(8, 0.94), (4, 0.93)])
def test_ptq_keeps_accuracy_at_8_and_4_bits(mnist_net, mnist5k, bits, floor):
    q = quantize(mnist_net, "symmetric", bits, granularity="neuron")
    assert q.score(mnist5k.X_test, mnist5k.y_test) >= floor


def test_activation_quantization(mnist_net, mnist5k):
    """Ranges, quantized activations and outputs against a forward pass built by hand in NumPy."""
    X_cal, X = mnist5k.X_train, mnist5k.X_test[:200]
    q = quantize(mnist_net, "symmetric", 8, activation_bits=4, X_calibration=X_cal)
    assert [type(layer) for layer in q.layers] == [Dense, QuantizedInput, QuantizedInput]
    assert all(layer.bits == 4 for layer in q.layers[1:])
    # the ranges: min and max of the float network's hidden ReLU outputs on the calibration data
    (W1, b1), (W2, b2) = [(layer.weight, layer.bias) for layer in mnist_net.layers[:2]]
    H1 = np.maximum(X_cal @ W1 + b1, 0)                                    # (n, 300)
    H2 = np.maximum(H1 @ W2 + b2, 0)                                       # (n, 100)
    ranges = [(H1.min(), H1.max()), (H2.min(), H2.max())]
    assert ranges[0][0] == 0.0 and ranges[1][0] == 0.0                     # ReLU: the low end is 0
    np.testing.assert_allclose(activation_ranges(mnist_net, X_cal), ranges, rtol=1e-12)
    # stored as float32 (2 x 32 bits, as counted): the layer works with the rounded range
    np.testing.assert_allclose([(layer.low, layer.high) for layer in q.layers[1:]], ranges, rtol=1e-7)
    ranges = [(layer.low, layer.high) for layer in q.layers[1:]]
    assert q.storage_bits() == quantize(mnist_net, "symmetric", 8).storage_bits() + 2 * 2 * 32   # + [low, high]

    def quantized(A, low, high, levels=2**4):                              # levels evenly spread over [low, high]
        step = (high - low) / (levels - 1)
        return low + step * np.round((np.clip(A, low, high) - low) / step)

    # the same network by hand: 8-bit weights, hidden activations rounded to 16 levels
    weights = [layer.weight for layer in (q.layers[0], q.layers[1].inner, q.layers[2].inner)]   # decoded codes
    biases = [layer.bias for layer in (q.layers[0], q.layers[1].inner, q.layers[2].inner)]        # float32 values
    for Wq, W in zip(weights, [layer.weight for layer in mnist_net.layers]):
        step = np.abs(W).max() / 127                                       # symmetric, per tensor
        assert np.abs(Wq - W).max() <= step / 2 * (1 + 1e-6)
    A1 = quantized(np.maximum(X @ weights[0] + biases[0], 0), *ranges[0])
    A2 = quantized(np.maximum(A1 @ weights[1] + biases[1], 0), *ranges[1])
    for A, (low, high) in ((A1, ranges[0]), (A2, ranges[1])):
        codes = (A - low) / ((high - low) / 15)
        np.testing.assert_allclose(codes, np.round(codes), atol=1e-9)     # on the grid
        assert len(np.unique(np.round(codes))) <= 16 and len(np.unique(np.round(codes))) >= 8
    logits = A2 @ weights[2] + biases[2]
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(q.predict_proba(X), P, rtol=1e-6, atol=1e-9)
    # and the activation rounding matters: without it the outputs differ
    assert np.abs(quantize(mnist_net, "symmetric", 8).predict_proba(X) - P).max() > 1e-3
    assert q.score(mnist5k.X_test, mnist5k.y_test) > 0.9


def test_qat_lowers_the_loss_through_the_hooks(mnist_net, mnist5k):
    q, history = quantization_aware_training(mnist_net, mnist5k.X_train, mnist5k.y_train, "symmetric", 2,
                                             epochs=3, progress=False)
    assert history.loss[-1] < history.loss[0]
    ptq = quantize(mnist_net, "symmetric", 2).score(mnist5k.X_test, mnist5k.y_test)
    assert q.score(mnist5k.X_test, mnist5k.y_test) > ptq + 0.2
    assert all(isinstance(layer.encoded["weight"], QuantizedArray) and layer.encoded["weight"].bits == 2
               for layer in q.layers)
    assert mnist_net.layers[0].to_dense().weight.dtype == np.float64      # the original is untouched


@pytest.mark.parametrize("scheme, bits", [("symmetric", 3), ("affine", 4), ("binary", 1), ("ternary", 2),
                                          ("kmeans", 2), ("float16", 16)])
def test_weight_quantizer_matches_post_training_quantization(W, scheme, bits):
    net = Network([Dense(W, np.zeros(12))])
    fake = weight_quantizer(net, scheme, bits)(0, "weight", W)
    np.testing.assert_allclose(fake, quantize_layer(net.layers[0], scheme, bits).weight, rtol=1e-6,
                               atol=1e-7)
    bias = np.linspace(-1, 1, 12)
    np.testing.assert_array_equal(weight_quantizer(net, scheme, bits)(0, "bias", bias), bias)   # biases stay float


def test_weight_quantizer_is_straight_through():
    rng = np.random.default_rng(5)
    net = Network([Dense(rng.normal(size=(6, 5)), rng.normal(size=5)), Dense(rng.normal(size=(5, 3)),
                                                                               rng.normal(size=3))])
    X, Y = rng.normal(size=(8, 6)), target_matrix(net, rng.integers(0, 3, 8))
    hook = weight_quantizer(net, "symmetric", 3)
    _, grads = loss_and_gradients(net, X, Y, weight_transform=hook)
    twin = net.replace_layers([Dense(hook(i, "weight", l.weight), l.bias) for i, l in enumerate(net.layers)])
    _, twin_grads = loss_and_gradients(twin, X, Y)
    for g, t in zip(grads, twin_grads):
        np.testing.assert_allclose(g["weight"], t["weight"], rtol=1e-12)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_stochastic_gradient_rounding_is_unbiased(bits):
    g = np.random.default_rng(6).normal(size=(50, 20))
    hook = gradient_quantizer(bits, random_state=0)
    mean = np.mean([hook(0, "weight", g) for _ in range(2000)], axis=0)
    assert np.abs(mean - g).max() < 0.15 * np.abs(g).max()
    if bits >= 2:
        levels = np.unique(hook(0, "weight", g) / (np.abs(g).max() / (2 ** (bits - 1) - 1)))
        assert len(levels) <= 2**bits and np.allclose(levels, np.round(levels))


def test_training_with_8_bit_gradients_learns(digits):
    from compresslab.network import random_network

    net = random_network((64, 32, 10), random_state=0)
    h = train(net, digits.X_train, digits.y_train, epochs=8, learning_rate=1e-2, progress=False,
              gradient_transform=gradient_quantizer(8), X_test=digits.X_test, y_test=digits.y_test)
    assert h.loss[-1] < 0.5 * h.loss[0] and h.test_accuracy[-1] > 0.85


def test_quantized_forward_is_a_float_matmul_of_the_dequantized_weights(mnist_net, mnist5k):
    """Why its measured speedup is at most 1 (the number itself: python -m compresslab.bench)."""
    from compresslab.metrics import speedup

    q = quantize(mnist_net, "symmetric", 8)
    X = mnist5k.X_test[:20]
    layer = q.layers[0]
    np.testing.assert_allclose(layer.forward(X), X @ layer.weight + layer.bias, rtol=1e-6)
    assert layer.weight.dtype == np.float64 and layer.encoded["weight"].codes.dtype == np.uint8
    result = speedup(mnist_net, q, mnist5k.X_test, repeats=3)
    assert result.theoretical == 1.0 and result.measured > 0          # the same float FLOPs


def test_bad_quantization_arguments(W):
    dense = Dense(W, np.zeros(12))
    with pytest.raises(ValueError, match=r"bits for symmetric must be in \[2, 16\]; got 1"):
        quantize_layer(dense, "symmetric", 1)
    with pytest.raises(ValueError, match=r"bits for kmeans must be in \[1, 8\]; got 9"):
        quantize_layer(dense, "kmeans", 9)
    with pytest.raises(ValueError, match="scheme must be one of.*'int4'"):
        quantize_layer(dense, "int4", 4)
    with pytest.raises(ValueError, match="granularity must be one of.*'row'"):
        quantize_layer(dense, "symmetric", 4, granularity="row")
    with pytest.raises(ValueError, match="range_method must be one of.*'percentile'"):
        quantize_layer(dense, "symmetric", 4, range_method="percentile")
    with pytest.raises(ValueError, match="X_calibration"):
        quantize(Network([dense]), "symmetric", 8, activation_bits=4)
    with pytest.raises(ValueError, match=r"gradient bits must be in \[1, 16\]; got 0"):
        gradient_quantizer(0)
    with pytest.raises(TypeError, match="Network"):
        quantize(dense)
    assert set(BIT_RANGES) >= {"symmetric", "affine", "kmeans", "binary"}


# --- structure x encoding: quantizing a low-rank network keeps its factors -----------------------

def test_quantizing_a_low_rank_network_keeps_the_factors(digits_net, digits):
    from compresslab.lowrank import LowRank, factorize

    low = factorize(digits_net, ranks=[8, 8, 5]).network
    q = quantize(low, "symmetric", 8, granularity="neuron")
    assert all(isinstance(layer, LowRank) for layer in q.layers)
    # hand count: every factor value at 8 bits, one float32 scale per factor column, float32 biases
    expected = 0
    for layer in low.layers:
        (m, k), (_, n) = layer.shapes[0], layer.shapes[1]
        expected += (m * k + k * n) * 8 + (k + n) * 32 + n * 32
    assert q.storage_bits() == expected
    assert q.storage_bits() < quantize(digits_net, "symmetric", 8).storage_bits() / 2
    # its predictions are those of the network rebuilt from the decoded factors
    rebuilt = low.replace_layers([LowRank(l.value("left").copy(), l.value("right").copy(), l.value("bias").copy())
                                  for l in q.layers])
    np.testing.assert_allclose(q.predict_proba(digits.X_test), rebuilt.predict_proba(digits.X_test), rtol=1e-12)
    np.testing.assert_array_equal(q.predict(digits.X_test), rebuilt.predict(digits.X_test))


def test_tensor_granularity_low_rank_hand_count(digits_net):
    from compresslab.lowrank import factorize

    low = factorize(digits_net, ranks=[8, 8, 5]).network
    q = quantize(low, "symmetric", 8)                 # one scale per factor
    sizes = [(64, 8, 64), (64, 8, 32), (32, 5, 10)]
    assert q.storage_bits() == sum((m * k + k * n) * 8 + 2 * 32 + n * 32 for m, k, n in sizes) == 19_600


def test_qat_keeps_a_low_rank_structure(digits_net, digits):
    from compresslab.lowrank import LowRank, factorize

    low = factorize(digits_net, ranks=[8, 8, 5]).network
    q, history = quantization_aware_training(low, digits.X_train, digits.y_train, "symmetric", 4,
                                             epochs=2, progress=False)
    assert all(isinstance(layer, LowRank) for layer in q.layers)
    for layer in q.layers:                            # the factors sit on their 4-bit grids
        for name in ("left", "right"):
            encoded = layer.encoded[name]
            assert encoded.bits == 4 and encoded.codes.max() < 16
    assert history.loss[-1] < history.loss[0]


# --- issue #15: k-means without scikit-learn's KMeans, and no packing on a slider's path ----------

def _sklearn_kmeans_1d(x, centroids, max_iter=100, tol=1e-4):
    """The reference: scikit-learn's KMeans from the same start (what quantize_kmeans used to call)."""
    from sklearn.cluster import KMeans

    fit = KMeans(centroids.size, init=np.sort(centroids).reshape(-1, 1), n_init=1, max_iter=max_iter,
                 tol=tol, random_state=0).fit(x.reshape(-1, 1))
    return np.sort(fit.cluster_centers_.ravel())


@pytest.mark.parametrize("bits", [1, 2, 4, 6])
def test_kmeans_1d_matches_sklearn_kmeans(bits):
    from compresslab.quantization import _kmeans_1d

    rng = np.random.default_rng(bits)
    x = np.sort(np.concatenate([rng.normal(0, 0.05, 3000), rng.standard_t(2, 200) * 0.1]))   # heavy tails
    init = np.linspace(x.min(), x.max(), 2**bits)
    np.testing.assert_allclose(_kmeans_1d(x, init), _sklearn_kmeans_1d(x, init), rtol=1e-9, atol=1e-12)


def test_kmeans_1d_moves_empty_clusters_to_the_farthest_points():
    """A lone outlier leaves the middle of a linear initialisation empty: those
    centroids must move onto data (scikit-learn's rule), not stay unused."""
    from compresslab.quantization import _kmeans_1d

    rng = np.random.default_rng(0)
    x = np.sort(np.concatenate([rng.normal(0, 1, 1000), [50.0]]))
    init = np.linspace(x.min(), x.max(), 8)                 # 5 of 8 start with no point
    c = _kmeans_1d(x, init)
    np.testing.assert_allclose(c, _sklearn_kmeans_1d(x, init), rtol=1e-9, atol=1e-12)
    nearest = np.argmin(np.abs(x[:, None] - c[None, :]), axis=1)
    assert np.unique(nearest).size == 8                      # every level is used
    assert c[-1] == 50.0


def test_kmeans_1d_never_divides_by_an_empty_cluster():
    """Lone points far from a linear initialisation: an empty cluster takes one, and
    the cluster it leaves is then empty too. No centroid may become inf or NaN on
    the way (0 / 0); each keeps its place until a point comes to it."""
    import warnings

    from compresslab.quantization import _kmeans_1d

    x = np.sort(np.concatenate([np.linspace(-1, -0.9, 40), np.linspace(0.9, 1, 40), [-0.05, 0.0, 0.05, 3.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # a division by zero would raise here
        c = _kmeans_1d(x, np.linspace(x.min(), x.max(), 64))
    assert np.isfinite(c).all() and c.size == 64
    assert x.min() <= c.min() and c.max() <= x.max()


@pytest.mark.parametrize("bits", [2, 4])
def test_kmeans_network_accuracy_equals_the_sklearn_kmeans_version(bits, mnist_net, mnist5k, monkeypatch):
    import compresslab.quantization as q

    ours = quantize(mnist_net, "kmeans", bits)
    monkeypatch.setattr(q, "_kmeans_1d", _sklearn_kmeans_1d)
    reference = quantize(mnist_net, "kmeans", bits)
    acc, ref_acc = (n.score(mnist5k.X_val, mnist5k.y_val) for n in (ours, reference))
    assert abs(acc - ref_acc) <= 0.001
    for a, b in zip(ours.layers, reference.layers):
        np.testing.assert_allclose(a.encoded["weight"].codebook, b.encoded["weight"].codebook, rtol=1e-6)


@pytest.mark.parametrize("scheme, bits", [("symmetric", 4), ("binary", 1), ("kmeans", 4)])
def test_quantize_and_predict_never_pack_codes(scheme, bits, digits_net, digits, monkeypatch):
    """Codes are packed only when a file is written (arrays()), never on a slider's path."""
    import compresslab.encoding as encoding

    def refuse(*args, **kwargs):
        raise AssertionError("codes were packed or unpacked")

    monkeypatch.setattr(encoding, "pack_codes", refuse)
    monkeypatch.setattr(encoding, "unpack_codes", refuse)
    q = quantize(digits_net, scheme, bits)
    assert q.score(digits.X_test, digits.y_test) > 0.2 and q.storage_bits() > 0      # above chance (0.1)


@pytest.mark.parametrize("scheme, bits", [("symmetric", 4), ("kmeans", 3), ("float16", 16)])
def test_forget_decoded_frees_the_cache_and_decode_rebuilds_the_same_numbers(digits_net, scheme, bits):
    from compresslab.quantization import quantize

    encoded = quantize(digits_net, scheme, bits).layers[0].encoded["weight"]
    first = encoded.decode()
    assert encoded.decode() is first                           # cached
    encoded.forget_decoded()
    again = encoded.decode()
    assert again is not first
    np.testing.assert_array_equal(again, first)


@pytest.mark.parametrize("scheme", ["symmetric", "affine", "kmeans", "binary", "ternary"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_weight_is_refused_not_coded(scheme, bad):
    """Codes are uint8/uint16, which have no NaN: a NaN once became code 0 silently."""
    W = np.array([[0.1, bad], [-0.3, 0.2]])
    with pytest.raises(ValueError, match="W must be finite"):
        quantize_array(W, scheme, 1 if scheme == "binary" else 2)


def test_quantize_uniform_refuses_more_bits_than_its_codes_hold():
    from compresslab.quantization import quantize_uniform

    with pytest.raises(ValueError, match=r"bits must be in \[1, 16\]; got 17"):
        quantize_uniform(np.linspace(-1, 1, 5).reshape(-1, 1), 17, symmetric=False)
