"""The small helpers behind the notebooks' experiments: fair rank budgets and convergence runs."""
import numpy as np
import pytest

from compresslab import load_baseline, train
from compresslab.lowrank import (BUDGET_RULES, allocate_ranks, budget_ranks, factorized_params, layer_svds,
                                 max_useful_rank)
from compresslab.network import random_network
from compresslab.quantization import convergence_runs


@pytest.fixture(scope="module")
def lenet():
    return load_baseline("mnist-5k", repeats=1).network


@pytest.mark.parametrize("rule", BUDGET_RULES)
@pytest.mark.parametrize("share", [0.05, 0.2])
def test_budget_ranks_keep_the_output_layer_dense_and_fit_the_budget(lenet, rule, share):
    budget = int(share * lenet.n_params)
    svds = layer_svds(lenet)
    ranks = budget_ranks(lenet, budget, rule)
    assert ranks[-1] == svds[-1].full_rank                         # kept dense for every rule
    assert factorized_params(svds, ranks) <= budget
    for k, svd in zip(ranks[:-1], svds[:-1]):
        assert 1 <= k <= max_useful_rank(*svd.shape)


def test_global_rule_with_nothing_kept_dense_is_allocate_ranks(lenet):
    budget = int(0.1 * lenet.n_params)
    assert budget_ranks(lenet, budget, "global", keep_dense=()) == allocate_ranks(lenet, budget)


def test_global_rule_minimises_the_summed_squared_weight_error_against_brute_force():
    # two eligible layers: try every rank pair that fits and compare with the greedy choice
    net = random_network((30, 20, 12, 4), random_state=3)
    svds = layer_svds(net)
    budget = factorized_params(svds, [5, 3, svds[2].full_rank])
    ranks = budget_ranks(net, budget, "global")

    def error(r):
        return sum(svd.error(k) ** 2 for svd, k in zip(svds[:2], r[:2]))

    best = min(error([a, b]) for a in range(1, max_useful_rank(30, 20) + 1)
               for b in range(1, max_useful_rank(20, 12) + 1)
               if factorized_params(svds, [a, b, svds[2].full_rank]) <= budget)
    assert error(ranks) == pytest.approx(best, rel=1e-9)


def test_same_share_spends_at_least_as_much_as_a_smaller_share(lenet):
    small, large = (budget_ranks(lenet, int(s * lenet.n_params), "same share of rank") for s in (0.05, 0.2))
    assert all(a <= b for a, b in zip(small, large))


@pytest.mark.parametrize("bad, message", [(dict(rule="best"), "rule"), (dict(keep_dense=(0, 1, 2)), "keep_dense"),
                                          (dict(keep_dense=(5,)), "keep_dense"), (dict(budget=10), "budget")])
def test_budget_ranks_rejects_bad_arguments(lenet, bad, message):
    kwargs = dict(budget=int(0.1 * lenet.n_params), rule="global") | bad
    with pytest.raises((ValueError, TypeError), match=message):
        budget_ranks(lenet, **kwargs)


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def test_float_arm_is_plain_training(tiny_data):
    X, y = tiny_data
    runs = convergence_runs((6, 5, 2), X, y, bits=(2,), seeds=(0, 1), epochs=2, batch_size=32, progress=False)
    assert list(runs) == ["float", "2-bit"] and all(len(v) == 2 for v in runs.values())
    reference = train(random_network((6, 5, 2), random_state=1), X, y, epochs=2, batch_size=32,
                      learning_rate=3e-3, random_state=1, progress=False)
    np.testing.assert_allclose(runs["float"][1].loss, reference.loss)


@pytest.mark.parametrize("quantized", ["weights", "gradients"])
def test_quantized_arms_differ_from_float_and_are_deterministic(tiny_data, quantized):
    X, y = tiny_data
    kw = dict(bits=(1, 2), seeds=(0,), epochs=2, batch_size=32, quantized=quantized, X_eval=X, y_eval=y,
              progress=False)
    a, b = convergence_runs((6, 5, 2), X, y, **kw), convergence_runs((6, 5, 2), X, y, **kw)
    for label in ("1-bit", "2-bit"):
        assert a[label][0].loss == b[label][0].loss
        assert a[label][0].loss != a["float"][0].loss
        assert len(a[label][0].test_accuracy) == 2


def test_convergence_runs_rejects_bad_arguments(tiny_data):
    X, y = tiny_data
    with pytest.raises(ValueError, match="quantized"):
        convergence_runs((6, 5, 2), X, y, quantized="activations", progress=False)
    with pytest.raises(ValueError, match="seeds"):
        convergence_runs((6, 5, 2), X, y, seeds=(), progress=False)
