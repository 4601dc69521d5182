import numpy as np
import pytest

from compresslab.lowrank import (LowRank, allocate_ranks, break_even_rank, energy_ranks, factorize,
                                 factorized_params, layer_svds, uniform_ranks)
from compresslab.metrics import compression_rate
from compresslab.network import Dense, Network
from compresslab.training import loss_and_gradients, target_matrix, train


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(0)
    return Network([Dense(rng.normal(size=(30, 20)), rng.normal(size=20)),
                    Dense(rng.normal(size=(20, 12)), rng.normal(size=12)),
                    Dense(rng.normal(size=(12, 4)), rng.normal(size=4))])


def test_full_rank_rebuilds_the_weight(net):
    for svd, layer in zip(layer_svds(net), net.layers):
        rebuilt = svd.layer(svd.full_rank).to_dense()
        np.testing.assert_allclose(rebuilt.weight, layer.weight, atol=1e-10)
        np.testing.assert_array_equal(rebuilt.bias, layer.bias)


@pytest.mark.parametrize("k", [1, 2, 5, 8, 11])
def test_eckart_young_error(net, k):
    svd = layer_svds(net)[0]
    W = net.layers[0].weight
    approx = svd.layer(k).to_dense().weight
    expected = np.sqrt(np.sum(np.linalg.svd(W, compute_uv=False)[k:] ** 2))
    assert np.linalg.norm(W - approx) == pytest.approx(expected, rel=1e-10)
    assert svd.error(k) == pytest.approx(expected, rel=1e-10)
    assert np.linalg.matrix_rank(approx) == k


def test_error_decreases_with_rank(net):
    svd = layer_svds(net)[1]
    errors = [svd.error(k) for k in range(1, svd.full_rank + 1)]
    assert all(a > b for a, b in zip(errors, errors[1:])) and errors[-1] == 0


@pytest.mark.parametrize("k", [1, 3, 7])
def test_lowrank_protocol_formulas(k):
    rng = np.random.default_rng(k)
    m, n, N = 30, 20, 9
    layer = LowRank(rng.normal(size=(m, k)), rng.normal(size=(k, n)), rng.normal(size=n))
    assert layer.n_params == k * (m + n) + n
    assert layer.storage_bits() == 64 * (k * (m + n) + n)
    assert layer.flops(N) == 2 * N * k * (m + n) + N * n
    X = rng.normal(size=(N, m))
    np.testing.assert_allclose(layer.forward(X), layer.to_dense().forward(X), atol=1e-10)
    assert layer.astype("float32").storage_bits() == 32 * layer.n_params


def test_lowrank_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    net = Network([LowRank(rng.normal(size=(6, 2)), rng.normal(size=(2, 5)), rng.normal(size=5)),
                   Dense(rng.normal(size=(5, 3)), rng.normal(size=3))], activation="tanh")
    X, Y = rng.normal(size=(4, 6)), target_matrix(net, rng.integers(0, 3, 4))
    _, grads = loss_and_gradients(net, X, Y)
    eps = 1e-6
    for name, w in net.layers[0].params.items():
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + eps
            up, _ = loss_and_gradients(net, X, Y)
            w[idx] = old - eps
            down, _ = loss_and_gradients(net, X, Y)
            w[idx] = old
            assert grads[0][name][idx] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8)


def test_break_even_keeps_layer_dense(net):
    # layer 2 is 12x4: break-even 48/16 = 3, so rank 3 stays dense
    result = factorize(net, ranks=[2, 2, 3])
    assert result.ranks == [2, 2, None]
    assert isinstance(result.network.layers[2], Dense)
    assert "layer 3 (12x4) kept dense" in result.notes[0]
    assert break_even_rank(12, 4) == 3.0
    smaller = factorize(net, ranks=[2, 2, 2])
    assert smaller.ranks == [2, 2, 2] and not smaller.notes
    assert smaller.network.n_params == factorized_params(layer_svds(net), [2, 2, 2])
    assert compression_rate(net, smaller.network, by="params") > 1


@pytest.mark.parametrize("energy", [0.5, 0.8, 0.95, 1.0])
def test_energy_selects_the_smallest_sufficient_rank(net, energy):
    result = factorize(net, energy=energy)
    for svd, k in zip(layer_svds(net), result.requested):
        assert svd.energy(k) >= energy - 1e-12
        if k > 1:
            assert svd.energy(k - 1) < energy


@pytest.mark.parametrize("budget_share", [0.3, 0.5, 0.7])
def test_global_and_uniform_allocations_respect_the_budget(net, budget_share):
    svds = layer_svds(net)
    budget = int(budget_share * net.n_params)
    for allocate in (allocate_ranks, uniform_ranks, energy_ranks):
        ranks = allocate(net, budget)
        assert factorized_params(svds, ranks) <= budget
        assert factorize(net, ranks=ranks).network.n_params <= budget


@pytest.mark.parametrize("share", [0.05, 0.1, 0.2])
def test_global_allocation_has_the_least_total_error(mnist_net, share):
    budget = int(share * mnist_net.n_params)
    svds = layer_svds(mnist_net)

    def squared_error(ranks):
        return sum(svd.error(k) ** 2 for svd, k in zip(svds, ranks))

    best = squared_error(allocate_ranks(mnist_net, budget))
    assert best <= squared_error(uniform_ranks(mnist_net, budget))
    assert best <= squared_error(energy_ranks(mnist_net, budget))


