import numpy as np
import pytest

from compresslab.network import Dense, Network
from compresslab.training import History, loss_and_gradients, target_matrix, train


def _random_net(rng, sizes, activation, out_activation="softmax", classes=None):
    layers = [Dense(rng.normal(scale=0.7, size=(a, b)), rng.normal(scale=0.1, size=b))
              for a, b in zip(sizes, sizes[1:])]
    return Network(layers, activation=activation, out_activation=out_activation, classes=classes)


# Finite differences of the float32 loss: a larger step (rounding error ~ 1e-7 |L| / eps) and
# tolerances to match; the float64 test below holds the formulas to 1e-5.
FD = {"float64": dict(eps=1e-6, rtol=1e-5, atol=1e-7), "float32": dict(eps=2e-3, rtol=1e-2, atol=1e-3)}


def _numeric_gradient(net, X, Y, eps=1e-6, **kwargs):
    grads = []
    for layer in net.layers:
        g = {}
        for name, w in layer.params.items():
            g[name] = np.zeros_like(w)
            for idx in np.ndindex(w.shape):
                old = w[idx]
                w[idx] = old + eps
                up, _ = loss_and_gradients(net, X, Y, **kwargs)
                w[idx] = old - eps
                down, _ = loss_and_gradients(net, X, Y, **kwargs)
                w[idx] = old
                g[name][idx] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("loss", ["hard", "soft", "hard+l2"])
