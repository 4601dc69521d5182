"""Pruning: remove the weights (or whole neurons) that matter least.

The lecture: pruning "removes parameters which have least effect on the
accuracy of the network". Which ones have least effect is the *criterion*:

- magnitude  |w|                  (Han et al. 2015, "Learning both weights and connections")
- taylor     |w dL/dw|            first-order estimate of the change in the training loss
                                  when w is set to 0 (Molchanov et al. 2017)
- random                          the control every pruning curve needs
- activation mean activation of a hidden unit on training data (neurons only)

A *mask* M (same shape as W, True = kept) prunes a layer: W <- M * W. Biases
are never pruned: n numbers a layer against m n weights, and a pruned bias
would shift every output of its neuron. Sparsity counts weights only.

*Scope*: ``"layer"`` prunes each layer to its own fraction; ``"global"`` ranks
every weight of the network together and removes the lowest scores overall,
so each layer ends with the sparsity the ranking gives it (reported in
``PruneResult.kept``). Exactly round(s N) weights are removed (N: the weights
in scope); ties are broken by position (a stable sort), so the sparsity is
exact even when many scores are equal (the zeros of dead input pixels).

*Structure*: ``"weights"`` (unstructured: any single weight) or ``"neurons"``
(a whole hidden unit: its column of W_i, its bias and its row of W_{i+1}).
Neuron pruning physically shrinks the layers, so its speedup is a real dense
one; weight pruning needs a sparse format to be smaller or faster at all.

Storing a sparse matrix (``Sparse`` layer, formats in ``SPARSE_FORMATS``):

- dense:    every m n value, zeros included (the trap: no saving at all);
- csr:      of W^T (a row per output neuron): values + an input index per
            value + n + 1 row pointers, in the narrowest unsigned types that fit;
- bitmask:  one bit per weight (m n bits) + the values;
- relative: Deep Compression (Han et al. 2016): the gap to the previous
            stored position in k bits; a gap longer than 2^k gets filler
            zeros, which are stored values like any other.

Fine-tuning re-applies the masks after every optimizer step (a projection
onto the allowed weights, the engine's ``after_step`` hook). Iterative
pruning alternates pruning and fine-tuning, with fixed steps or the gradual
cubic schedule of Zhu & Gupta 2017. Lottery tickets (Frankle & Carbin 2019)
rewind the surviving weights to their initial values; Liu et al. 2019
("Rethinking the value of network pruning") retrain the pruned architecture
from scratch.
"""
from __future__ import annotations

import io
import numbers
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from ._validation import (check_array_2d, check_bool, check_choice, check_float, check_int, check_labels,
                          check_network)
from ._validation import check_random_state as check_seed
from .encoding import Encoded, array_storage_bits, pack_codes, unpack_codes
from .network import Dense, Network, StoredLayer, random_network, register_layer

CRITERIA = ("magnitude", "random", "taylor", "activation")
SCOPES = ("global", "layer")
PRUNE_STRUCTURES = ("weights", "neurons")
SPARSE_FORMATS = ("dense", "csr", "bitmask", "relative")
SCHEDULES = ("cubic", "linear")
DEFAULT_INDEX_BITS = 5            # Deep Compression's choice for fully connected layers


# ----------------------------------------------------------------------------
# The sparse layer
# ----------------------------------------------------------------------------