def test_energy_ranks_keep_one_energy_everywhere(mnist_net):
    ranks = energy_ranks(mnist_net, mnist_net.n_params // 10)
    svds = layer_svds(mnist_net)
    assert factorized_params(svds, ranks) <= mnist_net.n_params // 10
    # the ranks are those of one common energy e: factorize(energy=e) reproduces them
    e = min(svd.energy(k) for svd, k in zip(svds, ranks))
    assert factorize(mnist_net, energy=e).requested == ranks


def test_svds_are_cached_by_content(mnist_net):
    first, second = layer_svds(mnist_net), layer_svds(mnist_net.copy())
    assert all(a is b for a, b in zip(first, second))         # same numbers, same SVD objects


def test_training_in_place_then_factorizing_uses_the_trained_weights(digits_net, digits):
    net = digits_net.copy()
    layer_svds(net)                                            # cache the SVD of the weights before training
    train(net, digits.X_train, digits.y_train, epochs=2, learning_rate=1e-2, progress=False)
    full = factorize(net, ranks=[svd.full_rank for svd in layer_svds(net)])
    trained = [layer.to_dense().weight for layer in net.layers]
    for layer, W in zip(full.network.layers, trained):       # full rank rebuilds the trained weights
        np.testing.assert_allclose(layer.to_dense().weight, W, atol=1e-10)
    svd0 = layer_svds(net)[0]
    np.testing.assert_allclose((svd0.U * svd0.s) @ svd0.Vt, trained[0], atol=1e-10)


def test_fine_tuning_recovers_accuracy(mnist_net, mnist5k):
    low = factorize(mnist_net, ranks=[8, 8, 5]).network
    before = low.score(mnist5k.X_test, mnist5k.y_test)
    train(low, mnist5k.X_train, mnist5k.y_train, epochs=3, learning_rate=1e-3, progress=False)
    after = low.score(mnist5k.X_test, mnist5k.y_test)
    assert after > before + 0.01
    assert all(isinstance(layer, LowRank) for layer in low.layers[:2])


def test_save_load_lowrank(net, tmp_path):
    low = factorize(net, ranks=2).network
    low.save(tmp_path / "low.npz")
    loaded = Network.load(tmp_path / "low.npz")
    X = np.ones((2, 30))
    np.testing.assert_array_equal(loaded.predict_proba(X), low.predict_proba(X))


def test_bad_arguments(net):
    with pytest.raises(ValueError, match=r"rank of layer 0 must be in \[1, 20\]; got 70"):
        factorize(net, ranks=70)
    with pytest.raises(ValueError, match=r"energy must be in \(0, 1\]; got 1.5"):
        factorize(net, energy=1.5)
    with pytest.raises(ValueError, match="exactly one of ranks or energy"):
        factorize(net)
    with pytest.raises(ValueError, match="one entry per layer"):
        factorize(net, ranks=[1, 2])
    with pytest.raises(ValueError, match="budget must be in"):
        allocate_ranks(net, 10)
    with pytest.raises(TypeError, match="Network"):
        factorize("net", ranks=1)


def test_training_a_factorization_leaves_original_and_cache_untouched(digits_net, digits):
    before = [layer.weight.copy() for layer in digits_net.layers]
    svds = layer_svds(digits_net)
    vt_before = [svd.Vt.copy() for svd in svds]
    low = factorize(digits_net, ranks=[5, 5, 10]).network          # last layer kept dense
    train(low, digits.X_train, digits.y_train, epochs=1, progress=False)
    for layer, w in zip(digits_net.layers, before):
        np.testing.assert_array_equal(layer.weight, w)
    for svd, vt in zip(svds, vt_before):
        np.testing.assert_array_equal(svd.Vt, vt)


@pytest.mark.parametrize("ranks", [(2, 3, 4), (8, 8, 5)])
def test_given_svds_give_the_same_factorization(digits_net, ranks):
    """A dashboard passes the SVDs it holds: the same layers as computing them again."""
    svds = layer_svds(digits_net)
    given, computed = factorize(digits_net, ranks=list(ranks), svds=svds), factorize(digits_net, ranks=list(ranks))
    assert given.ranks == computed.ranks
    for a, b in zip(given.network.layers, computed.network.layers):
        np.testing.assert_array_equal(a.to_dense().weight, b.to_dense().weight)
    budget = digits_net.n_params // 4
    assert allocate_ranks(digits_net, budget, svds=svds) == allocate_ranks(digits_net, budget)


def test_given_svds_of_another_network_are_refused(digits_net, net):
    with pytest.raises(ValueError, match="svds must be layer_svds\\(network\\)"):
        factorize(digits_net, ranks=2, svds=layer_svds(net))
    with pytest.raises(ValueError, match="svds must be layer_svds\\(network\\)"):
        allocate_ranks(digits_net, 1000, svds=layer_svds(digits_net)[:2])


def test_given_svds_with_the_data_method_are_refused(digits_net, digits):
    with pytest.raises(ValueError, match="svds are the weights' SVDs"):
        factorize(digits_net, ranks=2, method="data", X=digits.X_train, svds=layer_svds(digits_net))
