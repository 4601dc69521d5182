"""Pruning: masks, the sparse layer and its storage formats, fine-tuning, analysis."""
import io

import numpy as np
import pytest

from compresslab.metrics import compression_rate, speedup
from compresslab.network import Dense, Network, random_network
from compresslab.pruning import (SPARSE_FORMATS, PruneResult, Sparse, apply_masks, dead_inputs, fine_tune,
                                 iterative_prune, lottery_ticket, magnitude_mask, mask_neurons, prune, rank_weights,
                                 raw_bytes, relative_fillers, retrain_from_scratch, schedule, sensitivity_scan,
                                 sparsities_for_drop, sparsity_report, to_sparse, weight_scores)
from compresslab.quantization import quantize_layer
from compresslab.training import loss_and_gradients, target_matrix

# A 3x4 matrix with 5 nonzeros; in output-major order (W^T row by row) at positions 0, 3, 8, 10, 11.
SMALL_W = np.array([[1.5, -2.0, 0.0, 0.0],
                    [0.0, 0.0, 0.0, 3.0],
                    [0.0, 0.0, 0.5, -1.0]])
SMALL_B = np.array([0.1, 0.2, 0.3, 0.4])


def weights_of(network):
    return [layer.to_dense().weight for layer in network.layers]


def small(fmt, index_bits=None):
    return Sparse.from_dense(SMALL_W, SMALL_B, fmt=fmt, index_bits=index_bits)


# ----------------------------------------------------------------------------
# Sparse layer: bits by hand, round trips, forward and backward
# ----------------------------------------------------------------------------

# Hand counts (float64 values, 4 float64 biases = 256 bits):
#   dense    12 values x 64
#   csr      (of W^T) 5 x 64 + 5 input indices x 8 (uint8: inputs < 3) + 5 row pointers x 8 (uint8: <= 5)
#   bitmask  5 x 64 + 12 mask bits
#   relative (k = 2, gaps <= 4): positions 0, 3, 8, 10, 11 have gaps 1, 3, 5, 2, 1; the gap of 5
#            gets one filler at 3 + 4 = 7, so 6 values (one filler) x (64 + 2)
HAND_BITS = {"dense": 12 * 64, "csr": 5 * 64 + 5 * 8 + 5 * 8, "bitmask": 5 * 64 + 12, "relative": 6 * (64 + 2)}


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_storage_bits_match_a_hand_count(fmt):
    layer = small(fmt, index_bits=2)
    assert layer.storage_bits() == HAND_BITS[fmt] + 4 * 64
    assert layer.n_params == 5 + 4          # the kept weights + the bias: a filler is stored, not a parameter
    np.testing.assert_array_equal(layer.to_dense().weight, SMALL_W)


def test_relative_fillers_are_inserted_and_counted():
    layer = small("relative", index_bits=2)
    np.testing.assert_array_equal(layer.positions, [0, 3, 7, 8, 10, 11])
    assert layer.n_fillers == 1
    np.testing.assert_array_equal(relative_fillers(np.array([20]), 2), [3, 7, 11, 15, 19])   # gap 21: 5 fillers
    assert Sparse.from_dense(SMALL_W, SMALL_B, fmt="relative", index_bits=5).n_fillers == 0
    with pytest.raises(ValueError, match="gaps <= 4"):
        Sparse(np.array([1.5, -1.0]), SMALL_B, positions=[0, 11], shape=(3, 4), fmt="relative", index_bits=2)


def test_csr_index_width_is_the_narrowest_that_fits():
    W = np.zeros((300, 3))
    W[299, 0] = W[5, 2] = 1.0
    arrays = Sparse.from_dense(W, np.zeros(3)).arrays()
    assert arrays["indices"].dtype == np.uint16 and arrays["indptr"].dtype == np.uint8


ROUND_TRIP_ENCODINGS = {
    "float64": lambda layer: layer,
    "float32": lambda layer: layer.astype("float32"),
    "kmeans-2": lambda layer: quantize_layer(layer, "kmeans", 2),
    "affine-4": lambda layer: quantize_layer(layer, "affine", 4),
}


