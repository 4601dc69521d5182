"""How one stored array is encoded: the other half of "structure x encoding".

A layer's *structure* says which arrays it has (a dense layer: weight and
bias; a low-rank layer: two factors and a bias; a sparse layer: values and
their positions). Each of those arrays is stored in some *encoding*:

- a plain float64 / float32 NumPy array: trainable, 64 / 32 bits a number;
- ``FloatArray``: a float16 (or float32) copy that is decoded to the compute
  dtype when the layer runs (16 bits a number);
- ``QuantizedArray``: b-bit integer codes plus what turns them back into
  numbers: a scale and zero point per group (uniform), a codebook (k-means),
  or a scale per group (binary, ternary).

Quantization re-encodes the arrays of any structure and keeps the structure,
so families stack: quantizing the factors of a low-rank layer stores
k (m + n) codes, never the m n of the dense matrix they multiply to.

Every encoding answers the same questions: ``shape``, ``size``,
``storage_bits()`` (everything needed to rebuild the numbers), ``decode(dtype)``
(the numbers it stands for, read-only) and ``arrays()`` (what a file holds,
codes packed at b bits) with ``from_arrays`` to read them back. Encoded arrays
are immutable, so layers may share them safely; decoding is cached.
"""
from __future__ import annotations

import math

import numpy as np

SCALE_BITS = 32          # scales, zero points and codebook entries are stored as 32-bit numbers
QUANTIZED_SCHEMES = ("symmetric", "affine", "kmeans", "binary", "ternary")
FLOAT_FORMATS = ("float16", "float32")


# ----------------------------------------------------------------------------
# Packing b-bit codes into bytes (only when a file is written)
# ----------------------------------------------------------------------------

def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """Pack non-negative integer codes < 2^bits into a uint8 array, b bits each (big-endian)."""
    codes = np.asarray(codes).ravel().astype(np.uint32)
    if codes.size and codes.max() >= 2**bits:
        raise ValueError(f"codes must be < 2^{bits} = {2**bits}; got {int(codes.max())}")
    planes = (codes[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.uint32)) & 1   # (n, bits)
    return np.packbits(planes.astype(np.uint8).ravel())


