"""Quantization: store each weight (and activation, and gradient) in fewer bits.

The lecture: 64-bit doubles (the Scala source model, and scikit-learn) can be
stored as 32 or 16-bit floats, as b-bit integers, or as 1 bit (binarization).
Its claimed strength: much less memory and fewer float operations; its
claimed limitation: quantized weights make training harder to converge.

Schemes (``SCHEMES``), for a weight matrix W (n_inputs, n_outputs):

- ``float16`` / ``float32``: a cast (IEEE half / single precision).
- ``symmetric`` (b = 2..16): q = round(r / S) in [-(2^(b-1) - 1), 2^(b-1) - 1],
  r ~ S q, with S = c / (2^(b-1) - 1) for the clipping range [-c, c].
- ``affine`` (b = 2..16): r = S (q - Z), q in [0, 2^b - 1], S = (hi - lo) / (2^b - 1),
  zero point Z = round(-lo / S) (Jacob et al. 2018): the range need not be
  centred on 0, so no level is wasted on a lopsided distribution.
- ``kmeans`` (b = 1..8): weight sharing, a codebook of 2^b centroids found by
  k-means with linear initialisation (Han et al. 2016, Deep Compression); each
  weight stores the b-bit index of its centroid.
- ``binary`` (1 bit): W ~ s sign(W), scale s = mean |W| per output neuron, the
  scale that minimises ||W - s sign(W)||^2 (XNOR-Net, Rastegari et al. 2016).
- ``ternary`` (2 bits): W ~ s t, t in {-1, 0, 1} with threshold
  0.7 mean |W| and s the mean |W| above it (Li & Liu 2016, a bonus).

Granularity: one scale for the whole matrix (``"tensor"``) or one per output
neuron, i.e. per column (``"neuron"``). Range: ``"minmax"`` uses the extreme
values; ``"mse"`` searches the clipping range that minimises the squared error
(at 2-3 bits min-max wastes levels on rare outliers and collapses).

Quantization re-encodes arrays and keeps the structure (``encoding.py``):
``quantize`` turns every weight-like array of every layer (a dense weight,
the two factors of a low-rank layer, the values of a sparse layer) into a
``QuantizedArray`` (b-bit codes + scales, zero points or codebook) and every
bias into float32; ``storage_bits`` counts all of it. NumPy has no low-bit
matrix product, so the forward pass decodes and multiplies in float:
measured speedup <= 1, said openly. The theoretical speedup of memory-bound
inference is the ratio of bytes moved.
"""
from __future__ import annotations

import numpy as np

from ._validation import (check_array_2d, check_choice, check_finite_layer, check_int, check_network,
                          check_random_state)
from .encoding import SCALE_BITS, FloatArray, QuantizedArray, code_dtype, pack_codes, unpack_codes  # noqa: F401
from .network import Network, StoredLayer, register_layer

SCHEMES = ("symmetric", "affine", "kmeans", "binary", "ternary", "float16", "float32")
GRANULARITIES = ("tensor", "neuron")
RANGE_METHODS = ("minmax", "mse")
BIT_RANGES = {"symmetric": (2, 16), "affine": (2, 16), "kmeans": (1, 8), "binary": (1, 1),
              "ternary": (2, 2), "float16": (16, 16), "float32": (32, 32)}
KMEANS_SAMPLE = 20_000   # k-means is fitted on at most this many weights, then every weight is assigned


def _check_options(scheme, bits, granularity, range_method, random_state) -> int:
    """The options every quantizing function shares; returns the bits."""
    bits = check_bits(scheme, bits)
    check_choice("granularity", granularity, GRANULARITIES)
    check_choice("range_method", range_method, RANGE_METHODS)
    check_random_state("random_state", random_state)
    return bits


def check_bits(scheme: str, bits) -> int:
    check_choice("scheme", scheme, SCHEMES)
    low, high = BIT_RANGES[scheme]
    return check_int(f"bits for {scheme}", bits, low=low, high=high)