@pytest.mark.parametrize("encoding", ROUND_TRIP_ENCODINGS)
@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_every_format_round_trips_through_savez_compressed(fmt, encoding, rng):
    W = rng.normal(size=(9, 7)) * (rng.random((9, 7)) < 0.3)
    layer = ROUND_TRIP_ENCODINGS[encoding](Sparse.from_dense(W, rng.normal(size=7), fmt=fmt, index_bits=3))
    net = Network([layer, Dense(rng.normal(size=(7, 3)), rng.normal(size=3))])
    buffer = io.BytesIO()
    net.save(buffer)
    buffer.seek(0)
    loaded = Network.load(buffer)                     # allow_pickle=False inside
    back = loaded.layers[0]
    assert isinstance(back, Sparse) and back.fmt == fmt and back.index_bits == layer.index_bits
    np.testing.assert_array_equal(back.positions, layer.positions)
    assert back.storage_bits() == layer.storage_bits() and back.n_params == layer.n_params
    X = rng.normal(size=(4, 9))
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_forward_and_backward_equal_the_dense_masked_layer(fmt, rng):
    W = rng.normal(size=(8, 6)) * (rng.random((8, 6)) < 0.4)
    layer = Sparse.from_dense(W, rng.normal(size=6), fmt=fmt, index_bits=2)
    dense = layer.to_dense()
    X, G = rng.normal(size=(5, 8)), rng.normal(size=(5, 6))
    np.testing.assert_allclose(layer.forward(X), dense.forward(X), rtol=1e-12, atol=1e-12)
    grad_X, grads = layer.backward(X, G)
    dense_X, dense_grads = dense.backward(X, G)
    np.testing.assert_allclose(grad_X, dense_X, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["values"], dense_grads["weight"].T.ravel()[layer.positions], atol=1e-12)
    np.testing.assert_allclose(grads["bias"], dense_grads["bias"], atol=1e-12)


def test_format_conversion_keeps_the_matrix():
    for a in SPARSE_FORMATS:
        for b in SPARSE_FORMATS:
            np.testing.assert_array_equal(small(a, 2).with_format(b, 3).to_dense().weight, SMALL_W)
    with pytest.raises(ValueError, match="fmt must be one of"):
        small("csr").with_format("coo")
    with pytest.raises(ValueError, match="plain float values"):
        quantize_layer(small("csr"), "kmeans", 2).with_format("bitmask")


# ----------------------------------------------------------------------------
# Masks: exact sparsity, ties, criteria
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.37, 0.5, 0.99])
def test_magnitude_mask_has_exact_sparsity_with_ties(sparsity):
    W = np.repeat([0.0, 1.0, -1.0, 2.0], 25).reshape(10, 10)      # 25-fold ties everywhere
    mask = magnitude_mask(W, sparsity)
    assert (~mask).sum() == round(sparsity * 100)
    if 0 < sparsity:
        assert np.abs(W[~mask]).max() <= np.abs(W[mask]).min()      # the smallest |w| go first


@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize("sparsity", [0.3, 0.9])
def test_prune_removes_exactly_the_requested_weights(digits_net, scope, sparsity):
    result = prune(digits_net, sparsity, scope=scope)
    sizes = [layer.n_inputs * layer.n_outputs for layer in digits_net.layers]
    pruned = [int((~m).sum()) for m in result.masks]
    if scope == "layer":
        assert pruned == [int(np.floor(sparsity * n + 0.5)) for n in sizes]
    else:
        assert sum(pruned) == int(np.floor(sparsity * sum(sizes) + 0.5))
    # the smallest |w| go first (over the whole network for global scope)
    W = weights_of(digits_net)
    groups = [(np.concatenate([w[~m] for w, m in zip(W, result.masks)]),
               np.concatenate([w[m] for w, m in zip(W, result.masks)]))] if scope == "global" else \
        [(w[~m], w[m]) for w, m in zip(W, result.masks)]
    for removed, kept in groups:
        assert np.abs(removed).max() <= np.abs(kept).min()
    for w, w_new, m in zip(W, weights_of(result.network), result.masks):
        np.testing.assert_array_equal(w_new, w * m)
    np.testing.assert_allclose(result.kept, [m.mean() for m in result.masks])
    assert result.sparsity == pytest.approx(sum(pruned) / sum(sizes))


