"""A tiny NumPy network that every compression technique plugs into.

A ``Network`` is a list of layers with one hidden activation and one output
activation, exactly the model scikit-learn's ``MLPClassifier`` computes:

    a_0 = X,   z_i = layer_i(a_{i-1}),   a_i = g(z_i)  (hidden),   p = out(z_L)

where g is relu / tanh / logistic / identity and ``out`` is softmax
(multiclass) or logistic (binary and multilabel).

The layer protocol
------------------
Metrics and the training engine only ever ask a layer the questions of
``LayerProtocol`` below, so a new layer kind needs no special case anywhere.

Structure x encoding: a layer's *structure* (``Dense``: weight and bias;
``LowRank``: two factors and a bias; a sparse layer: values and positions) is
separate from how each of its arrays is *encoded* (see ``encoding.py``: a
plain float64/32 array, which is trainable, or a float16 / b-bit / codebook /
binary encoding, which is not). ``StoredLayer`` is the base every structure
shares: it keeps the arrays, counts their bits, writes and reads them, and
hands ``forward`` the decoded values at call time.

A layer kind registers itself with ``@register_layer`` so ``Network.load``
can rebuild it; ``LAYER_MODULES`` says which module defines each kind, so a
file loads in a fresh interpreter without importing a technique first.
"""
from __future__ import annotations

import copy
import hashlib
import importlib
import io
import math
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import expit

from ._validation import (check_array_2d, check_bool, check_choice, check_finite_weights, check_int,
                          check_labels)
from ._validation import check_random_state as check_seed
from .encoding import Encoded, array_storage_bits, encoded_from_arrays

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
OUTPUT_ACTIVATIONS = ("softmax", "logistic")
FLOAT_DTYPES = ("float64", "float32")

LAYER_KINDS: dict[str, type] = {}
# The module that defines each layer kind, imported on demand by ``Network.load``.
LAYER_MODULES = {"dense": "network", "lowrank": "lowrank", "quantized_input": "quantization",
                 "sparse": "pruning"}
_SERIALIZED_BYTES: dict[str, int] = {}   # content digest -> file length


def register_layer(cls):
    """Class decorator: make a layer kind loadable by ``Network.load``."""
    LAYER_KINDS[cls.kind] = cls
    return cls


def layer_class(kind: str) -> type:
    """The class of a layer kind, importing the module that defines it if needed."""
    kind = str(kind)
    if kind not in LAYER_KINDS and kind in LAYER_MODULES:
        importlib.import_module(f"{__package__}.{LAYER_MODULES[kind]}")
    if kind not in LAYER_KINDS:
        raise ValueError(f"layer kind must be one of {sorted(set(LAYER_KINDS) | set(LAYER_MODULES))}; "
                         f"got {kind!r}")
    return LAYER_KINDS[kind]


def float_dtype(dtype, name="dtype") -> np.dtype:
    """``np.dtype`` of float64 or float32; anything else is a ``ValueError``
    (a ``TypeError`` for what is no dtype at all) naming the argument ``name``."""
    if dtype is None or isinstance(dtype, (bool, int, float)):
        raise TypeError(f"{name} must be one of {FLOAT_DTYPES}; got {dtype!r}")
    try:
        dtype_name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(f"{name} must be one of {FLOAT_DTYPES}; got {dtype!r}") from None
    check_choice(name, dtype_name, FLOAT_DTYPES)
    return np.dtype(dtype_name)


