"""Test logits with the first two layers in float32 and a proof that the argmax is float64's.

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
r_i = gamma_{K_i + 2} ||x_i||, p_j = ||w_j|| over the kept pixels, plus the
float32 rounding of the bias and of its addition (u |b_j| + u max_j |z_ij|).

The hidden activation is relu or identity, exact in float32 and 1-Lipschitz,
so the error passes unchanged, and the second layer's product runs in float32
too, on the float32 activations a: its own rounding is at most
gamma_{K+2} max_j |a_ij| ||w_k||_1 (a measured per sample, K = the layer's
inputs), and the error e coming in is mapped to e |W|. The product is widened
to float64 as its bias is added; later layers run in float64 (they are small).
Keeping the 1,000 x 300 activations in float32 halves the memory a move
touches (no float64 copy of them at all), which on a laptop is most of the
gain.

At the logits, a sample is certain when its top class leads every other class k
by more than e_top + e_k. The uncertain ones (on mnist-5k, 0.3-3 % of the 1,000
test images: the bound is a worst case, ~10^4 x the error seen) are computed
again in float64. The float64 steps of both computations (the reference's
products and biases; the bias added to the second float32 product; every later
layer) round too, by at most gamma64 (|a| |w| + |b|) a layer, 2^-53 relative:
tiny next to the float32 bound, except where a bias or an activation is large
next to it. So they are bounded explicitly, with |a| |w_k| <= max_j |a_j| ||w_k||_1,
and carried through the later layers like e (``logit_bound``); the whole bound
is then doubled for what these estimates leave out. Below the normal range a
rounding errs absolutely, by up to 2^-150 in float32 and 2^-1075 in float64,
which the bound adds; a network or X whose float32 products could overflow
(|x| |w| K above 2^100), or whose float64 activations or logits could reach
2^1000, takes the plain road.

A recomputed sample is float64, but not summed in network.logits's order: a
BLAS splits a (rows, 784) product into other blocks than the (1000, 784) one,
and the last bits differ. The float64 terms of the bound alone bound that
difference; a recomputed sample still within them of a tie (float64 itself
cannot tell its classes apart) takes network.logits's own numbers. So the
predicted labels, and the accuracy, are exactly network.logits's; the logits of
certain samples differ from float64's by at most their bound.

An activation quantizer (``QuantizedInput``) rounds to a grid: a bound this
loose would leave almost every sample near a rounding boundary (all of them at
8 bits). So a network with one takes the exact road: the first layer's float64
product, kept per quantized (immutable) weights (an activation-bit move reuses
it), then the later layers, the very operations of ``network.logits``.

Used for networks of ``Dense`` layers (encoded or not), computing in float64
with a softmax output: relu or identity hidden layers take the float32 road,
any of them behind ``QuantizedInput`` the exact road (tanh and logistic too);
any other network is scored by ``network.logits`` (the plain road).
"""
from __future__ import annotations

import threading

import numpy as np