def test_biases_are_never_pruned_and_the_input_is_not_edited(digits_net):
    before = [w.copy() for w in weights_of(digits_net)]
    result = prune(digits_net, 0.8)
    for layer, new in zip(digits_net.layers, result.network.layers):
        np.testing.assert_array_equal(new.bias, layer.bias)
        assert not np.shares_memory(new.weight, layer.weight)
    for w, b in zip(weights_of(digits_net), before):
        np.testing.assert_array_equal(w, b)


def test_spare_output_keeps_the_output_layer_dense(digits_net):
    result = prune(digits_net, 0.9, scope="layer", spare_output=True)
    assert result.kept[-1] == 1.0 and result.kept[0] == pytest.approx(0.1, abs=1e-3)


def test_random_pruning_is_seeded(digits_net):
    a, b, c = (prune(digits_net, 0.5, criterion="random", random_state=s).masks for s in (3, 3, 4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_taylor_scores_are_w_times_the_finite_difference_gradient(rng):
    net = random_network((5, 4, 3), random_state=0)
    X, y = rng.normal(size=(20, 5)), rng.integers(0, 3, 20)
    scores = weight_scores(net, "taylor", X=X, y=y)
    Y = target_matrix(net, y)
    W = net.layers[0].params["weight"]
    for idx in [(0, 0), (2, 3), (4, 1)]:
        eps = 1e-6
        W[idx] += eps
        up = loss_and_gradients(net, X, Y)[0]
        W[idx] -= 2 * eps
        down = loss_and_gradients(net, X, Y)[0]
        W[idx] += eps
        assert scores[0][idx] == pytest.approx(abs(W[idx] * (up - down) / (2 * eps)), rel=1e-5, abs=1e-10)
    result = prune(net, 0.5, criterion="taylor", X=X, y=y)
    assert result.sparsity == pytest.approx(0.5, abs=1 / 32)


def test_ranking_indexes_into_one_sort(digits_net):
    ranking = rank_weights(digits_net)
    for s in (0.2, 0.6, 0.95):
        assert all(np.array_equal(a, b) for a, b in zip(ranking.masks(s), prune(digits_net, s).masks))


# ----------------------------------------------------------------------------
# Neurons
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("criterion", ["magnitude", "activation"])
def test_neuron_pruning_shrinks_the_layers_and_equals_the_masked_network(mnist_net, mnist5k, criterion):
    result = prune(mnist_net, [0.5, 0.4], structure="neurons", criterion=criterion, X=mnist5k.X_train)
    assert result.network.hidden_layer_sizes == (150, 60)
    assert all(type(layer) is Dense for layer in result.network.layers)
    masked = mask_neurons(mnist_net, result.kept_units)
    X = mnist5k.X_test
    np.testing.assert_allclose(result.network.logits(X), masked.logits(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.network.to_sklearn().predict(X), result.network.predict(X))
    assert result.kept == pytest.approx([150 / 300, 150 * 60 / 30000, 60 / 100])


def test_neuron_magnitude_keeps_the_largest_incoming_norms(digits_net):
    result = prune(digits_net, [0.25, 0.5], structure="neurons", scope="layer")
    norms = np.linalg.norm(digits_net.layers[0].weight, axis=0)
    dropped = np.setdiff1d(np.arange(64), result.kept_units[0])
    assert norms[dropped].max() <= norms[result.kept_units[0]].min()


# ----------------------------------------------------------------------------
# Fine-tuning, iterative pruning, from scratch, lottery tickets
# ----------------------------------------------------------------------------

def test_pruned_weights_stay_exactly_zero_after_fine_tuning(digits_net, digits):
    result = prune(digits_net, 0.8)
    tuned = fine_tune(result, digits.X_train, digits.y_train, epochs=2)
    for w_before, w_after, m in zip(weights_of(result.network), weights_of(tuned.network), result.masks):
        assert np.all(w_after[~m] == 0.0)
        assert not np.array_equal(w_after[m], w_before[m])          # the survivors did train
    assert tuned.history.epochs == 2
    assert all(np.all(w[~m] == 0) for w, m in zip(weights_of(result.network), result.masks))   # input untouched


def test_schedules():
    cubic = schedule(0.9, 4, kind="cubic")
    assert cubic == pytest.approx([0.9 - 0.9 * (1 - t / 4) ** 3 for t in range(1, 5)])
    assert cubic[-1] == pytest.approx(0.9) and schedule(0.8, 4, kind="linear") == pytest.approx([0.2, 0.4, 0.6, 0.8])


def test_iterative_pruning_reaches_the_final_sparsity(digits_net, digits):
    result = iterative_prune(digits_net, 0.9, digits.X_train, digits.y_train, steps=3, epochs_per_step=1)
    total = sum(result.original_sizes)
    assert round(result.sparsity * total) == int(np.floor(0.9 * total + 0.5))
    assert all(np.all(w[~m] == 0) for w, m in zip(weights_of(result.network), result.masks))
    assert len(result.notes) == 3


def test_retrain_from_scratch_keeps_the_architecture(digits_net, digits):
    result = prune(digits_net, [0.5, 0.5], structure="neurons")
    scratch = retrain_from_scratch(result, digits.X_train, digits.y_train, epochs=1)
    assert scratch.network.hidden_layer_sizes == result.network.hidden_layer_sizes


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_random_network_with_the_seed_is_sklearns_initialisation(mnist5k):
    from sklearn.neural_network import MLPClassifier

    # one epoch of plain SGD at a learning rate of 1e-300 leaves the initial weights as they were
    mlp = MLPClassifier((300, 100), solver="sgd", learning_rate_init=1e-300, momentum=0.0, max_iter=1,
                        alpha=0.0, random_state=0).fit(mnist5k.X_train[:200], mnist5k.y_train[:200])
    net = random_network((784, 300, 100, 10), random_state=0)
    for coef, intercept, layer in zip(mlp.coefs_, mlp.intercepts_, net.layers):
        np.testing.assert_allclose(layer.weight, coef, rtol=0, atol=1e-13)
        np.testing.assert_allclose(layer.bias, intercept, rtol=0, atol=1e-13)


def test_lottery_ticket_small(digits, monkeypatch):
    from compresslab import pruning

    init = random_network((64, 64, 32, 10), random_state=0)
    before = weights_of(init)
    starts = []                                       # what each retraining starts from
    real_fine_tune = pruning.fine_tune
    monkeypatch.setattr(pruning, "fine_tune", lambda result, *a, **k: (starts.append(
        ([w.copy() for w in weights_of(result.network)], [m.copy() for m in result.masks])),
        real_fine_tune(result, *a, **k))[1])
    out = lottery_ticket(init, digits.X_train, digits.y_train, digits.X_val, digits.y_val, final_sparsity=0.75,
                         rounds=2, epochs=2)
    # every round and both controls but the fresh-init one start from init's own values on their mask
    assert len(starts) == 2 + 2
    for weights, masks in starts[:2] + starts[3:]:
        for w, b, m in zip(weights, before, masks):
            np.testing.assert_array_equal(w, np.where(m, b, 0.0))
    fresh_weights, fresh_masks = starts[2]
    assert not np.array_equal(fresh_weights[0][fresh_masks[0]], before[0][fresh_masks[0]])
    assert [r["round"] for r in out.rounds] == [1, 2]
    assert out.rounds[-1]["sparsity"] == pytest.approx(0.75, abs=1e-3)
    for key in ("same_mask_fresh_init", "random_mask", "dense_accuracy"):
        assert 0 <= getattr(out, key) <= 1
    # the ticket's surviving weights started from init: rewinding, not fresh values
    assert all(np.array_equal(w, b) for w, b in zip(weights_of(init), before))


# ----------------------------------------------------------------------------
# Dead inputs, sensitivity, sizes, speed
# ----------------------------------------------------------------------------

def test_dead_pixels_of_the_training_split(mnist_net, mnist5k):
    dead = dead_inputs(mnist_net, mnist5k.X_train)
    assert dead.pixels.size == np.sum(mnist5k.X_train.max(axis=0) == 0) and dead.pixels.size > 100
    assert dead.max_abs_weight < 1e-12                 # no gradient ever reached those rows
    assert dead.weights == dead.pixels.size * 300
    near_zero = sparsity_report(mnist_net, tol=1e-12)
    assert near_zero["zeros"] >= dead.weights and sparsity_report(mnist_net)["overall"] < near_zero["overall"]


def test_sensitivity_scan_and_tolerated_drop(digits_net, digits):
    scan = sensitivity_scan(digits_net, digits.X_val, digits.y_val, sparsities=(0.5, 0.9, 0.99))
    assert scan.accuracy.shape == (3, 3)
    chosen = sparsities_for_drop(scan, 0.01)
    for row, s in zip(scan.accuracy, chosen):
        ok = scan.sparsities[row >= scan.base_accuracy - 0.01]
        assert s == (ok.max() if ok.size else 0.0)
    assert sparsities_for_drop(scan, 1.0) == [0.99] * 3


def test_sizes_and_speed_of_a_sparse_network(digits_net, digits):
    result = prune(digits_net, 0.9)
    csr = result.sparse("csr")
    assert csr.n_params == sum(int(m.sum()) for m in result.masks) + sum(layer.n_outputs for layer in csr.layers)
    assert compression_rate(digits_net, csr, "params") > 5
    assert compression_rate(digits_net, result.sparse("dense"), "bits") == pytest.approx(1.0)   # the trap
    assert raw_bytes(result.network) > result.network.serialized_bytes()        # deflate squeezes the zeros
    s = speedup(digits_net, csr, digits.X_test[:50], repeats=1)
    nnz = sum(int(m.sum()) for m in result.masks)
    bias = sum(layer.n_outputs for layer in csr.layers) * 50
    assert s.theoretical == pytest.approx((digits_net.flops(50)) / (2 * 50 * nnz + bias))
    np.testing.assert_allclose(csr.predict_proba(digits.X_test), result.network.predict_proba(digits.X_test),
                               atol=1e-12)


def test_to_sparse_then_apply_masks_round_trip(digits_net):
    result = prune(digits_net, 0.6)
    back = to_sparse(result.network, "bitmask").to_dense()
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(back), weights_of(result.network)))
    again = apply_masks(digits_net, result.masks)
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(again), weights_of(result.network)))


