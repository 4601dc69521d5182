"""Low-rank factorization: replace a weight matrix by two thin ones (truncated SVD).

A dense layer computes X W + b with W of shape (m, n). The SVD writes

    W = U S V^T,   U (m, r), S = diag(s_1 >= s_2 >= ... >= s_r), V^T (r, n)

and keeping the k largest singular values gives W_k = U_k S_k V_k^T, the best
rank-k approximation in the Frobenius norm (Eckart & Young 1936):

    ||W - W_k||_F = sqrt(s_{k+1}^2 + ... + s_r^2).

The layer then stores k (m + n) numbers instead of m n and computes
X (U_k S_k) V_k^T as two matrix products: 2 N k (m + n) FLOPs instead of
2 N m n. That is smaller only below the *break-even rank*

    k < m n / (m + n),

above it the factorized layer is larger and slower than the dense one, so
``factorize`` keeps such a layer dense and says so.

The lecture's claim: a standard pipeline, but done layer by layer, with no
global parameter compression. ``allocate_ranks`` chooses all ranks together
for one parameter budget, so the notebook can test that claim.

References: Xue, Li & Gong 2013 (SVD restructuring of DNNs); Denton et al.
2014 (exploiting linear structure); Yu et al. 2017 (low-rank and sparse).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_array_2d, check_choice, check_float, check_int, check_network
from .encoding import Encoded
from .network import Dense, Network, StoredLayer, register_layer


@register_layer
class LowRank(StoredLayer):
    """A rank-k layer ``(X @ left) @ right + bias``.

    ``left`` = U_k S_k, shape (m, k); ``right`` = V_k^T, shape (k, n).
    S is carried on the left so that ``right`` keeps orthonormal rows: the
    layer is then "project onto k directions, scaled by their importance,
    then map to the outputs", and the factor a student reads as the
    compressed basis (V_k^T) stays the SVD's own.
    Any of the three arrays may be encoded (quantized factors stay factors).
    Parameters: k (m + n) + n (the bias). FLOPs: 2 N k (m + n) + N n.
    """

    kind = "lowrank"
    array_names = ("left", "right", "bias")

    def __init__(self, left, right, bias, *, compute_dtype=None):
        shapes = [a.shape if isinstance(a, Encoded) else np.shape(a) for a in (left, right, bias)]
        if len(shapes[0]) != 2 or len(shapes[1]) != 2 or shapes[0][1] != shapes[1][0]:
            raise ValueError(f"left (m, k) and right (k, n) must share k; got {tuple(shapes[0])} and {tuple(shapes[1])}")
        if tuple(shapes[2]) != (shapes[1][1],):
            raise ValueError(f"bias must have shape ({shapes[1][1]},); got {tuple(shapes[2])}")
        self.shapes = tuple(tuple(s) for s in shapes)
        super().__init__(compute_dtype=compute_dtype, left=left, right=right, bias=bias)

    @property
    def rank(self) -> int:
        return self.shapes[0][1]

    @property
    def n_inputs(self) -> int:
        return self.shapes[0][0]

    @property
    def n_outputs(self) -> int:
        return self.shapes[1][1]

    def flops(self, n_samples: int) -> int:
        k, m, n = self.rank, self.n_inputs, self.n_outputs
        return 2 * n_samples * k * (m + n) + n_samples * n

    def forward(self, X):
        hidden = X @ self.value("left")               # (n_samples, k)
        out = hidden @ self.value("right")            # (n_samples, n)
        out += self.value("bias")
        return out

    def backward(self, X, grad_out):
        left, right = self.value("left"), self.value("right")
        hidden = X @ left                                       # (n_samples, k)
        grad_hidden = grad_out @ right.T                        # (n_samples, k)
        grads = self._grads(left=lambda: X.T @ grad_hidden, right=lambda: hidden.T @ grad_out,
                            bias=lambda: grad_out.sum(axis=0))
        return grad_hidden @ left.T, grads

    def to_dense(self) -> Dense:
        return Dense(self.value("left") @ self.value("right"), np.array(self.value("bias")))

    def __repr__(self):
        return f"LowRank({self.n_inputs} -> {self.n_outputs}, rank {self.rank})"


def break_even_rank(m: int, n: int) -> float:
    """m n / (m + n): a rank-k factorization of an (m, n) matrix is smaller only if k is below this."""
    return m * n / (m + n)


def max_useful_rank(m: int, n: int) -> int:
    """The largest k with k (m + n) < m n (at least 1)."""
    return max(1, int(np.ceil(break_even_rank(m, n))) - 1)


@dataclass
class LayerSVD:
    """The SVD of one layer's weight, computed once: W = U diag(s) Vt."""

    U: np.ndarray          # (m, r)
    s: np.ndarray          # (r,)
    Vt: np.ndarray         # (r, n)
    bias: np.ndarray

    @property
    def shape(self):
        return self.U.shape[0], self.Vt.shape[1]

    @property
    def full_rank(self) -> int:
        return len(self.s)

    def energy(self, k: int) -> float:
        """Fraction of the squared singular values kept at rank k."""
        k = self._check_rank(k, low=0)
        s2 = self.s**2
        return float(s2[:k].sum() / s2.sum()) if s2.sum() > 0 else 1.0

    def error(self, k: int) -> float:
        """||W - W_k||_F = sqrt(sum_{i>k} s_i^2) (Eckart-Young)."""
        k = self._check_rank(k, low=0)
        return float(np.sqrt(np.sum(self.s[k:] ** 2)))

    def rank_for_energy(self, energy: float) -> int:
        """The smallest k that keeps at least ``energy`` of the squared singular values."""
        energy = check_float("energy", energy, low=0, high=1, low_open=True)
        s2 = self.s**2
        cumulative = np.cumsum(s2) / s2.sum()
        return int(min(np.searchsorted(cumulative, energy - 1e-12) + 1, len(self.s)))

    def _check_rank(self, k, low=1) -> int:
        """A rank in [low, full_rank]: a negative k would index from the end."""
        return check_int("rank k", k, low=low, high=self.full_rank)

    def layer(self, k: int) -> LowRank:
        k = self._check_rank(k)
        # left = U_k S_k; copies, so that training the layer never edits the cached SVD
        return LowRank(self.U[:, :k] * self.s[:k], self.Vt[:k].copy(), self.bias.copy())


