"""One NumPy training engine for every technique.

scikit-learn's MLP cannot train with pruning masks, fake quantization or soft
targets, so the suite trains ``Network`` objects here. Techniques never write
their own loop; they plug into three hooks:

- ``weight_transform(layer_index, name, w) -> w_used``: the forward pass uses
  ``w_used`` and the gradient with respect to ``w_used`` is applied to the
  float master weight ``w`` (the straight-through estimator, Bengio et al.
  2013; fake quantization in QAT, Jacob et al. 2018).
- ``gradient_transform(layer_index, name, g) -> g_used``: changes a gradient
  before the optimizer sees it (quantized gradients).
- ``after_step(network)``: runs after every optimizer step (re-apply pruning
  masks: a projection onto the allowed weights).

Loss, for a batch of N samples with one-hot targets Y, student logits z,
teacher logits t and temperature T (Hinton et al. 2015, "Distilling the
Knowledge in a Neural Network"):

    L = (1 - w) CE(Y, softmax(z)) + w T^2 CE(softmax(t/T), softmax(z/T))
        + l2/2 sum ||W||^2

with w = ``soft_weight`` and CE(Q, P) = -1/N sum_n sum_k Q_nk log P_nk. The T^2 keeps the soft
term's gradient, T (softmax(z/T) - softmax(t/T)) / N, on the same scale as
the hard one when T changes. Outputs with a logistic unit use binary
cross-entropy; soft targets need softmax (the lecture's stated limitation
of distillation).
"""
from __future__ import annotations

import functools
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from sklearn.utils import check_random_state

from ._validation import (check_array_2d, check_bool, check_callable, check_choice, check_float, check_int,
                          check_labels, check_network)
from ._validation import check_random_state as check_seed
from .network import Network, activate, activation_derivative

WeightTransform = Callable[[int, str, np.ndarray], np.ndarray]
GradientTransform = Callable[[int, str, np.ndarray], np.ndarray]
AfterStep = Callable[[Network], None]
OPTIMIZERS = ("adam", "sgd")


@dataclass
class History:
    """What happened during ``train``: one entry per epoch. ``train_accuracy`` is
    filled only with ``train(..., track_accuracy=True)``, ``test_accuracy`` only
    when ``X_test, y_test`` are given."""

    loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.loss)


# ----------------------------------------------------------------------------
# Targets and loss
# ----------------------------------------------------------------------------

def target_matrix(network: Network, y, dtype=None) -> np.ndarray:
    """Labels -> the matrix the output layer is trained towards (n_samples, n_outputs),
    in ``dtype`` (default: the network's, so a float32 network trains in float32)."""
    dtype = network.dtype if dtype is None else np.dtype(dtype)
    y = np.asarray(y)
    n_out = network.layers[-1].n_outputs
    if network.multilabel:
        if y.ndim != 2 or y.shape[1] != n_out:
            raise ValueError(f"multilabel y must be an indicator matrix with {n_out} columns; got shape {y.shape}")
        return y.astype(dtype)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,); got shape {y.shape}")
    unknown = np.setdiff1d(y, network.classes)
    if unknown.size:
        raise ValueError(f"y must only hold the network's classes {network.classes.tolist()}; "
                         f"got {unknown[:5].tolist()}")
    index = np.searchsorted(network.classes, y) if _sorted(network.classes) else \
        np.array([np.flatnonzero(network.classes == v)[0] for v in y])
    if n_out == 1:
        return index.reshape(-1, 1).astype(dtype)
    Y = np.zeros((len(y), n_out), dtype=dtype)
    Y[np.arange(len(y)), index] = 1.0
    return Y


def _sorted(a) -> bool:
    return bool(np.all(a[:-1] <= a[1:]))


