"""Data-aware low-rank factorization (issue #11 section 3): fit the factors to the
layer's outputs on training data, min ||X W - X W_k||_F, beside plain SVD of W."""
import numpy as np
import pytest

from compresslab.lowrank import (LowRank, energy_vs_accuracy, factorize, layer_inputs, layer_output_svds,
                                 layer_svds, output_error, output_svd)
from compresslab.network import Dense, Network


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(0)
    return Network([Dense(rng.normal(size=(30, 20)), rng.normal(size=20)),
                    Dense(rng.normal(size=(20, 12)), rng.normal(size=12)),
                    Dense(rng.normal(size=(12, 4)), rng.normal(size=4))])


@pytest.fixture(scope="module")
def X():
    # correlated inputs, as images are: the data use few directions strongly
    rng = np.random.default_rng(1)
    return rng.normal(size=(400, 8)) @ rng.normal(size=(8, 30)) + 0.1 * rng.normal(size=(400, 30))


def test_full_rank_is_exact_for_both_methods(net, X):
    inputs = layer_inputs(net, X)
    for layer, A, w_svd, d_svd in zip(net.layers, inputs, layer_svds(net), layer_output_svds(net, X)):
        assert d_svd.full_rank == w_svd.full_rank == min(layer.weight.shape)
        for svd in (w_svd, d_svd):
            rebuilt = svd.layer(svd.full_rank).to_dense()
            np.testing.assert_allclose(rebuilt.weight, layer.weight, atol=1e-9)   # X has full column rank
            np.testing.assert_allclose(A @ rebuilt.weight, A @ layer.weight, atol=1e-8)
            np.testing.assert_array_equal(rebuilt.bias, layer.bias)


def test_rank_deficient_data_reproduces_the_outputs_not_the_weight():
    # like MNIST's black border: two input features are always 0
    rng = np.random.default_rng(2)
    dense = Dense(rng.normal(size=(6, 5)), rng.normal(size=5))
    A = rng.normal(size=(50, 6))
    A[:, :2] = 0
    full = output_svd(dense, A).layer(5).to_dense()
    np.testing.assert_allclose(A @ full.weight, A @ dense.weight, atol=1e-10)
    assert output_svd(dense, A).s[4] < 1e-10                       # X W has rank 4 only
    np.testing.assert_allclose(output_svd(dense, A).layer(4).forward(A), dense.forward(A), atol=1e-10)


def test_fewer_samples_than_outputs_still_gives_every_direction():
    rng = np.random.default_rng(3)
    dense = Dense(rng.normal(size=(9, 7)), np.zeros(7))
    svd = output_svd(dense, rng.normal(size=(3, 9)))                # 3 samples, 7 outputs
    assert svd.Vt.shape == (7, 7) and svd.full_rank == 7
    np.testing.assert_allclose(svd.Vt @ svd.Vt.T, np.eye(7), atol=1e-10)


RANKS = [(0, k) for k in (1, 2, 3, 5, 8, 13, 20)] + [(1, k) for k in (1, 2, 5, 11, 12)] + [(2, k) for k in (1, 2, 3, 4)]


@pytest.mark.parametrize("layer, k", RANKS)          # every layer, up to its full rank (20, 12, 4)
def test_data_aware_output_error_is_at_most_the_svd_one(net, X, layer, k):
    w_svd, d_svd = layer_svds(net)[layer], layer_output_svds(net, X)[layer]
    A, W = layer_inputs(net, X)[layer], net.layers[layer].weight
    data_error = output_error(net, X, layer, d_svd.layer(k).to_dense().weight)
    svd_error = output_error(net, X, layer, w_svd.layer(k).to_dense().weight)
    assert data_error <= svd_error * (1 + 1e-10)
    # and it is the Eckart-Young optimum of X W (numpy's SVD as the reference)
    s = np.linalg.svd(A @ W, compute_uv=False)
    assert data_error == pytest.approx(np.sqrt(np.sum(s[k:] ** 2)), rel=1e-8, abs=1e-9)
    assert d_svd.error(k) == pytest.approx(data_error, rel=1e-8, abs=1e-9)
    assert np.linalg.matrix_rank(d_svd.layer(k).to_dense().weight) <= k


def test_the_data_method_gains_where_the_data_is_low_dimensional(net, X):
    # 30 inputs, the data span ~8 directions: at rank 4 the weight SVD wastes rank on unused ones
    A, W = layer_inputs(net, X)[0], net.layers[0].weight
    data = output_error(net, X, 0, layer_output_svds(net, X)[0].layer(4).to_dense().weight)
    plain = output_error(net, X, 0, layer_svds(net)[0].layer(4).to_dense().weight)
    assert data < 0.8 * plain