@dataclass
class Factorization:
    """What ``factorize`` did: the network, each layer's rank and what was kept dense."""

    network: Network
    ranks: list                      # int per layer, or None where the layer stayed dense
    requested: list                  # the rank asked for each layer
    notes: list = field(default_factory=list)


FACTORIZE_METHODS = ("svd", "data")
_SVD_CACHE: "OrderedDict[str, LayerSVD]" = OrderedDict()    # content digest -> SVD
_SVD_CACHE_SIZE = 32


def _digest(dense: Dense) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for array in (dense.weight, dense.bias):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def layer_svds(network: Network) -> list[LayerSVD]:
    """The SVD of every layer (of its dense weight), cached by the weights' content.

    Computed once (tens of ms for LeNet-300-100); every later rank is a slice.
    The cache key is a digest of the numbers, never the object: a network
    trained in place after a first call gets the SVD of its new weights.
    """
    check_network("network", network)          # a NaN weight: "SVD did not converge" otherwise
    svds = []
    for layer in network.layers:
        dense = layer.to_dense()
        key = _digest(dense)
        if key not in _SVD_CACHE:
            U, s, Vt = np.linalg.svd(dense.weight, full_matrices=False)
            _SVD_CACHE[key] = LayerSVD(U, s, Vt, dense.bias)
            while len(_SVD_CACHE) > _SVD_CACHE_SIZE:
                _SVD_CACHE.popitem(last=False)
        _SVD_CACHE.move_to_end(key)
        svds.append(_SVD_CACHE[key])
    return svds