def test_gradients_match_finite_differences(activation, loss, dtype):
    rng = np.random.default_rng(1)
    net = _random_net(rng, [4, 5, 3, 3], activation).astype(dtype)
    X = rng.normal(size=(6, 4))
    Y = target_matrix(net, rng.integers(0, 3, 6))
    kwargs = {}
    if loss == "soft":
        kwargs = dict(teacher_logits=rng.normal(size=(6, 3)) * 3, temperature=4.0, soft_weight=0.7)
    if loss == "hard+l2":
        kwargs = dict(l2=0.1)
    _, grads = loss_and_gradients(net, X, Y, **kwargs)
    fd = FD[dtype]
    numeric = _numeric_gradient(net, X, Y, eps=fd["eps"], **kwargs)
    for g, n in zip(grads, numeric):
        for name in g:
            assert g[name].dtype == dtype                   # computed in the network's dtype throughout
            np.testing.assert_allclose(g[name], n[name], rtol=fd["rtol"], atol=fd["atol"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logistic_output_gradient_matches_finite_differences(dtype):
    rng = np.random.default_rng(2)
    net = _random_net(rng, [3, 4, 1], "tanh", out_activation="logistic", classes=np.array([0, 1])).astype(dtype)
    X = rng.normal(size=(5, 3))
    Y = target_matrix(net, rng.integers(0, 2, 5))
    _, grads = loss_and_gradients(net, X, Y)
    fd = FD[dtype]
    numeric = _numeric_gradient(net, X, Y, eps=fd["eps"])
    for g, n in zip(grads, numeric):
        for name in g:
            assert g[name].dtype == dtype
            np.testing.assert_allclose(g[name], n[name], rtol=fd["rtol"], atol=min(fd["atol"], 1e-3))


@pytest.mark.parametrize("loss", ["hard", "soft"])
def test_float32_gradients_equal_float64_ones_to_float32_precision(loss):
    """The float32 path computes the same formulas: against the float64 gradient of the same weights."""
    rng = np.random.default_rng(5)
    net32 = _random_net(rng, [6, 8, 5, 3], "relu").astype("float32")
    net64 = net32.astype("float64")                    # the very same numbers, widened
    X, labels = rng.normal(size=(16, 6)), rng.integers(0, 3, 16)
    kwargs = dict(teacher_logits=rng.normal(size=(16, 3)) * 3, temperature=3.0, soft_weight=0.6) \
        if loss == "soft" else {}
    loss32, grads32 = loss_and_gradients(net32, X, target_matrix(net32, labels), **kwargs)
    loss64, grads64 = loss_and_gradients(net64, X, target_matrix(net64, labels), **kwargs)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for g32, g64 in zip(grads32, grads64):
        for name in g32:
            assert g32[name].dtype == np.float32
            np.testing.assert_allclose(g32[name], g64[name], rtol=1e-4, atol=1e-6)


def test_first_layer_input_gradient_is_skipped_only_where_nobody_needs_it():
    """The engine asks the first layer for no dL/dX; the weight gradients are unchanged."""
    rng = np.random.default_rng(6)
    net = _random_net(rng, [5, 4, 3], "tanh")
    X, G = rng.normal(size=(7, 5)), rng.normal(size=(7, 4))
    full_in, full = net.layers[0].backward(X, G)
    none_in, skipped = net.layers[0].backward(X, G, input_grad=False)
    assert none_in is None and full_in.shape == X.shape
    for name in full:
        np.testing.assert_array_equal(skipped[name], full[name])


def test_soft_loss_at_temperature_one_with_teacher_equal_targets_is_hard_loss():
    rng = np.random.default_rng(3)
    net = _random_net(rng, [4, 3], "relu")
    X = rng.normal(size=(5, 4))
    labels = rng.integers(0, 3, 5)
    Y = target_matrix(net, labels)
    hard, _ = loss_and_gradients(net, X, Y)
    # a teacher whose softmax is (almost) one-hot gives the same loss at T = 1
    soft, _ = loss_and_gradients(net, X, Y, teacher_logits=Y * 200.0, temperature=1.0, soft_weight=1.0)
    assert soft == pytest.approx(hard, rel=1e-9)


def test_weight_transform_is_straight_through():
    """The forward pass sees the transformed weights; their gradient goes to the masters."""
    rng = np.random.default_rng(4)
    net = _random_net(rng, [4, 5, 3], "relu")
    X, Y = rng.normal(size=(6, 4)), target_matrix(net, rng.integers(0, 3, 6))
    rounded = lambda i, name, w: np.round(w * 4) / 4 if name == "weight" else w
    masters = [layer.weight.copy() for layer in net.layers]
    loss, grads = loss_and_gradients(net, X, Y, weight_transform=rounded)
    # the same loss and gradients as a network that really holds the rounded weights
    twin = net.replace_layers([Dense(np.round(l.weight * 4) / 4, l.bias) for l in net.layers])
    loss_twin, grads_twin = loss_and_gradients(twin, X, Y)
    assert loss == pytest.approx(loss_twin, rel=1e-12)
    for g, t in zip(grads, grads_twin):
        np.testing.assert_allclose(g["weight"], t["weight"], rtol=1e-12)
    for layer, master in zip(net.layers, masters):   # masters untouched
        np.testing.assert_array_equal(layer.weight, master)


def test_hooks_are_called(digits_net, digits):
    calls = {"grad": 0, "after": 0}
    mask = np.abs(digits_net.layers[0].weight) > 0.05

    def gradient_transform(i, name, g):
        calls["grad"] += 1
        return g

    def after_step(net):
        calls["after"] += 1
        net.layers[0].params["weight"] *= mask          # a pruning mask, re-applied

    train(digits_net, digits.X_train[:256], digits.y_train[:256], epochs=2, batch_size=64,
          gradient_transform=gradient_transform, after_step=after_step, progress=False)
    assert calls["after"] == 2 * 4
    assert calls["grad"] == 2 * 4 * 6                # 3 layers x (weight, bias)
    assert np.all(digits_net.layers[0].weight[~mask] == 0)


@pytest.mark.parametrize("optimizer, lr", [("adam", 1e-2), ("sgd", 0.1)])
def test_training_lowers_loss_and_learns(optimizer, lr, digits):
    rng = np.random.default_rng(0)
    net = _random_net(rng, [64, 32, 10], "relu")
    for layer in net.layers:
        layer.params["weight"] *= 0.2
    h = train(net, digits.X_train, digits.y_train, epochs=8, optimizer=optimizer, learning_rate=lr,
              X_test=digits.X_test, y_test=digits.y_test, track_accuracy=True, progress=False)
    assert isinstance(h, History) and h.epochs == 8
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert h.test_accuracy[-1] > 0.85
    assert len(h.train_accuracy) == len(h.test_accuracy) == 8
    assert h.train_accuracy[-1] == net.score(digits.X_train, digits.y_train)


def test_training_is_deterministic(digits_mlp, digits):
    from compresslab.network import from_sklearn

    a, b = from_sklearn(digits_mlp), from_sklearn(digits_mlp)
    ha = train(a, digits.X_train, digits.y_train, epochs=2, progress=False, random_state=7)
    hb = train(b, digits.X_train, digits.y_train, epochs=2, progress=False, random_state=7)
    assert ha.loss == hb.loss
    np.testing.assert_array_equal(a.layers[0].weight, b.layers[0].weight)


def test_fine_tuning_pretrained_for_one_epoch_keeps_accuracy(mnist_net, mnist5k):
    net = mnist_net.copy()
    before = net.score(mnist5k.X_test, mnist5k.y_test)
    train(net, mnist5k.X_train, mnist5k.y_train, epochs=1, learning_rate=1e-4, progress=False)
    assert net.score(mnist5k.X_test, mnist5k.y_test) >= before - 0.01


def test_distillation_moves_student_towards_teacher(digits_net, digits):
    rng = np.random.default_rng(0)
    student = _random_net(rng, [64, 16, 10], "relu")
    teacher_logits = digits_net.logits(digits.X_train)
    train(student, digits.X_train, digits.y_train, epochs=10, teacher_logits=teacher_logits,
          temperature=4.0, soft_weight=0.9, learning_rate=1e-2, progress=False)
    agree = np.mean(student.predict(digits.X_test) == digits_net.predict(digits.X_test))
    assert agree > 0.85


def test_progress_bar_runs(digits_net, digits, capsys):
    train(digits_net, digits.X_train[:100], digits.y_train[:100], epochs=1, progress=True)
    assert "training" in capsys.readouterr().err


def test_bad_training_arguments(digits_net, digits):
    X, y = digits.X_train[:50], digits.y_train[:50]
    with pytest.raises(ValueError, match=r"epochs must be in \[1, inf\]; got 0"):
        train(digits_net, X, y, epochs=0, progress=False)
    with pytest.raises(ValueError, match="optimizer must be one of.*'rmsprop'"):
        train(digits_net, X, y, optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match=r"soft_weight must be in \[0, 1\]; got 1.5"):
        train(digits_net, X, y, soft_weight=1.5, progress=False)
    with pytest.raises(ValueError, match="teacher_logits are needed"):
        train(digits_net, X, y, soft_weight=0.5, progress=False)
    with pytest.raises(ValueError, match=r"temperature must be in \(0, inf\]; got 0"):
        train(digits_net, X, y, temperature=0, progress=False)
    with pytest.raises(ValueError, match="same number of samples"):
        train(digits_net, X, y[:10], progress=False)
    with pytest.raises(ValueError, match="classes"):
        train(digits_net, X, y + 20, progress=False)
    with pytest.raises(TypeError, match="Network"):
        train("net", X, y)
    with pytest.raises(TypeError, match="integer"):
        train(digits_net, X, y, batch_size=3.5, progress=False)


# --- issue #10 section 2: every argument checked before the first epoch -------------------

def test_momentum_is_checked(digits_net, digits):
    X, y = digits.X_train[:64], digits.y_train[:64]
    for bad, error, message in ((1.5, ValueError, r"momentum must be in \[0, 1\); got 1.5"),
                                (-0.1, ValueError, r"momentum must be in \[0, 1\)"),
                                ("0.9", TypeError, "momentum must be a real number")):
        with pytest.raises(error, match=message):
            train(digits_net, X, y, optimizer="sgd", momentum=bad, progress=False)


def test_bad_test_split_fails_before_training_and_is_named(digits_net, digits):
    X, y = digits.X_train[:64], digits.y_train[:64]
    seen = []
    with pytest.raises(ValueError, match="X_test must have 64 features"):
        train(digits_net, X, y, X_test=digits.X_test[:, :10], y_test=digits.y_test,
              on_epoch=lambda *a: seen.append(a), progress=False)
    with pytest.raises(ValueError, match=r"y_test must only hold the network's classes"):
        train(digits_net, X, y, X_test=digits.X_test, y_test=digits.y_test + 20,
              on_epoch=lambda *a: seen.append(a), progress=False)
    with pytest.raises(ValueError, match="give both X_test and y_test or neither"):
        train(digits_net, X, y, X_test=digits.X_test, progress=False)
    assert seen == []                       # no epoch ran


def test_nothing_trainable_is_an_error(digits_net, digits):
    from compresslab.quantization import quantize

    with pytest.raises(ValueError, match="network has nothing to train"):
        train(quantize(digits_net, "symmetric", 8), digits.X_train[:64], digits.y_train[:64], progress=False)


def test_non_finite_weights_seeds_and_hooks_are_named(digits_net, digits):
    X, y = digits.X_train[:64], digits.y_train[:64]
    with pytest.raises(TypeError, match="random_state must be None, an integer seed"):
        train(digits_net, X, y, random_state="seed", progress=False)
    with pytest.raises(TypeError, match="on_epoch must be a function or None"):
        train(digits_net, X, y, on_epoch="print", progress=False)
    digits_net.layers[2].params["bias"][:2] = np.nan
    with pytest.raises(ValueError, match="network weights must be finite; layer 3 'bias' has 2 NaN"):
        train(digits_net, X, y, progress=False)


def test_divergence_is_an_error_not_a_nan_history(digits_net, digits):
    with pytest.raises(ValueError, match="training diverged.*smaller learning_rate"):
        train(digits_net, digits.X_train[:64], digits.y_train[:64], learning_rate=1e300, progress=False)


# --- issue #15: in-place optimizers, float32 end to end, the accuracy pass on request ----------

def _textbook_adam(w, grads, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba 2015, Algorithm 1, in float64 with new arrays every step."""
    w, m, v = w.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return w


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_in_place_optimizers_match_the_textbook_update(optimizer, dtype, rtol):
    from compresslab.training import _SGD, _Adam

    rng = np.random.default_rng(7)
    w0 = rng.normal(size=(5, 4))
    grads = [rng.normal(size=(5, 4)) * 10.0**-k for k in range(6)]     # shrinking: eps matters at the end
    w = w0.astype(dtype)
    opt = _Adam(1e-2) if optimizer == "adam" else _SGD(0.1, momentum=0.9)
    for g in grads:
        opt.t += 1
        opt.step("w", w, g.astype(dtype))
    state = opt.m["w"] if optimizer == "adam" else opt.velocity["w"]
    assert w.dtype == state.dtype == dtype                         # the state lives in the weight's dtype
    if optimizer == "adam":
        expected = _textbook_adam(w0.astype(dtype), [g.astype(dtype) for g in grads])
    else:
        expected, velocity = w0.astype(dtype).astype(np.float64), 0.0
        for g in grads:
            velocity = 0.9 * velocity - 0.1 * g.astype(dtype)
            expected = expected + velocity
    np.testing.assert_allclose(w, expected, rtol=rtol, atol=rtol * 1e-2)


def test_optimizer_state_is_allocated_once():
    from compresslab.training import _Adam

    opt, w = _Adam(1e-3), np.ones(3)
    opt.t = 1
    opt.step("w", w, np.ones(3))
    arrays = opt.m["w"], opt.v["w"], opt.scratch["w"]
    for _ in range(3):
        opt.t += 1
        opt.step("w", w, np.full(3, 0.5))
    assert all(a is b for a, b in zip(arrays, (opt.m["w"], opt.v["w"], opt.scratch["w"])))


@pytest.mark.parametrize("soft", [False, True])
def test_float32_network_trains_in_float32_end_to_end(soft, digits_net, digits):
    """Targets, soft targets, gradients and updates stay float32 (float64 targets used to promote them)."""
    net = digits_net.astype("float32")
    seen = set()

    def gradient_transform(i, name, g):
        seen.add(g.dtype.name)
        return g

    kwargs = dict(teacher_logits=digits_net.logits(digits.X_train), temperature=3.0, soft_weight=0.5) if soft else {}
    train(net, digits.X_train, digits.y_train, epochs=1, gradient_transform=gradient_transform,
          progress=False, **kwargs)
    assert seen == {"float32"}
    assert all(w.dtype == np.float32 for layer in net.layers for w in layer.params.values())


def test_float32_training_follows_float64_training(digits_net, digits):
    net32 = digits_net.astype("float32")
    h64 = train(digits_net, digits.X_train, digits.y_train, epochs=2, learning_rate=1e-3, progress=False)
    h32 = train(net32, digits.X_train, digits.y_train, epochs=2, learning_rate=1e-3, progress=False)
    np.testing.assert_allclose(h32.loss, h64.loss, rtol=1e-3)
    assert abs(net32.score(digits.X_test, digits.y_test) - digits_net.score(digits.X_test, digits.y_test)) <= 0.01


def test_accuracy_pass_is_off_by_default_and_on_epoch_still_runs(digits_net, digits):
    calls = []
    h = train(digits_net, digits.X_train[:256], digits.y_train[:256], epochs=3, progress=False,
              on_epoch=lambda epoch, history: calls.append((epoch, history.epochs)))
    assert calls == [(0, 1), (1, 2), (2, 3)]
    assert len(h.loss) == 3 and h.train_accuracy == [] and h.test_accuracy == []
    h = train(digits_net, digits.X_train[:256], digits.y_train[:256], epochs=2, progress=False,
              X_test=digits.X_test, y_test=digits.y_test)
    assert len(h.test_accuracy) == 2 and h.train_accuracy == []     # asked for by passing the test split
    with pytest.raises(TypeError, match="track_accuracy must be True or False; got 1"):
        train(digits_net, digits.X_train[:64], digits.y_train[:64], track_accuracy=1, progress=False)


def test_target_matrix_is_in_the_network_dtype(digits_net):
    labels = np.array([0, 3, 9])
    Y32 = target_matrix(digits_net.astype("float32"), labels)
    assert Y32.dtype == np.float32 and target_matrix(digits_net, labels).dtype == np.float64
    np.testing.assert_array_equal(Y32, np.eye(10)[labels])