def index_dtype(max_value: int) -> np.dtype:
    """The narrowest unsigned integer type holding 0..max_value."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if max_value <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"an index must be below 2^64; got {max_value}")


def relative_fillers(positions: np.ndarray, index_bits: int) -> np.ndarray:
    """Positions of the filler zeros the relative format needs so that every gap
    (to the previous stored position, the first one counted from -1) is at most 2^k:
    a gap g gets ceil(g / 2^k) - 1 fillers, every 2^k positions."""
    span = 2 ** index_bits
    previous = np.concatenate([[-1], positions[:-1]])
    gaps = positions - previous
    n_fill = (gaps - 1) // span                                  # ceil(g / span) - 1
    starts = np.repeat(previous, n_fill)
    steps = np.arange(n_fill.sum()) - np.repeat(np.cumsum(n_fill) - n_fill, n_fill) + 1
    return starts + steps * span


def _frozen(array):
    array.flags.writeable = False
    return array


@register_layer
class Sparse(StoredLayer):
    """A pruned layer ``X @ W + b`` that stores only W's surviving values and their positions.

    ``values`` holds one number per stored position (any encoding: it is the
    only array a quantizer re-encodes); ``positions`` are flat indices into
    W^T (n_outputs, n_inputs), row by row: output-major, each neuron's incoming
    weights together, the order a CSR kernel of W^T reads them in. In the
    ``"dense"`` format every position is stored (zeros included); the relative
    format adds filler zeros.

    ``n_params`` = the kept weights + the bias, in every format: the zeros the
    dense format stores and the fillers of the relative format are stored (and
    counted in ``storage_bits``) but are no parameters.

    Storage, with v bits a value, nnz stored values, W of shape (m, n):
      dense     m n v
      csr       nnz v + nnz c + (n + 1) p,   c, p: narrowest uint for m - 1 and nnz
      bitmask   nnz v + m n
      relative  nnz v + nnz k                (nnz includes the fillers)
    plus the bias. FLOPs on N samples: 2 N nnz + N n (dense format: 2 N m n + N n,
    it multiplies densely).

    The forward pass runs scipy's CSR kernel on the values read at call time
    (so the training engine's hooks see the current values): X W = (W^T X^T)^T.
    """

    kind = "sparse"
    array_names = ("values", "bias")

    def __init__(self, values, bias, *, positions, shape, fmt="csr", index_bits=None, compute_dtype=None):
        check_choice("fmt", fmt, SPARSE_FORMATS)
        shape = tuple(int(s) for s in np.ravel(shape))
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (n_inputs, n_outputs), both at least 1; got {shape}")
        m, n = shape
        positions = np.asarray(positions)
        if positions.ndim != 1 or positions.dtype.kind not in "iu":
            raise ValueError(f"positions must be a 1-D integer array; got shape {positions.shape}, "
                             f"dtype {positions.dtype}")
        positions = positions.astype(np.int64)
        if positions.size and (positions[0] < 0 or positions[-1] >= m * n or np.any(np.diff(positions) <= 0)):
            raise ValueError(f"positions must be sorted, unique and in [0, {m * n}); got "
                             f"{positions[:5].tolist()}...")
        values_shape = values.shape if isinstance(values, Encoded) else np.shape(values)
        if tuple(values_shape) != (positions.size,):
            raise ValueError(f"values must have one entry per position ({positions.size},); got {tuple(values_shape)}")
        bias_shape = bias.shape if isinstance(bias, Encoded) else np.shape(bias)
        if tuple(bias_shape) != (n,):
            raise ValueError(f"bias must have shape ({n},); got {tuple(bias_shape)}")
        if fmt == "dense" and positions.size != m * n:
            raise ValueError(f"the dense format stores all {m * n} positions; got {positions.size} "
                             "(use Sparse.from_dense(W, b, fmt='dense'))")
        if fmt == "relative":
            index_bits = check_int("index_bits", DEFAULT_INDEX_BITS if index_bits is None else index_bits,
                                   low=1, high=32)
            gaps = np.diff(positions, prepend=-1)
            if gaps.size and gaps.max() > 2 ** index_bits:
                raise ValueError(f"relative format with index_bits={index_bits} needs gaps <= {2 ** index_bits}; "
                                 f"got a gap of {int(gaps.max())} (Sparse.from_dense inserts the fillers)")
        else:
            index_bits = None
        self.shape, self.fmt, self.index_bits = (m, n), fmt, index_bits
        self.positions = _frozen(positions)
        outputs, inputs = np.divmod(positions, m)
        # CSR of W^T: one row per output neuron, column = input index
        self._indices = _frozen(inputs.astype(np.int32))
        self._indptr = _frozen(np.concatenate([[0], np.cumsum(np.bincount(outputs, minlength=n))]).astype(np.int32))
        super().__init__(compute_dtype=compute_dtype, values=values, bias=bias)

    # --- building ---------------------------------------------------------------
    @classmethod
    def from_dense(cls, weight, bias, *, fmt="csr", index_bits=None, compute_dtype=None) -> "Sparse":
        """The nonzeros of ``weight`` in storage format ``fmt`` (copies, never views)."""
        check_choice("fmt", fmt, SPARSE_FORMATS)
        W = np.asarray(weight)
        if W.ndim != 2 or min(W.shape) < 1 or W.dtype.kind != "f":
            raise ValueError(f"weight must be a 2-D float array; got shape {W.shape}, dtype {W.dtype}")
        flat = W.T.ravel()                               # output-major: W^T row by row (a copy)
        if fmt == "dense":
            positions = np.arange(flat.size)
        else:
            positions = np.flatnonzero(flat)
            if fmt == "relative":
                index_bits = check_int("index_bits", DEFAULT_INDEX_BITS if index_bits is None else index_bits,
                                       low=1, high=32)
                # fillers fall strictly inside gaps, so never on a stored position: a plain sort
                # merges them (np.union1d hashes, 20x slower on LeNet's first layer)
                positions = np.sort(np.concatenate([positions, relative_fillers(positions, index_bits)]))
        return cls(flat[positions].copy(), np.array(bias, copy=True), positions=positions, shape=W.shape,
                   fmt=fmt, index_bits=index_bits, compute_dtype=compute_dtype)

    def with_format(self, fmt, index_bits=None) -> "Sparse":
        """The same matrix in another storage format (plain float values only:
        change the format first, then encode the values)."""
        if "values" in self.encoded:
            raise ValueError("with_format needs plain float values; got values encoded as "
                             f"{self.encoded['values'].encoding!r} (change the format before encoding them)")
        bias = self.stored("bias")
        return Sparse.from_dense(self.to_dense().weight.astype(self.dtype), bias if isinstance(bias, Encoded)
                                 else bias.copy(), fmt=fmt, index_bits=index_bits, compute_dtype=self.dtype)

    def _structure_kwargs(self) -> dict:
        return dict(positions=self.positions, shape=self.shape, fmt=self.fmt, index_bits=self.index_bits)

    def quantizable_names(self) -> tuple:
        return ("values", "bias")             # positions, indices and pointers are never quantized

    # --- sizes ------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        """Stored weight values (fillers included; all m n in the dense format)."""
        return int(self.positions.size)

    @property
    def n_fillers(self) -> int:
        """Stored zeros that only keep relative gaps short (relative format; 0 otherwise)."""
        return int(np.sum(self.value("values") == 0)) if self.fmt == "relative" else 0

    @property
    def n_params(self) -> int:
        if self.fmt == "dense":
            weights = int(np.count_nonzero(self.value("values")))
        else:
            weights = self.nnz - self.n_fillers
        return weights + self.n_outputs

    def index_bits_total(self) -> int:
        """Bits spent on positions (indices, pointers, mask or gaps)."""
        m, n = self.shape
        if self.fmt == "dense":
            return 0
        if self.fmt == "csr":
            return self.nnz * index_dtype(m - 1).itemsize * 8 + (n + 1) * index_dtype(self.nnz).itemsize * 8
        if self.fmt == "bitmask":
            return m * n
        return self.nnz * self.index_bits

    def storage_bits(self) -> int:
        return (array_storage_bits(self.stored("values")) + array_storage_bits(self.stored("bias"))
                + self.index_bits_total())

    def flops(self, n_samples: int) -> int:
        m, n = self.shape
        weights = m * n if self.fmt == "dense" else self.nnz
        return 2 * n_samples * weights + n_samples * n

    # --- files ------------------------------------------------------------------
    def arrays(self) -> dict:
        out = super().arrays()
        m, n = self.shape
        out["shape"] = np.array(self.shape)
        if self.fmt == "csr":
            out["indices"] = self._indices.astype(index_dtype(m - 1))
            out["indptr"] = self._indptr.astype(index_dtype(self.nnz))
        elif self.fmt == "bitmask":
            mask = np.zeros(m * n, dtype=np.uint8)
            mask[self.positions] = 1
            out["mask.packed"] = np.packbits(mask)
        elif self.fmt == "relative":
            out["bits"] = np.array(self.index_bits)
            out["gaps.packed"] = pack_codes(np.diff(self.positions, prepend=-1) - 1, self.index_bits)
        return out

    @classmethod
    def _extra_array_names(cls) -> tuple:
        return ("shape", "indices", "indptr", "mask.packed", "bits", "gaps.packed", "n_values")

    @classmethod
    def _structure_from_arrays(cls, extra) -> dict:
        # the format is told by which position arrays the file holds (no extra bytes for a name)
        m, n = (int(s) for s in extra["shape"])
        if "indptr" in extra:
            counts = np.diff(extra["indptr"].astype(np.int64))
            positions = np.repeat(np.arange(n), counts) * m + extra["indices"].astype(np.int64)
            return dict(shape=(m, n), positions=positions, fmt="csr")
        if "mask.packed" in extra:
            positions = np.flatnonzero(np.unpackbits(extra["mask.packed"])[:m * n])
            return dict(shape=(m, n), positions=positions, fmt="bitmask")
        if "gaps.packed" in extra:
            bits = int(extra["bits"])
            gaps = unpack_codes(extra["gaps.packed"], bits, int(extra["n_values"])).astype(np.int64) + 1
            return dict(shape=(m, n), positions=np.cumsum(gaps) - 1, fmt="relative", index_bits=bits)
        return dict(shape=(m, n), positions=np.arange(m * n), fmt="dense")

    @classmethod
    def from_arrays(cls, arrays):
        arrays = dict(arrays)
        if "gaps.packed" in arrays:
            # the packed gaps end with up to 7 padding bits: the number of values says how many gaps
            arrays["n_values"] = _stored_size(arrays, "values")
        return super().from_arrays(arrays)

    # --- computing --------------------------------------------------------------
    def weight_matrix(self) -> scipy.sparse.csr_matrix:
        """W^T (n_outputs, n_inputs) as a scipy CSR matrix of the current values."""
        return scipy.sparse.csr_matrix((self.value("values"), self._indices, self._indptr),
                                       shape=(self.n_outputs, self.n_inputs))

    def forward(self, X):
        if self.fmt == "dense":
            out = X @ self.value("values").reshape(self.n_outputs, self.n_inputs).T     # (n_samples, n_outputs)
        else:
            out = _csr_product(self._indptr, self._indices, self.value("values"), self.shape[::-1], X)
        out = out + self.value("bias")
        return out

    def backward(self, X, grad_out):
        if self.fmt == "dense":
            grad_X = grad_out @ self.value("values").reshape(self.n_outputs, self.n_inputs)
        else:       # G W^T = G (W^T as CSR) = the same arrays read as CSC of W
            grad_X = _csr_product(self._indptr, self._indices, self.value("values"), self.shape[::-1], grad_out,
                                  transpose=True)
        # dL/dW^T = G^T X, read at the stored positions only: pruned weights get no gradient
        grads = self._grads(values=lambda: (grad_out.T @ X).ravel()[self.positions],
                            bias=lambda: grad_out.sum(axis=0))
        return grad_X, grads

    def to_dense(self) -> Dense:
        m, n = self.shape
        WT = np.zeros(m * n, dtype=self.dtype)
        WT[self.positions] = self.value("values")
        return Dense(np.ascontiguousarray(WT.reshape(n, m).T), np.array(self.value("bias")))
    def __repr__(self):
        m, n = self.shape
        extra = f", {self.index_bits}-bit gaps" if self.fmt == "relative" else ""
        return f"Sparse({m} -> {n}, {self.nnz} stored of {m * n}, {self.fmt}{extra})"


try:        # scipy's own kernels, called without building a matrix object: building one
    from scipy.sparse import _sparsetools   # checks its arrays (~0.1 ms), more than a batch-1 product costs
except ImportError:                                          # pragma: no cover
    _sparsetools = None


def _csr_product(indptr, indices, data, shape, X, transpose=False) -> np.ndarray:
    """X A^T for A (rows, cols) in CSR (transpose: X A), as (n_samples, rows or cols).

    With A = W^T this is X W: out^T = A X^T, one sparse row (an output neuron's
    inputs) at a time, the inner loop running over the samples."""
    rows, cols = shape
    dtype = np.result_type(X, data)
    data, X = data.astype(dtype, copy=False), X.astype(dtype, copy=False)
    n_out = cols if transpose else rows
    if _sparsetools is None:
        A = scipy.sparse.csr_matrix((data, indices, indptr), shape=shape)
        return np.asarray((A.T if transpose else A) @ X.T).T
    n_samples = X.shape[0]
    out = np.zeros((n_out, n_samples), dtype=dtype)                         # (n_out, n_samples)
    kernel = "csc" if transpose else "csr"                                  # CSR of A is CSC of A^T
    if n_samples == 1:
        getattr(_sparsetools, f"{kernel}_matvec")(*((cols, rows) if transpose else (rows, cols)),
                                                  indptr, indices, data, X.ravel(), out.ravel())
    else:
        getattr(_sparsetools, f"{kernel}_matvecs")(*((cols, rows) if transpose else (rows, cols)), n_samples,
                                                   indptr, indices, data, np.ascontiguousarray(X.T).ravel(),
                                                   out.ravel())
    return out.T


def _stored_size(arrays, name) -> int:
    if name in arrays:
        return int(np.asarray(arrays[name]).size)
    prefix = f"{name}."
    if f"{prefix}shape" in arrays:
        return int(np.prod(arrays[f"{prefix}shape"]))
    return int(np.asarray(arrays[f"{prefix}values"]).size)


def to_sparse(network: Network, fmt="csr", *, index_bits=None, layers=None) -> Network:
    """Every layer (or those listed in ``layers``) as a ``Sparse`` layer of its nonzeros."""
    check_network("network", network)
    check_choice("fmt", fmt, SPARSE_FORMATS)
    chosen = range(len(network.layers)) if layers is None else _check_layer_list(layers, len(network.layers))
    new = []
    for i, layer in enumerate(network.layers):
        if i in chosen:
            dense = layer.to_dense()
            new.append(Sparse.from_dense(dense.weight.astype(layer.dtype), dense.bias.astype(layer.dtype),
                                         fmt=fmt, index_bits=index_bits))
        else:
            new.append(layer.astype(layer.dtype))                       # a copy
    return network.replace_layers(new)


def _check_layer_list(layers, n_layers):
    layers = list(layers)
    for i in layers:
        check_int("layers entry", i, low=0, high=n_layers - 1)
    return set(layers)


# ----------------------------------------------------------------------------
# Scores and masks
# ----------------------------------------------------------------------------

def _dense_layers(network):
    """Float copies of the layers as ``Dense`` (decoded, in their own dtype)."""
    return [layer.to_dense().astype(layer.dtype) for layer in network.layers]


def weight_scores(network: Network, criterion="magnitude", *, X=None, y=None, random_state=0) -> list:
    """One score per weight (higher = more important), shaped like each layer's weight.

    taylor: |w dL/dw| with L the mean cross-entropy over ``X, y`` (training data),
    gradients from the training engine (``training.loss_and_gradients``).
    """
    check_network("network", network)
    check_choice("criterion", criterion, CRITERIA[:3])
    dense = _dense_layers(network)
    if criterion == "magnitude":
        return [np.abs(d.weight) for d in dense]
    if criterion == "random":
        rng = np.random.default_rng(check_seed("random_state", random_state))
        return [rng.random(d.weight.shape) for d in dense]
    from .training import loss_and_gradients, target_matrix

    X, y = _check_data(network, X, y, "taylor")
    net = network.replace_layers(dense)
    _, grads = loss_and_gradients(net, X.astype(net.dtype, copy=False), target_matrix(net, y))
    return [np.abs(d.weight * g["weight"]) for d, g in zip(dense, grads)]


def neuron_scores(network: Network, criterion="magnitude", *, X=None, y=None, random_state=0) -> list:
    """One score per hidden unit, for every hidden layer (higher = more important).

    magnitude: L2 norm of the unit's incoming weights; activation: its mean
    activation on ``X``; taylor: sum of |w dL/dw| over its incoming weights;
    random: uniform noise (seeded).
    """
    check_network("network", network)
    check_choice("criterion", criterion, CRITERIA)
    hidden = range(len(network.layers) - 1)
    if criterion == "activation":
        X, _ = _check_data(network, X, None, "activation")
        inputs, _ = network.forward_all(X.astype(network.dtype, copy=False))
        return [inputs[i + 1].mean(axis=0) for i in hidden]       # input of layer i+1 = activation of layer i
    if criterion == "magnitude":
        return [np.linalg.norm(network.layers[i].to_dense().weight, axis=0) for i in hidden]
    scores = weight_scores(network, criterion, X=X, y=y, random_state=random_state)
    return [scores[i].sum(axis=0) if criterion == "taylor" else scores[i][0] for i in hidden]


def _check_data(network, X, y, criterion):
    if X is None or (y is None and criterion == "taylor"):
        raise ValueError(f"criterion={criterion!r} needs training data: pass X" +
                         (" and y" if criterion == "taylor" else "") + "; got None")
    X = check_array_2d("X", X, n_features=network.n_features)
    if y is not None:
        check_labels("y", y, network, n_samples=X.shape[0])
    return X, y


def _n_pruned(sparsity: float, size: int) -> int:
    """The whole number of weights closest to sparsity * size."""
    return int(np.floor(sparsity * size + 0.5))


def lowest(scores: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k lowest scores; ties broken by position (stable sort),
    so exactly k are returned however many scores are equal."""
    return np.argsort(scores.ravel(), kind="stable")[:k]


def magnitude_mask(weight, sparsity) -> np.ndarray:
    """The reference mask: True where a weight is kept, exactly round(s N) of the
    smallest |w| removed (ties by position). What the notebook's exercise implements."""
    weight = np.asarray(weight)
    sparsity = check_float("sparsity", sparsity, low=0, high=1, high_open=True)
    mask = np.ones(weight.size, dtype=bool)
    mask[lowest(np.abs(weight), _n_pruned(sparsity, weight.size))] = False
    return mask.reshape(weight.shape)


@dataclass
class Ranking:
    """Every weight of a network ordered once by a criterion: the mask at any
    sparsity is then a slice (what a dashboard computes once per criterion and
    scope, then indexes into on every slider move).

    ``order[j]`` lists the flat indices of layer j's weights, lowest score
    first (scope "layer"); for scope "global" ``order`` has one entry holding
    indices into the concatenation of all prunable layers' weights.
    """

    shapes: list
    scope: str
    prunable: list                       # layer indices that may be pruned
    order: list
    dtypes: list = field(default_factory=list)

    @property
    def sizes(self) -> list:
        return [int(np.prod(s)) for s in self.shapes]

    def masks(self, sparsity) -> list:
        """Masks (True = kept) for a fraction or a list with one fraction per layer."""
        sizes, n_layers = self.sizes, len(self.shapes)
        if self.scope == "global":
            s = check_float("sparsity", sparsity, low=0, high=1, high_open=True)
            flat = np.ones(sum(sizes[i] for i in self.prunable), dtype=bool)
            flat[self.order[0][:_n_pruned(s, flat.size)]] = False
            pieces = np.split(flat, np.cumsum([sizes[i] for i in self.prunable])[:-1])
            masks = [np.ones(size, dtype=bool) for size in sizes]
            for i, piece in zip(self.prunable, pieces):
                masks[i] = piece
        else:
            per_layer = _check_sparsities(sparsity, n_layers)
            masks = []
            for i, (s, size) in enumerate(zip(per_layer, sizes)):
                mask = np.ones(size, dtype=bool)
                if i in self.prunable:
                    mask[self.order[i][:_n_pruned(s, size)]] = False
                masks.append(mask)
        for i, mask in enumerate(masks):
            if not mask.any():
                raise ValueError(f"sparsity {sparsity!r} would prune every weight of layer {i + 1} "
                                 f"({self.shapes[i][0]}x{self.shapes[i][1]}); a layer must keep at least one")
        return [mask.reshape(shape) for mask, shape in zip(masks, self.shapes)]


def rank_weights(network: Network, criterion="magnitude", *, scope="global", spare_output=False,
                 X=None, y=None, random_state=0, prior_masks=None) -> Ranking:
    """Order every weight by ``criterion`` once (see ``prune``).

    Global scope compares the raw scores across layers. For magnitude that is
    the usual global threshold: all weights of one network live on one scale
    and a small weight of any layer contributes little. For taylor the raw
    score is itself comparable: |w dL/dw| estimates the change of the *same*
    loss when w is removed, whatever layer w is in, so no normalisation is
    applied (Molchanov et al. 2017 normalise per layer for convolutional
    feature maps, whose counts differ by orders of magnitude; here it would
    rescale an estimate that already has the right unit). Random scores are
    uniform, so global random pruning gives every layer about the same sparsity.

    ``prior_masks``: weights already pruned are ranked first (they stay pruned
    as the sparsity grows: iterative pruning).
    """
    check_network("network", network)
    check_choice("criterion", criterion, CRITERIA[:3])
    check_choice("scope", scope, SCOPES)
    spare_output = check_bool("spare_output", spare_output)
    scores = weight_scores(network, criterion, X=X, y=y, random_state=random_state)
    if prior_masks is not None:
        scores = [np.where(m, s, -np.inf) for s, m in zip(scores, _check_masks(prior_masks, network))]
    prunable = list(range(len(scores) - 1 if spare_output else len(scores)))
    if scope == "global":
        order = [lowest(np.concatenate([scores[i].ravel() for i in prunable]), None)]
    else:
        order = [lowest(s, None) for s in scores]
    return Ranking([s.shape for s in scores], scope, prunable, order,
                   [layer.dtype for layer in network.layers])


def _check_sparsities(sparsity, n_layers, what="layer") -> list:
    """A fraction in [0, 1) for every layer, or a list with one per layer."""
    if isinstance(sparsity, numbers.Real) and not isinstance(sparsity, bool):
        return [check_float("sparsity", sparsity, low=0, high=1, high_open=True)] * n_layers
    if isinstance(sparsity, (str, bytes)) or not hasattr(sparsity, "__len__"):
        raise TypeError(f"sparsity must be a fraction in [0, 1) or a list with one per {what}; got {sparsity!r}")
    if len(sparsity) != n_layers:
        raise ValueError(f"sparsity must have one entry per {what} ({n_layers}); got {len(sparsity)}: "
                         f"{list(sparsity)!r}")
    return [check_float(f"sparsity of {what} {i + 1}", s, low=0, high=1, high_open=True)
            for i, s in enumerate(sparsity)]


def _check_masks(masks, network):
    masks = list(masks)
    if len(masks) != len(network.layers):
        raise ValueError(f"masks must have one entry per layer ({len(network.layers)}); got {len(masks)}")
    for i, (mask, layer) in enumerate(zip(masks, network.layers)):
        if np.shape(mask) != (layer.n_inputs, layer.n_outputs):
            raise ValueError(f"masks[{i}] must have shape {(layer.n_inputs, layer.n_outputs)}; got {np.shape(mask)}")
    return [np.asarray(m, dtype=bool) for m in masks]


# ----------------------------------------------------------------------------
# prune
# ----------------------------------------------------------------------------

@dataclass
class PruneResult:
    """What ``prune`` did.

    network : the pruned network (``Dense`` layers: zeros in place for weight
        pruning, physically smaller layers for neuron pruning).
    masks : per layer, True where a weight of ``network`` is kept (all True
        after neuron pruning: nothing in the smaller network is masked).
    kept : per layer, the fraction of the *original* layer's weights kept.
    original_sizes : weights per layer before pruning (biases not counted).
    kept_units : neuron pruning only: the indices of the hidden units kept.
    """

    network: Network
    masks: list
    kept: list
    original_sizes: list
    criterion: str
    scope: str
    structure: str
    requested: object
    kept_units: list = None
    history: object = None
    notes: list = field(default_factory=list)

    @property
    def sparsity(self) -> float:
        """Fraction of all original weights removed (biases not counted)."""
        kept = sum(k * n for k, n in zip(self.kept, self.original_sizes))
        return 1.0 - kept / sum(self.original_sizes)

    @property
    def layer_sparsity(self) -> list:
        return [1.0 - k for k in self.kept]

    def sparse(self, fmt="csr", *, index_bits=None) -> Network:
        """The pruned network with every layer stored in a sparse format."""
        return to_sparse(self.network, fmt, index_bits=index_bits)

    def summary(self) -> str:
        layers = ", ".join(f"{n} w: kept {k:.1%}" for n, k in zip(self.original_sizes, self.kept))
        return (f"{self.structure} pruning, {self.criterion}, {self.scope}: sparsity {self.sparsity:.1%} "
                f"({layers})")


def prune(network: Network, sparsity, *, criterion="magnitude", scope=None, structure="weights",
          spare_output=False, X=None, y=None, random_state=0) -> PruneResult:
    """Prune a network; return a new one and what was done (the input is never edited).

    Parameters
    ----------
    sparsity : fraction in [0, 1) of the weights to remove, or a list with one
        fraction per layer (per hidden layer for ``structure="neurons"``).
    criterion : "magnitude" |w| (Han et al. 2015), "taylor" |w dL/dw| on
        ``X, y`` (Molchanov et al. 2017), "random" (the control), and for
        neurons also "activation" (mean activation on ``X``).
    scope : "global" (one threshold across layers: see ``rank_weights`` for how
        scores are compared) or "layer" (each layer pruned to its fraction).
        Default: "global" for one fraction, "layer" for a list (a list with
        scope="global" is an error).
    structure : "weights" (any single weight) or "neurons" (whole hidden units;
        the layers shrink: a 784-300-100 net pruned to 150 and 60 units becomes
        a 784-150-60-10 ``Dense`` network).
    spare_output : keep the output layer dense (weights only: layer-wise pruning
        of LeNet's 100x10 output layer collapses at 90 %). Its sparsity is then
        that of the other layers' weights; ``result.sparsity`` counts them all.
    X, y : training data (taylor, activation).
    random_state : seed of the random criterion.

    Biases are never pruned. Exactly round(s N) weights are removed, ties broken
    by position. Pruning every weight (or unit) of a layer is a ``ValueError``.
    """
    check_network("network", network)
    check_choice("structure", structure, PRUNE_STRUCTURES)
    check_choice("criterion", criterion, CRITERIA if structure == "neurons" else CRITERIA[:3])
    is_list = not isinstance(sparsity, numbers.Real) or isinstance(sparsity, bool)
    if scope is None:
        scope = "layer" if is_list else "global"
    check_choice("scope", scope, SCOPES)
    if is_list and scope == "global":
        raise ValueError(f"a per-layer sparsity list needs scope='layer' (global pruning takes one fraction); "
                         f"got scope='global' with sparsity={sparsity!r}")
    spare_output = check_bool("spare_output", spare_output)
    check_seed("random_state", random_state)
    if structure == "neurons":
        return _prune_neurons(network, sparsity, criterion, scope, X, y, random_state)
    n_layers = len(network.layers)
    if is_list:
        per_layer = _check_sparsities(sparsity, n_layers)
        if spare_output and per_layer[-1] != 0:
            raise ValueError(f"spare_output=True keeps the output layer dense, so its sparsity must be 0; "
                             f"got {per_layer[-1]!r}")
        request = per_layer
    else:
        request = check_float("sparsity", sparsity, low=0, high=1, high_open=True)
    if n_layers == 1 and spare_output:
        raise ValueError("spare_output=True leaves nothing to prune in a network with one layer; got 1 layer")
    ranking = rank_weights(network, criterion, scope=scope, spare_output=spare_output, X=X, y=y,
                           random_state=random_state)
    masks = ranking.masks(request)
    return _masked_result(network, masks, criterion, scope, "weights", sparsity)


def _masked_result(network, masks, criterion, scope, structure, requested):
    dense = _dense_layers(network)
    layers = [Dense(d.weight * m, d.bias.copy()) for d, m in zip(dense, masks)]
    sizes = [m.size for m in masks]
    kept = [float(m.mean()) for m in masks]
    return PruneResult(network.replace_layers(layers), [m.copy() for m in masks], kept, sizes,
                       criterion, scope, structure, requested)


def apply_masks(network: Network, masks) -> Network:
    """A new network with W_i * M_i (every layer as ``Dense``)."""
    check_network("network", network)
    masks = _check_masks(masks, network)
    return network.replace_layers([Dense(d.weight * m, d.bias.copy())
                                   for d, m in zip(_dense_layers(network), masks)])


def _prune_neurons(network, sparsity, criterion, scope, X, y, random_state):
    if len(network.layers) < 2:
        raise ValueError("structure='neurons' needs a hidden layer; got a network with 1 layer")
    ranking = rank_neurons(network, criterion, scope=scope, X=X, y=y, random_state=random_state)
    return shrink(network, ranking.kept_units(sparsity), criterion=criterion, scope=scope, requested=sparsity)


@dataclass
class NeuronRanking:
    """Every hidden unit ordered once by a criterion (``rank_neurons``): the units kept
    at any sparsity are then a slice, as ``Ranking`` does for weights.

    ``order``: scope "layer": per hidden layer, unit indices lowest score first;
    scope "global": one order over all hidden units (layer after layer), by scores
    divided by their layer's mean |score| (see ``prune``).
    """

    widths: list
    scope: str
    order: list

    def kept_units(self, sparsity) -> list:
        """Per hidden layer, the sorted indices of the units kept at ``sparsity`` (the fraction
        of units removed: one for all, or one per hidden layer for scope "layer")."""
        if self.scope == "global":
            s = check_float("sparsity", sparsity, low=0, high=1, high_open=True)
            flags = np.ones(sum(self.widths), dtype=bool)
            flags[self.order[0][:_n_pruned(s, flags.size)]] = False
            keep_flags = np.split(flags, np.cumsum(self.widths)[:-1])
        else:
            keep_flags = []
            for width, order, sp in zip(self.widths, self.order,
                                        _check_sparsities(sparsity, len(self.widths), what="hidden layer")):
                flag = np.ones(width, dtype=bool)
                flag[order[:_n_pruned(sp, width)]] = False
                keep_flags.append(flag)
        for i, flag in enumerate(keep_flags):
            if not flag.any():
                raise ValueError(f"sparsity {sparsity!r} would prune every unit of hidden layer {i + 1} "
                                 f"({self.widths[i]} units); a layer must keep at least one")
        return [np.flatnonzero(f) for f in keep_flags]

    @property
    def max_sparsity(self) -> float:
        """The largest fraction of units that can be removed with every hidden layer keeping
        one unit (scope "global": before a layer's best unit comes up in the order)."""
        if self.scope == "layer":
            return min((w - 1) / w for w in self.widths)
        layer_of = np.repeat(np.arange(len(self.widths)), self.widths)[self.order[0]]
        last = [np.flatnonzero(layer_of == i).max() for i in range(len(self.widths))]
        n_max = min(last)                     # removing more than this empties a layer
        total = sum(self.widths)
        # the largest s with round(s * total) <= n_max
        return max(0.0, (n_max + 0.5) / total - 1e-9)


def rank_neurons(network: Network, criterion="magnitude", *, scope="global", X=None, y=None,
                 random_state=0) -> NeuronRanking:
    """Order every hidden unit by ``criterion`` once (see ``neuron_scores``).

    Global scope: units of different layers differ in fan-in (an L2 norm grows like
    its sqrt) and in activation scale, so each layer's scores are divided by their
    mean |score|: a unit is ranked by how it compares with a typical unit of its layer."""
    check_network("network", network)
    check_choice("scope", scope, SCOPES)
    scores = neuron_scores(network, criterion, X=X, y=y, random_state=random_state)
    widths = [len(sc) for sc in scores]
    if scope == "global":
        normalised = np.concatenate([sc / max(float(np.mean(np.abs(sc))), 1e-300) for sc in scores])
        return NeuronRanking(widths, scope, [lowest(normalised, None)])
    return NeuronRanking(widths, scope, [lowest(sc, None) for sc in scores])


def shrink(network: Network, kept_units, *, criterion="magnitude", scope="global", requested=None) -> PruneResult:
    """The smaller dense network that keeps only ``kept_units`` of each hidden layer (their
    incoming columns, biases and outgoing rows), as a ``PruneResult``."""
    check_network("network", network)
    n_hidden = len(network.layers) - 1
    if len(kept_units) != n_hidden:
        raise ValueError(f"kept_units must have one entry per hidden layer ({n_hidden}); got {len(kept_units)}")
    kept_units = [np.asarray(k, dtype=np.int64) for k in kept_units]
    dense = _dense_layers(network)
    layers = []
    for i, d in enumerate(dense):
        rows = kept_units[i - 1] if i > 0 else slice(None)
        cols = kept_units[i] if i < n_hidden else slice(None)
        layers.append(Dense(np.ascontiguousarray(d.weight[rows][:, cols]), d.bias[cols].copy()))
    sizes = [d.weight.size for d in dense]
    kept = [layer.weight.size / size for layer, size in zip(layers, sizes)]
    masks = [np.ones(layer.weight.shape, dtype=bool) for layer in layers]
    return PruneResult(network.replace_layers(layers), masks, kept, sizes, criterion, scope, "neurons",
                       requested, kept_units=kept_units)


def stored_size(masks, fmt="csr", *, index_bits=None, value_bits=64, bias_bits=64) -> dict:
    """What ``to_sparse(apply_masks(net, masks), fmt)`` stores, counted from the masks alone
    (no network is built: a dashboard calls it on every move; the relative format's
    fillers come from the positions). Keys: params (kept weights + biases: no stored zero
    is a parameter, neither the dense format's nor a filler), bits,
    stored (weight values, fillers included), fillers, weights_per_sample (multiply-adds
    of one forward pass: m n for the dense format, the stored values otherwise), biases.
    The formulas are those of ``Sparse``; a test checks them against it."""
    check_choice("fmt", fmt, SPARSE_FORMATS)
    k = check_int("index_bits", DEFAULT_INDEX_BITS if index_bits is None else index_bits, low=1, high=32)
    out = dict(params=0, bits=0, stored=0, fillers=0, weights_per_sample=0, biases=0)
    for mask in masks:
        mask = np.asarray(mask, dtype=bool)
        m, n = mask.shape
        nnz = int(mask.sum())
        fillers = 0
        if fmt == "dense":
            bits, stored = m * n * value_bits, m * n
        elif fmt == "csr":
            bits = nnz * (value_bits + 8 * index_dtype(m - 1).itemsize) + (n + 1) * 8 * index_dtype(nnz).itemsize
            stored = nnz
        elif fmt == "bitmask":
            bits, stored = nnz * value_bits + m * n, nnz
        else:
            positions = np.flatnonzero(mask.T.ravel())
            gaps = np.diff(positions, prepend=-1)
            fillers = int(((gaps - 1) // 2 ** k).sum())
            stored = nnz + fillers
            bits = stored * (value_bits + k)
        out["bits"] += bits + n * bias_bits
        out["params"] += nnz + n
        out["stored"] += stored
        out["fillers"] += fillers
        out["weights_per_sample"] += stored
        out["biases"] += n
    return out


def neuron_masks(network: Network, kept_units) -> list:
    """Masks on the original shapes equivalent to keeping only ``kept_units``: a
    removed unit loses its incoming column and its outgoing row (and its bias,
    see ``mask_neurons``), so the masked network computes what the smaller one does."""
    masks = []
    n_hidden = len(network.layers) - 1
    for i, layer in enumerate(network.layers):
        mask = np.ones((layer.n_inputs, layer.n_outputs), dtype=bool)
        if i < n_hidden:
            col = np.zeros(layer.n_outputs, dtype=bool)
            col[kept_units[i]] = True
            mask &= col[None, :]
        if i > 0:
            row = np.zeros(layer.n_inputs, dtype=bool)
            row[kept_units[i - 1]] = True
            mask &= row[:, None]
        masks.append(mask)
    return masks


def mask_neurons(network: Network, kept_units) -> Network:
    """The original-size network with the removed units masked (weights and bias zeroed)."""
    masks = neuron_masks(network, kept_units)
    layers = []
    for i, (d, m) in enumerate(zip(_dense_layers(network), masks)):
        bias = d.bias.copy()
        if i < len(network.layers) - 1:
            dropped = np.ones(bias.size, dtype=bool)
            dropped[kept_units[i]] = False
            bias[dropped] = 0.0
        layers.append(Dense(d.weight * m, bias))
    return network.replace_layers(layers)


# ----------------------------------------------------------------------------
# Fine-tuning, iterative pruning
# ----------------------------------------------------------------------------

def mask_projection(masks):
    """The ``after_step`` hook: set every pruned weight back to exactly 0.

    Projected gradient descent onto {W : W = M * W}: the optimizer step may move
    a pruned weight (Adam's momentum, the L2 term), the projection undoes it."""
    pruned = [np.flatnonzero(~np.asarray(m, dtype=bool)) for m in masks]

    def project(network):
        for layer, idx in zip(network.layers, pruned):
            if idx.size:
                layer.params["weight"].reshape(-1)[idx] = 0.0
    return project


def fine_tune(result: PruneResult, X, y, epochs=1, *, learning_rate=1e-3, l2=1e-4, random_state=0,
              progress=False, **train_kwargs) -> PruneResult:
    """Train the pruned network with its masks re-applied after every step; a new result.

    Pruned weights stay exactly 0. ``l2`` defaults to the pretrained models' alpha.
    """
    from .training import train

    if not isinstance(result, PruneResult):
        raise TypeError(f"result must be a PruneResult (from prune); got {type(result).__name__}")
    network = result.network.copy()
    history = train(network, X, y, epochs=epochs, learning_rate=learning_rate, l2=l2,
                    after_step=mask_projection(result.masks), random_state=random_state, progress=progress,
                    **train_kwargs)
    return PruneResult(network, [m.copy() for m in result.masks], list(result.kept), list(result.original_sizes),
                       result.criterion, result.scope, result.structure, result.requested,
                       kept_units=result.kept_units, history=history, notes=list(result.notes))


def schedule(final_sparsity, steps, *, kind="cubic", initial_sparsity=0.0) -> list:
    """Sparsity after each of ``steps`` pruning steps.

    cubic (Zhu & Gupta 2017): s_t = s_f + (s_i - s_f) (1 - t / n)^3, t = 1..n:
    prune fast while many redundant weights remain, slowly near the end.
    linear (fixed steps): s_t = s_i + (s_f - s_i) t / n.
    """
    s_f = check_float("final_sparsity", final_sparsity, low=0, high=1, high_open=True)
    s_i = check_float("initial_sparsity", initial_sparsity, low=0, high=s_f)
    n = check_int("steps", steps, low=1)
    check_choice("kind", kind, SCHEDULES)
    t = np.arange(1, n + 1)
    if kind == "cubic":
        return (s_f + (s_i - s_f) * (1 - t / n) ** 3).tolist()
    return (s_i + (s_f - s_i) * t / n).tolist()


def iterative_prune(network: Network, final_sparsity, X, y, *, steps=5, kind="cubic", epochs_per_step=1,
                    criterion="magnitude", scope="global", spare_output=False, random_state=0,
                    progress=False, **train_kwargs) -> PruneResult:
    """Prune -> fine-tune -> prune more, following ``schedule``; weights pruned at one
    step stay pruned. Returns the last result; ``notes`` list each step's sparsity."""
    check_network("network", network)
    sparsities = schedule(final_sparsity, steps, kind=kind)
    current, masks, result = network, None, None
    notes = []
    for t, s in enumerate(sparsities, 1):
        ranking = rank_weights(current, criterion, scope=scope, spare_output=spare_output, X=X, y=y,
                               random_state=random_state + t, prior_masks=masks)
        masks = ranking.masks(s if scope == "global" else
                              [s] * (len(network.layers) - 1) + [0.0 if spare_output else s])
        result = _masked_result(current, masks, criterion, scope, "weights", final_sparsity)
        result = fine_tune(result, X, y, epochs_per_step, random_state=random_state + t, progress=progress,
                           **train_kwargs)
        current = result.network
        notes.append(f"step {t}: sparsity {result.sparsity:.4f}, train loss {result.history.loss[-1]:.4f}")
    result.notes = notes
    return result


def retrain_from_scratch(result: PruneResult, X, y, epochs=10, *, random_state=1, progress=False,
                         **train_kwargs) -> PruneResult:
    """Liu et al. 2019: the pruned architecture (its layer sizes and masks) trained
    from a fresh random initialisation (scikit-learn's, seed ``random_state``), masks
    kept by projection. What is left of pruning's value if this matches fine-tuning?"""
    if not isinstance(result, PruneResult):
        raise TypeError(f"result must be a PruneResult (from prune); got {type(result).__name__}")
    net = result.network
    sizes = (net.n_features,) + net.hidden_layer_sizes + (net.layers[-1].n_outputs,)
    fresh = random_network(sizes, activation=net.activation, classes=net.classes, random_state=random_state,
                           dtype=net.dtype)
    start = _masked_result(fresh, result.masks, result.criterion, result.scope, result.structure, result.requested)
    start.kept, start.original_sizes, start.kept_units = list(result.kept), list(result.original_sizes), \
        result.kept_units
    return fine_tune(start, X, y, epochs, random_state=random_state, progress=progress, **train_kwargs)


# ----------------------------------------------------------------------------
# Lottery tickets
# ----------------------------------------------------------------------------

@dataclass
class LotteryResult:
    """Rounds of iterative magnitude pruning with rewinding, and the two controls.

    rounds: one dict per round (sparsity, accuracy on the evaluation data).
    ticket: the final ticket (rewound to the initialisation, mask applied, retrained).
    same_mask_fresh_init / random_mask: accuracy of the controls at the final sparsity.
    """

    rounds: list
    ticket: PruneResult
    same_mask_fresh_init: float
    random_mask: float
    dense_accuracy: float


def lottery_ticket(init: Network, X, y, X_eval, y_eval, *, final_sparsity=0.9, rounds=3, epochs=5,
                   scope="layer", spare_output=False, random_state=0, fresh_seed=1,
                   progress=False, **train_kwargs) -> LotteryResult:
    """Frankle & Carbin 2019: train from ``init``; then each round prune a share of the
    surviving weights by magnitude (sparsity 1 - (1 - s_f)^(r / rounds) after round r),
    rewind the survivors to their values in ``init`` and retrain. Controls at the final
    mask: the same mask on a fresh initialisation (seed ``fresh_seed``), and a random
    mask with the same per-layer sparsity on ``init``.

    ``init`` is never edited. Evaluate on validation data (``X_eval, y_eval``)."""
    from .training import train

    check_network("init", init)
    s_f = check_float("final_sparsity", final_sparsity, low=0, high=1, high_open=True)
    rounds = check_int("rounds", rounds, low=1)
    opts = dict(random_state=random_state, progress=progress, **train_kwargs)
    trained = init.copy()
    train(trained, X, y, epochs=epochs, **opts)
    dense_acc = trained.score(X_eval, y_eval)
    masks, records, ticket = None, [], None
    for r in range(1, rounds + 1):
        s = 1 - (1 - s_f) ** (r / rounds)
        ranking = rank_weights(trained, "magnitude", scope=scope, spare_output=spare_output, prior_masks=masks)
        n = len(init.layers)
        masks = ranking.masks(s if scope == "global" else [s] * (n - 1) + [0.0 if spare_output else s])
        ticket = fine_tune(_masked_result(init, masks, "magnitude", scope, "weights", s), X, y, epochs, **opts)
        trained = ticket.network
        records.append(dict(round=r, sparsity=ticket.sparsity, accuracy=trained.score(X_eval, y_eval)))
    sizes = (init.n_features,) + init.hidden_layer_sizes + (init.layers[-1].n_outputs,)
    fresh = random_network(sizes, activation=init.activation, classes=init.classes, random_state=fresh_seed,
                           dtype=init.dtype)
    control_a = fine_tune(_masked_result(fresh, masks, "magnitude", scope, "weights", s_f), X, y, epochs, **opts)
    rng = np.random.default_rng(fresh_seed)
    random_masks = []
    for m in masks:                                   # same count per layer, random positions
        flat = np.zeros(m.size, dtype=bool)
        flat[rng.permutation(m.size)[:int(m.sum())]] = True
        random_masks.append(flat.reshape(m.shape))
    control_b = fine_tune(_masked_result(init, random_masks, "random", scope, "weights", s_f), X, y, epochs, **opts)
    return LotteryResult(records, ticket, control_a.network.score(X_eval, y_eval),
                         control_b.network.score(X_eval, y_eval), dense_acc)


# ----------------------------------------------------------------------------
# Analysis: dead inputs, sparsity, sensitivity, sizes
# ----------------------------------------------------------------------------

@dataclass
class DeadInputs:
    """Input features that are 0 in every training sample, and what it does to layer 1.

    No gradient ever reaches their first-layer rows (dL/dW_1[i] = sum_n x_ni g_n = 0)
    and the L2 penalty decays them, so those rows are already ~0: a share of
    the sparsity that the data gives for free, counted in every sparsity figure."""

    pixels: np.ndarray            # indices of the dead inputs
    n_inputs: int
    weights: int                  # first-layer weights on dead inputs
    total_weights: int            # weights of the whole network
    max_abs_weight: float         # largest |w| on a dead input's row

    @property
    def fraction(self) -> float:
        return self.weights / self.total_weights

    def summary(self) -> str:
        return (f"{self.pixels.size} of {self.n_inputs} inputs are 0 in every training sample: their "
                f"{self.weights:,} first-layer weights ({self.fraction:.1%} of all {self.total_weights:,}) "
                f"are at most {self.max_abs_weight:.1e} in magnitude")


def dead_inputs(network: Network, X_train) -> DeadInputs:
    check_network("network", network)
    X_train = check_array_2d("X_train", X_train, n_features=network.n_features)
    dead = np.flatnonzero(np.all(X_train == 0, axis=0))
    W1 = network.layers[0].to_dense().weight
    total = sum(layer.n_inputs * layer.n_outputs for layer in network.layers)
    return DeadInputs(dead, network.n_features, int(dead.size * W1.shape[1]), total,
                      float(np.abs(W1[dead]).max()) if dead.size else 0.0)


def sparsity_report(network: Network, tol=0.0) -> dict:
    """Fraction of weights with |w| <= tol, per layer and overall (biases not counted).

    tol=0 counts exact zeros; tol=1e-12 also counts the dead-input rows, which are
    zero in all but name."""
    check_network("network", network, finite=False)
    tol = check_float("tol", tol, low=0)
    zeros, sizes = [], []
    for layer in network.layers:
        W = layer.to_dense().weight
        zeros.append(int(np.sum(np.abs(W) <= tol)))
        sizes.append(W.size)
    return dict(per_layer=[z / s for z, s in zip(zeros, sizes)], overall=sum(zeros) / sum(sizes),
                zeros=sum(zeros), weights=sum(sizes))


@dataclass
class Sensitivity:
    """Accuracy with one layer pruned alone (others dense), per layer x sparsity."""

    sparsities: np.ndarray
    accuracy: np.ndarray          # (n_layers, n_sparsities)
    base_accuracy: float
    criterion: str


def sensitivity_scan(network: Network, X_val, y_val, sparsities=(0.5, 0.7, 0.8, 0.9, 0.95, 0.98),
                     *, criterion="magnitude", X=None, y=None, random_state=0) -> Sensitivity:
    """Each layer pruned alone at each sparsity, scored on validation data
    (choosing sparsities from it is a choice: never on the test set)."""
    check_network("network", network)
    grid = np.array([check_float("sparsities entry", s, low=0, high=1, high_open=True) for s in sparsities])
    n = len(network.layers)
    ranking = rank_weights(network, criterion, scope="layer", X=X, y=y, random_state=random_state)
    acc = np.zeros((n, grid.size))
    for i in range(n):
        for j, s in enumerate(grid):
            per_layer = [0.0] * n
            per_layer[i] = float(s)
            acc[i, j] = apply_masks(network, ranking.masks(per_layer)).score(X_val, y_val)
    return Sensitivity(grid, acc, network.score(X_val, y_val), criterion)


def sparsities_for_drop(scan: Sensitivity, max_drop: float) -> list:
    """Per layer, the largest scanned sparsity whose accuracy (that layer pruned alone)
    is within ``max_drop`` of the unpruned accuracy (0 when none is)."""
    if not isinstance(scan, Sensitivity):
        raise TypeError(f"scan must be a Sensitivity (from sensitivity_scan); got {type(scan).__name__}")
    max_drop = check_float("max_drop", max_drop, low=0, high=1)
    out = []
    for row in scan.accuracy:
        ok = scan.sparsities[row >= scan.base_accuracy - max_drop]
        out.append(float(ok.max()) if ok.size else 0.0)
    return out


def raw_bytes(network: Network) -> int:
    """Bytes of every array written uncompressed with ``np.save`` (headers included)."""
    check_network("network", network, finite=False)
    total = 0
    for layer in network.layers:
        for array in layer.arrays().values():
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(array), allow_pickle=False)
            total += buffer.getbuffer().nbytes
    return total


def sizes(network: Network) -> dict:
    """Raw bytes (np.save), compressed bytes (savez_compressed) and the format's bit count / 8."""
    return dict(raw_bytes=raw_bytes(network), compressed_bytes=network.serialized_bytes(),
                format_bytes=network.storage_bits() / 8)


# ----------------------------------------------------------------------------
# Where sparse storage starts to pay in time (the measured curves: pruning_experiments.py)
# ----------------------------------------------------------------------------
def break_even_sparsity(sparsities, deltas) -> float:
    """The first sparsity where a measured delta reaches 1, interpolated linearly between the
    grid points around the crossing (NaN when it never does)."""
    s, d = np.asarray(sparsities, float), np.asarray(deltas, float)
    above = np.flatnonzero(d >= 1)
    if not above.size:
        return float("nan")
    j = above[0]
    if j == 0:
        return float(s[0])
    return float(s[j - 1] + (1 - d[j - 1]) * (s[j] - s[j - 1]) / (d[j] - d[j - 1]))