def _given_or_computed(network: Network, svds):
    """``svds`` if given (one ``LayerSVD`` per layer, of the same shape), else ``layer_svds(network)``."""
    if svds is None:
        return layer_svds(network)
    check_network("network", network)
    shapes = [(layer.n_inputs, layer.n_outputs) for layer in network.layers]
    if len(svds) != len(shapes) or any(getattr(s, "shape", None) != shape for s, shape in zip(svds, shapes)):
        raise ValueError("svds must be layer_svds(network): one LayerSVD per layer with its shape "
                         f"{shapes}; got {[getattr(s, 'shape', type(s).__name__) for s in svds]}")
    return list(svds)


def factorize(network: Network, ranks=None, *, energy=None, method="svd", X=None, svds=None) -> Factorization:
    """Replace each layer by its truncated SVD.

    Parameters
    ----------
    ranks : an int for every layer, or a list with one int per layer.
    energy : instead of ranks, a fraction in (0, 1]: each layer gets the
        smallest rank keeping that share of its squared singular values
        (of W for method "svd", of the layer's outputs X W for "data").
    method : "svd" approximates each weight W (Eckart-Young on W); "data"
        approximates each layer's outputs on the training inputs ``X``
        (see ``layer_output_svds``: min ||X W - X W_k||_F over rank k).
    X : training inputs (n_samples, n_features), for method "data" only.
    svds : ``layer_svds(network)`` when the caller already holds it (a dashboard
        computes it once; on every move the cache would hash all weights again).

    A layer whose rank is not below the break-even rank m n / (m + n) stays
    ``Dense`` (factorizing it would make it larger and slower); the result's
    ``notes`` say which.
    """
    check_choice("method", method, FACTORIZE_METHODS)
    if method == "data":
        if X is None:
            raise ValueError("method='data' needs X, the training inputs the layers' outputs are fitted on; got None")
        if svds is not None:
            raise ValueError("svds are the weights' SVDs (method='svd'); method='data' fits the layers' outputs "
                             "on X instead: leave svds=None")
        svds = layer_output_svds(network, X)
    else:
        if X is not None:
            raise ValueError("X is only used by method='data' (method='svd' looks at the weights alone); "
                             f"got an X of shape {np.shape(X)}")
        svds = _given_or_computed(network, svds)
    if (ranks is None) == (energy is None):
        raise ValueError("give exactly one of ranks or energy; got "
                         f"ranks={ranks!r}, energy={energy!r}")
    if energy is not None:
        energy = check_float("energy", energy, low=0, high=1, low_open=True)
        requested = [svd.rank_for_energy(energy) for svd in svds]
    else:
        if np.isscalar(ranks):
            ranks = [ranks] * len(svds)
        ranks = list(ranks)
        if len(ranks) != len(svds):
            raise ValueError(f"ranks must have one entry per layer ({len(svds)}); got {len(ranks)}")
        requested = [check_int(f"ranks: rank of layer {i}", k, low=1, high=svd.full_rank)
                     for i, (k, svd) in enumerate(zip(ranks, svds))]
    layers, kept, notes = [], [], []
    for i, (k, svd, original) in enumerate(zip(requested, svds, network.layers)):
        m, n = svd.shape
        if k >= break_even_rank(m, n):
            layers.append(original.to_dense().astype(original.dtype))   # a copy
            kept.append(None)
            notes.append(f"layer {i + 1} ({m}x{n}) kept dense: rank {k} >= break-even {break_even_rank(m, n):.1f}")
        else:
            layers.append(svd.layer(k).astype(original.dtype))
            kept.append(k)
    return Factorization(network.replace_layers(layers), kept, requested, notes)


def factorized_params(svds, ranks) -> int:
    """Parameters of the network that ``factorize`` would build with these ranks."""
    total = 0
    for svd, k in zip(svds, ranks):
        m, n = svd.shape
        total += (m * n if k >= break_even_rank(m, n) else k * (m + n)) + n
    return total


