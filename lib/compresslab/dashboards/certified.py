"""Test logits with the first layer in float32 and a proof that the argmax is float64's.

A quantization move scores a new network on the 1,000 test images. Its first
layer (784 x 300, 88 % of the weights) is ~12 ms of float64 product; in
float32 it is half that. But a float32 accuracy would not be the accuracy of
the network the readout describes, unless we can prove every prediction is the
same. We can, with the classic rounding-error bound (Higham 2002, "Accuracy and
Stability of Numerical Algorithms", Lemma 3.1 and Section 3.5): for a dot
product of K terms in any summation order,

    |fl(x . w) - x . w| <= gamma_K |x| . |w| <= gamma_K ||x||_2 ||w||_2,
    gamma_K = K u / (1 - K u),  u = 2^-24 for float32,

(Cauchy-Schwarz for the second step; K + 2 terms count the rounding of x and
w to float32). A zero term is exact (0 * w = 0, s + 0 = s), so the computed
sum is that of the nonzero terms alone in some order: K is the number of
nonzero pixels of x_i (about 150 of 784 on MNIST, a bound 5x tighter), and
pixels that are zero in every test image are left out of the product (617 of
784 columns are kept: a fifth less work). So every first-layer pre-activation
of sample i, unit j is off by at most e_ij = r_i p_j with
r_i = gamma_{K_i + 2} ||x_i||, p_j = ||w_j|| over the kept pixels. The later
layers run in float64 (they are cheap), and the bound follows them: a hidden
activation (relu, tanh, logistic, identity) is 1-Lipschitz, so it passes
unchanged, and a dense layer W maps it to e |W| (p <- p |W|).

At the logits, a sample is certain when its top class leads every other class k
by more than e_top + e_k. The uncertain ones (on mnist-5k, 0.5-5 % of the 1,000
test images: the bound is a worst case, ~20x the error seen) are computed
again in float64. The float64 steps of both computations (the bias added to
the float32 product; the reference's product; every later layer) round too, by
at most gamma64 (|a| |w| + |b|) a layer, 2^-53 relative: tiny next to the
float32 bound, except where a bias or an activation is large next to it. So
they are bounded explicitly, with |a| |w_k| <= max_j |a_j| ||w_k||_1, and
carried through the later layers like e (``logit_bound``); the whole bound is
then doubled for what these estimates leave out. The predicted labels, and so
the accuracy, are float64's; the logits of certain samples differ from
float64's by at most their bound. Below float32's normal range a rounding
errs by up to 2^-150 absolute, which the bound adds; a network or X whose
float32 products could overflow (|x| |w| K above 2^100) takes the plain road.

An activation quantizer (``QuantizedInput``) rounds to a grid: a bound this
loose would leave almost every sample near a rounding boundary (all of them at
8 bits). So a network with one takes the exact road: the first layer's float64
product, kept per weights (an activation-bit move reuses it), then the later
layers, the very operations of ``network.logits``.

Used for networks of ``Dense`` layers (encoded or not), optionally behind
``QuantizedInput``, computing in float64 with a softmax output; any other
network is scored by ``network.logits`` (the plain road).
"""
from __future__ import annotations

import threading

import numpy as np

from ..network import Dense, activate
from ..quantization import QuantizedInput
from .base import LRU

LIPSCHITZ_ACTIVATIONS = ("relu", "tanh", "logistic", "identity")   # |g(a) - g(b)| <= |a - b|
SAFETY = 2.0              # every bound doubled: covers the float64 rounding of both computations
SAFE_HIGH = 2.0 ** 100     # |x|, |w| and K |x| |w| at most this: no float32 product or sum overflows (2^128)
UNDERFLOW = 2.0 ** -150    # a float32 rounding's absolute error below the normal range (half a subnormal step)
KEPT_FIRST_LAYERS = 4     # first-layer products kept (2.4 MB each on mnist-5k): activation moves reuse them