# ----------------------------------------------------------------------------
# Bad input: the argument, the rule and the value; nothing modified
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sparsity=1.0), ValueError, r"sparsity must be in \[0, 1\); got 1.0"),
    (dict(sparsity=-0.1), ValueError, r"sparsity must be in \[0, 1\); got -0.1"),
    (dict(sparsity="0.5"), TypeError, "sparsity must be a fraction"),
    (dict(sparsity=[0.5, 0.5]), ValueError, r"one entry per layer \(3\); got 2"),
    (dict(sparsity=[0.5, 0.5, 0.5], scope="global"), ValueError, "needs scope='layer'"),
    (dict(sparsity=0.5, criterion="size"), ValueError, "criterion must be one of"),
    (dict(sparsity=0.5, criterion="activation"), ValueError, "criterion must be one of"),
    (dict(sparsity=0.5, scope="net"), ValueError, "scope must be one of"),
    (dict(sparsity=0.5, structure="filters"), ValueError, "structure must be one of"),
    (dict(sparsity=0.5, criterion="taylor"), ValueError, "needs training data"),
    (dict(sparsity=[0.5, 0.999], structure="neurons"), ValueError, "every unit of hidden layer 2"),
    (dict(sparsity=0.99999, scope="layer"), ValueError, "every weight of layer 1 \\(64x64\\)"),
    (dict(sparsity=[0.5, 0.5, 0.5], spare_output=True), ValueError, "its sparsity must be 0"),
])
def test_bad_input(digits_net, kwargs, error, match):
    before = [w.copy() for w in weights_of(digits_net)]
    with pytest.raises(error, match=match):
        prune(digits_net, **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(digits_net), before))