def allocate_ranks(network: Network, budget: int, *, svds=None) -> list[int]:
    """Choose every layer's rank together for a total parameter budget (global allocation).

    Greedy: start at rank 1 everywhere; repeatedly raise the rank of the layer
    whose next singular value removes the most squared error per parameter,
    s_{k+1}^2 / (m + n) (by Eckart-Young, raising layer i to rank k + 1 lowers
    ||W_i - W_i,k||_F^2 by exactly s_{k+1}^2 and costs m + n numbers), while
    the whole network stays within ``budget`` (biases included) and below the
    break-even ranks. This minimises the total squared error summed over the
    layers, one parameter at a time. ``svds``: as in ``factorize``.
    """
    svds = _given_or_computed(network, svds)
    ranks = [1] * len(svds)
    floor = factorized_params(svds, ranks)
    ceiling = factorized_params(svds, [max_useful_rank(*svd.shape) for svd in svds])
    budget = check_int("budget", budget, low=floor, high=ceiling)
    spent = floor
    while True:
        best, best_gain = None, 0.0
        for i, (svd, k) in enumerate(zip(svds, ranks)):
            m, n = svd.shape
            if k >= max_useful_rank(m, n) or k >= svd.full_rank or spent + m + n > budget:
                continue
            gain = svd.s[k] ** 2 / (m + n)
            if gain > best_gain:
                best, best_gain = i, gain
        if best is None:
            return ranks
        ranks[best] += 1
        spent += sum(svds[best].shape)


def uniform_ranks(network: Network, budget: int) -> list[int]:
    """The same budget spread layer by layer: every layer keeps the same share
    of its break-even rank (the largest common share that fits the budget)."""
    svds = layer_svds(network)
    limits = [max_useful_rank(*svd.shape) for svd in svds]
    check_int("budget", budget, low=factorized_params(svds, [1] * len(svds)),
              high=factorized_params(svds, limits))
    low, high = 0.0, 1.0
    for _ in range(50):                       # bisection on the common share
        share = (low + high) / 2
        ranks = [max(1, int(share * limit)) for limit in limits]
        if factorized_params(svds, ranks) <= budget:
            low = share
        else:
            high = share
    return [max(1, int(low * limit)) for limit in limits]


def energy_ranks(network: Network, budget: int) -> list[int]:
    """Layer by layer at a budget: the same energy kept in every layer (the
    highest energy whose ranks fit ``budget``), what the energy slider does."""
    svds = layer_svds(network)
    check_int("budget", budget, low=factorized_params(svds, [1] * len(svds)),
              high=factorized_params(svds, [max_useful_rank(*svd.shape) for svd in svds]))
    low, high = 0.0, 1.0
    for _ in range(50):                       # bisection on the common energy
        energy = (low + high) / 2
        ranks = [min(svd.rank_for_energy(energy), max_useful_rank(*svd.shape)) for svd in svds]
        if factorized_params(svds, ranks) <= budget:
            low = energy
        else:
            high = energy
    return [max(1, min(svd.rank_for_energy(low), max_useful_rank(*svd.shape))) for svd in svds]


# ----------------------------------------------------------------------------
# Data-aware factorization: approximate what the layer computes, not its weight
# ----------------------------------------------------------------------------