@runtime_checkable
class LayerProtocol(Protocol):
    """What every layer kind provides (checked by tests/test_conformance.py).

    ``forward`` must read its arrays at call time (from ``params`` for the
    trainable ones): the training engine swaps ``params`` entries for
    fake-quantized values during a step and restores them after.
    """

    kind: str                       # its name in a saved file
    params: dict                    # trainable float arrays, name -> array, updated in place

    @property
    def n_inputs(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def n_params(self) -> int: ...             # how many numbers it has (stored nonzeros for sparse)
    @property
    def dtype(self) -> np.dtype: ...           # the float type it computes in

    def forward(self, X: np.ndarray) -> np.ndarray: ...                   # (n_samples, n_outputs)
    def backward(self, X: np.ndarray, grad_out: np.ndarray) -> tuple: ... # (dL/dX, {param: dL/dparam})
    def storage_bits(self) -> int: ...         # values + indices + codebooks + scales + biases
    def arrays(self) -> dict: ...              # the arrays a file must hold to rebuild it
    @classmethod
    def from_arrays(cls, arrays: dict): ...
    def flops(self, n_samples: int) -> int: ...     # floating-point operations of one forward pass
    def to_dense(self): ...                    # an equivalent ``Dense`` layer, sharing no arrays
    def astype(self, dtype): ...               # the same layer computing in ``dtype``, sharing no arrays


# ----------------------------------------------------------------------------
# Activations: the same formulas, in the same order, as
# sklearn.neural_network._base, so results match to the last bits.
# ----------------------------------------------------------------------------

def activate(name: str, Z: np.ndarray) -> np.ndarray:
    """Apply a hidden or output activation to the pre-activations ``Z``."""
    if name == "identity":
        return Z
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "tanh":
        return np.tanh(Z)
    if name == "logistic":
        return expit(Z)
    if name == "softmax":
        shifted = Z - Z.max(axis=1, keepdims=True)   # no overflow in exp
        E = np.exp(shifted)
        return E / E.sum(axis=1, keepdims=True)
    raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS + ('softmax',)}; got {name!r}")


def activation_derivative(name: str, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """d g(z) / dz for a hidden activation, from Z and A = g(Z)."""
    if name == "identity":
        return np.ones_like(Z)
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    if name == "tanh":
        return 1.0 - A**2
    if name == "logistic":
        return A * (1.0 - A)
    raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}; got {name!r}")


# ----------------------------------------------------------------------------
# StoredLayer: arrays in any encoding, the base of every structure
# ----------------------------------------------------------------------------

class StoredLayer:
    """A structure whose named arrays are each stored in some encoding.

    Subclasses list their array names in ``array_names`` (constructor keyword
    arguments of the same names) and implement ``forward``, ``backward``,
    ``flops``, ``n_inputs``, ``n_outputs`` and ``to_dense``. They read an
    array with ``self.value(name)`` at call time.

    Plain float arrays go to ``params`` (trainable, updated in place by the
    engine); encoded arrays (``encoding.Encoded``) to ``encoded`` (fixed: to
    train an encoded layer, train a float copy with the quantization hook).
    """

    kind = ""
    array_names: tuple = ()

    def __init__(self, compute_dtype=None, **arrays):
        self.params, self.encoded = {}, {}
        for name in self.array_names:
            array = arrays[name]
            if isinstance(array, Encoded):
                self.encoded[name] = array
            else:
                array = np.asarray(array)
                if array.dtype.kind not in "fiub":
                    raise TypeError(f"{name} must be a numeric array; got dtype {array.dtype}")
                self.params[name] = array
        if compute_dtype is not None:
            dtype = float_dtype(compute_dtype)
        elif self.params and all(a.dtype.kind == "f" for a in self.params.values()):
            dtype = float_dtype(np.result_type(*self.params.values()))
        else:
            dtype = np.dtype("float64")
        for name, array in self.params.items():       # one dtype for every trainable array
            self.params[name] = array.astype(dtype, copy=False)
        self._compute_dtype = dtype

    # --- what is stored -----------------------------------------------------------
    def value(self, name: str) -> np.ndarray:
        """The numbers of array ``name`` as the layer computes with them, read now."""
        if name in self.params:
            return self.params[name]
        return self.encoded[name].decode(self._compute_dtype)

    def stored(self, name: str):
        """Array ``name`` as stored: a float ndarray or an ``Encoded``."""
        return self.params[name] if name in self.params else self.encoded[name]

    def with_arrays(self, **replacements):
        """The same structure with some arrays replaced (the others copied or shared if immutable)."""
        arrays = {}
        for name in self.array_names:
            if name in replacements:
                arrays[name] = replacements[name]
            else:
                stored = self.stored(name)
                arrays[name] = stored if isinstance(stored, Encoded) else stored.copy()
        return type(self)(compute_dtype=self._compute_dtype, **self._structure_kwargs(), **arrays)

    def _structure_kwargs(self) -> dict:
        """Constructor arguments that are not arrays (none for most structures)."""
        return {}

    @property
    def dtype(self) -> np.dtype:
        return self._compute_dtype

    # the (n_inputs, n_outputs) of the dense matrix the layer stands for; a structure
    # without a ``shape`` (low-rank: two factors) overrides these
    @property
    def n_inputs(self) -> int:
        return self.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.shape[1]

    @property
    def n_params(self) -> int:
        return sum(math.prod(np.shape(self.stored(n)) if not isinstance(self.stored(n), Encoded)
                             else self.stored(n).shape) for n in self.array_names)

    def storage_bits(self) -> int:
        return sum(array_storage_bits(self.stored(name)) for name in self.array_names)

    def arrays(self) -> dict:
        out = {}
        for name in self.array_names:
            stored = self.stored(name)
            if isinstance(stored, Encoded):
                out.update({f"{name}.{k}": v for k, v in stored.arrays().items()})
            else:
                out[name] = stored
        if not self.params:                         # nothing says the compute dtype otherwise
            out["compute_dtype"] = np.array(self._compute_dtype.name)
        return out

    @classmethod
    def from_arrays(cls, arrays):
        kwargs = {}
        for name in cls.array_names:
            if name in arrays:
                kwargs[name] = np.asarray(arrays[name])
            else:
                prefix = f"{name}."
                kwargs[name] = encoded_from_arrays({k[len(prefix):]: v for k, v in arrays.items()
                                                    if k.startswith(prefix)})
        extra = {k: arrays[k] for k in cls._extra_array_names() if k in arrays}
        compute = str(arrays["compute_dtype"]) if "compute_dtype" in arrays else None
        return cls(compute_dtype=compute, **cls._structure_from_arrays(extra), **kwargs)

    @classmethod
    def _extra_array_names(cls) -> tuple:
        return ()

    @classmethod
    def _structure_from_arrays(cls, extra) -> dict:
        return {}

    def astype(self, dtype):
        """The same layer computing in ``dtype``: plain arrays cast (copies), encodings kept."""
        dtype = float_dtype(dtype)
        arrays = {}
        for name in self.array_names:
            stored = self.stored(name)
            arrays[name] = stored if isinstance(stored, Encoded) else stored.astype(dtype)  # a copy
        return type(self)(compute_dtype=dtype, **self._structure_kwargs(), **arrays)

    def decoded(self, dtype="float64"):
        """The same structure with every array decoded into a plain (trainable) float array."""
        dtype = float_dtype(dtype)
        return type(self)(**self._structure_kwargs(),
                          **{name: np.array(self.value(name), dtype=dtype) for name in self.array_names})

    def quantizable_names(self) -> tuple:
        """The arrays that hold numbers a quantizer may re-encode (not positions or pointers)."""
        return self.array_names

    def _grads(self, **grads):
        """Only the trainable arrays get gradients (an encoded array is fixed)."""
        return {name: g() for name, g in grads.items() if name in self.params}


