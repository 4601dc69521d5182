import numpy as np
import pytest

from compresslab import distillation as D
from compresslab.network import Dense, Network, random_network
from compresslab.training import loss_and_gradients, target_matrix, train


def _weights(net):
    return [a.copy() for layer in net.layers for a in layer.arrays().values()]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _student(n_features=64, hidden=(16,), seed=0, **kw):
    return random_network((n_features, *hidden, 10), random_state=seed, **kw)


# ----------------------------------------------------------------------------
# soften, entropy, the dashboard curve
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("T", [0.5, 1.0, 3.0, 20.0, 1000.0])
def test_soften_matches_direct_formula(T, rng):
    z = rng.normal(scale=3, size=(7, 10))
    direct = np.exp(z / T) / np.exp(z / T).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(D.soften(z, T), direct, rtol=1e-12)
    np.testing.assert_allclose(D.soften(z[0], T), direct[0], rtol=1e-12)     # one image, (K,)


@pytest.mark.parametrize("T", [0.5, 1.0, 1000.0])
def test_soften_is_stable_for_large_logits(T):
    z = np.array([[1e6, -1e6, 0.0, 999_999.0], [-5e307, 5e307, 1e307, 0.0]])
    P = D.soften(z, T)
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=1), 1)
    assert np.argmax(P[0]) == 0 and np.argmax(P[1]) == 1


def test_soften_limits(rng):
    z = rng.normal(scale=2, size=(5, 10))
    np.testing.assert_allclose(D.soften(z, 1e9), 0.1, atol=1e-8)             # T -> inf: uniform
    one_hot = np.eye(10)[np.argmax(z, axis=1)]
    np.testing.assert_allclose(D.soften(z, 1e-4), one_hot, atol=1e-12)       # T -> 0: one-hot
    H = D.entropy(D.soften(z, 1.0))
    assert np.all(np.diff([D.entropy(D.soften(z, T)).mean() for T in (0.5, 1, 2, 4, 8, 16)]) > 0)
    assert np.all((H >= 0) & (H <= np.log2(10)))


def test_entropy_hand_values():
    assert D.entropy(np.full(10, 0.1)) == pytest.approx(np.log2(10))
    assert D.entropy(np.eye(4)[2]) == 0
    assert D.entropy([0.5, 0.5, 0.0]) == pytest.approx(1.0)


def test_softened_curve_equals_soften_per_temperature(rng):
    z = rng.normal(scale=4, size=10)
    T = np.geomspace(1, 50, 13)
    P, H = D.softened_curve(z, T)
    for i, t in enumerate(T):
        np.testing.assert_allclose(P[i], D.soften(z, t), rtol=1e-12)
        assert H[i] == pytest.approx(D.entropy(D.soften(z, t)))


# ----------------------------------------------------------------------------
# The soft-loss gradient: T^2 scaling and the logit-matching limit
# ----------------------------------------------------------------------------

def _soft_loss(z, v, T):
    """T^2 CE(softmax(v/T), softmax(z/T)) averaged over rows, written out directly."""
    log_p = z / T - np.log(np.exp(z / T).sum(axis=1, keepdims=True))
    return T**2 * -np.sum(D.soften(v, T) * log_p) / z.shape[0]


@pytest.mark.parametrize("T", [1.0, 4.0, 30.0])
def test_soft_loss_gradient_matches_finite_differences_and_engine(T, rng):
    z, v = rng.normal(scale=2, size=(2, 4, 5))
    g = D.soft_loss_gradient(z, v, T)
    eps = 1e-6
    numeric = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (_soft_loss(up, v, T) - _soft_loss(down, v, T)) / (2 * eps)
    np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-7 * T**2)
    np.testing.assert_allclose(D.soft_loss_gradient(z, v, T, scaled=False), g / T**2, rtol=1e-12)
    # the engine: an identity "network" (one Dense layer, W = I, b = 0) has logits z = X
    net = Network([Dense(np.eye(5), np.zeros(5))])
    _, grads = loss_and_gradients(net, z, target_matrix(net, np.zeros(4, int)), teacher_logits=v,
                                  temperature=T, soft_weight=1.0)
    np.testing.assert_allclose(grads[0]["bias"], g.sum(axis=0), atol=1e-12)