def loss_and_gradients(network: Network, X, Y, *, teacher_logits=None, temperature=1.0, soft_weight=0.0,
                       l2=0.0, weight_transform: Optional[WeightTransform] = None, hard_weight=None):
    """Loss and the gradient of every parameter, by backpropagation.

    ``Y`` is a target matrix (see ``target_matrix``). Returns
    ``(loss, grads)`` with ``grads[i][name]`` shaped like ``layers[i].params[name]``.
    With ``weight_transform`` the forward pass uses the transformed weights and
    the gradients are those of the transformed weights (straight-through).
    Everything is computed in the network's dtype: X, Y and the teacher's
    logits are cast to it (no copy when they already have it).
    ``hard_weight`` (n,) weights each row's hard-label loss (None: all 1; 0: a
    transfer row that only has soft targets).
    """
    dtype = network.dtype
    X, Y = np.asarray(X).astype(dtype, copy=False), np.asarray(Y).astype(dtype, copy=False)
    if teacher_logits is not None:
        teacher_logits = np.asarray(teacher_logits).astype(dtype, copy=False)
    n = X.shape[0]
    # log(0) guards that exist in the dtype: 1e-300 is 0 in float32, and 1 - 1e-15 is 1
    tiny, eps = np.finfo(dtype).tiny, max(1e-15, float(np.finfo(dtype).eps))
    # per-row weight of the hard loss, (n, 1); 1 everywhere unless hard_weight is given
    h = np.ones((n, 1), dtype=dtype) if hard_weight is None else np.asarray(hard_weight, dtype=dtype).reshape(n, 1)
    masters = _swap_in_transformed(network, weight_transform)
    try:
        inputs, pre = network.forward_all(X)
        logits = pre[-1]
        if network.out_activation == "softmax":
            P = activate("softmax", logits)
            loss = (1 - soft_weight) * -np.sum(h * Y * np.log(np.maximum(P, tiny))) / n
        else:
            P = activate("logistic", logits)
            P_safe = np.clip(P, eps, 1 - eps)
            loss = (1 - soft_weight) * -np.sum(h * (Y * np.log(P_safe) + (1 - Y) * np.log(1 - P_safe))) / n
        grad = (1 - soft_weight) * h * (P - Y) / n                 # (n, n_out)
        if soft_weight > 0:
            if network.out_activation != "softmax":
                raise ValueError("soft targets need a softmax output (multiclass); "
                                 f"this network's output is {network.out_activation!r}")
            T = temperature
            Q = activate("softmax", teacher_logits / T)          # teacher's soft targets
            log_PT = np.log(np.maximum(activate("softmax", logits / T), tiny))
            loss += soft_weight * T**2 * -np.sum(Q * log_PT) / n
            grad = grad + soft_weight * T * (np.exp(log_PT) - Q) / n
        grads = [None] * len(network.layers)
        for i in reversed(range(len(network.layers))):
            layer = network.layers[i]
            if i == 0 and _can_skip_input_grad(type(layer)):     # dL/dX of the data: nobody needs it
                grad_in, grads[i] = layer.backward(inputs[i], grad, input_grad=False)
            else:
                grad_in, grads[i] = layer.backward(inputs[i], grad)
            if i > 0:
                grad = grad_in * activation_derivative(network.activation, pre[i - 1], inputs[i])
        if l2:
            for i, layer in enumerate(network.layers):
                for name, w in layer.params.items():
                    if name != "bias":
                        loss += 0.5 * l2 * np.sum(w**2)
                        grads[i][name] = grads[i][name] + l2 * w
    finally:
        _restore(network, masters)
    return float(loss), grads


@functools.lru_cache(maxsize=None)
def _can_skip_input_grad(layer_type) -> bool:
    """Whether a layer kind's ``backward`` takes the optional ``input_grad`` flag."""
    return "input_grad" in inspect.signature(layer_type.backward).parameters


def _swap_in_transformed(network, weight_transform):
    """Replace params by their transformed values; return the masters to restore."""
    if weight_transform is None:
        return None
    masters = []
    for i, layer in enumerate(network.layers):
        masters.append(dict(layer.params))
        for name, w in masters[-1].items():
            layer.params[name] = weight_transform(i, name, w)
    return masters


def _restore(network, masters):
    if masters is not None:
        for layer, params in zip(network.layers, masters):
            layer.params.update(params)


# ----------------------------------------------------------------------------
# Optimizers
# ----------------------------------------------------------------------------