# ----------------------------------------------------------------------------
# Dense: the uncompressed structure, X W + b
# ----------------------------------------------------------------------------

@register_layer
class Dense(StoredLayer):
    """A fully connected layer ``X @ W + b``.

    ``weight`` has shape (n_inputs, n_outputs), as in scikit-learn's
    ``coefs_``; ``bias`` has shape (n_outputs,). Either may be encoded.
    Storage: (m n + n) values at their encoding's width (64 bits for float64).
    FLOPs of a forward pass on N samples: 2 N m n (multiply-adds) + N n (bias).
    """

    kind = "dense"
    array_names = ("weight", "bias")

    def __init__(self, weight, bias, *, compute_dtype=None):
        shape = weight.shape if isinstance(weight, Encoded) else np.shape(weight)
        bias_shape = bias.shape if isinstance(bias, Encoded) else np.shape(bias)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"weight must be 2-D (n_inputs, n_outputs), both at least 1; got shape {tuple(shape)}")
        if tuple(bias_shape) != (shape[1],):
            raise ValueError(f"bias must have shape ({shape[1]},) to match weight; got {tuple(bias_shape)}")
        self.shape = tuple(shape)
        super().__init__(compute_dtype=compute_dtype, weight=weight, bias=bias)

    @property
    def weight(self) -> np.ndarray:
        return self.value("weight")

    @property
    def bias(self) -> np.ndarray:
        return self.value("bias")

    def flops(self, n_samples: int) -> int:
        return 2 * n_samples * self.n_inputs * self.n_outputs + n_samples * self.n_outputs

    def forward(self, X: np.ndarray) -> np.ndarray:
        out = X @ self.value("weight")          # (n_samples, n_outputs)
        out += self.value("bias")
        return out

    def backward(self, X: np.ndarray, grad_out: np.ndarray, input_grad: bool = True):
        """``input_grad=False`` (optional in the protocol) skips dL/dX, returned as None: the
        training engine asks it of the first layer, whose input is the data (a third of a step)."""
        grads = self._grads(weight=lambda: X.T @ grad_out, bias=lambda: grad_out.sum(axis=0))
        return (grad_out @ self.value("weight").T if input_grad else None), grads

    def to_dense(self) -> "Dense":
        """A plain float copy (decoded if encoded): shares no arrays with this layer."""
        return Dense(np.array(self.weight), np.array(self.bias))

    def __repr__(self):
        encodings = {n: (self.encoded[n].encoding if n in self.encoded else self.params[n].dtype.name)
                     for n in self.array_names}
        return f"Dense({self.n_inputs} -> {self.n_outputs}, weight {encodings['weight']}, bias {encodings['bias']})"