def test_t_squared_keeps_the_gradient_scale(rng):
    z, v = rng.normal(scale=2, size=(2, 8, 10))
    Ts = [10.0, 100.0, 1000.0]
    scaled = [np.linalg.norm(D.soft_loss_gradient(z, v, T)) for T in Ts]
    unscaled = [np.linalg.norm(D.soft_loss_gradient(z, v, T, scaled=False)) for T in Ts]
    # with T^2: a limit (within 1 %); without: falls as 1/T^2 (factor 100 per decade)
    assert scaled[2] / scaled[1] == pytest.approx(1, abs=0.01)
    assert unscaled[1] / unscaled[2] == pytest.approx(100, rel=0.01)


def test_logit_matching_is_the_high_temperature_limit(rng):
    z, v = rng.normal(scale=2, size=(2, 6, 10))
    target = D.logit_matching_gradient(z, v)
    # zero-mean logits: logit matching is exactly d/dz 1/2 ||z - v||^2 / (K N)
    zc, vc = z - z.mean(1, keepdims=True), v - v.mean(1, keepdims=True)
    np.testing.assert_allclose(D.logit_matching_gradient(zc, vc), (zc - vc) / (10 * 6))
    errors = [np.linalg.norm(D.soft_loss_gradient(z, v, T) - target) / np.linalg.norm(target)
              for T in (10.0, 100.0, 1000.0)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] / errors[2] == pytest.approx(10, rel=0.2)                # the error is O(1/T)
    assert errors[2] < 2e-3


# ----------------------------------------------------------------------------
# distill
# ----------------------------------------------------------------------------

def test_soft_weight_zero_equals_plain_training(digits, digits_net):
    student = _student()
    distilled, _ = D.distill(digits_net, student, digits.X_train, digits.y_train, temperature=3.0,
                             soft_weight=0.0, epochs=2, random_state=5, progress=False)
    plain = student.copy()
    train(plain, digits.X_train, digits.y_train, epochs=2, random_state=5, progress=False)
    assert _same(_weights(distilled), _weights(plain))


def test_soft_weight_one_ignores_the_labels(digits, digits_net, rng):
    student = _student()
    kwargs = dict(temperature=2.0, soft_weight=1.0, epochs=2, random_state=1, progress=False)
    a, _ = D.distill(digits_net, student, digits.X_train, digits.y_train, **kwargs)
    b, _ = D.distill(digits_net, student, digits.X_train, rng.permutation(digits.y_train), **kwargs)
    assert _same(_weights(a), _weights(b))


def test_distill_never_edits_teacher_or_student_and_learns(digits, digits_net):
    student = _student()
    before_t, before_s = _weights(digits_net), _weights(student)
    result, history = D.distill(digits_net, student, digits.X_train, digits.y_train, temperature=4.0,
                                soft_weight=0.7, epochs=10, learning_rate=1e-2, progress=False)
    assert _same(_weights(digits_net), before_t) and _same(_weights(student), before_s)
    assert not any(np.shares_memory(a, b) for a in _weights(result) for b in before_s)
    assert history.epochs == 10 and result.score(digits.X_val, digits.y_val) > 0.8
    mlp = result.to_sklearn()
    np.testing.assert_allclose(mlp.predict_proba(digits.X_test), result.predict_proba(digits.X_test), atol=1e-12)


def test_sklearn_teacher_and_ensembles(digits, digits_mlp, digits_net):
    other = random_network((64, 8, 10), random_state=3)
    np.testing.assert_array_equal(D.teacher_logits(digits_mlp, digits.X_val), digits_net.logits(digits.X_val))
    ens = D.Ensemble([digits_net, other])
    np.testing.assert_allclose(ens.logits(digits.X_val), (digits_net.logits(digits.X_val)
                                                          + other.logits(digits.X_val)) / 2)
    prob = D.Ensemble([digits_mlp, other], combine="probabilities")
    for T in (1.0, 5.0):
        mean_q = (D.soften(digits_net.logits(digits.X_val), T) + D.soften(other.logits(digits.X_val), T)) / 2
        np.testing.assert_allclose(D.soft_targets(prob, digits.X_val, T), mean_q, atol=1e-12)
    student, _ = D.distill([digits_net, other], _student(), digits.X_train, digits.y_train, epochs=1,
                           progress=False)
    assert student.n_params == _student().n_params