class _Adam:
    """Adam (Kingma & Ba 2015) with bias correction:

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
        w <- w - lr m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t).

    The update is computed in place, in the weight's dtype: m, v and one
    scratch array per parameter are allocated at the first step and reused
    (a LeNet-300-100 step otherwise allocates ~6 arrays of 266k numbers).
    With c1 = 1 - b1^t, c2 = 1 - b2^t the step is rewritten
    w -= (lr sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2)), the same number.
    """

    def __init__(self, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta1, beta2, eps
        self.m, self.v, self.scratch, self.t = {}, {}, {}, 0

    def step(self, key, w, g):
        if key not in self.m:
            self.m[key], self.v[key], self.scratch[key] = np.zeros_like(w), np.zeros_like(w), np.empty_like(w)
        m, v, tmp = self.m[key], self.v[key], self.scratch[key]
        # Python floats, so a float32 update stays in float32 (a NumPy float64 would promote it)
        c1, root_c2 = 1.0 - self.b1**self.t, math.sqrt(1.0 - self.b2**self.t)
        m *= self.b1
        np.multiply(g, 1 - self.b1, out=tmp)
        m += tmp
        v *= self.b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.eps * root_c2
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr * root_c2 / c1
        w -= tmp


class _SGD:
    """Mini-batch SGD with (heavy-ball) momentum: v <- mu v - lr g; w <- w + v (in place)."""

    def __init__(self, learning_rate, momentum=0.9):
        self.lr, self.mu, self.velocity, self.scratch, self.t = learning_rate, momentum, {}, {}, 0

    def step(self, key, w, g):
        if key not in self.velocity:
            self.velocity[key], self.scratch[key] = np.zeros_like(w), np.empty_like(w)
        v, tmp = self.velocity[key], self.scratch[key]
        v *= self.mu
        np.multiply(g, self.lr, out=tmp)
        v -= tmp
        w += v


# ----------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------

def train(network: Network, X, y, *, epochs=5, batch_size=128, optimizer="adam", learning_rate=1e-3,
          momentum=0.9, l2=0.0, teacher_logits=None, temperature=1.0, soft_weight=0.0, hard_weight=None,
          weight_transform: Optional[WeightTransform] = None,
          gradient_transform: Optional[GradientTransform] = None,
          after_step: Optional[AfterStep] = None,
          X_test=None, y_test=None, track_accuracy=False, random_state=0, progress=True,
          on_epoch: Optional[Callable[[int, History], None]] = None) -> History:
    """Train ``network`` in place by mini-batch gradient descent; return its ``History``.

    Parameters
    ----------
    network : the ``Network`` to train (its float params are updated in place).
    X, y : training data; y as labels from ``network.classes``.
    epochs, batch_size : passes over the data and samples per step.
    optimizer : "adam" or "sgd" (with ``momentum``).
    l2 : L2 penalty on the weights (not the biases).
    teacher_logits : (n_samples, n_classes) teacher logits aligned with X, for
        distillation with ``temperature`` T and soft-loss weight ``soft_weight`` (w above).
    hard_weight : optional (n_samples,) weights >= 0 of each row's hard-label loss; a row
        with weight 0 is a transfer row (soft targets only: its label is never used, and
        the per-epoch training accuracy counts only rows with weight > 0).
    weight_transform, gradient_transform, after_step : the hooks (module doc).
    X_test, y_test : optional held-out data for the per-epoch test accuracy.
    track_accuracy : also score the training set after every epoch
        (``history.train_accuracy``): one more forward pass over all of X,
        ~15 % of an epoch, so off unless someone reads it. The loss is always recorded.
    random_state : seed of the batch order; the run is deterministic.
    progress : show a tqdm progress bar (a widget in JupyterLab).
    on_epoch : called as on_epoch(epoch, history) after each epoch.
    """
    check_network("network", network)
    if not any(layer.params for layer in network.layers):
        raise ValueError("network has nothing to train: none of its layers has float parameters "
                         f"({', '.join(layer.kind for layer in network.layers)}); train the float "
                         "network, then compress it (or use quantization_aware_training)")
    X = check_array_2d("X", X, n_features=network.n_features).astype(network.dtype, copy=False)
    check_labels("y", y, network, n_samples=X.shape[0])
    momentum = check_float("momentum", momentum, low=0, high=1, high_open=True)
    if (X_test is None) != (y_test is None):
        raise ValueError(f"give both X_test and y_test or neither; got X_test={type(X_test).__name__}, "
                         f"y_test={type(y_test).__name__}")
    if X_test is not None:
        X_test = check_array_2d("X_test", X_test, n_features=network.n_features)
        check_labels("y_test", y_test, network, n_samples=X_test.shape[0])
    for hook_name, hook in (("weight_transform", weight_transform), ("gradient_transform", gradient_transform),
                            ("after_step", after_step), ("on_epoch", on_epoch)):
        check_callable(hook_name, hook)
    check_seed("random_state", random_state)
    check_bool("progress", progress)
    track_accuracy = check_bool("track_accuracy", track_accuracy)
    Y = target_matrix(network, y)                   # in the network's dtype, as X
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y must have the same number of samples; got {X.shape[0]} and {Y.shape[0]}")
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    learning_rate = check_float("learning_rate", learning_rate, low=0, low_open=True)
    l2 = check_float("l2", l2, low=0)
    soft_weight = check_float("soft_weight", soft_weight, low=0, high=1)
    temperature = check_float("temperature", temperature, low=0, low_open=True)
    if soft_weight > 0:
        if teacher_logits is None:
            raise ValueError("soft_weight > 0 weights the soft-target loss, so teacher_logits are needed; got None")
        teacher_logits = check_array_2d("teacher_logits", teacher_logits,
                                        n_features=network.layers[-1].n_outputs).astype(network.dtype, copy=False)
        if teacher_logits.shape[0] != X.shape[0]:
            raise ValueError(f"teacher_logits must have one row per sample ({X.shape[0]}); "
                             f"got {teacher_logits.shape[0]}")
    has_test = X_test is not None and y_test is not None
    X_acc, y_acc = X, y                                  # rows whose labels are real
    if hard_weight is not None:
        hard_weight = np.asarray(hard_weight, dtype=float)
        if hard_weight.shape != (X.shape[0],) or not np.all(np.isfinite(hard_weight)) or np.any(hard_weight < 0):
            raise ValueError(f"hard_weight must be ({X.shape[0]},) finite weights >= 0; got shape "
                             f"{hard_weight.shape}, min {np.min(hard_weight) if hard_weight.size else None}")
        X_acc, y_acc = X[hard_weight > 0], np.asarray(y)[hard_weight > 0]

    rng = check_random_state(random_state)
    opt = _Adam(learning_rate) if optimizer == "adam" else _SGD(learning_rate, momentum)
    history = History()
    bar = _progress_bar(epochs, progress)
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(X.shape[0])
        total = 0.0
        for first in range(0, X.shape[0], batch_size):
            batch = order[first:first + batch_size]
            soft = teacher_logits[batch] if soft_weight > 0 else None
            loss, grads = loss_and_gradients(network, X[batch], Y[batch], teacher_logits=soft,
                                             temperature=temperature, soft_weight=soft_weight, l2=l2,
                                             weight_transform=weight_transform,
                                             hard_weight=None if hard_weight is None else hard_weight[batch])
            total += loss * len(batch)
            opt.t += 1
            for i, layer in enumerate(network.layers):
                for name, g in grads[i].items():
                    if gradient_transform is not None:
                        g = gradient_transform(i, name, g)
                    opt.step((i, name), layer.params[name], g)
            if after_step is not None:
                after_step(network)
        history.loss.append(total / X.shape[0])
        diverged = ValueError(f"training diverged: the loss is {history.loss[-1]} after epoch {epoch + 1} "
                              f"(or a weight or an output is no longer finite); try a smaller learning_rate "
                              f"(got {learning_rate})")
        if not np.isfinite(history.loss[-1]) or _diverged(network, weight_transform):
            raise diverged
        try:
            if track_accuracy:
                history.train_accuracy.append(_accuracy(network, X_acc, y_acc, weight_transform)
                                              if len(y_acc) else float("nan"))
            if has_test:
                history.test_accuracy.append(_accuracy(network, X_test, y_test, weight_transform))
        except ValueError as exc:          # finite weights whose outputs overflow
            if "must be finite" in str(exc):
                raise diverged from exc
            raise
        if bar is not None:
            bar.update(1)
            scores = {"acc": history.train_accuracy, "test_acc": history.test_accuracy}
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}",
                            **{key: f"{values[-1]:.3f}" for key, values in scores.items() if values})
        if on_epoch is not None:
            on_epoch(epoch, history)
    history.seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return history


def _diverged(network, weight_transform) -> bool:
    """True when a weight (as the forward pass uses it) is no longer finite."""
    masters = _swap_in_transformed(network, weight_transform)
    try:
        return not all(np.isfinite(w).all() for layer in network.layers for w in layer.params.values())
    finally:
        _restore(network, masters)


def _accuracy(network, X, y, weight_transform):
    """Accuracy of the network as it is used: with the transformed weights."""
    masters = _swap_in_transformed(network, weight_transform)
    try:
        return network.score(X, y)
    finally:
        _restore(network, masters)


def _progress_bar(epochs, progress):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, desc="training", unit="epoch", leave=False)
