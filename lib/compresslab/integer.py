"""Integer-only inference: the "fewer floating-point operations" half of quantization.

Jacob et al. 2018 ("Quantization and training of neural networks for efficient
integer-arithmetic-only inference") run a quantized network with integers
only. Every real number r is stored as a b-bit code q with a scale S and a
zero point Z (the code of real 0):

    r = S (q - Z),   q in [0, 2^b - 1],   S = (hi - lo) / (2^b - 1),   Z = round(-lo / S)

(the affine scheme of ``quantization.py``; the range [lo, hi] always holds 0,
so a zero, a ReLU's floor and zero padding are exact). One Dense layer with
weight codes q_w (S_w, Z_w), input codes q_x (S_x, Z_x) and output codes q_o
(S_o, Z_o) computes, for output j of sample i,

    acc_ij = sum_k (q_x,ik - Z_x)(q_w,kj - Z_w) + bias_j                 (int32)
           = sum_k q_x,ik q_w,kj                          b-bit x b-bit products, int32 sum
             - Z_w sum_k q_x,ik                           one row sum per sample
             + [bias_j - Z_x sum_k q_w,kj + K Z_x Z_w]    a constant, folded at conversion

with the bias stored as int32 at scale S_w S_x (bias_j = round(b_j / (S_w S_x))),
so that S_w S_x acc_ij is the layer's real output. The next layer's input is

    q_o = clamp(Z_o + round(M acc),  Z_o if ReLU else 0,  2^b - 1),   M = S_w S_x / S_o,

and the clamp's floor at Z_o (real 0) *is* the ReLU. The real number M is
written as M = M0 2^-s with M0 a 31-bit integer (M0 / 2^31 in [0.5, 1)), so
round(M acc) is an integer multiply (int32 x int32 -> int64) and a rounding
right shift by s: (acc M0 + 2^(s-1)) >> s, which rounds halves up. (gemmlowp
rounds twice, in a doubling high multiply and then in the shift; one shift
here keeps the integer path equal to the float simulation, not to gemmlowp.)

The only floating-point work is at the edges: quantizing the input
(x / S_x + Z_x, rounded) and, if float logits are wanted, S_w S_x acc for the
last layer. ``predict`` does not even need that: the scale is positive, so
the argmax of the int32 accumulators is the class.

What NumPy can show here, and what it cannot
--------------------------------------------
It can show that the arithmetic is exact and integer: every array on the way
is uint8, int32 or int64 (the tests assert it), the int32 accumulator cannot
overflow for 8 bits (the bound K (2^b - 1)^2 + |bias| < 2^31 is checked for
each layer: 784 inputs x 255^2 = 5.1e7, 42x below 2^31), the results equal a
float simulation of the same rounding, and how many operations of each kind
a forward pass needs (``op_counts``).

It cannot show a speedup. NumPy has no fast integer matrix product: ``@`` on
int32 arrays is a plain C loop, not BLAS. Measured once while writing this
(LeNet-300-100, batch 1000, one BLAS thread, best of 3, a shared machine):
``forward_int`` 1.31 s against 0.073 s for the float64 ``Network.logits``,
18x *slower*. Nothing here is timed in the tests; no speedup is claimed.
Hardware is where the gain is: int8 dot-product instructions (ARM NEON
SDOT/UDOT, x86 AVX-512 VNNI VPDPBUSD, GPU DP4A and int8 tensor cores) multiply
four or more 8-bit pairs and add them into an int32 accumulator in one
instruction, moving 4x fewer bytes than float32 and 8x fewer than float64,
and an integer-only chip (microcontroller, DSP, NPU) needs no FPU at all.

References: Jacob et al. 2018 (CVPR), eqs. (1)-(7) and Sec. 2.4 (the fused
layer); gemmlowp's "output stage" documentation; Krishnamoorthi 2018
("Quantizing deep convolutional networks for efficient inference").
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ._validation import check_array_2d, check_choice, check_int, check_labels, check_network
from .network import Dense, Network
from .quantization import quantize_uniform

INT32_MAX = 2**31 - 1
FOLDABLE_ACTIVATIONS = ("relu", "identity")   # the ones a clamp can compute


def affine_params(lo: float, hi: float, bits: int) -> tuple[float, int]:
    """Scale and zero point of the b-bit affine code for the range [lo, hi].

    The range is first widened to hold 0, so that real 0 has a code (Z).
    The scale is rounded to float32, as ``quantization.quantize_uniform``
    stores it: the codes are computed with the scale that is stored.
    """
    q_max = 2**bits - 1
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = float(np.float32(max(hi - lo, 1e-12) / q_max))
    zero = int(np.clip(np.round(-lo / scale), 0, q_max))
    return scale, zero


def fixed_point_multiplier(M: float) -> tuple[int, int]:
    """M = M0 2^-shift with M0 a 31-bit integer, M0 / 2^31 in [0.5, 1) (Jacob et al. 2018, eq. 6).

    Returns (M0, shift); round(M acc) is then (acc M0 + 2^(shift-1)) >> shift.
    """
    if not (np.isfinite(M) and M > 0):
        raise ValueError(f"the requantization multiplier M = S_w S_x / S_out must be positive and finite; got {M!r}")
    mantissa, exponent = np.frexp(M)                     # M = mantissa 2^exponent, mantissa in [0.5, 1)
    M0 = int(np.round(mantissa * 2**31))
    if M0 == 2**31:                                      # the mantissa rounded up to 1.0
        M0, exponent = M0 // 2, exponent + 1
    shift = 31 - int(exponent)
    # |acc| < 2^31 and M0 < 2^31, so acc M0 fits int64 and a shift of 1..62 is defined
    if not 1 <= shift <= 62:
        raise ValueError(f"the requantization multiplier M = S_w S_x / S_out must be in [2^-31, 2^30) "
                         f"for a 1..62-bit shift; got M = {M:.3g}")
    return M0, shift


def rounding_right_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """round(x / 2^shift), halves rounded up, on int64 (an add and an arithmetic shift)."""
    return (x + (np.int64(1) << (shift - 1))) >> shift


@dataclass
class OpCount:
    """Operations of one forward pass on ``n_samples`` (one layer, or a sum).

    int_macs: b-bit x b-bit products added into an int32 accumulator;
    int32_adds: other integer additions (row sums, zero points, the folded bias);
    int32_muls: integer multiplies (Z_w x row sum; the fixed-point M0 multiply, int32 x int32 -> int64);
    shifts: rounding right shifts; clamps: saturations to [lo, 2^b - 1] (the ReLU among them);
    float_ops: floating-point operations (input quantization, output dequantization only);
    float_model_flops: the float model's FLOPs for the same layer (``Dense.flops``), for comparison.
    Conversions between int and float are not counted.
    """

    int_macs: int = 0
    int32_adds: int = 0
    int32_muls: int = 0
    shifts: int = 0
    clamps: int = 0
    float_ops: int = 0
    float_model_flops: int = 0

    def __add__(self, other: "OpCount") -> "OpCount":
        return OpCount(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class IntegerDense:
    """One Dense layer in integers: b-bit weight codes, an int32 folded bias and,
    for a hidden layer, the fixed-point requantization to the next layer's codes.

    Built by ``integer_network``; every array it keeps is an integer array.
    """

    def __init__(self, dense: Dense, bits: int, input_scale: float, input_zero: int,
                 output_scale: float | None, output_zero: int | None, relu: bool):
        self.bits, self.q_max = bits, 2**bits - 1
        W = np.array(dense.weight, dtype=np.float64)
        codes, scale, zero = quantize_uniform(W, bits, symmetric=False)      # per tensor, as Jacob et al.
        self.weight_codes = codes.astype(np.uint8)                           # (K, n)
        self.weight_scale, self.weight_zero = float(scale[0]), int(zero[0])
        self.input_scale, self.input_zero = float(input_scale), int(input_zero)
        self.accumulator_scale = self.weight_scale * self.input_scale        # S_w S_x
        K = self.n_inputs

        bias = np.round(np.asarray(dense.bias, dtype=np.float64) / self.accumulator_scale)
        if np.abs(bias).max() > INT32_MAX:
            raise ValueError(f"the bias at scale S_w S_x must fit int32; got |bias| / (S_w S_x) up to "
                             f"{np.abs(bias).max():.3g} > 2^31 - 1")
        self.bias = bias.astype(np.int32)                                     # (n,), at scale S_w S_x
        # the terms that do not depend on the input, computed once in int64 then checked
        column_sums = self.weight_codes.sum(axis=0, dtype=np.int64)
        folded = self.bias.astype(np.int64) - self.input_zero * column_sums + K * self.input_zero * self.weight_zero
        # |partial sums| <= K q_max^2 (the products) and the result adds the bias: the int32 budget
        self.accumulator_bound = int(K * self.q_max**2 + np.abs(self.bias.astype(np.int64)).max())
        if self.accumulator_bound > INT32_MAX or np.abs(folded).max() > INT32_MAX:
            raise ValueError(f"the accumulator must fit int32: K (2^b - 1)^2 + |bias| <= 2^31 - 1; got "
                             f"{self.accumulator_bound:,} for K = {K} inputs at {bits} bits")
        self.folded_bias = folded.astype(np.int32)                            # (n,)

        self.hidden = output_scale is not None
        self.relu = bool(relu)
        if self.hidden:
            self.output_scale, self.output_zero = float(output_scale), int(output_zero)
            self.multiplier = self.accumulator_scale / self.output_scale     # M, the real number
            self.M0, self.shift = fixed_point_multiplier(self.multiplier)
            self.clamp_low = self.output_zero if self.relu else 0            # ReLU folded into the clamp

    @property
    def n_inputs(self) -> int:
        return self.weight_codes.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.weight_codes.shape[1]

    def accumulate(self, q_x: np.ndarray, trace: dict | None = None) -> np.ndarray:
        """int32 acc = sum_k (q_x - Z_x)(q_w - Z_w) + bias, from uint8 codes (n_samples, K)."""
        x = q_x.astype(np.int32)                              # widen before multiplying: uint8 @ uint8 wraps
        acc = x @ self.weight_codes.astype(np.int32)          # (n_samples, n) int32, not BLAS
        if self.weight_zero:
            row_sums = x.sum(axis=1, dtype=np.int32)          # (n_samples,)
            acc -= np.int32(self.weight_zero) * row_sums[:, None]
            if trace is not None:
                trace["row_sums"] = row_sums
        acc += self.folded_bias
        if trace is not None:
            trace.update(input_codes=q_x, accumulator=acc)
        return acc

    def requantize(self, acc: np.ndarray, trace: dict | None = None) -> np.ndarray:
        """Next layer's codes: clamp(Z_o + round(M acc)) with M = M0 2^-shift."""
        product = acc.astype(np.int64) * np.int64(self.M0)   # (n_samples, n) int64: the high half is kept
        q = rounding_right_shift(product, self.shift) + self.output_zero
        q = np.clip(q, self.clamp_low, self.q_max).astype(np.uint8)
        if trace is not None:
            trace.update(product=product, output_codes=q)
        return q

    # --- the float simulation of the same arithmetic (fake quantization) -----------
    def simulate(self, q_x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The same layer in float64 on dequantized numbers: x^ = S_x (q_x - Z_x),
        w^ = S_w (q_w - Z_w), b^ = S_w S_x bias; returns (real outputs, next codes)."""
        x = self.input_scale * (q_x.astype(np.float64) - self.input_zero)
        w = self.weight_scale * (self.weight_codes.astype(np.float64) - self.weight_zero)
        z = x @ w + self.accumulator_scale * self.bias            # (n_samples, n) real
        if not self.hidden:
            return z, None
        if self.relu:
            z = np.maximum(z, 0.0)
        q = np.clip(np.floor(z / self.output_scale + 0.5) + self.output_zero, 0, self.q_max)
        return z, q.astype(np.uint8)

    def op_counts(self, n_samples: int) -> OpCount:
        N, K, n = n_samples, self.n_inputs, self.n_outputs
        zw = 1 if self.weight_zero else 0
        hidden = 1 if self.hidden else 0
        return OpCount(
            int_macs=N * K * n,
            # row sums (K - 1 adds each) and their subtraction, only with a weight zero point;
            # the folded bias; the output zero point
            int32_adds=zw * (N * (K - 1) + N * n) + N * n + hidden * N * n,
            int32_muls=zw * N + hidden * N * n,              # Z_w x row sum; M0 x acc
            shifts=hidden * N * n,
            clamps=hidden * N * n,
            float_model_flops=2 * N * K * n + N * n)         # Dense.flops

    def __repr__(self):
        tail = (f", M = {self.M0} * 2^-{self.shift}{', ReLU in the clamp' if self.relu else ''}"
                if self.hidden else ", int32 output")
        return (f"IntegerDense({self.n_inputs} -> {self.n_outputs}, {self.bits}-bit, "
                f"Z_w = {self.weight_zero}, Z_x = {self.input_zero}{tail})")


class IntegerNetwork:
    """A network of ``IntegerDense`` layers: float in, integers all the way, int32 out.

    ``forward_int(X)`` gives the last layer's int32 accumulators, ``logits(X)``
    their float value S_w S_x acc, ``predict(X)`` the classes (argmax of the
    int32 accumulators, no float op), ``simulate(X)`` the float64 simulation
    of the same rounding (fake quantization), ``op_counts(n)`` the count of
    every kind of operation beside the float model's FLOPs.
    """

    def __init__(self, layers, *, bits, input_scale, input_zero, classes, out_activation, multilabel):
        self.layers, self.bits = layers, bits
        self.input_scale, self.input_zero = input_scale, input_zero
        self.classes, self.out_activation, self.multilabel = classes, out_activation, multilabel

    @property
    def n_features(self) -> int:
        return self.layers[0].n_inputs

    @property
    def output_scale(self) -> float:
        """S_w S_x of the last layer: logits = output_scale * forward_int(X)."""
        return self.layers[-1].accumulator_scale

    def quantize_input(self, X) -> np.ndarray:
        """The float input as b-bit codes: clamp(floor(x / S_x + Z_x + 0.5)), uint8.
        The only floating-point work before the logits."""
        X = check_array_2d("X", X, n_features=self.n_features)
        q = np.floor(np.asarray(X, dtype=np.float64) / self.input_scale + (self.input_zero + 0.5))
        return np.clip(q, 0, 2**self.bits - 1).astype(np.uint8)

    def forward_int(self, X, *, return_trace=False):
        """The last layer's int32 accumulators (n_samples, n_outputs); with ``return_trace``
        also one dict per layer of every intermediate array (all integer)."""
        q = self.quantize_input(X)
        trace = [] if return_trace else None
        for layer in self.layers:
            step = {} if return_trace else None
            acc = layer.accumulate(q, step)
            if layer.hidden:
                q = layer.requantize(acc, step)
            if return_trace:
                trace.append(step)
        return (acc, trace) if return_trace else acc

    def logits(self, X) -> np.ndarray:
        """Dequantized logits S_w S_x acc (float64): one float multiply per output."""
        return self.output_scale * self.forward_int(X).astype(np.float64)

    def simulate(self, X, *, return_codes=False):
        """Fake quantization: the same scales, zero points, codes and rounding in float64.
        Returns the float logits (and the codes each hidden layer hands on)."""
        q, codes = self.quantize_input(X), []
        for layer in self.layers:
            z, q = layer.simulate(q)
            if q is not None:
                codes.append(q)
        return (z, codes) if return_codes else z

    def predict(self, X) -> np.ndarray:
        """Classes from the int32 accumulators: the scale S_w S_x > 0 changes no argmax and no sign."""
        acc = self.forward_int(X)
        if self.multilabel:
            return (acc > 0).astype(int)            # logit > 0 <=> probability > 0.5
        if acc.shape[1] == 1:
            return self.classes[(acc.ravel() > 0).astype(int)]
        return self.classes[np.argmax(acc, axis=1)]

    def score(self, X, y) -> float:
        X = check_array_2d("X", X, n_features=self.n_features)
        y = check_labels("y", y, self, n_samples=X.shape[0])      # asks classes, multilabel, layers[-1]
        y_pred = self.predict(X)
        return float(np.mean(np.all(y_pred == y, axis=1) if self.multilabel else y_pred == y))

    def op_counts(self, n_samples: int, *, dequantize: bool = True) -> list[OpCount]:
        """One ``OpCount`` per layer for a forward pass on ``n_samples``.

        The first layer also counts the input quantization (a divide and an add
        per input value, 2 N K float ops, and N K clamps); the last one the
        dequantization of the logits (N n float multiplies) unless
        ``dequantize=False`` (what ``predict`` does).
        """
        N = check_int("n_samples", n_samples, low=1)
        counts = [layer.op_counts(N) for layer in self.layers]
        K = self.n_features
        counts[0] = counts[0] + OpCount(float_ops=2 * N * K, clamps=N * K)
        if dequantize:
            counts[-1] = counts[-1] + OpCount(float_ops=N * self.layers[-1].n_outputs)
        return counts

    def summary(self, n_samples: int = 1) -> str:
        """A table of ``op_counts``, one row per layer and a total."""
        counts = self.op_counts(n_samples)
        names = [f.name for f in fields(OpCount)]
        rows = [f"{'layer':>7}" + "".join(f"{n:>19}" for n in names)]
        for i, c in enumerate(counts + [sum(counts, OpCount())]):
            label = str(i + 1) if i < len(counts) else "total"
            rows.append(f"{label:>7}" + "".join(f"{getattr(c, n):>19,}" for n in names))
        return "\n".join(rows)

    def __repr__(self):
        inner = "\n  ".join(repr(layer) for layer in self.layers)
        return f"IntegerNetwork({self.bits}-bit, input S = {self.input_scale:.4g}, Z = {self.input_zero};\n  {inner})"


def integer_network(network: Network, X_calibration, bits: int = 8) -> IntegerNetwork:
    """Convert a network of ``Dense`` layers for integer-only inference (Jacob et al. 2018).

    Weights: b-bit affine codes, one scale and zero point per tensor. Inputs
    and hidden activations: b-bit affine codes over the ranges the float
    network produces on ``X_calibration`` (training data; values outside a
    range are clamped). Biases: int32 at scale S_w S_x. The hidden activation
    must be "relu" (folded into the clamp) or "identity".
    """
    check_network("network", network)
    bits = check_int("bits", bits, low=2, high=8)
    check_choice("network.activation (integer inference folds only these into the clamp)",
                 network.activation, FOLDABLE_ACTIVATIONS)
    for i, layer in enumerate(network.layers):
        if not isinstance(layer, Dense):
            raise TypeError(f"integer_network needs Dense layers; layer {i + 1} is {type(layer).__name__} "
                            f"(call network.to_dense() first to multiply it out)")
    X = check_array_2d("X_calibration", X_calibration, n_features=network.n_features).astype(np.float64)

    dense = network.astype("float64")
    inputs, _ = dense.forward_all(X)                   # inputs[i]: what layer i sees (post-activation)
    params = [affine_params(A.min(), A.max(), bits) for A in inputs]
    layers = []
    for i, layer in enumerate(dense.layers):
        S_x, Z_x = params[i]
        S_o, Z_o = params[i + 1] if i + 1 < len(params) else (None, None)
        layers.append(IntegerDense(layer, bits, S_x, Z_x, S_o, Z_o, relu=network.activation == "relu"))
    return IntegerNetwork(layers, bits=bits, input_scale=params[0][0], input_zero=params[0][1],
                          classes=np.asarray(network.classes), out_activation=network.out_activation,
                          multilabel=network.multilabel)