@dataclass
class LayerOutputSVD(LayerSVD):
    """The data-aware factorization of one layer, fitted to its outputs on data.

    Plain SVD makes W_k close to W in every direction, including input
    directions the data never takes (MNIST's always-black border pixels) and
    ones it takes rarely. What matters is the layer's output on real inputs,
    so choose the rank-k W_k that minimises

        ||X W - X W_k||_F     (X: the layer's inputs on training data, (N, m)).

    Solution: let X W = P S V^T (SVD, V (n, n), s_1 >= s_2 >= ...). By
    Eckart-Young the best rank-k approximation of X W is P_k S_k V_k^T =
    X W V_k V_k^T, and it is reached by W_k = W V_k V_k^T, which has rank
    <= k. So W_k = (W V_k) V_k^T: left = W V_k (m, k), right = V_k^T (k, n),
    the same ``LowRank`` layer as plain SVD, with orthonormal rows on the
    right. (With X = Q R this is W_k = R^+ [R W]_k whenever R is invertible;
    W V_k V_k^T needs no inverse, so a rank-deficient X is no problem: W_k
    then differs from W only in directions X never takes.)

    Fields: ``U`` = W V (m, r), ``s`` = singular values of X W, ``Vt`` = V^T
    (r, n), r = min(m, n). ``energy(k)`` is then the share of ||X W||_F^2 kept
    and ``error(k)`` = sqrt(sum_{i>k} s_i^2) = ||X W - X W_k||_F.
    The bias is kept as it is (X W_k + b).

    References: Zhang, Zou, He & Sun 2016 (accelerating very deep networks,
    the linear-response reconstruction, their eq. 3 without the nonlinearity);
    Denton et al. 2014 (data-dependent approximations).
    """

    def layer(self, k: int) -> LowRank:
        k = self._check_rank(k)
        # copies, so that training the layer never edits the cached factors
        return LowRank(self.U[:, :k].copy(), self.Vt[:k].copy(), self.bias.copy())


def layer_inputs(network: Network, X) -> list[np.ndarray]:
    """What every layer sees on X: X itself, then each hidden activation (of ``network``)."""
    check_network("network", network)
    X = check_array_2d("X", X, n_features=network.n_features)
    inputs, _ = network.forward_all(np.asarray(X, dtype=network.dtype))
    return inputs


def _array_digest(*arrays) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def output_svd(dense: Dense, A: np.ndarray) -> LayerOutputSVD:
    """The data-aware factorization of one dense layer whose inputs on the data are A (N, m)."""
    W = np.asarray(dense.weight, dtype=np.float64)
    m, n = W.shape
    Y = np.asarray(A, dtype=np.float64) @ W                          # (N, n): the layer's outputs, no bias
    if Y.shape[0] < n:                                               # fewer samples than outputs: zero rows
        Y = np.vstack([Y, np.zeros((n - Y.shape[0], n))])            # change neither s nor V, give n of them
    _, s, Vt = np.linalg.svd(Y, full_matrices=False)                 # s (n,), Vt (n, n)
    r = min(m, n)                      # rank(X W) <= m: the directions past m carry nothing
    Vt = Vt[:r]
    return LayerOutputSVD(W @ Vt.T, s[:r], Vt, np.array(dense.bias, dtype=np.float64))


def layer_output_svds(network: Network, X) -> list[LayerOutputSVD]:
    """The data-aware factorization of every layer, fitted on training inputs X.

    Layer i is fitted to its outputs on the activations the *original*
    network feeds it on X (each layer on its own, so all ranks come from one
    forward pass). Cached, like ``layer_svds``, by the content of the weights
    and of the layer's inputs.
    """
    inputs = layer_inputs(network, X)
    svds = []
    for layer, A in zip(network.layers, inputs):
        dense = layer.to_dense()
        key = "data:" + _array_digest(dense.weight, dense.bias, A)
        if key not in _SVD_CACHE:
            _SVD_CACHE[key] = output_svd(dense, A)
            while len(_SVD_CACHE) > _SVD_CACHE_SIZE:
                _SVD_CACHE.popitem(last=False)
        _SVD_CACHE.move_to_end(key)
        svds.append(_SVD_CACHE[key])
    return svds


def output_error(network: Network, X, layer: int, weight) -> float:
    """||A W - A W'||_F: how far a replacement weight W' moves layer ``layer``'s outputs
    (without bias) on the inputs A it sees when the network is fed X."""
    A = layer_inputs(network, X)[layer]
    W = network.layers[layer].to_dense().weight
    return float(np.linalg.norm(A @ (W - np.asarray(weight))))


