"""Argument checks shared by the public functions.

Every error gives the rule and the bad value, scikit-learn style:
"rank must be in [1, 64]; got 70".
"""
from __future__ import annotations

import numbers

import numpy as np


def check_choice(name: str, value, choices) -> None:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")


def check_int(name: str, value, *, low=None, high=None) -> int:
    """An integer within [low, high] (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    return int(check_range(name, value, low=low, high=high))


def check_float(name: str, value, *, low=None, high=None, low_open=False) -> float:
    """A finite real number within [low, high] ((low, high] when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return float(check_range(name, value, low=low, high=high, low_open=low_open))


def check_range(name, value, *, low=None, high=None, low_open=False):
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    bracket = "(" if low_open else "["
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        raise ValueError(f"{name} must be in {bracket}{lo}, {hi}]; got {value!r}")
    return value


def check_array_2d(name: str, X, *, n_features=None) -> np.ndarray:
    """A 2-D array of finite real numbers, with ``n_features`` columns if given."""
    if hasattr(X, "toarray"):
        raise TypeError(f"{name} must be a dense array; got a sparse {type(X).__name__}")
    X = np.asarray(X)
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