def test_out_of_fold_teacher_uses_the_member_that_did_not_see_the_row(digits):
    members = [random_network((64, 8, 10), random_state=s) for s in range(3)]
    X = digits.X_train[:6]
    fold_of_row = dict(zip(D._row_keys(X), [0, 1, 2, 0, 1, 2]))
    oof = D.OutOfFoldTeacher(members, fold_of_row)
    V = oof.logits(np.vstack([X, digits.X_val[:2]]))
    for i, f in enumerate([0, 1, 2, 0, 1, 2]):
        np.testing.assert_allclose(V[i], members[f].logits(X[i:i + 1])[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(V[6:], np.mean([m.logits(digits.X_val[:2]) for m in members], axis=0))


def test_out_of_fold_teacher_trains_k_members(digits):
    oof = D.out_of_fold_teacher(digits.X_train[:300], digits.y_train[:300], 3, hidden_layer_sizes=(16,),
                                max_iter=5)
    assert len(oof.members) == 3 and len(oof.fold_of_row) == 300
    # each training row's logits come from a member fitted without it: not the ensemble's
    assert not np.allclose(oof.logits(digits.X_train[:5]), D.Ensemble(oof.members).logits(digits.X_train[:5]))


def test_transfer_rows_get_no_hard_loss(rng):
    net = random_network((4, 5, 3), random_state=0)
    X, Y = rng.normal(size=(4, 4)), target_matrix(net, np.array([0, 1, 2, 0]))
    _, g_half = loss_and_gradients(net, X[:2], Y[:2])
    _, g_w = loss_and_gradients(net, X, Y, hard_weight=np.array([2.0, 2.0, 0.0, 0.0]))
    for a, b in zip(g_half, g_w):
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-14)


def test_distill_with_a_transfer_set(digits, digits_net):
    n = 100
    student, history = D.distill(digits_net, _student(), digits.X_train[:n], digits.y_train[:n],
                                 X_transfer=digits.X_train[n:], temperature=3.0, soft_weight=0.8,
                                 epochs=10, learning_rate=1e-2, progress=False)
    hard = _student()
    train(hard, digits.X_train[:n], digits.y_train[:n], epochs=10, learning_rate=1e-2, progress=False)
    # the unlabelled rows carry the teacher's knowledge: far better than 100 labels alone
    assert student.score(digits.X_val, digits.y_val) > hard.score(digits.X_val, digits.y_val) + 0.1


def test_any_student_kind(digits, digits_net):
    for student in (D.softmax_regression(64, 10), _student(hidden=(12, 12), activation="tanh"),
                    D.lowrank_student(digits_net, [8, 8, 10])):
        result, _ = D.distill(digits_net, student, digits.X_train, digits.y_train, epochs=1, progress=False)
        assert [layer.kind for layer in result.layers] == [layer.kind for layer in student.layers]
    assert result.layers[0].kind == "lowrank"


# ----------------------------------------------------------------------------
# A pruned student: its zeros stay zero (the pruning module's mask projection)
# ----------------------------------------------------------------------------

def _pruned_zeros(net, masks):
    """Every weight a mask prunes, as the network holds it now (all must be 0)."""
    return np.concatenate([layer.to_dense().weight[~m] for layer, m in zip(net.layers, masks)])


@pytest.mark.parametrize("route", ["result", "masks", "zeros", "sparse"])
@pytest.mark.parametrize("soft_weight", [0.0, 0.8])
def test_pruned_student_keeps_its_zeros(digits, digits_net, route, soft_weight):
    from compresslab.pruning import prune

    pruned = prune(_student(hidden=(24,), seed=4), 0.7)
    student = {"result": pruned, "masks": pruned.network, "zeros": pruned.network,
               "sparse": pruned.sparse("csr")}[route]
    masks = {"masks": pruned.masks, "zeros": "zeros"}.get(route)
    before = _weights(pruned.network)
    result, _ = D.distill(digits_net, student, digits.X_train, digits.y_train, temperature=3.0,
                          soft_weight=soft_weight, epochs=6, learning_rate=1e-2, masks=masks, progress=False)
    assert isinstance(result, Network) and result is not student and result is not pruned.network
    source = student.network if route == "result" else student
    assert not any(np.shares_memory(a, b) for a in _weights(result) for b in _weights(source))
    assert _same(_weights(pruned.network), before)                       # the input is untouched
    assert np.all(_pruned_zeros(result, pruned.masks) == 0)             # exactly 0, every one of them
    kept = np.concatenate([layer.to_dense().weight[m] for layer, m in zip(result.layers, pruned.masks)])
    assert np.count_nonzero(kept) == kept.size                          # the kept ones trained (none lost)
    assert [layer.kind for layer in result.layers] == [layer.kind for layer in source.layers]
    assert result.score(digits.X_val, digits.y_val) > 0.5                # it learned (chance: 0.1)
    mlp = result.to_sklearn()
    np.testing.assert_allclose(mlp.predict_proba(digits.X_test), result.predict_proba(digits.X_test), atol=1e-12)


def test_without_masks_training_revives_pruned_weights(digits, digits_net):
    """The reference the test above can fail against: a plain dense copy loses its zeros
    (all but those of pixels that are 0 in every training image: they get no gradient)."""
    from compresslab.pruning import prune

    pruned = prune(_student(hidden=(24,), seed=4), 0.7)
    result, _ = D.distill(digits_net, pruned.network, digits.X_train, digits.y_train, epochs=1, progress=False)
    assert np.count_nonzero(_pruned_zeros(result, pruned.masks)) > 0.5 * np.sum([(~m).sum() for m in pruned.masks])


def test_pruned_student_at_soft_weight_zero_is_pruning_fine_tune(digits, digits_net):
    from compresslab.pruning import fine_tune, prune

    pruned = prune(digits_net, 0.8)
    distilled, _ = D.distill(digits_net, pruned, digits.X_train, digits.y_train, soft_weight=0.0, epochs=2,
                             l2=1e-4, random_state=3, progress=False)
    tuned = fine_tune(pruned, digits.X_train, digits.y_train, epochs=2, random_state=3)
    assert _same(_weights(distilled), _weights(tuned.network))


def test_pruned_student_runs_the_callers_after_step_too(digits, digits_net):
    from compresslab.pruning import prune

    pruned, calls = prune(_student(seed=1), 0.5), []
    result, _ = D.distill(digits_net, pruned, digits.X_train[:256], digits.y_train[:256], epochs=1,
                          batch_size=128, after_step=lambda net: calls.append(_pruned_zeros(net, pruned.masks)),
                          progress=False)
    assert len(calls) == 2 and all(np.all(z == 0) for z in calls)      # projected before the caller's hook


def test_pruned_student_bad_masks(digits, digits_net, no_training):
    from compresslab.pruning import prune

    pruned = prune(_student(), 0.5)
    X, y = digits.X_train, digits.y_train
    with pytest.raises(ValueError, match="give them once"):
        D.distill(digits_net, pruned, X, y, masks=pruned.masks)
    with pytest.raises(ValueError, match="masks must be a list of boolean arrays, 'zeros' or None; got 'zero'"):
        D.distill(digits_net, pruned.network, X, y, masks="zero")
    with pytest.raises(TypeError, match="masks must be a list"):
        D.distill(digits_net, pruned.network, X, y, masks=pruned.masks[0])
    with pytest.raises(ValueError, match="one entry per layer"):
        D.distill(digits_net, pruned.network, X, y, masks=pruned.masks[:1])
    with pytest.raises(ValueError, match=r"masks\[0\] must have shape"):
        D.distill(digits_net, pruned.network, X, y, masks=[m.T for m in pruned.masks])
    lowrank = D.lowrank_student(digits_net, [8, 8, 10])
    with pytest.raises(ValueError, match="'lowrank' layer, which has no weight matrix"):
        D.distill(digits_net, lowrank, X, y, masks=[np.zeros((l.n_inputs, l.n_outputs), bool) | (
            np.arange(l.n_outputs) > 0) for l in lowrank.layers])
    with pytest.raises(TypeError, match="after_step"):
        D.distill(digits_net, pruned, X, y, after_step="project")


@pytest.mark.parametrize("scheme,bits,levels", [("symmetric", 2, 4), ("binary", 1, 2)])
def test_quantized_student_stays_on_its_levels(digits, digits_net, scheme, bits, levels):
    q, _ = D.distill_quantized(digits_net, _student(), digits.X_train, digits.y_train, scheme, bits,
                               epochs=8, learning_rate=1e-2, progress=False)
    for layer in q.layers:
        w = layer.decoded().weight
        assert layer.stored("weight").scheme == scheme
        assert max(len(np.unique(col)) for col in w.T) <= levels         # binary: one scale per column
    assert q.score(digits.X_val, digits.y_val) > 0.4                      # it learned (chance: 0.1)


def test_hint_training_moves_the_guided_layers_only(digits, digits_net):
    student = _student(hidden=(24, 16))
    guided, history = D.hint_train(digits_net, student, digits.X_train, student_layer=1, teacher_layer=1,
                                   epochs=3, progress=False)
    assert not np.array_equal(guided.layers[0].weight, student.layers[0].weight)
    for a, b in zip(guided.layers[1:], student.layers[1:]):
        np.testing.assert_array_equal(a.weight, b.weight)
    assert history.hint_mse[1] < 0.8 * history.hint_mse[0]
    result, (h1, h2) = D.fitnets(digits_net, student, digits.X_train, digits.y_train, hint_epochs=1, epochs=1,
                                 progress=False)
    assert h1.epochs == 1 and h2.epochs == 1


# ----------------------------------------------------------------------------
# Bad input: clear errors, nothing trained
# ----------------------------------------------------------------------------

@pytest.fixture()
def no_training(monkeypatch):
    import compresslab.training as training

    def refuse(*args, **kwargs):
        raise AssertionError("train() was called")
    monkeypatch.setattr(training, "train", refuse)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(temperature=0.0), ValueError, "temperature"),
    (dict(temperature=-2.0), ValueError, "temperature"),
    (dict(temperature=float("nan")), ValueError, "temperature"),
    (dict(temperature=float("inf")), ValueError, "temperature"),
    (dict(temperature="4"), TypeError, "temperature"),
    (dict(soft_weight=-0.1), ValueError, "soft_weight"),
    (dict(soft_weight=1.5), ValueError, "soft_weight"),
    (dict(X_transfer=np.zeros((5, 63))), ValueError, "X_transfer"),
    (dict(X_transfer=np.full((5, 64), np.nan)), ValueError, "X_transfer"),
])
def test_bad_arguments(digits, digits_net, no_training, kwargs, error, match):
    with pytest.raises(error, match=match):
        D.distill(digits_net, _student(), digits.X_train, digits.y_train, progress=False, **kwargs)