from .._validation import check_array_2d
from ..encoding import Encoded
from ..network import Dense, activate
from ..quantization import QuantizedInput
from .base import LRU

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")   # what a Network computes in the hidden layers
FLOAT32_ACTIVATIONS = ("relu", "identity")     # exact in float32 and 1-Lipschitz: the float32 road's
SAFETY = 2.0              # every bound doubled: covers the float64 rounding of both computations
SAFE_HIGH = 2.0 ** 100     # |x|, |w| and K |x| |w| at most this: no float32 product or sum overflows (2^128)
UNDERFLOW = 2.0 ** -150    # a float32 rounding's absolute error below the normal range (half a subnormal step)
U32, U64 = 2.0 ** -24, 2.0 ** -53                  # unit roundoffs
UNDERFLOW64 = 2.0 ** -1074  # >= a float64 rounding's absolute error below the normal range (2^-1075 rounds to 0)
FLOAT64_SAFE = 2.0 ** 1000  # |logits| and every float64 activation bounded by this: no float64 overflow either way
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
    """The test logits of networks scored on the same ``X``, the first two layers in float32.

    ``logits(network)`` returns logits whose argmax is exactly float64's (see the
    module docstring); ``last_uncertain`` is how many samples the last call
    computed again in float64. The first layer's product is kept per layer object
    whose arrays are all encoded (immutable), so an activation-bit move (same
    quantized weights) skips it. Thread-safe (the prefetch
    thread and the kernel share one)."""

    def __init__(self, X):
        X = np.ascontiguousarray(check_array_2d("X", X), dtype=np.float64)    # as network.logits refuses X
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
        self._first = LRU(KEPT_FIRST_LAYERS)     # (id(layer), road) -> (layer, what _first_layer returns)
        self._lock = threading.Lock()
        self.last_uncertain = 0

    @staticmethod
    def supports(network) -> bool:
        """Whether the float32 road applies (else ``logits`` takes the plain one)."""
        layers = network.layers
        return (len(layers) > 1 and network.dtype == np.float64 and network.activation in ACTIVATIONS
                and network.out_activation == "softmax" and layers[-1].n_outputs > 1
                and type(layers[0]) is Dense
                and all(type(getattr(layer, "inner", layer)) is Dense and type(layer) in (Dense, QuantizedInput)
                        for layer in layers[1:]))

    def logits(self, network) -> np.ndarray:
        if not (self.supports(network) and network.layers[0].n_inputs == self.X.shape[1]):
            return self._plain(network)
        first, later = network.layers[0], network.layers[1:]
        if any(isinstance(layer, QuantizedInput) for layer in later):
            self.last_uncertain = 0
            return self._later_layers(network, self._first_layer(first, network.activation, exact=True))
        if network.activation not in FLOAT32_ACTIVATIONS or not self._float32_safe(network):
            return self._plain(network)
        A, A_max = self._first_layer(first, network.activation, exact=False)
        bound, bound64, magnitude = self._bounds(network, A_max)
        second = later[0]
        W = second.value("weight")
        if (A_max.max() * _largest_magnitude(W) * (W.shape[0] + 2) > SAFE_HIGH    # float32 could overflow
                or not magnitude <= FLOAT64_SAFE):    # float64 could overflow in one computation (NaN: a bad weight)
            return self._plain(network)
        Z = np.add(A @ W.astype(np.float32), second.value("bias"), dtype=np.float64)    # widened as it is added
        if len(later) > 1:
            Z = network._logits(activate(network.activation, Z), start=2)
        uncertain = ~self._argmax_certain(Z, bound)
        if uncertain.any():                            # these in float64, as network.logits computes them
            Z[uncertain] = self._later_layers(network, first.forward(self.X[uncertain]))
            # ... though not in its order: a BLAS sums a (rows, 784) product in other blocks than the
            # (n, 784) one. Where float64 is within its own rounding of a tie, network.logits's numbers decide.
            tied = np.flatnonzero(uncertain)[~self._argmax_certain(Z[uncertain], bound64[uncertain])]
            if tied.size:
                Z[tied] = network.logits(self.X)[tied]
        self.last_uncertain = int(uncertain.sum())
        return Z

    def _plain(self, network):
        self.last_uncertain = len(self.X)
        return network.logits(self.X)              # its own checks and errors: shapes, non-finite weights

    def _float32_safe(self, network) -> bool:
        """Whether the float32 products are covered by the bound: every weight and bias
        of the first two layers finite (one in a dropped row too: float64 would give
        NaN there) and no first-layer product or sum can overflow float32 (|x|, |w|, |b|
        and K |x| |w| far below 2^128; the second layer's is checked on its measured
        inputs in ``logits``). Underflow is covered in the bound (an absolute 2^-150 a
        rounding, ``logit_bound``)."""
        first, second = network.layers[:2]
        W = first.value("weight")
        largest = _largest_magnitude(W)
        others = max(_largest_magnitude(first.value("bias")), _largest_magnitude(second.value("weight")))
        return bool(np.isfinite(largest) and largest <= SAFE_HIGH and self._x_safe
                    and largest * self.x_max * (W.shape[0] + 2) <= SAFE_HIGH
                    and np.isfinite(others) and others <= SAFE_HIGH)

    def logit_bound(self, network) -> np.ndarray:
        """(n_samples, n_classes): how far the float32 road's logits can be from
        float64's. A sum of rank-1 terms outer(per sample, per unit), each carried
        through |W| of every later layer: the first float32 product's e_ij = r_i p_j
        (p the column norms of the first layer's weights over the kept pixels), the
        float32 rounding of the first bias and its addition, the second float32
        product's gamma32 max_j |a_ij| ||w_k||_1, and the float64 rounding of both
        computations, gamma64 (max_j |a_ij| ||w_k||_1 + |b_k|) a layer, plus
        2^-1074 an operation below float64's normal range. max_j |z_ij|
        of the first layer is bounded by Cauchy-Schwarz, ||x_i|| max_j ||w_j|| +
        max_j |b_j|, not scanned: it only scales the tiny rounding terms. The terms
        are summed as one (n_samples, n_terms) @ (n_terms, n_classes) product."""
        A_max = self._first_layer(network.layers[0], network.activation, exact=False)[1]
        return self._bounds(network, A_max)[0]

    @np.errstate(over="ignore", invalid="ignore")     # an overflow: magnitude inf or NaN, the plain road
    def _bounds(self, network, A_max):
        """(``logit_bound``, its float64 terms alone, the largest |activation| or |logit|
        either computation can reach in a float64 layer). The float64 terms bound how
        far two float64 computations of the network, summing in different orders, can
        be apart. ``A_max``: (n,) max_j |a_ij| of the float32 road's first activations."""
        first = network.layers[0]
        W = first.value("weight")
        kept = self._kept_rows(W)
        p = np.sqrt(np.einsum("ij,ij->j", kept, kept))               # (n_units,) ||w_j||, kept pixels
        p_max, bias = (p.max() if p.size else 0.0), np.abs(first.value("bias"))
        n, b_max, ones = len(self.X), (bias.max() if bias.size else 0.0), np.ones_like(p)
        # max_j |z_ij| (and so |a_ij|) over what either computation can have
        largest = self.x_norm * p_max + b_max + self.row_bound * p_max
        # below float32's normal range a rounding errs by up to 2^-150, not relatively: x, w
        # (|w| <= p_max over the kept pixels), each product, the bias and its addition
        underflow = SAFETY * (self._nonzero + 4) * UNDERFLOW * (1 + p_max + self.x_max)
        float32 = [(self.row_bound, p),                             # the first float32 product
                   (underflow + SAFETY * U32 * largest, ones),       # its underflow; the float32 sum z + b
                   (np.full(n, SAFETY * U32), bias)]                 # b rounded to float32
        float64 = self._float64_terms(largest, ones, bias, W.shape[0])       # the reference's first layer
        magnitude = largest.max()
        for i, layer in enumerate(network.layers[1:]):
            W = np.abs(layer.value("weight"))
            float32 = [(r, c @ W) for r, c in float32]
            float64 = [(r, c @ W) for r, c in float64]
            column_sums, bias = W.sum(axis=0), np.abs(layer.value("bias"))
            float64 += self._float64_terms(largest, column_sums, bias, W.shape[0])
            if i == 0:                                   # the second layer's float32 product, and its underflow
                float32 += [(SAFETY * gamma(W.shape[0] + 2, U32) * A_max, column_sums),
                            (SAFETY * (W.shape[0] + 2) * UNDERFLOW * (1 + A_max), np.ones_like(column_sums))]
            largest = (largest * column_sums.max() + bias.max()
                       + sum(r.max() * c.max() for r, c in float32 + float64))
            magnitude = max(magnitude, largest.max())
        terms = float32 + float64
        bound = np.column_stack([r for r, _ in terms]) @ np.vstack([c for _, c in terms])
        bound64 = np.column_stack([r for r, _ in float64]) @ np.vstack([c for _, c in float64])
        return bound, bound64, magnitude

    @staticmethod
    def _float64_terms(largest, columns, bias, n_inputs):
        """A float64 layer's rounding in both computations (g = 2 gamma64_{K+2}), as
        (per sample, per unit) terms: g max_j |a_ij| ||w_k||_1 (``largest`` x
        ``columns``), g |b_k|, and below the normal range 2^-1074 an operation
        (K products, the sum, the bias; both computations; SAFETY)."""
        n, g = len(largest), 2 * gamma(n_inputs + 2, U64)
        return [(g * largest, columns), (np.full(n, g), bias),
                (np.full(n, SAFETY * 2 * (n_inputs + 2) * UNDERFLOW64), np.ones_like(columns))]

    def _kept_rows(self, W):
        """The first layer's weights of the pixels kept (``columns``)."""
        return W if len(self.columns) == W.shape[0] else W[self.columns]

    @staticmethod
    def _later_layers(network, Z):
        """The logits from the first layer's pre-activations ``Z``."""
        return network._logits(activate(network.activation, Z), start=1)

    def _first_layer(self, layer, activation, *, exact):
        """``exact``: the first layer's pre-activations in float64. Else (the float32
        road) its activations in float32, from a float32 product and bias, with their
        largest magnitude per sample: (A, max_j |a_ij|). Kept per layer object and road."""
        key = (id(layer), exact, None if exact else activation)
        # kept only for a layer whose arrays are all encoded (immutable): a float array changed
        # in place (training) would leave its product stale
        immutable = all(isinstance(layer.stored(name), Encoded) for name in layer.array_names)
        with self._lock:
            kept = self._first.peek(key) if immutable else None
        if kept is not None and kept[0] is layer:         # the same object (ids are reused once freed)
            return kept[1]
        if exact:
            out = layer.forward(self.X)
        else:
            A = self.X32 @ self._kept_rows(layer.value("weight")).astype(np.float32)   # (n_samples, n_units)
            A += layer.value("bias").astype(np.float32)
            if activation == "relu":
                np.maximum(A, 0, out=A)
                out = A, A.max(axis=1).astype(np.float64)
            else:                                          # identity
                out = A, np.maximum(A.max(axis=1), -A.min(axis=1)).astype(np.float64)
        if immutable:
            with self._lock:
                self._first.put(key, (layer, out))
        return out

    @staticmethod
    def _argmax_certain(Z, bound):
        """Samples whose top logit beats every other one by more than both bounds."""
        rows = np.arange(len(Z))
        top = np.argmax(Z, axis=1)
        lead = Z[rows, top][:, None] - Z - bound[rows, top][:, None] - bound
        lead[rows, top] = np.inf
        return (lead > 0).all(axis=1)