def test_bad_network_and_format(digits_mlp, digits_net):
    with pytest.raises(TypeError, match="network must be a compresslab Network"):
        prune(digits_mlp, 0.5)
    with pytest.raises(ValueError, match="fmt must be one of"):
        to_sparse(digits_net, "coo")
    with pytest.raises(TypeError, match="result must be a PruneResult"):
        fine_tune(digits_net, None, None)
    assert isinstance(prune(digits_net, 0.0), PruneResult)


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("kernels", [True, False])
def test_csr_product_with_and_without_scipys_kernels(monkeypatch, rng, batch, kernels):
    import compresslab.pruning as pruning

    if not kernels:                                  # the public scipy.sparse fallback
        monkeypatch.setattr(pruning, "_sparsetools", None)
    W = rng.normal(size=(8, 6)) * (rng.random((8, 6)) < 0.4)
    b = rng.normal(size=6)
    layer = Sparse.from_dense(W, b)
    X, G = rng.normal(size=(batch, 8)), rng.normal(size=(batch, 6))
    np.testing.assert_allclose(layer.forward(X), X @ W + b, atol=1e-12)
    np.testing.assert_allclose(layer.backward(X, G)[0], G @ W.T, atol=1e-12)
    np.testing.assert_allclose(layer.astype("float32").forward(X.astype("float32")), X @ W + b, rtol=1e-5,
                               atol=1e-5)