# ----------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------

class Network:
    """Layers + activations + the class labels: a classifier made of NumPy.

    Parameters
    ----------
    layers : list of layers answering the layer protocol (see module doc).
    activation : hidden activation, one of ``HIDDEN_ACTIVATIONS``.
    out_activation : "softmax" (multiclass) or "logistic" (binary, multilabel).
    classes : the labels ``predict`` returns (``classes_`` in scikit-learn).
    multilabel : True when the targets are an indicator matrix.
    """

    def __init__(self, layers, *, activation="relu", out_activation="softmax",
                 classes=None, multilabel=False):
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of layers; got {type(layers).__name__}")
        layers = list(layers)
        if not layers:
            raise ValueError("a Network needs at least one layer; got an empty list of layers")
        for i, layer in enumerate(layers):
            if not all(hasattr(layer, a) for a in ("forward", "n_inputs", "n_outputs", "to_dense")):
                raise TypeError(f"layers[{i}] must be a layer (Dense, LowRank, ...); got {type(layer).__name__}")
        if classes is not None and np.ndim(classes) != 1:
            raise ValueError(f"classes must be a 1-D list of labels; got {classes!r}")
        multilabel = check_bool("multilabel", multilabel)
        for i, (a, b) in enumerate(zip(layers, layers[1:])):
            if a.n_outputs != b.n_inputs:
                raise ValueError(f"layer {i} has {a.n_outputs} outputs but layer {i + 1} "
                                 f"expects {b.n_inputs} inputs")
        check_choice("activation", activation, HIDDEN_ACTIVATIONS)
        check_choice("out_activation", out_activation, OUTPUT_ACTIVATIONS)
        n_out = layers[-1].n_outputs
        if classes is None:
            classes = np.arange(max(n_out, 2) if not multilabel else n_out)
        classes = np.asarray(classes)
        expected = n_out if (multilabel or n_out > 1) else 2
        if len(classes) != expected:
            raise ValueError(f"{n_out} output units need {expected} classes; got {len(classes)}")
        self.layers = layers
        self.activation = activation
        self.out_activation = out_activation
        self.classes = classes
        self.multilabel = bool(multilabel)

    # --- sizes (sums over the layer protocol) ------------------------------
    @property
    def n_features(self) -> int:
        return self.layers[0].n_inputs

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    def storage_bits(self) -> int:
        return sum(layer.storage_bits() for layer in self.layers)

    def flops(self, n_samples: int) -> int:
        """FLOPs of the matrix work of one forward pass (activations excluded:
        they cost the same in every compressed variant)."""
        return sum(layer.flops(n_samples) for layer in self.layers)

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(*[layer.dtype for layer in self.layers])

    @property
    def hidden_layer_sizes(self) -> tuple[int, ...]:
        return tuple(layer.n_outputs for layer in self.layers[:-1])

    # --- inference ------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        X = check_array_2d("X", X, n_features=self.n_features)
        return X.astype(self.dtype, copy=False)

    def forward_all(self, X):
        """Pre-activations Z_i and activations A_i of every layer (for backprop).

        Returns (inputs, pre_activations): inputs[i] is what layer i saw,
        pre_activations[i] what it produced before its activation.
        """
        inputs, pre_activations = [], []
        A = X
        for i, layer in enumerate(self.layers):
            inputs.append(A)
            Z = layer.forward(A)
            pre_activations.append(Z)
            A = activate(self.activation, Z) if i < len(self.layers) - 1 else Z
        return inputs, pre_activations

    def logits(self, X) -> np.ndarray:
        """The output layer's pre-activations z_L, (n_samples, n_outputs)."""
        return self._logits(self._check_X(X))

    def _logits(self, A, start: int = 0) -> np.ndarray:
        """``logits`` of an input ``_check_X`` has already validated (scanned once per call).
        ``start``: A is the input of layer ``start`` (a caller computed the layers before it)."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers[start:], start):
            A = layer.forward(A)
            if i < last:
                A = activate(self.activation, A)
        if not np.isfinite(A).all():
            # checked on the output (cheap), then the weights are searched for the cause
            check_finite_weights("network", self)
            raise ValueError("network output must be finite; the weights are finite but the "
                             "computation overflowed (inputs or weights too large)")
        return A

    def _output(self, X) -> np.ndarray:
        return activate(self.out_activation, self.logits(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, the same array ``MLPClassifier.predict_proba`` gives."""
        P = self._output(X)
        if P.shape[1] == 1 and not self.multilabel:
            p = P.ravel()
            return np.vstack([1 - p, p]).T
        return P

    def predict(self, X) -> np.ndarray:
        return self._labels(self._output(X))

    def _labels(self, P) -> np.ndarray:
        """Predicted labels from the output probabilities P."""
        if self.multilabel:
            return (P > 0.5).astype(int)
        if P.shape[1] == 1:
            return self.classes[(P.ravel() > 0.5).astype(int)]
        return self.classes[np.argmax(P, axis=1)]

    def score(self, X, y) -> float:
        """Accuracy (subset accuracy for multilabel), like ``MLPClassifier.score``."""
        X = self._check_X(X)
        return self.score_logits(self._logits(X), y)                # X is not checked twice

    def score_logits(self, logits, y) -> float:
        """``score`` from this network's logits (``logits(X)``), computed by the caller:
        a dashboard that reused the activations of the layers a move left alone."""
        logits, n_outputs = np.asarray(logits), self.layers[-1].n_outputs
        if logits.ndim != 2 or logits.shape[1] != n_outputs:
            raise ValueError(f"logits must have shape (n_samples, {n_outputs}); got {logits.shape}")
        if not np.isfinite(logits).all():
            raise ValueError("logits must be finite (the forward pass overflowed, or they are not this network's)")
        y = check_labels("y", y, self, n_samples=logits.shape[0])  # one label per sample, among the classes
        y_pred = self._labels(activate(self.out_activation, logits))
        if self.multilabel:
            return float(np.mean(np.all(y_pred == y, axis=1)))
        return float(np.mean(y_pred == y))

    # --- conversions ---------------------------------------------------------
    def copy(self) -> "Network":
        return copy.deepcopy(self)

    def replace_layers(self, layers) -> "Network":
        """A network with the same activations and classes but other layers."""
        return Network(layers, activation=self.activation, out_activation=self.out_activation,
                       classes=self.classes, multilabel=self.multilabel)

    def astype(self, dtype) -> "Network":
        """The same network with every float array stored in ``dtype``."""
        return self.replace_layers([layer.astype(dtype) for layer in self.layers])

    def to_dense(self) -> "Network":
        """Every layer as a plain float ``Dense`` layer: a new network sharing no arrays."""
        return self.replace_layers([layer.to_dense() for layer in self.layers])

    def to_sklearn(self):
        """An ``MLPClassifier`` with this network's (dense) weights, so that
        scikit-learn itself can score a compressed model."""
        from .models import mlp_from_arrays

        dense = [layer.to_dense() for layer in self.layers]
        return mlp_from_arrays(
            coefs=[d.weight for d in dense], intercepts=[d.bias for d in dense],
            activation=self.activation, out_activation=self.out_activation,
            classes=self.classes, multilabel=self.multilabel)

    # --- files ----------------------------------------------------------------
    def save(self, file) -> None:
        """Write every array needed to rebuild the network with ``np.savez_compressed``.

        ``file`` is a path or a binary file object. Only numeric and string
        arrays are written: the file loads with ``allow_pickle=False``.
        """
        entries = {
            "activation": np.array(self.activation),
            "out_activation": np.array(self.out_activation),
            "classes": self.classes,
            "multilabel": np.array(self.multilabel),
            "kinds": np.array([layer.kind for layer in self.layers]),
        }
        for i, layer in enumerate(self.layers):
            for name, array in layer.arrays().items():
                entries[f"layer{i}.{name}"] = np.asarray(array)
        np.savez_compressed(file, **entries)

    def serialized_bytes(self) -> int:
        """Length in bytes of the file ``save`` writes: the honest size on disk.

        Compressing LeNet-300-100 takes ~75 ms, too slow to repeat on every
        slider move, so the length is memoised by a digest of the content
        (hashing is ~40x faster than deflate): same arrays, same file.
        """
        key = self._content_digest()
        if key not in _SERIALIZED_BYTES:
            buffer = io.BytesIO()
            self.save(buffer)
            if len(_SERIALIZED_BYTES) > 4096:
                _SERIALIZED_BYTES.clear()
            _SERIALIZED_BYTES[key] = buffer.getbuffer().nbytes
        return _SERIALIZED_BYTES[key]

    def _content_digest(self) -> str:
        digest = hashlib.blake2b(digest_size=20)
        digest.update(repr((self.activation, self.out_activation, self.multilabel,
                            self.classes.tolist())).encode())
        for layer in self.layers:
            for name, array in layer.arrays().items():
                array = np.ascontiguousarray(array)
                digest.update(f"{layer.kind}.{name}{array.dtype.str}{array.shape}".encode())
                digest.update(array.data)
        return digest.hexdigest()

    @classmethod
    def load(cls, file) -> "Network":
        with np.load(file, allow_pickle=False) as f:
            layers = []
            for i, kind in enumerate(f["kinds"]):
                prefix = f"layer{i}."
                arrays = {k[len(prefix):]: f[k] for k in f.files if k.startswith(prefix)}
                layers.append(layer_class(kind).from_arrays(arrays))
            return cls(layers, activation=str(f["activation"]), out_activation=str(f["out_activation"]),
                       classes=f["classes"], multilabel=bool(f["multilabel"]))

    def __repr__(self):
        shape = " -> ".join([str(self.n_features)] + [str(layer.n_outputs) for layer in self.layers])
        kinds = ", ".join(layer.kind for layer in self.layers)
        return (f"Network({shape}; {self.activation}/{self.out_activation}; layers: {kinds}; "
                f"{self.n_params:,} params)")