# ----------------------------------------------------------------------------
# Quantizers: weight matrix -> (codes, how to dequantize)
# ----------------------------------------------------------------------------

def _per_column(W, granularity):
    """A view in which every column is one group: (n_rows, n_groups)."""
    return W if granularity == "neuron" else W.reshape(-1, 1)


def _as_stored(scale):
    """Scales are stored as float32: round them first, so the codes are computed with
    exactly the scale the layer will dequantize with."""
    return np.asarray(scale, dtype=np.float32).astype(np.float64)


def _uniform_params(lo, hi, bits, symmetric):
    """Scale and zero point for the range [lo, hi] (arrays, one per group)."""
    if symmetric:
        q_max = 2 ** (bits - 1) - 1
        c = np.maximum(np.maximum(np.abs(lo), np.abs(hi)), 1e-12)
        return _as_stored(c / q_max), np.zeros_like(c), -q_max, q_max
    q_max = 2**bits - 1
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)     # 0 must be exactly representable
    scale = _as_stored(np.maximum(hi - lo, 1e-12) / q_max)
    zero = np.clip(np.round(-lo / scale), 0, q_max)
    return scale, zero, 0, q_max


def _uniform_codes(G, scale, zero, q_min, q_max):
    """q = clip(round(G / S + Z), q_min, q_max), in one new array (a slider calls this)."""
    q = G / scale
    if np.any(zero):                 # symmetric: Z = 0, adding it changes nothing (a pass saved)
        q += zero
    np.round(q, out=q)
    return np.clip(q, q_min, q_max, out=q)


def _uniform_round_trip(G, scale, zero, q_min, q_max):
    q = _uniform_codes(G, scale, zero, q_min, q_max)
    return q, scale * (q - zero)