# ----------------------------------------------------------------------------
# Counting from masks, neuron rankings, exercise checkers, precomputed runs
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("index_bits", [2, 5])
@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_stored_size_from_masks_matches_the_sparse_layers(fmt, index_bits, digits_net, rng):
    from compresslab.pruning import stored_size

    masks = [rng.random((layer.n_inputs, layer.n_outputs)) < keep
             for layer, keep in zip(digits_net.layers, (0.05, 0.5, 0.9))]
    stored = to_sparse(apply_masks(digits_net, masks), fmt, index_bits=index_bits)
    size = stored_size(masks, fmt, index_bits=index_bits)
    assert size["bits"] == stored.storage_bits()
    assert size["params"] == stored.n_params
    assert size["fillers"] == sum(layer.n_fillers for layer in stored.layers)
    n = 7
    assert n * (2 * size["weights_per_sample"] + size["biases"]) == stored.flops(n)
    if fmt == "relative" and index_bits == 2:
        assert size["fillers"] > 0                    # 5 % kept with 4-position gaps: fillers are needed


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("criterion", ["magnitude", "random"])
def test_neuron_ranking_indexes_into_one_order(mnist_net, scope, criterion):
    from compresslab.pruning import rank_neurons, shrink

    ranking = rank_neurons(mnist_net, criterion, scope=scope)
    for s in (0.3, 0.8):
        direct = prune(mnist_net, s if scope == "global" else [s, s], criterion=criterion, scope=scope,
                       structure="neurons")
        kept = ranking.kept_units(s if scope == "global" else [s, s])
        assert all(np.array_equal(a, b) for a, b in zip(kept, direct.kept_units))
        small = shrink(mnist_net, kept)
        assert small.network.hidden_layer_sizes == direct.network.hidden_layer_sizes
        np.testing.assert_array_equal(weights_of(small.network)[1], weights_of(direct.network)[1])


