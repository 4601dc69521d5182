"""One conformance test for every layer kind x every encoding: the layer protocol
(network.LayerProtocol) holds for all of them, so metrics and the training engine
never need a special case."""
import importlib
import subprocess
import sys

import numpy as np
import pytest

from compresslab.encoding import METADATA_FIELDS, Encoded
from compresslab.network import LAYER_KINDS, LAYER_MODULES, Dense, LayerProtocol, Network, StoredLayer
from compresslab.quantization import quantize_layer

for module in set(LAYER_MODULES.values()):                 # every kind registered
    importlib.import_module(f"compresslab.{module}")

from compresslab.lowrank import LowRank  # noqa: E402
from compresslab.pruning import Sparse  # noqa: E402
from compresslab.quantization import QuantizedInput  # noqa: E402

M, N = 7, 5
RNG = np.random.default_rng(0)
W, B = RNG.normal(size=(M, N)), RNG.normal(size=N)
LEFT, RIGHT = RNG.normal(size=(M, 2)), RNG.normal(size=(2, N))

STRUCTURES = {
    "dense": lambda: Dense(W.copy(), B.copy()),
    "lowrank": lambda: LowRank(LEFT.copy(), RIGHT.copy(), B.copy()),
    "quantized_input": lambda: QuantizedInput(Dense(W.copy(), B.copy()), bits=4, low=-1.5, high=2.0),
    # the 11 smallest |w| pruned: 24 of 35 weights stored, in CSR
    "sparse": lambda: Sparse.from_dense(W * (np.abs(W) > np.sort(np.abs(W), axis=None)[10]), B.copy()),
}
ENCODINGS = {
    "float64": lambda layer: layer,
    "float32": lambda layer: layer.astype("float32"),
    "float16": lambda layer: quantize_layer(layer, "float16", 16),
    "symmetric-8-tensor": lambda layer: quantize_layer(layer, "symmetric", 8),
    "affine-4-neuron": lambda layer: quantize_layer(layer, "affine", 4, granularity="neuron"),
    "kmeans-2": lambda layer: quantize_layer(layer, "kmeans", 2),
    "binary": lambda layer: quantize_layer(layer, "binary", 1),
    "ternary": lambda layer: quantize_layer(layer, "ternary", 2),
}
CASES = [(s, e) for s in STRUCTURES for e in ENCODINGS]


def make(structure, encoding):
    return ENCODINGS[encoding](STRUCTURES[structure]())


def stored_layer(layer):
    return layer.inner if isinstance(layer, QuantizedInput) else layer


def test_every_registered_kind_is_covered():
    assert set(STRUCTURES) == set(LAYER_KINDS)


@pytest.mark.parametrize("structure, encoding", CASES)
def test_answers_the_protocol(structure, encoding):
    layer = make(structure, encoding)
    assert isinstance(layer, LayerProtocol)
    assert (layer.n_inputs, layer.n_outputs) == (M, N)
    assert layer.kind == structure
    inner = stored_layer(layer)
    weights = {Dense: W.size, LowRank: LEFT.size + RIGHT.size, Sparse: 24}[type(inner)]   # sparse: nonzeros
    assert layer.n_params == weights + B.size
    expected_flops = 2 * 3 * weights + 3 * N
    assert layer.flops(3) == expected_flops


@pytest.mark.parametrize("structure, encoding", CASES)
def test_forward_equals_its_dense_equivalent(structure, encoding):
    layer = make(structure, encoding)
    X = RNG.normal(size=(6, M))
    dense = layer.to_dense()
    assert isinstance(dense, Dense) and not dense.encoded
    reference = dense.forward(X)
    if isinstance(layer, QuantizedInput):                    # the input is rounded first
        from compresslab.quantization import fake_quantize_range

        reference = dense.forward(fake_quantize_range(X, layer.bits, layer.low, layer.high))
    rtol = 1e-5 if layer.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(layer.forward(X.astype(layer.dtype)), reference, rtol=rtol, atol=rtol)