def _search_clip(G, bits, symmetric, n_candidates=32, max_rows=20_000, chunk=8):
    """Per group, the clipping range (a shrink factor of min-max, on a grid) with the
    least squared error. The error is measured on at most ``max_rows`` evenly spaced
    rows of each group (the ranges still come from all of them): slider speed.
    ``chunk`` candidates are tried at once, in one (chunk, rows, groups) array (a
    third of the time of one at a time; the same numbers, the same choice: the
    first of equal errors)."""
    lo, hi = G.min(axis=0), G.max(axis=0)
    if G.shape[0] > max_rows // G.shape[1] + 1:
        G = G[np.linspace(0, G.shape[0] - 1, max(max_rows // G.shape[1], 64)).astype(int)]
    ratios = np.linspace(1.0 / n_candidates, 1.0, n_candidates)
    errors = []
    for first in range(0, n_candidates, chunk):
        ratio = ratios[first:first + chunk, None]                           # (chunk, 1)
        scale, zero, q_min, q_max = _uniform_params(lo * ratio, hi * ratio, bits, symmetric)   # (chunk, groups)
        q = _uniform_codes(G, scale[:, None, :], zero[:, None, :], q_min, q_max)   # (chunk, rows, groups)
        if np.any(zero):
            q -= zero[:, None, :]
        q *= scale[:, None, :]                                               # the dequantized rows
        np.subtract(G, q, out=q)
        np.square(q, out=q)
        errors.append(q.sum(axis=1))
    best = np.argmin(np.concatenate(errors), axis=0)                         # (groups,) first least error
    return lo * ratios[best], hi * ratios[best]


def quantize_uniform(W, bits, *, symmetric=True, granularity="tensor", range_method="minmax"):
    """Uniform b-bit quantization of W. Returns (codes, scale, zero_point), codes as
    non-negative integers (q - q_min), scale and zero point one per group."""
    bits = check_int("bits", bits, low=1, high=16)            # the codes are stored in uint8 or uint16
    check_choice("granularity", granularity, GRANULARITIES)
    check_choice("range_method", range_method, RANGE_METHODS)
    W = np.asarray(W, dtype=np.float64)
    _check_finite_values(W)
    return _quantize_uniform(W, bits, symmetric, granularity, range_method)


def _check_finite_values(W):
    """A NaN or inf would become some code silently (uint8 has no NaN)."""
    if not np.isfinite(W.sum()) and not np.isfinite(W).all():     # the sum: one pass when all are finite
        raise ValueError(f"W must be finite to be quantized; it has {int(np.isnan(W).sum())} NaN and "
                         f"{int(np.isinf(W).sum())} inf")


def _quantize_uniform(W, bits, symmetric, granularity, range_method):
    """``quantize_uniform`` of a finite float64 W and checked options."""
    G = _per_column(W, granularity)
    if range_method == "mse":
        lo, hi = _search_clip(G, bits, symmetric)
    else:
        lo, hi = G.min(axis=0), G.max(axis=0)
    scale, zero, q_min, q_max = _uniform_params(lo, hi, bits, symmetric)
    q = _uniform_codes(G, scale, zero, q_min, q_max)
    q -= q_min                       # integers: exact
    return q.astype(code_dtype(bits)).reshape(np.shape(W)), scale, zero - q_min


def quantize_kmeans(W, bits, *, random_state=0):
    """Weight sharing: a 2^b-entry codebook by 1-D k-means with linear initialisation
    (Han et al. 2016), fitted on at most ``KMEANS_SAMPLE`` weights. Returns (codes, codebook)."""
    w = np.asarray(W, dtype=np.float64).ravel()
    k = 2**bits
    sample = w
    if w.size > KMEANS_SAMPLE:                   # fit on a sample: same centroids, 10x faster
        sample = np.random.default_rng(random_state).choice(w, KMEANS_SAMPLE, replace=False)
    sample = np.sort(sample)
    if _distinct_sorted(sample).size <= k:       # too few values in the sample: use them all
        sample = np.sort(w)
    distinct = _distinct_sorted(sample)
    if distinct.size <= k:                       # nothing to cluster: the codebook is exact
        codebook = np.concatenate([distinct, np.full(k - distinct.size, distinct[-1])])
    else:
        codebook = _kmeans_1d(sample, np.linspace(w.min(), w.max(), k))
    codebook = np.sort(codebook)
    # nearest centroid in 1-D: compare with the midpoints between sorted centroids
    codes = np.searchsorted((codebook[1:] + codebook[:-1]) / 2, w)
    return codes.astype(np.uint32).reshape(np.shape(W)), codebook


def _distinct_sorted(x):
    """The distinct values of a sorted array (``np.unique`` without its sort)."""
    return x[np.concatenate([[True], x[1:] != x[:-1]])] if x.size else x


def _kmeans_1d(x, centroids, max_iter=100, tol=1e-4):
    """Lloyd's k-means on sorted 1-D data ``x`` from the initial ``centroids``.

    In 1-D the nearest centroid splits the sorted data at the midpoints between
    sorted centroids, so every cluster is a slice of ``x`` found by binary search
    and its mean comes from prefix sums: an iteration costs O(k log n), not O(k n).
    The iterations are scikit-learn's ``KMeans`` (Lloyd): an empty cluster takes
    the point farthest from its centroid, which leaves its old cluster; it stops
    when no point changes cluster, when the centroids move less than
    ``tol`` x var(x) (sum of squared shifts), or after ``max_iter`` iterations.
    """
    n = x.size
    prefix = np.concatenate([[0.0], np.cumsum(x)])
    tolerance = tol * np.var(x)
    c = np.sort(np.asarray(centroids, dtype=np.float64))
    bounds = None
    for _ in range(max_iter):
        # cluster j is x[b[j]:b[j+1]]; a point on a midpoint joins the lower cluster, as in the codes
        new_bounds = np.concatenate([[0], np.searchsorted(x, (c[1:] + c[:-1]) / 2, side="right"), [n]])
        counts = np.diff(new_bounds).astype(np.float64)
        sums = prefix[new_bounds[1:]] - prefix[new_bounds[:-1]]
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            _relocate_empty(x, c, new_bounds, empty, counts, sums)
        # a donor left with no point (its only point moved to an empty cluster), or an
        # empty cluster with no distinct point left to take: it keeps its centroid
        new = np.divide(sums, counts, out=c.copy(), where=counts > 0)
        shift = np.sum((new - c) ** 2)
        c = np.sort(new)                    # a relocated centroid may be out of order
        if bounds is not None and np.array_equal(new_bounds, bounds):
            break                            # no point changed cluster
        if shift <= tolerance:
            break
        bounds = new_bounds
    return c


def _relocate_empty(x, c, bounds, empty, counts, sums):
    """scikit-learn's rule for empty clusters, in place on ``counts`` and ``sums``: each
    takes one of the points farthest from their centroid (farthest first, one per
    distinct value), and that point leaves the cluster it was in."""
    labels = np.repeat(np.arange(c.size), np.diff(bounds))
    distance = np.abs(x - c[labels])
    order = np.argsort(distance, kind="stable")[::-1]
    _, first = np.unique(x[order], return_index=True)       # one point per distinct value
    for j, point in zip(empty, order[np.sort(first)]):
        if distance[point] == 0:                            # every point sits on its centroid
            break
        counts[labels[point]] -= 1
        sums[labels[point]] -= x[point]
        counts[j], sums[j] = 1, x[point]


def quantize_binary(W):
    """XNOR-Net: codes 1 for W >= 0 else 0, scale = mean |W| per output neuron."""
    W = np.asarray(W, dtype=np.float64)
    return (W >= 0).astype(np.uint32), np.abs(W).mean(axis=0)


def quantize_ternary(W):
    """Ternary weights (Li & Liu 2016): t in {-1, 0, 1} coded {0, 1, 2}, one scale per neuron."""
    W = np.asarray(W, dtype=np.float64)
    delta = 0.7 * np.abs(W).mean(axis=0)
    t = np.where(W > delta, 1, np.where(W < -delta, -1, 0))
    kept = np.abs(W) * (t != 0)
    scale = kept.sum(axis=0) / np.maximum((t != 0).sum(axis=0), 1)
    return (t + 1).astype(np.uint32), scale


# ----------------------------------------------------------------------------
# Encoding arrays, and every array of a layer
# ----------------------------------------------------------------------------

def quantize_array(W, scheme="symmetric", bits=8, *, granularity="tensor", range_method="minmax",
                   random_state=0):
    """Encode one array (a weight matrix, a factor, the values of a sparse layer).

    Returns a ``FloatArray`` (float16/float32) or a ``QuantizedArray`` whose
    ``decode()`` gives the quantized numbers and ``levels()`` the grid. A 1-D
    array counts as one column. Binary and ternary always use one scale per column.
    """
    bits = check_bits(scheme, bits)
    check_choice("granularity", granularity, GRANULARITIES)
    check_choice("range_method", range_method, RANGE_METHODS)
    W = np.asarray(W, dtype=np.float64)
    if scheme not in ("float16", "float32"):
        _check_finite_values(W)
    return _encode_array(W, scheme, bits, granularity, range_method, random_state)


def _encode_array(W, scheme, bits, granularity, range_method, random_state):
    """``quantize_array`` of a finite float64 W and checked options (a layer's
    arrays, checked once by ``quantize_layer``: a slider move quantizes three)."""
    if scheme in ("float16", "float32"):
        return FloatArray(W, scheme)
    matrix = W.reshape(-1, 1) if W.ndim == 1 else W
    if scheme in ("symmetric", "affine"):
        codes, scale, zero = _quantize_uniform(matrix, bits, scheme == "symmetric", granularity, range_method)
        encoded = dict(scale=scale, zero_point=zero if scheme == "affine" else None)
    elif scheme == "kmeans":
        codes, codebook = quantize_kmeans(matrix, bits, random_state=random_state)
        encoded, granularity = dict(codebook=codebook), "tensor"
    else:
        codes, scale = quantize_binary(matrix) if scheme == "binary" else quantize_ternary(matrix)
        encoded, granularity = dict(scale=scale), "neuron"          # one scale per output neuron
    return QuantizedArray(scheme=scheme, bits=bits, codes=codes.reshape(W.shape), granularity=granularity,
                          **encoded)


def is_bias(name: str) -> bool:
    """Biases are stored as float32 and never quantized: n numbers a layer, and the
    rounding error of a bias shifts every output of its neuron."""
    return name == "bias"


def quantize_layer(layer, scheme="symmetric", bits=8, *, granularity="tensor", range_method="minmax",
                   random_state=0):
    """The same layer (same structure) with every weight-like array re-encoded by
    ``quantize_array`` and its bias stored as float32. Works for any ``StoredLayer``
    (dense, low-rank, sparse) and for a layer wrapped by ``QuantizedInput``."""
    if not isinstance(getattr(layer, "inner", layer), StoredLayer):
        raise TypeError(f"layer must be a layer (Dense, LowRank, ...) such as network.layers[0]; "
                        f"got {type(layer).__name__}")
    check_finite_layer("layer weights", layer)
    bits = _check_options(scheme, bits, granularity, range_method, random_state)
    return _quantize_layer(layer, scheme, bits, granularity, range_method, random_state)


def _quantize_layer(layer, scheme, bits, granularity, range_method, random_state):
    """``quantize_layer`` of a layer with finite weights and checked options."""
    if isinstance(layer, QuantizedInput):
        return QuantizedInput(_quantize_layer(layer.inner, scheme, bits, granularity, range_method, random_state),
                              bits=layer.bits, low=layer.low, high=layer.high)
    arrays = {}
    for name in layer.quantizable_names():
        values = layer.value(name)
        if is_bias(name):
            arrays[name] = FloatArray(values, "float32")
        else:
            arrays[name] = _encode_array(values, scheme, bits, granularity, range_method, random_state)
    return layer.with_arrays(**arrays)


# ----------------------------------------------------------------------------
# Activations: quantize what a layer receives
# ----------------------------------------------------------------------------

def fake_quantize_range(X, bits, low, high):
    """Round X to 2^b levels spread uniformly over [low, high] (values outside are clipped)."""
    scale = max(high - low, 1e-12) / (2**bits - 1)
    return np.round((np.clip(X, low, high) - low) / scale) * scale + low


@register_layer
class QuantizedInput:
    """Wraps a layer so that its input (a hidden activation) is quantized to b bits
    over a range calibrated on training data. Stores the inner layer and the range."""

    kind = "quantized_input"

    def __init__(self, inner, *, bits, low, high):
        # the range is stored as float32 (counted as 2 x 32 bits): round it once, here
        low, high = (float(v) for v in np.float32([low, high]))
        self.inner, self.bits, self.low, self.high = inner, int(bits), low, high
        self.params = inner.params

    n_inputs = property(lambda self: self.inner.n_inputs)
    n_outputs = property(lambda self: self.inner.n_outputs)
    n_params = property(lambda self: self.inner.n_params)
    dtype = property(lambda self: self.inner.dtype)

    def storage_bits(self):
        return self.inner.storage_bits() + 2 * SCALE_BITS          # + the range [low, high]

    def flops(self, n_samples):
        return self.inner.flops(n_samples)

    def forward(self, X):
        return self.inner.forward(fake_quantize_range(X, self.bits, self.low, self.high))

    def backward(self, X, grad_out):
        # straight-through: the rounding passes gradients unchanged
        return self.inner.backward(fake_quantize_range(X, self.bits, self.low, self.high), grad_out)

    def arrays(self):
        arrays = {f"inner.{k}": v for k, v in self.inner.arrays().items()}
        arrays.update(inner_kind=np.array(self.inner.kind), bits=np.array(self.bits),
                      range=np.array([self.low, self.high], dtype=np.float32))   # 2 x 32 bits, as counted
        return arrays

    @classmethod
    def from_arrays(cls, a):
        from .network import layer_class

        inner = layer_class(a["inner_kind"]).from_arrays(
            {k[len("inner."):]: v for k, v in a.items() if k.startswith("inner.")})
        return cls(inner, bits=int(a["bits"]), low=float(a["range"][0]), high=float(a["range"][1]))

    def to_dense(self):
        return self.inner.to_dense()

    def decoded(self, dtype="float64"):
        return QuantizedInput(self.inner.decoded(dtype), bits=self.bits, low=self.low, high=self.high)

    def astype(self, dtype):
        return QuantizedInput(self.inner.astype(dtype), bits=self.bits, low=self.low, high=self.high)

    def __repr__(self):
        return f"QuantizedInput({self.bits} bit in [{self.low:.3g}, {self.high:.3g}]) -> {self.inner!r}"


def activation_ranges(network: Network, X) -> list[tuple[float, float]]:
    """(min, max) of the input of every layer after the first, on calibration data X."""
    X = check_array_2d("X_calibration", X, n_features=network.n_features)
    inputs, _ = network.forward_all(X.astype(network.dtype))
    return [(float(A.min()), float(A.max())) for A in inputs[1:]]


# ----------------------------------------------------------------------------
# Whole networks: post-training quantization, QAT, quantized gradients
# ----------------------------------------------------------------------------

def quantize(network: Network, scheme="symmetric", bits=8, *, granularity="tensor", range_method="minmax",
             activation_bits=None, X_calibration=None, random_state=0) -> Network:
    """Post-training quantization (PTQ): every layer's weights, and optionally the
    hidden activations at ``activation_bits`` over ranges calibrated on ``X_calibration``."""
    check_network("network", network)
    bits = _check_options(scheme, bits, granularity, range_method, random_state)
    if activation_bits is not None:
        check_int("activation_bits", activation_bits, low=1, high=16)
        if X_calibration is not None:
            check_array_2d("X_calibration", X_calibration, n_features=network.n_features)
    layers = [_quantize_layer(layer, scheme, bits, granularity, range_method, random_state)
              for layer in network.layers]                   # check_network checked every layer
    quantized = network.replace_layers(layers)
    if activation_bits is not None:
        if X_calibration is None:
            raise ValueError("activation_bits needs X_calibration (training data) to set the ranges; got None")
        # ranges from the original network: what the activations are meant to be
        quantized = quantize_activations(quantized, activation_bits, activation_ranges(network, X_calibration))
    return quantized


def quantize_activations(network: Network, bits: int, ranges) -> Network:
    """Quantize the input of every layer after the first (the hidden activations)
    to ``bits`` over the given (low, high) ranges (see ``activation_ranges``)."""
    bits = check_int("activation_bits", bits, low=1, high=16)
    return network.replace_layers(network.layers[:1] + [
        QuantizedInput(layer, bits=bits, low=lo, high=hi) for layer, (lo, hi) in zip(network.layers[1:], ranges)])


def weight_quantizer(network: Network, scheme="symmetric", bits=8, *, granularity="tensor",
                     range_method="minmax", random_state=0):
    """A ``weight_transform`` hook for the training engine: fake quantization.

    The forward pass sees decode(encode(w)) for every weight-like array of any
    structure (a dense weight, both low-rank factors, sparse values); the
    gradient flows straight through to the float master arrays (the
    straight-through estimator, Bengio et al. 2013; Jacob et al. 2018).
    Biases stay float. k-means codebooks are fitted once, on the starting
    weights; every step snaps to them.
    """
    check_network("network", network)
    bits = _check_options(scheme, bits, granularity, range_method, random_state)
    codebooks = {}
    if scheme == "kmeans":
        for i, layer in enumerate(network.layers):
            for name, w in layer.params.items():
                if not is_bias(name):
                    codebooks[i, name] = quantize_kmeans(w, bits, random_state=random_state)[1]

    def transform(i, name, w):
        if is_bias(name):
            return w
        if scheme == "kmeans":
            book = codebooks[i, name]
            return book[np.searchsorted((book[1:] + book[:-1]) / 2, w)]
        if scheme in ("float16", "float32"):
            return w.astype(scheme).astype(w.dtype)
        matrix = w.reshape(-1, 1) if w.ndim == 1 else w
        if scheme in ("symmetric", "affine"):
            G = _per_column(matrix, granularity)
            lo, hi = (_search_clip(G, bits, scheme == "symmetric") if range_method == "mse"
                      else (G.min(axis=0), G.max(axis=0)))
            params = _uniform_params(lo, hi, bits, scheme == "symmetric")
            return _uniform_round_trip(G, *params)[1].reshape(w.shape).astype(w.dtype, copy=False)
        if scheme == "binary":
            codes, scale = quantize_binary(matrix)
            return np.where(codes == 1, scale, -scale).reshape(w.shape).astype(w.dtype, copy=False)
        codes, scale = quantize_ternary(matrix)
        return ((codes - 1.0) * scale).reshape(w.shape).astype(w.dtype, copy=False)

    return transform


def float_master(network: Network) -> Network:
    """A trainable float64 copy with the same structure: every array decoded."""
    return network.replace_layers([layer.decoded("float64") for layer in network.layers])


def quantization_aware_training(network: Network, X, y, scheme="symmetric", bits=4, *, granularity="tensor",
                                range_method="minmax", epochs=3, learning_rate=5e-4, random_state=0,
                                **train_kwargs):
    """QAT: train a float copy with fake-quantized weights (float masters, straight-through
    gradients), then quantize the trained masters. Keeps the structure (a low-rank
    network stays low-rank). Returns (quantized network, history)."""
    from .training import train

    check_network("network", network)                   # before anything: the training comes last
    bits = _check_options(scheme, bits, granularity, range_method, random_state)
    master = float_master(network)                       # new arrays: the float master weights
    hook = weight_quantizer(master, scheme, bits, granularity=granularity, range_method=range_method,
                            random_state=random_state)
    history = train(master, X, y, epochs=epochs, learning_rate=learning_rate, weight_transform=hook,
                    random_state=random_state, **train_kwargs)
    return quantize(master, scheme, bits, granularity=granularity, range_method=range_method,
                    random_state=random_state), history


def gradient_quantizer(bits: int, random_state=0):
    """A ``gradient_transform`` hook: each gradient tensor rounded to b bits with
    stochastic rounding, so that the rounded gradient is unbiased (E[q] = g).

    b >= 2: g ~ S q with S = max|g| / (2^(b-1) - 1), q = floor(g / S + u), u ~ U[0, 1).
    b = 1: g ~ m s with m = max|g| and s = +1 with probability (1 + g/m) / 2, else -1.
    """
    bits = check_int("gradient bits", bits, low=1, high=16)
    check_random_state("random_state", random_state)
    rng = np.random.default_rng(random_state)

    def transform(i, name, g):
        m = np.abs(g).max()
        if m == 0:
            return g
        if bits == 1:
            return np.where(rng.random(g.shape) < (1 + g / m) / 2, m, -m)
        scale = m / (2 ** (bits - 1) - 1)
        return np.floor(g / scale + rng.random(g.shape)) * scale

    return transform


# ----------------------------------------------------------------------------
# What each scheme takes, and sweeps over schemes and bit-widths
# ----------------------------------------------------------------------------

def scheme_options(scheme: str) -> dict:
    """The settings ``scheme`` takes: ``bits`` (low, high), and the ``granularity``
    and ``range_method`` values it can use (a 1-tuple: fixed whatever is asked;
    None: the setting means nothing to it).

    Only the uniform schemes have a range to choose and a scale per tensor or per
    neuron; binary and ternary always keep one alpha per neuron; k-means has a
    codebook and the float formats have neither.
    """
    check_choice("scheme", scheme, SCHEMES)
    uniform = scheme in ("symmetric", "affine")
    if uniform:
        granularity = GRANULARITIES
    elif scheme in ("binary", "ternary"):
        granularity = ("neuron",)
    else:
        granularity = None
    return {"bits": BIT_RANGES[scheme], "granularity": granularity,
            "range_method": RANGE_METHODS if uniform else None}


def canonical_setting(scheme: str, bits: int, granularity="tensor", range_method="minmax") -> dict:
    """The PTQ keyword arguments with the settings ``scheme`` ignores normalised away,
    so two settings that build the same network compare equal (a cache key).

    Bits outside the scheme's range raise (see ``check_bits``)."""
    options = scheme_options(scheme)
    bits = check_bits(scheme, bits)
    if options["granularity"] is not None and len(options["granularity"]) > 1:
        check_choice("granularity", granularity, options["granularity"])
    else:
        granularity = "tensor"          # what quantize_layer is called with; it knows the rest
    if options["range_method"] is not None:
        check_choice("range_method", range_method, options["range_method"])
    else:
        range_method = "minmax"
    return dict(scheme=scheme, bits=bits, granularity=granularity, range_method=range_method)


# ----------------------------------------------------------------------------
# Convergence from scratch: the same training with quantized weights or gradients
# ----------------------------------------------------------------------------

def convergence_runs(sizes, X, y, *, bits=(8, 4, 2, 1), quantized="weights", seeds=(0, 1, 2), epochs=5,
                     batch_size=128, learning_rate=3e-3, X_eval=None, y_eval=None, progress=True) -> dict:
    """Train an MLP of layer ``sizes`` from scratch, once per seed, in float and at each bit-width.

    ``quantized="weights"``: the forward pass sees fake-quantized weights
    (``weight_quantizer``: symmetric with one min-max range per neuron for
    b >= 2, XNOR-style binary for b = 1), gradients flow straight through to
    float masters. Per-neuron min-max is a sensible range here: a freshly
    initialised layer has no outliers to waste levels on, and each neuron's
    range follows its own weights as they grow (an MSE search at every step
    would cost about three times the training). ``quantized="gradients"``: weights stay float and every gradient
    is rounded to b bits stochastically (``gradient_quantizer``, unbiased).
    Every arm of one seed starts from the same random weights and sees the
    batches in the same order, so the arms differ only by the quantization.

    Returns {label: [History per seed]}, labels "float" then "b-bit"; each
    History has the training loss per epoch and, with ``X_eval``/``y_eval``,
    the accuracy on them per epoch (in ``test_accuracy``, whatever split it is).
    ``progress`` shows one bar over all runs.
    """
    from .network import random_network
    from .training import train

    check_choice("quantized", quantized, ("weights", "gradients"))
    bits = [check_int("bits", b, low=1, high=16) for b in bits]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must list at least one seed; got none")
    arms = [None] + bits
    runs = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(arms) * len(seeds), desc=f"quantized {quantized}", unit="run", leave=False)
    for b in arms:
        label = "float" if b is None else f"{b}-bit"
        runs[label] = []
        for seed in seeds:
            network = random_network(tuple(sizes), random_state=seed)
            weight_hook = gradient_hook = None
            if b is not None and quantized == "weights":
                weight_hook = (weight_quantizer(network, "binary", 1) if b == 1 else
                               weight_quantizer(network, "symmetric", b, granularity="neuron"))
            elif b is not None:
                gradient_hook = gradient_quantizer(b, random_state=seed)
            runs[label].append(train(network, X, y, epochs=epochs, batch_size=batch_size,
                                     learning_rate=learning_rate, weight_transform=weight_hook,
                                     gradient_transform=gradient_hook, X_test=X_eval, y_test=y_eval,
                                     random_state=seed, progress=False))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return runs