def test_factorize_by_data_builds_lowrank_layers_with_orthonormal_right_factors(net, X):
    result = factorize(net, ranks=[3, 2, 3], method="data", X=X)
    plain = factorize(net, ranks=[3, 2, 3])
    assert result.ranks == plain.ranks == [3, 2, None]            # same break-even rule
    assert result.notes == plain.notes
    for layer in result.network.layers[:2]:
        assert isinstance(layer, LowRank)
        np.testing.assert_allclose(layer.params["right"] @ layer.params["right"].T, np.eye(layer.rank), atol=1e-10)
    # energy: the share of ||X W||^2 kept
    by_energy = factorize(net, energy=0.9, method="data", X=X)
    assert by_energy.requested == [svd.rank_for_energy(0.9) for svd in layer_output_svds(net, X)]


def test_factorize_by_data_shares_no_arrays_with_the_cache(net, X):
    first = factorize(net, ranks=2, method="data", X=X).network
    first.layers[0].params["left"][:] = 0
    first.layers[0].params["right"][:] = 0
    second = factorize(net, ranks=2, method="data", X=X).network
    assert np.abs(second.layers[0].params["left"]).sum() > 0
    assert np.abs(second.layers[0].params["right"]).sum() > 0


def test_bad_arguments(net, X):
    with pytest.raises(ValueError, match="method='data' needs X"):
        factorize(net, ranks=2, method="data")
    with pytest.raises(ValueError, match="X is only used by method='data'"):
        factorize(net, ranks=2, X=X)
    with pytest.raises(ValueError, match=r"method must be one of \('svd', 'data'\); got 'pca'"):
        factorize(net, ranks=2, method="pca", X=X)
    with pytest.raises(ValueError, match="30 features"):
        factorize(net, ranks=2, method="data", X=X[:, :5])
    with pytest.raises(ValueError, match=r"rank of layer 0 must be in \[1, 20\]; got 21"):
        factorize(net, ranks=[21, 2, 2], method="data", X=X)


# --- MNIST: the experiment -------------------------------------------------------------

def test_mnist_ranks_10_data_beats_svd_on_validation(mnist_net, mnist5k):
    scores = {}
    for method in ("svd", "data"):
        low = factorize(mnist_net, ranks=[10, 10, 10], method=method,
                        X=mnist5k.X_train if method == "data" else None).network
        scores[method] = (low.score(mnist5k.X_val, mnist5k.y_val), low.score(mnist5k.X_test, mnist5k.y_test))
    print("ranks [10, 10, 10] (validation, test): " +
          ", ".join(f"{m} {v:.3f} / {t:.3f}" for m, (v, t) in scores.items()))
    assert scores["data"][0] > scores["svd"][0]                  # judged on validation only


def test_energy_vs_accuracy_matches_direct_computation(mnist_net, mnist5k):
    result = energy_vs_accuracy(mnist_net, mnist5k, 0, [5, 20])
    svd = layer_svds(mnist_net)[0]
    np.testing.assert_allclose(result.energy, [svd.energy(5), svd.energy(20)], rtol=1e-9)
    layers = list(mnist_net.layers)
    layers[0] = svd.layer(20)
    direct = mnist_net.replace_layers(layers).score(mnist5k.X_val, mnist5k.y_val)
    assert result.val_accuracy[1] == direct
    assert result.baseline_val_accuracy == mnist_net.score(mnist5k.X_val, mnist5k.y_val)
    assert np.all(np.diff(result.output_energy) > 0) and np.all(result.output_energy > result.energy)
    e90 = result.rank_for_energy(0.9)
    print(f"layer 1: 90 % energy needs rank {e90}; rank 20 keeps {result.energy[1]:.2f} of the energy "
          f"and {result.val_accuracy[1]:.3f} validation accuracy (unfactorized {result.baseline_val_accuracy:.3f})")
    assert e90 == svd.rank_for_energy(0.9) and e90 > 20


def test_energy_vs_accuracy_data_method_keeps_more_output_energy(mnist_net, mnist5k):
    plain = energy_vs_accuracy(mnist_net, mnist5k, 1, [5, 10])
    data = energy_vs_accuracy(mnist_net, mnist5k, 1, [5, 10], method="data")
    assert np.all(data.output_energy >= plain.output_energy - 1e-12)
    assert np.all(data.energy <= plain.energy + 1e-12)            # and less weight energy: Eckart-Young on W
    with pytest.raises(ValueError, match=r"layer must be in \[0, 2\]; got 3"):
        energy_vs_accuracy(mnist_net, mnist5k, 3, [5])