def _finite_differences(array, loss, eps):
    """Central differences of ``loss()`` with respect to every entry of ``array`` (nudged in place)."""
    fd = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        array[idx] += eps
        up = loss()
        array[idx] -= 2 * eps
        down = loss()
        array[idx] += eps
        fd[idx] = (up - down) / (2 * eps)
    return fd


@pytest.mark.parametrize("structure, encoding", CASES)
def test_backward_matches_finite_differences(structure, encoding):
    layer = make(structure, encoding).astype("float64")
    X, G = RNG.normal(size=(4, M)), RNG.normal(size=(4, N))
    loss = lambda: float(np.sum(layer.forward(X) * G))                       # noqa: E731
    grad_X, grads = layer.backward(X, G)
    assert set(grads) == set(layer.params)                   # only trainable arrays get gradients
    eps = 1e-6
    if not isinstance(layer, QuantizedInput):                # rounding of X has no useful dX by FD
        np.testing.assert_allclose(grad_X, _finite_differences(X, loss, eps), rtol=1e-6, atol=1e-6)
    for name, array in layer.params.items():
        np.testing.assert_allclose(grads[name], _finite_differences(array, loss, eps), rtol=1e-6, atol=1e-6,
                                   err_msg=name)


def _written_value_bits(arrays):
    """Bits of the number-holding arrays a file holds (bookkeeping like shapes left out)."""
    skip = set(METADATA_FIELDS) | {"compute_dtype", "inner_kind", "bits"}
    return sum(np.asarray(a).nbytes * 8 for key, a in arrays.items() if key.split(".")[-1] not in skip)


@pytest.mark.parametrize("structure, encoding", CASES)
def test_storage_bits_are_the_arrays_written(structure, encoding):
    layer = make(structure, encoding)
    written = _written_value_bits(layer.arrays())
    packed = sum(1 for key in layer.arrays() if key.endswith("packed"))
    # packed codes fill their last byte with up to 7 padding bits
    assert layer.storage_bits() <= written < layer.storage_bits() + 8 * max(packed, 1)
    assert written >= layer.storage_bits()


@pytest.mark.parametrize("structure, encoding", CASES)
def test_astype_and_to_dense_share_no_arrays(structure, encoding):
    layer = make(structure, encoding)
    for dtype in ("float32", "float64"):
        cast = layer.astype(dtype)
        assert cast.dtype == np.dtype(dtype)
        assert type(cast) is type(layer) and cast.storage_bits() == (
            layer.storage_bits() if not layer.params else cast.storage_bits())
        for name, array in cast.params.items():
            assert not np.shares_memory(array, layer.params[name])
    dense = layer.to_dense()
    for mine in layer.params.values():
        for theirs in dense.params.values():
            assert not np.shares_memory(mine, theirs)
    inner = stored_layer(layer)
    for encoded in inner.encoded.values():                   # encodings are immutable: safe to share
        assert isinstance(encoded, Encoded) and not encoded.decode().flags.writeable


@pytest.mark.parametrize("structure, encoding", CASES)
def test_save_and_load_in_a_fresh_interpreter(structure, encoding, tmp_path):
    """Loading needs no technique module imported first (a new kernel, a student's script)."""
    layer = make(structure, encoding)
    net = Network([layer, Dense(RNG.normal(size=(N, 3)), RNG.normal(size=3))])
    X = RNG.normal(size=(5, M))
    net.save(tmp_path / "net.npz")
    np.save(tmp_path / "X.npy", X)
    code = ("import numpy as np, sys; from compresslab.network import Network; "
            f"net = Network.load(r'{tmp_path / 'net.npz'}'); "
            f"np.save(r'{tmp_path / 'out.npy'}', net.predict_proba(np.load(r'{tmp_path / 'X.npy'}'))); "
            "print(net.storage_bits(), sorted(m for m in sys.modules if m.startswith('compresslab.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    bits = int(result.stdout.split()[0])
    assert bits == net.storage_bits()
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), net.predict_proba(X))


def test_structure_base_is_shared():
    for structure in ("dense", "lowrank"):
        assert isinstance(STRUCTURES[structure](), StoredLayer)