def unpack_codes(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """The inverse of ``pack_codes``: ``count`` codes of ``bits`` bits each."""
    planes = np.unpackbits(np.asarray(packed, dtype=np.uint8))[:count * bits].reshape(count, bits)
    weights = (1 << np.arange(bits - 1, -1, -1, dtype=np.uint32))                   # (bits,)
    return planes.astype(np.uint32) @ weights


def code_dtype(bits: int) -> np.dtype:
    """The narrowest unsigned integer type holding b-bit codes (what an int kernel reads)."""
    return np.dtype(np.uint8 if bits <= 8 else np.uint16)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class Encoded:
    """Base of the encodings: immutable, decoded lazily and once per dtype."""

    encoding = ""

    def __init__(self, shape):
        self.shape = tuple(int(s) for s in shape)
        self._decoded = {}

    @property
    def size(self) -> int:
        return math.prod(self.shape)        # a tuple of ints: no array made

    def decode(self, dtype="float64") -> np.ndarray:
        """The numbers this array stands for, in ``dtype`` (read-only, cached)."""
        dtype = np.dtype(dtype)
        decoded = self._decoded.get(dtype)          # one lookup: another thread may forget it meanwhile
        if decoded is None:
            decoded = self._decoded[dtype] = _frozen(np.ascontiguousarray(self._decode(dtype)))
        return decoded

    def forget_decoded(self) -> None:
        """Free the cached decoded arrays (a float64 copy is 8 bytes a number, the codes
        often 1): the next ``decode`` rebuilds them."""
        self._decoded = {}

    def _decode(self, dtype):
        raise NotImplementedError

    def storage_bits(self) -> int:
        raise NotImplementedError

    def arrays(self) -> dict:
        raise NotImplementedError


class FloatArray(Encoded):
    """Values stored as float16 or float32, computed with in a wider dtype."""

    def __init__(self, values, fmt="float16"):
        if fmt not in FLOAT_FORMATS:
            raise ValueError(f"fmt must be one of {FLOAT_FORMATS}; got {fmt!r}")
        values = np.asarray(values)
        super().__init__(values.shape)
        self.encoding = fmt
        self.values = _frozen(values.astype(fmt))        # a copy: never shares the caller's array

    def _decode(self, dtype):
        return self.values.astype(dtype)

    def storage_bits(self) -> int:
        return self.size * self.values.dtype.itemsize * 8

    def arrays(self) -> dict:
        return {"encoding": np.array(self.encoding), "values": self.values}

    @classmethod
    def from_arrays(cls, a):
        return cls(a["values"], str(a["encoding"]))

    def __repr__(self):
        return f"FloatArray({self.shape}, {self.encoding})"


class QuantizedArray(Encoded):
    """b-bit codes and how to turn them back into numbers.

    ``groups`` are the columns of the array (one scale per column: per output
    neuron for a weight matrix) or the whole array (``granularity="tensor"``).

    - symmetric: r = S (q - (2^(b-1) - 1)),   codes q in [0, 2^b - 2]
    - affine:    r = S (q - Z),               codes q in [0, 2^b - 1]
    - kmeans:    r = codebook[q]
    - binary:    r = S (2 q - 1),             q in {0, 1}
    - ternary:   r = S (q - 1),               q in {0, 1, 2}

    Storage: size x b bits of codes + 32 bits for every scale, zero point and
    codebook entry. The symmetric offset 2^(b-1) - 1 is a constant of the
    format, not stored.
    """

    def __init__(self, *, scheme, bits, codes, scale=None, zero_point=None, codebook=None,
                 granularity="tensor"):
        if scheme not in QUANTIZED_SCHEMES:
            raise ValueError(f"scheme must be one of {QUANTIZED_SCHEMES}; got {scheme!r}")
        codes = np.asarray(codes)
        super().__init__(codes.shape)
        self.encoding = self.scheme = scheme
        self.bits = int(bits)
        if codes.size and int(codes.max()) >= 2**self.bits:
            raise ValueError(f"codes must be < 2^{self.bits} = {2**self.bits}; got {int(codes.max())}")
        self.codes = _frozen(codes.astype(code_dtype(self.bits)))
        self.granularity = granularity
        self.scale = None if scale is None else _frozen(np.atleast_1d(np.asarray(scale, dtype=np.float32)))
        self.zero_point = None if zero_point is None else _frozen(np.atleast_1d(np.asarray(zero_point, np.int32)))
        self.codebook = None if codebook is None else _frozen(np.asarray(codebook, dtype=np.float32))

    def _columns(self, values):
        """Broadcast per-group numbers against the codes: one per column, or one for all."""
        return values if values.size > 1 else values[0]

    def _decode(self, dtype):
        codes = self.codes.astype(dtype)
        if self.scheme == "kmeans":
            return self.codebook.astype(dtype)[self.codes]
        scale = self._columns(self.scale.astype(dtype))
        if self.scheme == "binary":                          # codes {0, 1} -> signs {-1, +1}
            return (2.0 * codes - 1.0) * scale
        if self.scheme == "ternary":                         # codes {0, 1, 2} -> {-1, 0, +1}
            return (codes - 1.0) * scale
        if self.scheme == "symmetric":
            return (codes - (2 ** (self.bits - 1) - 1)) * scale
        return (codes - self._columns(self.zero_point.astype(dtype))) * scale

    def storage_bits(self) -> int:
        extra = sum(0 if a is None else a.size * SCALE_BITS for a in (self.scale, self.zero_point, self.codebook))
        return self.size * self.bits + extra

    def levels(self, group=0) -> np.ndarray:
        """The values an entry of column ``group`` can take."""
        if self.scheme == "kmeans":
            return np.unique(self.codebook.astype(np.float64))
        scale = float(self.scale[group if self.scale.size > 1 else 0])
        if self.scheme == "binary":
            return np.array([-scale, scale])
        if self.scheme == "ternary":
            return np.array([-scale, 0.0, scale])
        if self.scheme == "symmetric":              # restricted range: 2^b - 1 levels, symmetric about 0
            q_max = 2 ** (self.bits - 1) - 1
            return scale * np.arange(-q_max, q_max + 1)
        zero = int(self.zero_point[group if self.zero_point.size > 1 else 0])
        return scale * (np.arange(2**self.bits) - zero)

    def arrays(self) -> dict:
        arrays = {"encoding": np.array(self.scheme), "bits": np.array(self.bits),
                  "shape": np.array(self.shape), "granularity": np.array(self.granularity),
                  "packed": pack_codes(self.codes, self.bits)}
        for name in ("scale", "zero_point", "codebook"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        return arrays

    @classmethod
    def from_arrays(cls, a):
        shape, bits = tuple(int(s) for s in a["shape"]), int(a["bits"])
        codes = unpack_codes(a["packed"], bits, int(np.prod(shape))).reshape(shape)
        optional = {k: a[k] for k in ("scale", "zero_point", "codebook") if k in a}
        return cls(scheme=str(a["encoding"]), bits=bits, codes=codes, granularity=str(a["granularity"]),
                   **optional)

    def __repr__(self):
        return f"QuantizedArray({self.shape}, {self.scheme}, {self.bits} bit, {self.granularity})"


# Which arrays in a file are bookkeeping (a few bytes each) rather than the numbers themselves.
METADATA_FIELDS = ("encoding", "bits", "shape", "granularity")


def encoded_from_arrays(arrays: dict) -> Encoded:
    """Rebuild an encoded array from what ``arrays()`` wrote."""
    encoding = str(arrays["encoding"])
    if encoding in FLOAT_FORMATS:
        return FloatArray.from_arrays(arrays)
    if encoding in QUANTIZED_SCHEMES:
        return QuantizedArray.from_arrays(arrays)
    raise ValueError(f"encoding must be one of {FLOAT_FORMATS + QUANTIZED_SCHEMES}; got {encoding!r}")


def array_storage_bits(array) -> int:
    """Bits of a stored array: an encoding's own count, or a plain array's width x size."""
    if isinstance(array, Encoded):
        return array.storage_bits()
    return array.size * array.dtype.itemsize * 8