def test_neuron_ranking_max_sparsity_keeps_a_unit_in_every_layer(mnist_net):
    from compresslab.pruning import rank_neurons

    for scope in ("global", "layer"):
        ranking = rank_neurons(mnist_net, "magnitude", scope=scope)
        s = ranking.max_sparsity
        arg = s if scope == "global" else [s, s]
        assert all(k.size >= 1 for k in ranking.kept_units(arg))
    ranking = rank_neurons(mnist_net, "magnitude", scope="global")
    with pytest.raises(ValueError, match="every unit of hidden layer"):
        ranking.kept_units(min(0.999, ranking.max_sparsity + 1.5 / 400))


def test_shrink_needs_one_entry_per_hidden_layer(mnist_net):
    from compresslab.pruning import shrink

    with pytest.raises(ValueError, match=r"one entry per hidden layer \(2\); got 1"):
        shrink(mnist_net, [np.arange(10)])


def test_break_even_sparsity_interpolates_the_crossing():
    from compresslab.pruning import break_even_sparsity

    assert break_even_sparsity([0.5, 0.8, 0.9], [0.4, 0.8, 1.2]) == pytest.approx(0.85)
    assert break_even_sparsity([0.5, 0.9], [1.1, 2.0]) == 0.5
    assert np.isnan(break_even_sparsity([0.5, 0.9], [0.2, 0.9]))


def test_relative_format_of_a_large_layer_merges_fillers_in_order(rng):
    W = rng.normal(size=(784, 30)) * (rng.random((784, 30)) < 0.02)
    layer = Sparse.from_dense(W, np.zeros(30), fmt="relative", index_bits=3)
    assert np.all(np.diff(layer.positions) > 0) and np.diff(layer.positions, prepend=-1).max() <= 8
    np.testing.assert_array_equal(layer.to_dense().weight, W)


def test_precomputed_experiments_file_has_every_run():
    from compresslab import pruning_experiments as pruning

    runs = pruning.load_experiments()
    n_seeds, n_test = len(pruning.EXPERIMENT_SEEDS), 1000
    assert runs["seeds"].tolist() == list(pruning.EXPERIMENT_SEEDS)
    k = len(pruning.COMPARE_SPARSITIES)
    for key, shape in {"one_shot.pred": (n_seeds, k, n_test), "iterative.pred": (n_seeds, k, n_test),
                       "iterative.kept": (n_seeds, k, 3), "han.pred": (n_seeds, n_test),
                       "scopes.pred": (n_seeds, len(pruning.SCOPE_VARIANTS), n_test),
                       "scratch.pred": (n_seeds, k, n_test), "dense.pred": (n_seeds, 2 * k, n_test),
                       "distilled.pred": (n_seeds, 2 * k, n_test), "distilled.Tw": (n_seeds, 2 * k, 2),
                       "dense.epoch": (n_seeds, 2 * k), "distilled.l2": (n_seeds, 2 * k),
                       "overfit.pred": (n_seeds, len(pruning.OVERFIT_SPARSITIES), n_test),
                       "lottery.rounds": (n_seeds, pruning.LOTTERY_ROUNDS),
                       "speed.csr_b1": (len(pruning.SPEED_SPARSITIES),),
                       "speed.neurons_b1000": (len(pruning.SPEED_UNIT_FRACTIONS),)}.items():
        assert runs[key].shape == shape, key
    # the iterative runs reached their sparsity: kept fractions weighted by layer size
    sizes = np.array([784 * 300, 300 * 100, 100 * 10])
    overall = 1 - (runs["iterative.kept"] * sizes).sum(axis=-1) / sizes.sum()
    np.testing.assert_allclose(overall, np.broadcast_to(pruning.COMPARE_SPARSITIES, overall.shape), atol=1e-4)