@dataclass
class EnergyAccuracy:
    """For one layer factorized alone: per rank, the energy kept and the validation accuracy."""

    layer: int                 # index into network.layers
    ranks: np.ndarray
    energy: np.ndarray         # 1 - ||W - W_k||^2 / ||W||^2: for plain SVD the share of squared singular
                               # values of W kept (what the energy slider uses)
    output_energy: np.ndarray  # 1 - ||X W - X W_k||^2 / ||X W||^2 on the training inputs
    val_accuracy: np.ndarray
    baseline_val_accuracy: float
    method: str
    full_rank: int
    svd: LayerSVD = field(repr=False, default=None)

    def rank_for_energy(self, energy: float) -> int:
        """The smallest rank of this layer keeping ``energy`` of its weight's squared singular values."""
        return self.svd.rank_for_energy(energy)

    def rows(self) -> list[dict]:
        return [dict(rank=int(k), energy=float(e), output_energy=float(o), val_accuracy=float(a))
                for k, e, o, a in zip(self.ranks, self.energy, self.output_energy, self.val_accuracy)]


def energy_vs_accuracy(network: Network, dataset, layer: int, ranks, *, method="svd") -> EnergyAccuracy:
    """Is the energy kept a good proxy for accuracy? Factorize one layer alone at each rank.

    For every k in ``ranks``: layer ``layer`` (0-based) becomes its rank-k
    factorization (``method`` "svd" or "data", the latter fitted on
    ``dataset.X_train``), the other layers stay as they are, and the network
    is scored on the validation split. Returns the weight energy, the output
    energy and the validation accuracy per rank. The layer is factorized even
    above its break-even rank: this measures accuracy at a rank, not size.
    """
    check_network("network", network)
    layer = check_int("layer", layer, low=0, high=len(network.layers) - 1)
    check_choice("method", method, FACTORIZE_METHODS)
    if getattr(dataset, "X_val", None) is None:
        raise ValueError("dataset must have a validation split (dataset.X_val) to score ranks on; got none")
    weight_svd = layer_svds(network)[layer]
    output_svds = layer_output_svds(network, dataset.X_train)
    svd = output_svds[layer] if method == "data" else weight_svd
    if np.isscalar(ranks):
        ranks = [ranks]
    ranks = np.array([check_int(f"ranks: rank of layer {layer}", k, low=1, high=svd.full_rank)
                      for k in ranks], dtype=int)
    # the output energy of the weight-SVD factors is measured, not read off (they do not
    # diagonalise X W): 1 - ||X W - X W_k||^2 / ||X W||^2 on the training inputs
    A = layer_inputs(network, dataset.X_train)[layer]
    W = network.layers[layer].to_dense().weight
    total = np.linalg.norm(A @ W) ** 2
    energy, output_energy, accuracy = [], [], []
    original = network.layers[layer]
    for k in ranks:
        low = svd.layer(int(k)).astype(original.dtype)
        layers = list(network.layers)
        layers[layer] = low
        candidate = network.replace_layers(layers)
        difference = W - low.to_dense().weight
        # measured, so that it also holds for the data-aware W_k (for plain SVD it is svd.energy(k))
        energy.append(1.0 - np.linalg.norm(difference) ** 2 / np.linalg.norm(W) ** 2)
        residual = A @ difference
        output_energy.append(1.0 - np.linalg.norm(residual) ** 2 / total if total > 0 else 1.0)
        accuracy.append(candidate.score(dataset.X_val, dataset.y_val))
    return EnergyAccuracy(layer, ranks, np.array(energy), np.array(output_energy), np.array(accuracy),
                          network.score(dataset.X_val, dataset.y_val), method, svd.full_rank, weight_svd)


# ----------------------------------------------------------------------------
# The budgets a global allocation can spend (the curves themselves: curves.py)
# ----------------------------------------------------------------------------

def budget_range(network: Network) -> tuple[int, int]:
    """(fewest, most) parameters ``allocate_ranks`` can spend: every layer at rank 1,
    every layer just below its break-even rank."""
    svds = layer_svds(network)
    return (factorized_params(svds, [1] * len(svds)),
            factorized_params(svds, [max_useful_rank(*svd.shape) for svd in svds]))