def from_sklearn(mlp) -> Network:
    """Convert a fitted ``sklearn.neural_network.MLPClassifier`` into a ``Network``.

    The weights are copied, so compressing the network leaves ``mlp`` intact.
    ``Network.predict_proba`` then equals ``mlp.predict_proba`` to rounding.
    """
    from sklearn.neural_network import MLPClassifier
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(mlp, MLPClassifier):
        raise TypeError(f"from_sklearn needs a fitted sklearn.neural_network.MLPClassifier; "
                        f"got {type(mlp).__name__}")
    check_is_fitted(mlp, ["coefs_", "intercepts_"])
    layers = [Dense(W.copy(), b.copy()) for W, b in zip(mlp.coefs_, mlp.intercepts_)]
    multilabel = mlp._label_binarizer.y_type_ == "multilabel-indicator"
    network = Network(layers, activation=mlp.activation, out_activation=mlp.out_activation_,
                      classes=np.asarray(mlp.classes_), multilabel=bool(multilabel))
    check_finite_weights("mlp", network)
    return network



def random_network(layer_sizes, *, activation="relu", classes=None, random_state=0, dtype="float64") -> Network:
    """An untrained multiclass ``Network`` with scikit-learn's initialisation.

    ``layer_sizes`` = (n_features, hidden..., n_classes). Weights and biases are
    drawn uniformly from [-b, b] with b = sqrt(6 / (fan_in + fan_out))
    (Glorot & Bengio 2010; sqrt(2) times larger for logistic units), as
    ``MLPClassifier._init_coef`` does.
    """
    from sklearn.utils import check_random_state

    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__iter__"):
        raise TypeError(f"layer_sizes must be a tuple of integers (n_features, hidden..., n_classes); "
                        f"got {layer_sizes!r}")
    for size in layer_sizes:
        check_int("layer_sizes entry", size, low=1, high=10**6)
    check_seed("random_state", random_state)
    float_dtype(dtype)
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes must be at least (n_features, n_classes), all >= 1; got {tuple(layer_sizes)}")
    check_choice("activation", activation, HIDDEN_ACTIVATIONS)
    rng = check_random_state(random_state)
    gain = 2.0 if activation == "logistic" else 6.0
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        bound = np.sqrt(gain / (fan_in + fan_out))
        layers.append(Dense(rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)))
    out = "softmax" if sizes[-1] > 1 else "logistic"
    return Network(layers, activation=activation, out_activation=out, classes=classes).astype(dtype)