@pytest.mark.slow
def test_a_precomputed_point_is_reproduced():
    """``--regenerate`` and this recomputation agree: global pruning at 90 % + 5 epochs, seed 0."""
    from compresslab import pruning

    from compresslab import pruning_experiments

    runs = pruning_experiments.load_experiments()
    again = pruning_experiments.run_experiment("scopes", 0, variants=("global",))
    shipped, now = runs["scopes.pred"][0, 0], again["scopes.pred"][0]
    assert np.mean(shipped == now) >= 0.995          # the same run; BLAS may round differently elsewhere
    assert again["scopes.val"][0] == pytest.approx(runs["scopes.val"][0, 0], abs=0.004)


@pytest.mark.slow
def test_a_precomputed_lottery_seed_is_reproduced():
    """The shipped lottery rounds (seed 0: dense, 3 rounds to 95 %, both controls) recompute (~11 s)."""
    from compresslab import pruning_experiments

    runs = pruning_experiments.load_experiments()
    again = pruning_experiments.run_experiment("lottery", 0)
    np.testing.assert_allclose(again["lottery.sparsity"], runs["lottery.sparsity"][0], atol=1e-9)
    for key in ("lottery.dense", "lottery.rounds", "lottery.fresh_init", "lottery.random_mask"):
        np.testing.assert_allclose(again[key], runs[key][0], atol=0.004)    # BLAS may round differently


def test_regenerating_one_experiment_keeps_the_others(tmp_path, monkeypatch):
    """``--regenerate --only lottery`` replaces that experiment's arrays (every seed), nothing else."""
    import shutil

    from compresslab import pruning_experiments
    from compresslab.data import data_dir

    path = tmp_path / "experiments.npz"
    shutil.copy(data_dir() / pruning_experiments.EXPERIMENTS_FILE, path)
    before = pruning_experiments.load_experiments(path)
    seeds_run = []
    monkeypatch.setattr(pruning_experiments, "run_experiment", lambda name, seed: (
        seeds_run.append((name, seed)), {"lottery.rounds": np.full(3, 0.5 + seed)})[1])
    pruning_experiments.main(["--regenerate", "--only", "lottery", "--output", str(path)])
    after = pruning_experiments.load_experiments(path)
    assert seeds_run == [("lottery", seed) for seed in pruning_experiments.EXPERIMENT_SEEDS]
    np.testing.assert_array_equal(after["lottery.rounds"], [[0.5] * 3, [1.5] * 3, [2.5] * 3])
    assert not [key for key in after if key.startswith("lottery.") and key != "lottery.rounds"]   # all replaced
    for key, value in before.items():
        if not key.startswith("lottery."):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
    with pytest.raises(SystemExit):
        pruning_experiments.main(["--regenerate", "--only", "nonsense", "--output", str(path)])


def test_speed_only_regeneration_keeps_the_seeded_runs(tmp_path, monkeypatch):
    """``--regenerate --speed-only`` replaces the speed curves and the machine line, nothing else."""
    import shutil

    from compresslab import pruning_experiments
    from compresslab.data import data_dir

    path = tmp_path / "experiments.npz"
    shutil.copy(data_dir() / pruning_experiments.EXPERIMENTS_FILE, path)
    before = pruning_experiments.load_experiments(path)
    new_speed = {key: np.full_like(value, 7.0) for key, value in before.items()
                 if key.startswith("speed.csr") or key.startswith("speed.neurons_b")}
    monkeypatch.setattr(pruning_experiments, "speed_curves", lambda: dict(new_speed))
    pruning_experiments.main(["--regenerate", "--speed-only", "--output", str(path)])
    after = pruning_experiments.load_experiments(path)
    assert set(after) == set(before) and list(tmp_path.iterdir()) == [path]     # no temporary left
    for key, value in before.items():
        if key in new_speed:
            np.testing.assert_array_equal(after[key], 7.0)
        elif key != "machine":
            np.testing.assert_array_equal(after[key], value)
    assert "load average" in str(after["machine"])
