"""Argument checks shared by the public functions.

Every error gives the rule and the bad value, scikit-learn style:
"rank must be in [1, 64]; got 70".
"""
from __future__ import annotations

import numbers

import numpy as np


def check_choice(name: str, value, choices) -> None:
    """``value`` must be one of ``choices`` (compared as strings only: an array or
    a list never reaches ``in``, whose answer for them is an ambiguous array)."""
    if not isinstance(value, str) or value not in choices:
        shown = value if isinstance(value, str) else type(value).__name__ + " " + repr(value)[:40]
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {shown!r}")


def check_int(name: str, value, *, low=None, high=None) -> int:
    """An integer within [low, high] (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    return int(check_range(name, value, low=low, high=high))


def check_float(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """A finite real number within [low, high] ((low, ... when ``low_open``, ..., high) when ``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return float(check_range(name, value, low=low, high=high, low_open=low_open, high_open=high_open))


def check_range(name, value, *, low=None, high=None, low_open=False, high_open=False):
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    bracket = ("(" if low_open else "[", ")" if high_open else "]")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be in {bracket[0]}{lo}, {hi}{bracket[1]}; got {value!r}")
    return value


def check_bool(name: str, value) -> bool:
    """True or False (not 1, "yes" or None: those are typos more often than choices)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")
    return bool(value)


def check_callable(name: str, value, *, allow_none=True):
    """A function (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not callable(value):
        raise TypeError(f"{name} must be a function{' or None' if allow_none else ''}; "
                        f"got {value!r} ({type(value).__name__})")
    return value


def check_random_state(name: str, value):
    """A seed: None, an integer in [0, 2**32 - 1], or a NumPy RandomState/Generator."""
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be None, an integer seed or a NumPy random generator; "
                        f"got {value!r} ({type(value).__name__})")
    return check_int(name, value, low=0, high=2**32 - 1)


def check_network(name: str, network, *, finite=True):
    """A compresslab ``Network`` (with finite weights when ``finite``)."""
    from .network import Network

    if not isinstance(network, Network):
        hint = ("; convert a scikit-learn MLPClassifier with from_sklearn(mlp)"
                if type(network).__name__ == "MLPClassifier" else " (see from_sklearn)")
        raise TypeError(f"{name} must be a compresslab Network{hint}; got {type(network).__name__}")
    if finite:
        check_finite_weights(name, network)
    return network


def check_finite_weights(name: str, network) -> None:
    """Every float array of every layer is finite: a NaN would otherwise come out
    as 10 % accuracy, "SVD did not converge" or "codes must be < 2^4"."""
    for i, layer in enumerate(network.layers):
        check_finite_layer(f"{name} weights", layer, where=f"layer {i + 1} ")


def _float_arrays(layer):
    """(name, array) for every float array a layer stores: its trainable params and the
    float parts of its encodings (values, scales, codebooks), without packing any codes."""
    inner = getattr(layer, "inner", layer)
    yield from getattr(inner, "params", {}).items()
    for name, encoded in getattr(inner, "encoded", {}).items():
        for part in ("values", "scale", "codebook"):
            if getattr(encoded, part, None) is not None:
                yield f"{name}.{part}", getattr(encoded, part)


def check_finite_layer(name: str, layer, *, where="") -> None:
    for key, array in _float_arrays(layer):
        array = np.asarray(array)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            n_nan, n_inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
            found = " and ".join(f"{n} {what}" for n, what in ((n_nan, "NaN"), (n_inf, "inf")) if n)
            raise ValueError(f"{name} must be finite; {where}{key!r} has {found}")


def check_labels(name: str, y, network, n_samples=None) -> np.ndarray:
    """Labels for ``network``: 1-D and among ``network.classes`` (multiclass), or an
    (n_samples, n_outputs) 0/1 indicator matrix (multilabel); ``n_samples`` long if given."""
    try:
        y = np.asarray(y)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be an array of labels; got {type(y).__name__} ({exc})") from None
    if network.multilabel:
        n_out = network.layers[-1].n_outputs
        if y.ndim != 2 or y.shape[1] != n_out:
            raise ValueError(f"{name} must be an indicator matrix (n_samples, {n_out}); got shape {y.shape}")
        bad = ~np.isin(y, (0, 1))
    else:
        if y.ndim != 1:
            raise ValueError(f"{name} must be 1-D (n_samples,); got shape {y.shape}")
        bad = ~np.isin(y, network.classes)           # 3.0 is label 3; 3.5, NaN and "3" are not labels
    if n_samples is not None and y.shape[0] != n_samples:
        raise ValueError(f"X and {name} must have the same number of samples; got {n_samples} and {y.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError(f"{name} must have at least one label; got shape {y.shape}")
    if bad.any():
        unknown = np.unique(y[bad.any(axis=1)] if bad.ndim == 2 else y[bad])[:5].tolist()
        allowed = [0, 1] if network.multilabel else network.classes.tolist()
        raise ValueError(f"{name} must only hold the network's classes {allowed}; got {unknown}")
    return y


def check_array_2d(name: str, X, *, n_features=None) -> np.ndarray:
    """A 2-D array of finite real numbers, with ``n_features`` columns if given."""
    if hasattr(X, "toarray"):
        raise TypeError(f"{name} must be a dense array; got a sparse {type(X).__name__}")
    try:
        X = np.asarray(X)
    except (ValueError, TypeError) as exc:       # a ragged list of rows
        raise TypeError(f"{name} must be a 2-D array of numbers; got {type(X).__name__} ({exc})") from None
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} must have at least one sample; got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features (columns); got {X.shape[1]}")
    if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must not contain NaN or infinity; "
                         f"found {int(np.sum(~np.isfinite(X)))} such values")
    return X