def test_bad_pairs_and_data(digits, digits_net, no_training):
    X, y = digits.X_train, digits.y_train
    with pytest.raises(ValueError, match="same classes"):
        D.distill(digits_net, random_network((64, 8, 3)), X, y)
    with pytest.raises(ValueError, match="same inputs"):
        D.distill(digits_net, random_network((32, 8, 10)), X, y)
    with pytest.raises(TypeError, match="teacher"):
        D.distill("teacher", _student(), X, y)
    with pytest.raises(TypeError, match="student"):
        D.distill(digits_net, object(), X, y)
    with pytest.raises(ValueError, match="same number of samples"):
        D.distill(digits_net, _student(), X, y[:-1])
    with pytest.raises(ValueError, match="X must have 64 features"):
        D.distill(digits_net, _student(), X[:, :10], y)
    with pytest.raises(ValueError, match="soften|temperature"):
        D.soften([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="finite"):
        D.soften([1.0, np.inf], 1.0)


def test_non_softmax_student_refused_by_the_engine(digits):
    mask = digits.y_train < 2
    X, y = digits.X_train[mask], digits.y_train[mask]
    teacher = random_network((64, 6, 2), random_state=0)                  # softmax over 2 classes
    student = random_network((64, 6, 1), classes=[0, 1], random_state=0)  # one logistic unit
    before = _weights(student)
    with pytest.raises(ValueError, match="soft targets need a softmax output"):
        D.distill(teacher, student, X, y, soft_weight=0.5, progress=False)
    assert _same(_weights(student), before)


def test_hints_need_one_network(digits, digits_net):
    with pytest.raises(TypeError, match="hints need one teacher Network"):
        D.hint_train(D.Ensemble([digits_net, digits_net]), _student(hidden=(8, 8)), digits.X_train)


def test_bench_section_smoke():
    from compresslab.bench_distillation import bench_distillation

    rows = bench_distillation(sizes=(4,), seeds=(0,), epochs=1, teacher="shipped", temperatures=(2.0,),
                              soft_weights=(0.5,), verbose=False)
    assert len(rows) == 1 and rows[0]["T"] == 2.0 and 0 <= rows[0]["distilled_test"] <= 1
    assert rows[0]["curve_ms"] > 0 and rows[0]["entropy_bits"] < 0.1      # the memorised teacher: ~one-hot


def test_engine_hard_weight_is_checked_and_skips_transfer_rows_in_accuracy(digits):
    net = _student()
    X, y = digits.X_train[:40], digits.y_train[:40]
    for bad in (np.ones(39), -np.ones(40), np.full(40, np.nan)):
        with pytest.raises(ValueError, match="hard_weight"):
            train(net.copy(), X, y, hard_weight=bad, progress=False)
    weight = np.r_[np.ones(10), np.zeros(30)]
    trained = net.copy()
    history = train(trained, X, y, epochs=1, hard_weight=weight, progress=False, track_accuracy=True)
    assert history.train_accuracy[0] == trained.score(X[:10], y[:10])


# ----------------------------------------------------------------------------
# A student with another input; the omitted class; regression
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("pixels", [1, 2])
def test_shifted_copies_move_every_image_four_ways(rng, pixels):
    X = rng.random((3, 784))
    moved = D.shifted_copies(X, pixels)
    assert moved.shape == (12, 784)
    img = X.reshape(3, 28, 28)
    right, left, down, up = (moved[3 * k:3 * k + 3].reshape(3, 28, 28) for k in range(4))
    p = pixels
    np.testing.assert_array_equal(right[:, :, p:], img[:, :, :-p])
    np.testing.assert_array_equal(left[:, :, :-p], img[:, :, p:])
    np.testing.assert_array_equal(down[:, p:], img[:, :-p])
    np.testing.assert_array_equal(up[:, :-p], img[:, p:])
    for copy, edge in ((right, np.s_[:, :, :p]), (left, np.s_[:, :, -p:]), (down, np.s_[:, :p]), (up, np.s_[:, -p:])):
        assert np.all(copy[edge] == 0)                                   # blank pixels enter at the edge
    with pytest.raises(ValueError, match="pixels"):
        D.shifted_copies(X, 0)
    with pytest.raises(ValueError, match="784"):
        D.shifted_copies(X[:, :100])


def test_downsample_matches_a_loop(rng):
    X = rng.random((3, 784))
    small = D.downsample(X)
    assert small.shape == (3, 196)
    img = X[1].reshape(28, 28)
    for r, c in [(0, 0), (5, 9), (13, 13)]:
        assert small[1, r * 14 + c] == pytest.approx(img[2 * r:2 * r + 2, 2 * c:2 * c + 2].mean())
    np.testing.assert_allclose(D.downsample(X[:, :64], side=8, factor=4).sum(axis=1) * 16,
                               X[:, :64].sum(axis=1))                       # averages keep the total
    with pytest.raises(ValueError, match="factor must divide"):
        D.downsample(X, factor=3)


def test_student_with_another_input(digits, digits_net):
    view = lambda A: D.downsample(A, side=8, factor=2)                      # 8 x 8 -> 4 x 4 = 16 inputs
    student = random_network((16, 12, 10), random_state=0)
    result, _ = D.distill(digits_net, student, digits.X_train, digits.y_train, student_input=view, epochs=10,
                          learning_rate=1e-2, progress=False)
    assert result.n_features == 16 and result.score(view(digits.X_val), digits.y_val) > 0.5
    # the soft targets come from the teacher's own view: at soft_weight 1 the labels do not matter
    kw = dict(student_input=view, soft_weight=1.0, epochs=1, progress=False)
    a, _ = D.distill(digits_net, student, digits.X_train, digits.y_train, **kw)
    b, _ = D.distill(digits_net, student, digits.X_train, np.roll(digits.y_train, 1), **kw)
    assert _same(_weights(a), _weights(b))


def test_student_input_errors(digits, digits_net, no_training):
    with pytest.raises(TypeError, match="student_input"):
        D.distill(digits_net, _student(16), digits.X_train, digits.y_train, student_input="downsample")
    with pytest.raises(ValueError, match="student_input"):
        D.distill(digits_net, _student(16), digits.X_train, digits.y_train, student_input=lambda A: A[:, :20])
    with pytest.raises(ValueError, match="same inputs"):                    # without a view: same inputs
        D.distill(digits_net, _student(16), digits.X_train, digits.y_train)


def test_shift_bias_multiplies_the_odds(digits_net, digits):
    shifted = D.shift_bias(digits_net, 3, 2.0)
    P, Q = digits_net.predict_proba(digits.X_val[:5]), shifted.predict_proba(digits.X_val[:5])
    np.testing.assert_allclose((Q[:, 3] / Q[:, 0]) / (P[:, 3] / P[:, 0]), np.exp(2.0), rtol=1e-9)
    assert not np.shares_memory(shifted.layers[-1].value("bias"), digits_net.layers[-1].value("bias"))
    assert np.array_equal(digits_net.predict_proba(digits.X_val[:5]), P)   # the input is untouched
    with pytest.raises(ValueError, match="cls"):
        D.shift_bias(digits_net, 11, 1.0)


def test_choose_bias_shift_picks_the_smallest_best_shift():
    # one input per row; class 1's logit is 0 and class 0's is x: class 1 wins where x < shift
    net = Network([Dense(np.array([[1.0, 0.0]]), np.zeros(2))], classes=[0, 1])
    X = np.array([[0.5], [1.5], [2.5], [3.5]])
    y = np.array([1, 1, 0, 0])                    # the best shifts lie in (1.5, 2.5)
    shift, acc = D.choose_bias_shift(net, X, y, 1, shifts=np.arange(0, 4.01, 0.5))
    assert shift == 2.0 and acc == 1.0
    with pytest.raises(ValueError, match="shifts"):
        D.choose_bias_shift(net, X, y, 1, shifts=[])


def test_regression_distillation_reports_per_seed():
    from sklearn.datasets import make_regression

    X, y = make_regression(120, 4, noise=5.0, random_state=0)
    out = D.regression_distillation(X, y, teacher_hidden=(16,), student_hidden=(2,), seeds=(0, 1), max_iter=300)
    assert set(out) == {"teacher_r2", "hard_r2", "distilled_r2", "teacher_rmse_sd"}
    assert all(v.shape == (2,) for v in out.values())
    assert np.all(out["teacher_r2"] > 0.5)                          # a learnable linear target
    with pytest.raises(ValueError, match="y must be 1-D"):
        D.regression_distillation(X, y[:-1])


# ----------------------------------------------------------------------------
# The shipped results file: a pruned and a FitNets student recompute exactly
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def results():
    from compresslab.distillation_results import load_results

    return load_results()


def test_stored_pruned_student_recomputes(results):
    from compresslab import distillation_results as R
    from compresslab.pruning import to_sparse

    row = [str(n) for n in results["struct_names"]].index(f"pruned {R.PRUNED_SPARSITY:.0%} from the teacher (CSR)")
    point = R.pruned_point(results, seed=0, distilled=True)
    assert point["test"] == results["struct_dist_test"][row, 0]
    assert results["struct_bytes"][row] == to_sparse(R.pruned_start().network, "csr").storage_bits() / 8


@pytest.mark.parametrize("teacher", ["out-of-fold", pytest.param("moved", marks=pytest.mark.slow)])
def test_stored_pitfall_student_recomputes(results, teacher):
    """Section 3's side by side: a student recomputed at its teacher's stored T and w."""
    from compresslab import distillation_results as R

    names = [str(n) for n in results["pitfall_teachers"]]
    row = [i for i, n in enumerate(names) if teacher in n][0]
    point = R.pitfall_point(results, row, seed=1)
    assert point["test"] == results["pitfall_test"][row, 1]
    assert tuple(results["pitfall_teacher_Tw"][row]) in [tuple(g) for g in results["pitfall_grid"].tolist()]


def test_pitfall_arrays_agree(results):
    n, seeds = len(results["pitfall_teachers"]), len(results["seeds"])
    assert results["pitfall_test"].shape == (n, seeds) and results["pitfall_teacher_Tw"].shape == (n, 2)
    assert results["pitfall_entropy"].shape == (n, 2)
    assert np.all(results["pitfall_entropy"][:, 1] > results["pitfall_entropy"][:, 0])   # T = 4 softer than T = 1
    assert results["pitfall_control_test"].shape == (seeds,)
    assert int(results["pitfall_moved"]) == 4 * 3500
    best = int(np.argmax(results["early_candidates_val"]))                  # the first best epoch count
    assert int(results["early_candidates"][best]) == int(results["early_epochs"])


def test_stored_fitnets_student_recomputes(results):
    from compresslab import distillation_results as R

    point = R.fitnets_point(results, seed=1)
    assert point["test"] == results["fitnets_test"][1]
    # the same to the last few bits, not to every bit: the stored file was computed on another CPU, whose
    # BLAS kernels sum in another order (AVX2 vs AVX-512: 1.9e-15 relative apart, seen)
    np.testing.assert_allclose(point["hint_mse"], results["fitnets_hint_mse"][1], rtol=1e-12, atol=0)
    grid = [tuple(g) for g in results["fitnets_grid"].tolist()]
    assert grid[int(np.argmax(results["fitnets_grid_val"]))] == tuple(results["fitnets_choice"].tolist())


@pytest.mark.parametrize("argv", [["--help"], ["--prunned"], ["--fitnets", "extra"]])
def test_results_command_runs_nothing_on_help_or_a_typo(argv, monkeypatch, capsys):
    """`--help` prints the flags and a typo is refused, before any training starts."""
    from compresslab import distillation_results as R

    monkeypatch.setattr(R, "compute", lambda quick, jobs=1: pytest.fail("a training run started"))
    monkeypatch.setattr(R, "load_results", lambda: pytest.fail("a partial run started"))
    with pytest.raises(SystemExit) as stop:
        R.main(argv)
    assert stop.value.code == (0 if argv == ["--help"] else 2)
    out = capsys.readouterr()
    assert ("--pruned" in out.out) if argv == ["--help"] else ("unrecognized arguments" in out.err)


def test_the_low_rank_student_is_named_by_the_ranks_it_has():
    """The output layer (100 x 10) stays dense at rank 10 (break-even 9.1): the label says so."""
    from compresslab import distillation_results as R
    from compresslab.distillation import default_teacher, lowrank_student

    label = R.lowrank_label(lowrank_student(default_teacher(), list(R.LOWRANK_RANKS)))
    assert label == "low-rank (10, 10, dense) from the teacher"
    assert label in R.load_results()["struct_names"].tolist()