def _largest_magnitude(A) -> float:
    """max |a| in two reductions and no |A| array (0 for an empty A, NaN if A has one)."""
    return float(max(A.max(), -A.min())) if A.size else 0.0


def gamma(n_terms: int, unit_roundoff: float = 2.0 ** -24) -> float:
    """Higham's gamma_n = n u / (1 - n u): the relative error bound of an n-term dot product."""
    nu = n_terms * unit_roundoff
    if nu >= 1:
        raise ValueError(f"gamma_n needs n u < 1; got n = {n_terms}, u = {unit_roundoff}")
    return nu / (1 - nu)


class CertifiedLogits:
    """The test logits of networks scored on the same ``X``, the first layer in float32.

    ``logits(network)`` returns logits whose argmax is exactly float64's (see the
    module docstring); ``last_uncertain`` is how many samples the last call
    computed again in float64. The first layer's product is kept per layer object,
    so an activation-bit move (same weights) skips it. Thread-safe (the prefetch
    thread and the kernel share one)."""

    def __init__(self, X):
        X = np.ascontiguousarray(X, dtype=np.float64)
        self.X = X
        # the pixels some sample lights: the float32 product leaves the others out (exact zeros)
        self.columns = np.flatnonzero((X != 0).any(axis=0))
        self.X32 = np.ascontiguousarray(X[:, self.columns], dtype=np.float32)      # (n_samples, n_kept)
        # r_i = SAFETY gamma_{K_i+2} ||x_i||, K_i the nonzero terms of sample i (zero terms are
        # exact); the rounding of x and w to float32 adds two terms
        self._nonzero = np.count_nonzero(X, axis=1)
        self.x_norm = np.linalg.norm(X, axis=1)
        self.x_max = _largest_magnitude(X)
        self._x_safe = bool(np.isfinite(self.x_max) and self.x_max <= SAFE_HIGH)
        self.row_bound = SAFETY * np.array([gamma(k + 2) for k in self._nonzero]) * self.x_norm
        self._first = LRU(KEPT_FIRST_LAYERS)     # (id(layer), exact) -> (layer, its pre-activations)
        self._lock = threading.Lock()
        self.last_uncertain = 0

    @staticmethod
    def supports(network) -> bool:
        """Whether the float32 road applies (else ``logits`` takes the plain one)."""
        layers = network.layers
        return (len(layers) > 1 and network.dtype == np.float64 and network.activation in LIPSCHITZ_ACTIVATIONS
                and network.out_activation == "softmax" and layers[-1].n_outputs > 1
                and type(layers[0]) is Dense
                and all(type(getattr(layer, "inner", layer)) is Dense and type(layer) in (Dense, QuantizedInput)
                        for layer in layers[1:]))

    def logits(self, network) -> np.ndarray:
        if not (self.supports(network) and network.layers[0].n_inputs == self.X.shape[1]
                and self._float32_safe(network.layers[0])):
            self.last_uncertain = len(self.X)
            return network.logits(self.X)              # its own checks and errors: shapes, non-finite weights
        first, later = network.layers[0], network.layers[1:]
        if any(isinstance(layer, QuantizedInput) for layer in later):
            self.last_uncertain = 0
            return self._later_layers(network, self._first_layer(first, exact=True))
        first_z = self._first_layer(first, exact=False)
        Z = self._later_layers(network, first_z)
        uncertain = ~self._argmax_certain(Z, self.logit_bound(network, first_z))
        if uncertain.any():                            # these in float64, as network.logits computes them
            rows = self.X[uncertain]
            Z[uncertain] = self._later_layers(network, first.forward(rows))
        self.last_uncertain = int(uncertain.sum())
        return Z

    def _float32_safe(self, layer) -> bool:
        """Whether the float32 product is covered by the bound: every weight finite (one
        in a dropped row too: float64 would give NaN there) and no product or sum can
        overflow float32 (|x|, |w| and K |x| |w| far below 2^128). Underflow is
        covered in the bound (an absolute 2^-150 a rounding, ``logit_bound``)."""
        W = layer.value("weight")
        largest = _largest_magnitude(W)
        return bool(np.isfinite(largest) and largest <= SAFE_HIGH and self._x_safe
                    and largest * self.x_max * (W.shape[0] + 2) <= SAFE_HIGH)

    def logit_bound(self, network, first) -> np.ndarray:
        """(n_samples, n_classes): how far the float32 road's logits can be from
        float64's. ``first``: the first layer's pre-activations on the float32 road.
        A sum of rank-1 terms outer(per sample, per unit), each carried through |W| of
        every later layer: the float32 product's e_ij = r_i p_j (p the column norms of
        the first layer's weights over the kept pixels), and the float64 rounding of
        both computations, gamma64 (max_j |a_ij| ||w_k||_1 + |b_k|) a layer."""
        layer = network.layers[0]
        W = layer.value("weight")
        kept = self._kept_rows(W)
        p = np.sqrt(np.einsum("ij,ij->j", kept, kept))               # (n_units,) ||w_j||
        n = len(self.X)
        g = 2 * gamma(W.shape[0] + 2, 2.0 ** -53)                    # both computations' float64 rounding
        top = np.maximum(first.max(axis=1), -first.min(axis=1))      # (n,) max_j |z_ij|
        # below float32's normal range a rounding errs by up to 2^-150, not relatively: x, w, each product
        underflow = SAFETY * (self._nonzero + 2) * UNDERFLOW * (1 + _largest_magnitude(W) + self.x_max)
        terms = [(self.row_bound, p),                                # the float32 product
                 (underflow, np.ones_like(p)),
                 (g * (self.x_norm * p.max() + top), np.ones_like(p)),   # the products and the bias in float64
                 (np.full(n, g), np.abs(layer.value("bias")))]
        # max_j |a_ij|, the largest input of the next layer, over what either computation can have
        largest = top + self.row_bound * p.max()
        for layer in network.layers[1:]:
            W = np.abs(layer.value("weight"))
            if network.activation == "logistic":
                largest = np.maximum(largest, 1.0)                   # |relu|, |tanh|, |identity| <= |z|; logistic <= 1
            terms = [(rows, columns @ W) for rows, columns in terms]
            g = 2 * gamma(W.shape[0] + 2, 2.0 ** -53)
            column_sums, bias = W.sum(axis=0), np.abs(layer.value("bias"))
            terms += [(g * largest, column_sums), (np.full(n, g), bias)]
            largest = largest * column_sums.max() + bias.max() + sum(r.max() * c.max() for r, c in terms)
        return sum(np.outer(rows, columns) for rows, columns in terms)

    def _kept_rows(self, W):
        """The first layer's weights of the pixels kept (``columns``)."""
        return W if len(self.columns) == W.shape[0] else W[self.columns]

    @staticmethod
    def _later_layers(network, Z):
        """The logits from the first layer's pre-activations ``Z``."""
        return network._logits(activate(network.activation, Z), start=1)

    def _first_layer(self, layer, *, exact):
        """The first layer's pre-activations, in float64 (``exact``) or from a float32 product;
        kept per layer object and road."""
        key = (id(layer), exact)
        with self._lock:
            kept = self._first.peek(key)
        if kept is not None and kept[0] is layer:         # the same object (ids are reused once freed)
            return kept[1]
        if exact:
            Z = layer.forward(self.X)
        else:
            Z32 = self.X32 @ self._kept_rows(layer.value("weight")).astype(np.float32)   # (n_samples, n_units)
            Z = np.add(Z32, layer.value("bias"), dtype=np.float64)     # widened as it is added
        with self._lock:
            self._first.put(key, (layer, Z))
        return Z

    @staticmethod
    def _argmax_certain(Z, bound):
        """Samples whose top logit beats every other one by more than both bounds."""
        rows = np.arange(len(Z))
        top = np.argmax(Z, axis=1)
        lead = Z[rows, top][:, None] - Z - bound[rows, top][:, None] - bound
        lead[rows, top] = np.inf
        return (lead > 0).all(axis=1)