# ----------------------------------------------------------------------------
# A fair comparison of budget rules: the same layers eligible for every rule
# ----------------------------------------------------------------------------

BUDGET_RULES = ("same share of rank", "same energy", "global")


def budget_ranks(network: Network, budget: int, rule: str = "global", *, keep_dense=(-1,)) -> list[int]:
    """Ranks for a total parameter ``budget`` by one ``rule``, over the same eligible layers.

    ``uniform_ranks``, ``energy_ranks`` and ``allocate_ranks`` may factorize every
    layer, even LeNet's 100 x 10 output layer, whose break-even rank is 9.1:
    a per-layer rule that squeezes it to rank 1-5 loses for that reason alone.
    Here the layers in ``keep_dense`` (indices, negative allowed) keep their
    full rank for every rule (``factorize`` then keeps them dense) and their
    m n + n parameters are paid from the budget first; the rest is spent on
    the eligible layers i (shape m_i x n_i, largest useful rank K_i) by

    - "same share of rank": k_i = max(1, floor(t K_i)), the largest common t that fits;
    - "same energy": k_i = the smallest rank keeping a share e of layer i's
      squared singular values (capped at K_i), the largest common e that fits;
    - "global": greedy from rank 1, each step raising the layer with the
      largest s_{k+1}^2 / (m_i + n_i). By Eckart-Young that step lowers
      ||W_i - W_i,k||_F^2 by exactly s_{k+1}^2 for m_i + n_i parameters, so the
      rule greedily minimises sum_i ||W_i - W_i,k||_F^2 at the budget: the
      total squared *weight* error. It is a proxy: a unit of squared error
      costs different accuracy in different layers (their inputs differ in
      scale and the later layers amplify it differently); Eckart-Young is a
      theorem about one matrix and says nothing about that exchange rate.

    Returns one rank per layer (the kept-dense layers at their full rank).
    """
    check_network("network", network)
    check_choice("rule", rule, BUDGET_RULES)
    svds = layer_svds(network)
    n_layers = len(svds)
    dense = set()
    for i in keep_dense:
        check_int("keep_dense: layer index", i, low=-n_layers, high=n_layers - 1)
        dense.add(i % n_layers)
    eligible = [i for i in range(n_layers) if i not in dense]
    if not eligible:
        raise ValueError(f"keep_dense must leave at least one layer to factorize; got {tuple(keep_dense)} "
                         f"for {n_layers} layers")
    limits = [max_useful_rank(*svd.shape) for svd in svds]

    def ranks_with(chosen):                   # chosen: {eligible index: rank}
        return [chosen[i] if i in chosen else svds[i].full_rank for i in range(n_layers)]

    def cost(chosen):
        return factorized_params(svds, ranks_with(chosen))

    floor = cost({i: 1 for i in eligible})
    ceiling = cost({i: limits[i] for i in eligible})
    budget = check_int("budget", budget, low=floor, high=ceiling)

    if rule == "global":
        chosen, spent = {i: 1 for i in eligible}, floor
        while True:
            best, best_gain = None, 0.0
            for i in eligible:
                m, n = svds[i].shape
                k = chosen[i]
                if k >= limits[i] or k >= svds[i].full_rank or spent + m + n > budget:
                    continue
                gain = svds[i].s[k] ** 2 / (m + n)
                if gain > best_gain:
                    best, best_gain = i, gain
            if best is None:
                return ranks_with(chosen)
            chosen[best] += 1
            spent += sum(svds[best].shape)

    if rule == "same share of rank":
        def at(t):
            return {i: max(1, int(t * limits[i])) for i in eligible}
    else:
        def at(t):
            return {i: max(1, min(svds[i].rank_for_energy(t), limits[i])) if t > 0 else 1 for i in eligible}
    low, high = 0.0, 1.0
    for _ in range(50):                       # bisection on the common share (or energy)
        middle = (low + high) / 2
        if cost(at(middle)) <= budget:
            low = middle
        else:
            high = middle
    return ranks_with(at(low))
