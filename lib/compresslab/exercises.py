"""Self-checks for the notebooks' exercises, of two kinds.

**Numeric**: ``check(exercise, answer)`` says right or wrong, with a hint about
the method, never "too large / too small" (which would let a student bisect
the answer). Every expected answer is computed by the library (a layer's
``storage_bits``, ``flops``, ``n_params``; ``break_even_rank``;
``quantize_uniform``; ``quantize_binary``; the SVDs), never typed as a formula.

**Implement it**: the student writes the function that matters (a truncated
SVD, a quantizer, a pruning mask, a softened softmax);
``check_implementation(name, fn)`` runs it and the library's reference on
random and edge-case inputs (ties, zeros, extreme values) and prints the first
failing case in words ("for W of shape (3, 2) and k = 1 your left @ right
differs from the best rank-1 approximation by 0.41"). Once it passes,
``use_implementation(name, fn)`` gives the notebook a tool built on it (a
``factorize_with``, a ``quantized_network``), and ``show_solution(name)``
prints a model answer, only when asked. A new exercise is one ``Implement``
entry: a signature and docstring, a reference, cases, a comparison, a hint.

A numeric answer is right when it is correct to the precision the notebook shows for
that kind of number (``Exercise.shown``, a format spec):

- ``"d"``: a count, a rank, a zero point: the whole number, exactly;
- ``".4f"``: within half a unit of the 4th decimal of the expected value;
- ``".4g"``: within half a unit of the 4th significant digit.

So an answer typed as the notebook prints it (11.4478, 0.003937) is right, and
so is any answer that rounds to it (more digits are fine), while an answer off
by one in the last shown digit is wrong. Strings such as ``"1,066,440"`` or
``"88.3%"`` are read the way the notebook prints them.
"""
from __future__ import annotations

import functools
import math
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._validation import check_choice
from .models import LENET_300_100

LENET_LAYER_SIZES = (784, *LENET_300_100, 10)     # inputs, the hidden layers, outputs


@dataclass(frozen=True)
class Exercise:
    question: str
    expected: Callable[[], float]
    shown: str          # how the notebook prints this kind of number: "d", ".<n>f" or ".<n>g"
    hint: str

    def tolerance(self, expected: float) -> float:
        """Half a unit in the last place the notebook shows (0 for whole numbers)."""
        kind, digits = _precision(self.shown)
        if kind == "d":
            return 1e-9
        if kind == "f":
            unit = 10.0 ** -digits
        else:                                              # significant digits
            unit = 10.0 ** (math.floor(math.log10(abs(expected))) - digits + 1) if expected else 10.0 ** -digits
        return 0.5 * unit * (1 + 1e-9)                     # the slack only absorbs float rounding

    def precision_text(self) -> str:
        kind, digits = _precision(self.shown)
        return {"d": "as a whole number", "f": f"to {digits} decimals",
                "g": f"to {digits} significant digits"}[kind]


def _precision(shown: str) -> tuple[str, int]:
    match = re.fullmatch(r"d|\.(\d+)([fg])", shown)
    if match is None:
        raise ValueError(f"shown must be 'd', '.<n>f' or '.<n>g'; got {shown!r}")
    return ("d", 0) if shown == "d" else (match.group(2), int(match.group(1)))


@functools.lru_cache(maxsize=1)
def _lenet_svds():
    """The SVDs of the shipped LeNet-300-100's layers (for the low-rank exercises)."""
    from .lowrank import layer_svds
    from .models import load_pretrained
    from .network import from_sklearn

    return layer_svds(from_sklearn(load_pretrained("mnist-5k")))


@functools.lru_cache(maxsize=1)
def _lenet_shaped():
    """A network with LeNet-300-100's shapes (random weights): the library counts its
    bytes, parameters and FLOPs, so no size is typed here as a formula."""
    from .network import random_network

    return random_network(LENET_LAYER_SIZES, random_state=0)


def _rank_k_weights(m: int, n: int, k: int) -> int:
    """Weights (no bias) of a rank-k ``LowRank`` layer of shape (m, n), as the layer counts them."""
    from .lowrank import LowRank

    layer = LowRank(np.zeros((m, k)), np.zeros((k, n)), np.zeros(n))
    return layer.n_params - n


def _code_bytes(shapes, bits: int) -> int:
    """Bytes of the b-bit codes alone (no scale) of weight matrices of these shapes."""
    from .encoding import SCALE_BITS
    from .quantization import quantize_array

    return sum((quantize_array(np.zeros(shape), "symmetric", bits).storage_bits() - SCALE_BITS) // 8
               for shape in shapes)


def _float16_alpha(W) -> float:
    """Bits of an array in float64 over its bits encoded as float16."""
    from .encoding import array_storage_bits
    from .quantization import quantize_array

    return array_storage_bits(np.asarray(W, dtype=np.float64)) / quantize_array(W, "float16", 16).storage_bits()


def _uniform_scale(values, bits, symmetric):
    from .quantization import quantize_uniform

    return quantize_uniform(np.reshape(values, (-1, 1)), bits, symmetric=symmetric)


# ``shown`` follows what the notebooks print for that kind of number: counts of
# bytes, FLOPs and parameters, ranks and zero points as whole numbers; alpha with
# 2 decimals (02: "alpha (bits) {:.2f}"); shares as fractions with 3 decimals
# (01 prints them as "{:5.1%}"); break-even ranks with 1 decimal (01: "{:6.1f}");
# Frobenius errors with 4 decimals (01: "{:.4f}"); scales, which span decades,
# with 4 significant digits. Every expected value is computed by the library.
EXERCISES = {
    "intro-lenet-float32-bytes": Exercise(
        "How many bytes do the weights and biases of LeNet-300-100 take in float32?",
        lambda: _lenet_shaped().astype("float32").storage_bits() // 8, "d",
        "count weights (m x n) and biases (n) of the three layers; a float32 is 4 bytes"),
    "intro-alpha-float16": Exercise(
        "What is the compression rate alpha (by bits) of any dense network stored in float16 "
        "instead of float64?",
        lambda: _float16_alpha(_lenet_shaped().layers[0].weight), ".2f",
        "alpha = a / a*: the bits of the original over the bits of the compressed"),
    "intro-first-layer-flops": Exercise(
        "How many FLOPs does the first layer of LeNet-300-100 cost for ONE image "
        "(count a multiply-add as 2, plus one add per bias)?",
        lambda: _lenet_shaped().layers[0].flops(1), "d",
        "X @ W is (1 x 784) times (784 x 300): a multiply and an add per weight; then add the bias"),
    "intro-share-first-layer": Exercise(
        "What fraction (0 to 1) of LeNet-300-100's parameters sits in its first layer?",
        lambda: _lenet_shaped().layers[0].n_params / _lenet_shaped().n_params, ".3f",
        "parameters (weights and biases) of layer 1 over the parameters of all three layers, as a fraction"),
    "lowrank-params-rank20": Exercise(
        "How many weights (no bias) does a rank-20 factorization of the 784 x 300 layer store?",
        lambda: _rank_k_weights(784, 300, 20), "d",
        "U_k S_k is m x k and V_k^T is k x n; S is folded into the first factor"),
    "lowrank-break-even-300x100": Exercise(
        "Above which rank k does factorizing a 300 x 100 layer stop saving parameters?",
        lambda: _break_even_rank(300, 100), ".1f", "solve k (m + n) = m n for k"),
    "lowrank-error-layer2-rank10": Exercise(
        "What is the Frobenius error ||W - W_10||_F of LeNet's second layer (300 x 100) at rank 10? "
        "(use svds[1].s, not the matrices)",
        lambda: _lenet_svds()[1].error(10), ".4f",
        "Eckart-Young: the square root of the sum of the squared singular values you drop"),
    "lowrank-energy90-layer1": Exercise(
        "What is the smallest rank that keeps 90 % of the squared singular values of LeNet's first layer?",
        lambda: _lenet_svds()[0].rank_for_energy(0.9), "d",
        "np.cumsum of s**2 divided by the total; find the first index that reaches 0.9 (ranks count from 1)"),
    "quant-lenet-4bit-weight-bytes": Exercise(
        "How many bytes do LeNet-300-100's weights (not biases) take as 4-bit codes?",
        lambda: _code_bytes([layer.weight.shape for layer in _lenet_shaped().layers], 4), "d",
        "weights only: m n per layer, 4 bits each, 8 bits to a byte"),
    "quant-symmetric-scale": Exercise(
        "8-bit symmetric quantization of weights in [-0.5, 0.5]: what is the scale S?",
        lambda: float(_uniform_scale([-0.5, 0.5], 8, True)[1][0]), ".4g",
        "the largest |w| maps to the largest code, 2^(b-1) - 1"),
    "quant-affine-zero-point": Exercise(
        "8-bit affine quantization of the range [-0.2, 0.6]: what is the zero point Z?",
        lambda: int(_uniform_scale([-0.2, 0.6], 8, False)[2][0]), "d",
        "S = (hi - lo) / (2^b - 1), then Z = round(-lo / S): the code that stands for 0"),
    "quant-binary-scale": Exercise(
        "One neuron's weights are [0.3, -0.1, 0.2, -0.4]. What scale does XNOR-Net binarization use?",
        lambda: float(_quantize_binary(np.array([[0.3], [-0.1], [0.2], [-0.4]]))[1][0]), ".4g",
        "the scale s minimising ||w - s sign(w)||^2: set its derivative to 0"),
    # --- 04 distillation (expected values from compresslab.distillation and network) ---
    "distill-soften-first": Exercise(
        "Logits [3, 1, 0] softened at T = 2: what probability does the first class get?",
        lambda: float(_distillation().soften(np.array([3.0, 1.0, 0.0]), 2.0)[0]), ".3f",
        "divide the logits by T first, then exp and normalise (subtract the max first if you like)"),
    "distill-entropy-bits": Exercise(
        "What is the entropy, in bits, of the soft targets [0.5, 0.25, 0.25]?",
        lambda: float(_distillation().entropy(np.array([0.5, 0.25, 0.25]))), ".2f",
        "H = -sum p log2 p; a probability 1/2^k contributes k / 2^k bits"),
    "distill-gradient-first": Exercise(
        "One row, student logits z = [2, 0, 0], teacher logits v = [4, 0, 0], T = 5: what is the first "
        "component of the gradient of T^2 CE(q, p) with respect to z?",
        lambda: float(_distillation().soft_loss_gradient(np.array([[2.0, 0, 0]]), np.array([[4.0, 0, 0]]),
                                                         5.0)[0, 0]), ".4f",
        "the gradient is T (p - q) / N with p = softmax(z / T), q = softmax(v / T); N = 1 here"),
    "distill-student-bytes": Exercise(
        "How many bytes does a 784-30-10 student (weights and biases) take in float64?",
        lambda: _student_bytes((784, 30, 10)), "d",
        "count m n weights plus n biases per layer; a float64 is 8 bytes"),
}


def _distillation():
    from . import distillation

    return distillation


def _student_bytes(sizes) -> int:
    from .network import random_network

    return random_network(sizes).storage_bits() // 8


def _break_even_rank(m, n):
    from .lowrank import break_even_rank

    return break_even_rank(m, n)


def _quantize_binary(W):
    from .quantization import quantize_binary

    return quantize_binary(W)


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def _as_number(answer) -> float:
    """A float from a number or from a string printed the notebook's way ("1,066,440", "88.3%")."""
    if isinstance(answer, str):
        text = answer.strip().replace("_", "")
        percent = text.endswith("%")
        text = text[:-1].strip() if percent else text
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        value = float(text)
        return value / 100 if percent else value
    return float(answer)


def check(exercise: str, answer) -> bool:
    """Print whether ``answer`` is right (to the precision the notebook shows); return True or False."""
    check_choice("exercise", exercise, tuple(EXERCISES))
    item = EXERCISES[exercise]
    if answer is None:
        print(f"No answer yet: replace None by your number. {item.question}")
        return False
    try:
        value = _as_number(answer)
    except (TypeError, ValueError):
        print(f"Not a number: {answer!r}. {item.question}")
        return False
    if not math.isfinite(value):
        print(f"Not a finite number: {answer!r}. {item.question}")
        return False
    expected = float(item.expected())
    right = abs(value - expected) <= item.tolerance(expected)
    if right:
        print(f"Right! {item.question}")
    else:
        # right or wrong only: "too large / too small" would let a student bisect the answer
        print(f"Not yet: {value:g} is not right (checked {item.precision_text()}). Hint: {item.hint}.")
    return right


# ============================================================================
# Implement-it exercises: the student writes the function, a checker compares it
# with the library on random and edge-case inputs and names the first failing case.
# ============================================================================

@dataclass(frozen=True)
class Case:
    """One input of an implement-it check: ``text`` names it in the messages
    ("W of shape (3, 2) and k = 1"), ``args`` are passed to both functions."""

    text: str
    args: tuple
    names: tuple            # the arguments' names, to say which input a function changed


@dataclass(frozen=True)
class Implement:
    """An implement-it exercise.

    ``signature`` and ``doc`` make the stub the notebook shows (``stub()``) and
    the model answer (``solution()``, with ``body``); ``reference`` is the
    library's answer for a case's arguments; ``compare(got, expected, case)``
    returns None when the student's output is right, else what differs, in words
    ("your codes differ ..."); ``hint`` is about the method. ``plug`` turns a
    passing function into the library-shaped tool the notebook's payoff cell uses.
    """

    signature: str
    doc: str
    body: str
    reference: Callable
    cases: Callable[[], list]
    compare: Callable
    hint: str
    plug: Callable | None = None

    @property
    def function_name(self) -> str:
        return self.signature.split("(")[0]

    def _header(self) -> str:
        doc = "\n".join(("    " + line).rstrip() for line in self.doc.strip("\n").split("\n"))
        return f'def {self.signature}:\n    """{doc.lstrip()}\n    """\n'

    def stub(self) -> str:
        return self._header() + "    # your code here (about five lines)\n    raise NotImplementedError\n"

    def solution(self) -> str:
        return self._header() + self.body.strip("\n") + "\n"


# --- comparing outputs, in words ---------------------------------------------

def _fmt(x) -> str:
    return f"{x:.4g}" if isinstance(x, (float, np.floating)) else str(x)


def _index(flat_index, shape) -> str:
    """A flat index as the student would write it: (0, 2), or [3] for a 1-D array."""
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat_index, shape)) + "]"


def _outputs(got, names):
    """The outputs as a list (one per name), or a message if the function returned something else."""
    if len(names) == 1:
        return [got], None
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        what = f"{len(got)} values" if isinstance(got, (tuple, list)) else f"a {type(got).__name__}"
        return None, f"your function returned {what}, expected a tuple ({', '.join(names)})"
    return list(got), None


def _array(value, name, shape):
    """``value`` as a float array of ``shape``, or a message saying what is wrong with it."""
    if value is None:
        return None, f"your {name} is None (a missing return?)"
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"your {name} is not an array of numbers (got {type(value).__name__})"
    if array.shape != tuple(shape):
        return None, f"your {name} has shape {array.shape}, expected {tuple(shape)}"
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        return None, f"your {name} contains {bad} NaN or infinite value{'s' * (bad != 1)}"
    return array, None


def _close(got, expected, name, what, atol, rtol=1e-7):
    """None if ``got`` matches ``expected`` entrywise, else the first entry that does not, in words."""
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad)[0])
    where = "[" + ", ".join(str(int(j)) for j in np.unravel_index(i, got.shape)) + "]" if got.ndim else ""
    return (f"your {name}{where} is {_fmt(got.ravel()[i])}, expected {_fmt(expected.ravel()[i])} "
            f"({int(bad.sum())} of {bad.size} entries differ{what})")


# --- low-rank: truncated SVD and the break-even test ---------------------------

def _svd_reference(W, k):
    """The library's factors of the best rank-k approximation, its error and the singular values."""
    from .lowrank import layer_svds
    from .network import Dense, Network

    svd = layer_svds(Network([Dense(np.array(W, dtype=np.float64), np.zeros(W.shape[1]))]))[0]
    layer = svd.layer(k)
    return layer.value("left"), layer.value("right"), svd.error(k), svd.s


def _svd_cases():
    rng = np.random.default_rng(0)
    s = np.array([3.0, 2.0, 2.0, 0.5])                 # a tie at k = 2: the best rank-2 W_k is not unique
    Q1, _ = np.linalg.qr(rng.normal(size=(5, 4)))
    Q2, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    cases = [("W of shape (3, 2) and k = 1", rng.normal(size=(3, 2)), 1),
             ("W of shape (4, 4) and k = 2", rng.normal(size=(4, 4)), 2),
             ("W of shape (2, 5) and k = 2 (full rank: exact)", rng.normal(size=(2, 5)), 2),
             ("W of shape (20, 8) and k = 3", rng.normal(size=(20, 8)), 3),
             ("W = 0 of shape (3, 3) and k = 1", np.zeros((3, 3)), 1),
             ("W of shape (5, 4) with singular values (3, 2, 2, 0.5) and k = 2 (a tie)", (Q1 * s) @ Q2.T, 2),
             ("W of shape (6, 3) with entries near 1e8 and k = 1", 1e8 * rng.normal(size=(6, 3)), 1)]
    return [Case(text, (W, k), ("W", "k")) for text, W, k in cases]


def _compare_svd(got, expected, case):
    W, k = case.args
    (m, n), (ref_left, ref_right, best_error, s) = W.shape, expected
    outputs, problem = _outputs(got, ("left", "right"))
    if problem:
        return problem
    left, problem = _array(outputs[0], "left (U_k S_k)", (m, k))
    if problem:
        return problem
    right, problem = _array(outputs[1], "right (V_k^T)", (k, n))
    if problem:
        return problem
    scale = np.linalg.norm(W)
    tol = 1e-7 * scale + 1e-12
    product = left @ right                                               # (m, n), rank <= k by its shapes
    error = float(np.linalg.norm(W - product))
    if abs(error - best_error) > tol:                                    # optimal error <=> a best rank-k W_k
        tie = k < len(s) and np.isclose(s[k - 1], s[k], rtol=1e-9, atol=1e-12 * scale)
        if tie:
            return (f"your left @ right is not a best rank-{k} approximation: ||W - left @ right||_F is "
                    f"{error:.4g}, the best possible is {best_error:.4g}")
        distance = float(np.linalg.norm(product - ref_left @ ref_right))
        return f"your left @ right differs from the best rank-{k} approximation by {distance:.4g} (Frobenius norm)"
    gram = right @ right.T                                               # (k, k): the identity for V_k^T
    off = float(np.abs(gram - np.eye(k)).max())
    if off > 1e-6:
        return (f"your left @ right is right, but the rows of right are not orthonormal "
                f"(right @ right.T is off the identity by {off:.3g}): S belongs in left = U_k S_k, right = V_k^T")
    return None


def _worth_reference(m, n, k):
    from .lowrank import break_even_rank

    return bool(k < break_even_rank(m, n))


def _worth_cases():
    cases = [(300, 100, 20), (300, 100, 80), (784, 300, 216), (784, 300, 217), (10, 4, 2), (6, 3, 2),
             (2, 2, 1), (1, 1, 1), (100, 10, 9), (100, 10, 10), (4000, 3, 2), (3, 4000, 3)]
    return [Case(f"an ({m}, {n}) matrix at rank k = {k}", (m, n, k), ("m", "n", "k")) for m, n, k in cases]


def _compare_worth(got, expected, case):
    if not isinstance(got, (bool, np.bool_)):
        return f"your function returned {got!r} ({type(got).__name__}), expected True or False"
    if bool(got) != expected:
        return f"your function said {bool(got)}, expected {expected}"
    return None


def _factorize_with(truncated_svd):
    """What the payoff cell uses: ``factorize(network, ranks)`` with the student's SVD
    (None keeps a layer dense)."""
    def factorize_with(network, ranks):
        from .lowrank import LowRank

        layers = []
        for layer, k in zip(network.layers, ranks):
            if k is None:
                layers.append(layer.to_dense())
                continue
            dense = layer.to_dense()
            left, right = truncated_svd(np.array(dense.weight), k)
            layers.append(LowRank(np.array(left, dtype=np.float64), np.array(right, dtype=np.float64),
                                  np.array(dense.bias)))
        return network.replace_layers(layers)
    return factorize_with


# --- quantization: symmetric, affine, the XNOR scale ----------------------------

def _uniform_reference(W, bits, lo, hi, symmetric):
    """The library's quantizer (the functions ``quantize_uniform`` runs) on the range [lo, hi]:
    returns (signed codes q, zero point, dequantized, unrounded W / S + Z)."""
    from .quantization import _uniform_params, _uniform_round_trip

    scale, zero, q_min, q_max = _uniform_params(np.array([lo]), np.array([hi]), bits, symmetric)
    q, values = _uniform_round_trip(np.asarray(W, dtype=np.float64), scale[0], zero[0], q_min, q_max)
    return q, int(zero[0]), values, W / scale[0] + zero[0], float(scale[0])


def _symmetric_reference(W, bits, clip=None):
    c = float(np.abs(W).max()) if clip is None else clip
    q, _, values, ratio, scale = _uniform_reference(W, bits, -c, c, True)
    return q, 0, values, ratio, scale


def _affine_reference(W, bits, lo=None, hi=None):
    lo = float(W.min()) if lo is None else lo
    hi = float(W.max()) if hi is None else hi
    q, zero, values, ratio, scale = _uniform_reference(W, bits, lo, hi, False)
    return q, zero, values, ratio, scale


def _compare_codes(q, ref_q, ratio, W):
    """Codes must be whole numbers equal to the library's; where W / S + Z lies on a
    rounding midpoint (or within float32 rounding of the stored scale) either neighbour is right."""
    if not np.allclose(q, np.round(q), rtol=0, atol=1e-9):
        i = int(np.flatnonzero(~np.isclose(q, np.round(q), rtol=0, atol=1e-9))[0])
        return f"your codes are not whole numbers (code {q.ravel()[i]:.4g} for W{_index(i, q.shape)})"
    midpoint = np.abs(np.abs(ratio - np.floor(ratio)) - 0.5) <= 1e-6 * np.maximum(1, np.abs(ratio))
    bad = (q != ref_q) & ~(midpoint & (np.abs(q - ref_q) == 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        return (f"your code for W{_index(i, q.shape)} = {_fmt(W.ravel()[i])} is {int(q.ravel()[i])}, expected "
                f"{int(ref_q.ravel()[i])} ({int(bad.sum())} of {bad.size} codes differ)")
    return None


def _compare_uniform(got, expected, case, names):
    W = case.args[0]
    ref_q, ref_zero, ref_values, ratio, scale = expected
    outputs, problem = _outputs(got, names)
    if problem:
        return problem
    q, problem = _array(outputs[0], "codes", W.shape)
    if problem:
        return problem
    if len(names) == 3:                                                  # (q, Z, W_hat): affine
        zero = outputs[1]
        if isinstance(zero, np.ndarray) and zero.size == 1:
            zero = zero.item()
        if not isinstance(zero, (int, float, np.integer, np.floating)) or not np.isfinite(zero):
            return f"your zero point Z is {zero!r}, expected one whole number"
        if zero != ref_zero:
            return f"your zero point Z is {_fmt(zero)}, expected {ref_zero}"
    problem = _compare_codes(q, ref_q, ratio, W)
    if problem:
        return problem
    values, problem = _array(outputs[-1], "dequantized values", W.shape)
    if problem:
        return problem
    # against S (q - Z) with the student's own codes (a code on a midpoint may differ by one)
    return _close(values, scale * (q - ref_zero), "dequantized value W_hat", " from S (q - Z)",
                  atol=1e-6 * scale, rtol=1e-6)


def _uniform_cases(symmetric):
    rng = np.random.default_rng(1)
    W = rng.normal(scale=0.1, size=(6, 4))
    relu = np.abs(rng.normal(size=(5, 3)))                                # all >= 0, like ReLU activations
    spread = np.array([[-3.0, -1.25, 0.0, 0.4, 2.0, 5.0]])
    halves = np.array([[-1.0, -0.5, 0.0, 0.25, 0.5, 1.0]])                 # values on rounding midpoints (2 bits)
    if symmetric:
        rows = [("W of shape (6, 4), 8 bits", W, 8, None),
                ("W of shape (6, 4), 2 bits", W, 2, None),
                ("W = [[-3, -1.25, 0, 0.4, 2, 5]], 3 bits", spread, 3, None),
                ("W = [[-3, -1.25, 0, 0.4, 2, 5]], 4 bits, clip = 2 (values beyond +-2 clamp)", spread, 4, 2.0),
                ("W = [[-1, -0.5, 0, 0.25, 0.5, 1]], 2 bits (ties: values halfway between levels)", halves, 2, None),
                ("W = 0 of shape (2, 3), 8 bits", np.zeros((2, 3)), 8, None),
                ("W of shape (6, 4) scaled to 1e6, 16 bits", 1e7 * W, 16, None)]
        return [Case(t, (w, b, c), ("W", "bits", "clip")) for t, w, b, c in rows]
    rows = [("W of shape (6, 4), 8 bits", W, 8, None, None),
            ("W of shape (6, 4), 2 bits", W, 2, None, None),
            ("W = [[-3, -1.25, 0, 0.4, 2, 5]], 3 bits", spread, 3, None, None),
            ("W of shape (5, 3) all >= 0 (like ReLU outputs), 4 bits", relu, 4, None, None),
            ("W = [[-3, -1.25, 0, 0.4, 2, 5]], 4 bits, range [-1, 3] (values outside clamp)", spread, 4, -1.0, 3.0),
            ("W = 0 of shape (2, 3), 8 bits", np.zeros((2, 3)), 8, None, None),
            ("W of shape (6, 4) scaled to 1e6, 16 bits", 1e7 * W, 16, None, None)]
    return [Case(t, (w, b, lo, hi), ("W", "bits", "lo", "hi")) for t, w, b, lo, hi in rows]


def _quantized_with(quantizer, names):
    """What the payoff cell uses: a copy of a network whose weight arrays (not the
    biases) are replaced by the student's dequantized values at ``bits``."""
    def quantized_network(network, bits):
        layers = []
        for layer in network.layers:
            replaced = {}
            for name in layer.quantizable_names():
                if name != "bias":
                    values = _outputs(quantizer(np.array(layer.value(name)), bits), names)[0][-1]
                    replaced[name] = np.array(values, dtype=np.float64)
            layers.append(layer.with_arrays(**replaced))
        return network.replace_layers(layers)
    return quantized_network


def _xnor_reference(W):
    from .quantization import quantize_binary

    return quantize_binary(W)[1]


def _xnor_cases():
    rng = np.random.default_rng(2)
    mixed = rng.normal(size=(6, 3))
    mixed[:, 1] *= 10                                   # columns of very different ranges
    cases = [("W = [[0.3], [-0.1], [0.2], [-0.4]] (one neuron)", np.array([[0.3], [-0.1], [0.2], [-0.4]])),
             ("W of shape (6, 3) whose columns have different ranges", mixed),
             ("W of shape (3, 5) (more outputs than inputs)", rng.normal(size=(3, 5))),
             ("W of shape (4, 2) with an all-zero column", np.column_stack([rng.normal(size=4), np.zeros(4)])),
             ("W of shape (5, 2) with entries near 1e8", 1e8 * rng.normal(size=(5, 2)))]
    return [Case(t, (W,), ("W",)) for t, W in cases]


def _compare_xnor(got, expected, case):
    W = case.args[0]
    alpha, problem = _array(got, "alpha", (W.shape[1],))
    if problem:
        if np.ndim(got) == 0 and got is not None:
            problem += " (one scale per output neuron, i.e. per column)"
        return problem
    return _close(alpha, expected, "alpha", "", atol=1e-12, rtol=1e-9)


def _binarized_with(xnor_scale):
    """What the payoff cell uses: a copy of a network whose weights are alpha sign(W)
    (sign(0) = +1, as the library's codes), alpha from the student's function."""
    def binarized_network(network):
        layers = []
        for layer in network.layers:
            replaced = {}
            for name in layer.quantizable_names():
                if name != "bias":
                    W = np.array(layer.value(name))
                    W = W.reshape(-1, 1) if W.ndim == 1 else W
                    replaced[name] = (np.where(W >= 0, 1.0, -1.0) * np.asarray(xnor_scale(W))).reshape(
                        np.shape(layer.value(name)))
            layers.append(layer.with_arrays(**replaced))
        return network.replace_layers(layers)
    return binarized_network


# --- pruning: the magnitude mask and the projection ------------------------------

def _mask_reference(W, sparsity):
    from .pruning import magnitude_mask

    return magnitude_mask(W, sparsity)


def _mask_cases():
    rng = np.random.default_rng(3)
    ties = np.array([[0.5, -0.1, 0.1], [0.1, 0.0, 0.0], [-0.3, 0.0, 0.2]])
    cases = [("W of shape (4, 5) at sparsity 0.5", rng.normal(size=(4, 5)), 0.5),
             ("W of shape (3, 4) at sparsity 0.7 (0.7 x 12 = 8.4 weights: remove 8)", rng.normal(size=(3, 4)), 0.7),
             ("W of shape (2, 3) at sparsity 0.6 (0.6 x 6 = 3.6 weights: remove 4)", rng.normal(size=(2, 3)), 0.6),
             ("W with tied magnitudes (three zeros, three 0.1s) at sparsity 0.3", ties, 0.3),
             ("W with tied magnitudes (three zeros, three 0.1s) at sparsity 0.4", ties, 0.4),
             ("W of shape (3, 3) at sparsity 0", rng.normal(size=(3, 3)), 0.0),
             ("W of shape (10, 10) at sparsity 0.29", rng.normal(size=(10, 10)), 0.29),
             ("W of shape (4, 3) with entries near 1e-200 at sparsity 0.5", 1e-200 * rng.normal(size=(4, 3)), 0.5)]
    return [Case(t, (W, s), ("W", "sparsity")) for t, W, s in cases]


def _compare_mask(got, expected, case):
    W = case.args[0]
    mask = np.asarray(got) if got is not None else None
    if mask is None or mask.shape != W.shape:
        return f"your mask has shape {None if mask is None else mask.shape}, expected {W.shape}"
    if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
        return "your mask is not True/False (or 1/0) everywhere"
    mask = mask.astype(bool)
    removed, expected_removed = int((~mask).sum()), int((~expected).sum())
    if removed != expected_removed:
        return f"your mask removes {removed} weights, expected {expected_removed}"
    if removed and mask.any():
        if np.abs(W[~mask]).max() > np.abs(W[mask]).min():
            return (f"your mask removes a weight of magnitude {_fmt(np.abs(W[~mask]).max())} but keeps one of "
                    f"magnitude {_fmt(np.abs(W[mask]).min())}")
    return None


def _projection_reference(W, mask):
    """The library's ``mask_projection`` hook, applied to a one-layer network holding a copy of W."""
    from .network import Dense, Network
    from .pruning import mask_projection

    network = Network([Dense(np.array(W, dtype=np.float64), np.zeros(W.shape[1]))])
    mask_projection([mask])(network)
    return network.layers[0].weight


def _projection_cases():
    rng = np.random.default_rng(4)
    W = rng.normal(size=(4, 3))
    cases = [("W of shape (4, 3) and a mask keeping half", W, rng.random((4, 3)) < 0.5),
             ("W of shape (2, 5) and a mask keeping everything", rng.normal(size=(2, 5)), np.ones((2, 5), bool)),
             ("W of shape (3, 3) and a mask keeping nothing", rng.normal(size=(3, 3)), np.zeros((3, 3), bool)),
             ("W of shape (4, 3) near 1e300 and a mask keeping half", 1e300 * W, rng.random((4, 3)) < 0.5)]
    return [Case(t, (W, m), ("W", "mask")) for t, W, m in cases]


def _compare_projection(got, expected, case):
    W = case.args[0]
    if isinstance(got, np.ndarray) and np.shares_memory(got, W):
        return "your result shares memory with W (did you set W[...] = 0 in place?): return a new array"
    values, problem = _array(got, "projected W", W.shape)
    if problem:
        return problem
    return _close(values, expected, "projected W", "", atol=0, rtol=0)


# --- distillation: softmax with temperature and the soft-loss gradient ------------

def _soften_reference(logits, T):
    from .distillation import soften

    return soften(logits, T)


def _soften_cases():
    rng = np.random.default_rng(5)
    cases = [("logits [1, 2, 3] at T = 1", np.array([1.0, 2.0, 3.0]), 1.0),
             ("logits of shape (4, 5) at T = 1", rng.normal(size=(4, 5)), 1.0),
             ("logits of shape (4, 5) at T = 4", rng.normal(size=(4, 5)), 4.0),
             ("logits [[2, 1, 0], [0, 0, 0]] at T = 0.5 (a row of ties)", np.array([[2.0, 1, 0], [0, 0, 0]]), 0.5),
             ("logits [1000, 999, 0] at T = 1 (large logits)", np.array([1000.0, 999.0, 0.0]), 1.0),
             ("logits [-1000, -1001, -1002] at T = 2 (large negative logits)", np.array([-1000.0, -1001, -1002]), 2.0),
             ("logits [10, 20, 30] at T = 0.01 (a tiny temperature)", np.array([10.0, 20.0, 30.0]), 0.01),
             ("logits of shape (3, 4) at T = 1e6 (a huge temperature)", rng.normal(size=(3, 4)), 1e6)]
    return [Case(t, (z, T), ("logits", "T")) for t, z, T in cases]


def _compare_probabilities(got, expected, case):
    values, problem = _array(got, "probabilities", expected.shape)
    if problem:
        return problem
    return _close(values, expected, "probabilities", "", atol=1e-12, rtol=1e-7)


def _gradient_reference(student_logits, teacher_logits, T):
    from .distillation import soft_loss_gradient

    return soft_loss_gradient(student_logits, teacher_logits, T, scaled=True)


def _gradient_cases():
    rng = np.random.default_rng(6)
    cases = [("one row of 3 classes at T = 1", rng.normal(size=(1, 3)), rng.normal(size=(1, 3)), 1.0),
             ("4 rows of 5 classes at T = 1", rng.normal(size=(4, 5)), rng.normal(size=(4, 5)), 1.0),
             ("4 rows of 5 classes at T = 4", rng.normal(size=(4, 5)), rng.normal(size=(4, 5)), 4.0),
             ("2 rows where student and teacher agree, at T = 3", np.ones((2, 3)), np.ones((2, 3)), 3.0),
             ("3 rows of large logits (near 1000) at T = 2", 1000 + rng.normal(size=(3, 4)),
              1000 + rng.normal(size=(3, 4)), 2.0),
             ("2 rows of 10 classes at T = 20", rng.normal(size=(2, 10)), 5 * rng.normal(size=(2, 10)), 20.0)]
    return [Case(t, (z, v, T), ("student_logits", "teacher_logits", "T")) for t, z, v, T in cases]


def _compare_gradient(got, expected, case):
    values, problem = _array(got, "gradient", expected.shape)
    if problem:
        return problem
    return _close(values, expected, "gradient", "", atol=1e-12, rtol=1e-7)


IMPLEMENTS = {
    "lowrank-truncated-svd": Implement(
        "truncated_svd(W, k)",
        """The factors of the best rank-k approximation of W (Eckart-Young):
W_k = U_k S_k V_k^T. Return (left, right) with left = U_k S_k, shape (m, k), and
right = V_k^T, shape (k, n), so that left @ right = W_k.
Use np.linalg.svd(W, full_matrices=False).""",
        """    U, s, Vt = np.linalg.svd(W, full_matrices=False)     # U (m, r), s (r,), Vt (r, n)
    left = U[:, :k] * s[:k]                               # (m, k): U_k S_k, scaling column j by s_j
    right = Vt[:k].copy()                                 # (k, n): V_k^T, orthonormal rows
    return left, right""",
        _svd_reference, _svd_cases, _compare_svd,
        "keep the FIRST k singular triplets (numpy sorts s in decreasing order); "
        "left = U[:, :k] scaled by s[:k] column by column, right = the first k rows of Vt",
        plug=_factorize_with),
    "lowrank-worth-it": Implement(
        "worth_factorizing(m, n, k)",
        """True if a rank-k factorization of an (m, n) weight matrix stores FEWER
numbers than the dense matrix (weights only), else False.""",
        """    dense = m * n                  # the (m, n) matrix
    factored = k * (m + n)         # left (m, k) and right (k, n)
    return factored < dense""",
        _worth_reference, _worth_cases, _compare_worth,
        "count the numbers each form stores: the dense matrix m n, the two factors k m + k n; "
        "equal is not smaller, and compare whole numbers (no integer division)"),
    "quant-symmetric-quantizer": Implement(
        "quantize_symmetric(W, bits, clip=None)",
        """Symmetric b-bit quantization (one scale for the whole array).
clip: the largest magnitude to represent (None: max |W|).
S = clip / (2^(bits-1) - 1); codes q = round(W / S), clamped to
[-(2^(bits-1) - 1), 2^(bits-1) - 1]; dequantized W_hat = S q.
An all-zero W gives codes 0 and W_hat 0 (do not divide by 0).
Return (q, W_hat), both arrays of W's shape.""",
        """    q_max = 2 ** (bits - 1) - 1
    clip = np.abs(W).max() if clip is None else clip
    scale = max(clip, 1e-12) / q_max                      # 1e-12: an all-zero W has no range
    q = np.clip(np.round(W / scale), -q_max, q_max)       # scale, round, clamp
    return q, scale * q""",
        _symmetric_reference, lambda: _uniform_cases(True),
        lambda got, expected, case: _compare_uniform(got, expected, case, ("q", "W_hat")),
        "scale first (W / S with S = clip / (2^(b-1) - 1)), then round to the nearest whole number, "
        "then clamp to +-(2^(b-1) - 1); W_hat = S q",
        plug=lambda fn: _quantized_with(fn, ("q", "W_hat"))),
    "quant-affine-quantizer": Implement(
        "quantize_affine(W, bits, lo=None, hi=None)",
        """Affine (asymmetric) b-bit quantization of the range [lo, hi]
(None: min W, max W), first widened to include 0 so that 0 is exactly representable:
lo = min(lo, 0), hi = max(hi, 0).
S = (hi - lo) / (2^bits - 1); zero point Z = round(-lo / S);
codes q = round(W / S) + Z, clamped to [0, 2^bits - 1]; W_hat = S (q - Z).
An all-zero W gives codes 0, Z = 0 and W_hat 0 (do not divide by 0).
Return (q, Z, W_hat).""",
        """    q_max = 2 ** bits - 1
    lo = min(W.min() if lo is None else lo, 0.0)          # 0 must be a level
    hi = max(W.max() if hi is None else hi, 0.0)
    scale = max(hi - lo, 1e-12) / q_max
    zero = int(round(-lo / scale))                        # the code that stands for 0
    q = np.clip(np.round(W / scale) + zero, 0, q_max)     # scale, round, shift, clamp
    return q, zero, scale * (q - zero)""",
        _affine_reference, lambda: _uniform_cases(False),
        lambda got, expected, case: _compare_uniform(got, expected, case, ("q", "Z", "W_hat")),
        "widen [lo, hi] to include 0, S = (hi - lo) / (2^b - 1), Z = round(-lo / S) (a whole number); "
        "q = round(W / S) + Z clamped to [0, 2^b - 1]; subtract Z again to dequantize",
        plug=lambda fn: _quantized_with(fn, ("q", "Z", "W_hat"))),
    "quant-xnor-scale": Implement(
        "xnor_scale(W)",
        """XNOR-Net binarization W ~ alpha sign(W), one alpha per output neuron
(per column of W, shape (n,)): the alpha that minimises ||W[:, j] - alpha_j sign(W[:, j])||^2.""",
        """    return np.abs(W).mean(axis=0)       # d/d alpha of sum (w - alpha sign w)^2 = 0 -> alpha = mean |w|""",
        _xnor_reference, _xnor_cases, _compare_xnor,
        "expand sum_i (w_i - alpha sign(w_i))^2, differentiate in alpha and set it to 0 "
        "(sign(w_i) w_i = |w_i|); one alpha per column (axis=0)",
        plug=_binarized_with),
    "prune-magnitude-mask": Implement(
        "prune_mask(W, sparsity)",
        """A boolean mask of W's shape, True where a weight is KEPT: the round(sparsity * W.size)
weights of smallest |w| are removed (exactly that many, even when magnitudes tie;
round half up: floor(s N + 0.5)).""",
        """    n_pruned = int(np.floor(sparsity * W.size + 0.5))
    order = np.argsort(np.abs(W).ravel(), kind="stable")  # smallest |w| first; ties by position
    mask = np.ones(W.size, dtype=bool)
    mask[order[:n_pruned]] = False
    return mask.reshape(W.shape)""",
        _mask_reference, _mask_cases, _compare_mask,
        "sort the magnitudes (np.argsort of |W|, flattened) and remove the first n = round(s N) positions; "
        "a threshold (|w| <= t) removes every tied weight, not exactly n"),
    "prune-mask-projection": Implement(
        "project_weights(W, mask)",
        """Projection onto the pruned weights: a NEW array equal to W where mask is True
and exactly 0 where it is False (W itself is not changed).""",
        """    return np.where(mask, W, 0.0)""",
        _projection_reference, _projection_cases, _compare_projection,
        "keep W where the mask is True and put 0 where it is False, in a new array (np.where)"),
    "distill-softmax-temperature": Implement(
        "softmax_t(logits, T)",
        """softmax(z / T) along the last axis, for one row (K,) or many (N, K):
q_k = exp(z_k / T) / sum_j exp(z_j / T). It must not overflow for logits like 1000.""",
        """    z = np.asarray(logits, dtype=float)
    shifted = (z - z.max(axis=-1, keepdims=True)) / T     # <= 0: exp cannot overflow
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)""",
        _soften_reference, _soften_cases, _compare_probabilities,
        "divide by T, and subtract each row's maximum before np.exp (softmax does not change when "
        "a constant is added to a row); sum along the last axis with keepdims=True"),
    "distill-soft-gradient": Implement(
        "distillation_gradient(student_logits, teacher_logits, T)",
        """The gradient with respect to the student's logits z (N, K) of the soft loss
T^2 CE(q, p) averaged over the N rows, with p = softmax(z / T), q = softmax(v / T)
(v: the teacher's logits). Hinton et al. 2015. Returns an (N, K) array.""",
        """    from compresslab.distillation import soften
    p = soften(student_logits, T)                         # (N, K)
    q = soften(teacher_logits, T)
    return T * (p - q) / len(p)                           # T^2 x (p - q) / T, averaged over the rows""",
        _gradient_reference, _gradient_cases, _compare_gradient,
        "d CE(q, softmax(z / T)) / dz = (p - q) / T; the T^2 in front of the loss makes it T (p - q); "
        "then divide by N for the average"),
}

SOLUTIONS = {
    "lowrank-open-global-budget": """\
The ranks are what the dashboard shows; to print them:

    ranks = allocate_ranks(lenet, int(0.05 * lenet.n_params))
    print(ranks, [k * (svd.shape[0] + svd.shape[1]) for k, svd in zip(ranks, svds)])

Read both lists: the rank and the parameters it costs, k (m + n). The greedy rule adds one rank at a time,
the one that removes the most squared error per parameter, s_k^2 / (m + n). A rank of the 784 x 300 layer
costs 1,084 parameters, one of the 100 x 10 layer only 110, so a smaller layer can win ranks with smaller
singular values, while the layer with the most parameters need not have the most rank. After Fine-tune,
compare the two accuracies at the same alpha from the dashboard's report, and judge the difference against
the spread between seeds, not by one run.""",
    "quant-open-bitwidth": """\
Move the bit-width down with per-tensor min-max until the accuracy falls below 0.94, note the last bit-width
that kept it; repeat with per-neuron and MSE range. The saving is the ratio of the two sizes the dashboard
reports (stored bits, scales included), not the ratio of the bit-widths: per-neuron scales cost one
32-bit number per neuron (300 + 100 + 10 for LeNet), small next to the m n codes but counted. Why per-neuron
MSE can go lower: each neuron gets its own range, and the MSE search clips the few outliers that would
otherwise stretch the levels (section 3).""",
}

_PASSED: dict = {}          # name -> the student's function that passed its check


def _copies(args):
    return tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in args)


def check_implementation(name: str, fn) -> bool:
    """Run ``fn`` on every case of exercise ``name``; print "Right!" or the first failing
    case in words, with a hint about the method; return True or False."""
    check_choice("name", name, tuple(IMPLEMENTS))
    spec = IMPLEMENTS[name]
    _PASSED.pop(name, None)                 # only the function checked last may be used
    if not callable(fn):
        print(f"Not a function: pass the function itself, e.g. "
              f"check_implementation({name!r}, {spec.function_name}) (no parentheses after it).")
        return False
    cases = spec.cases()
    for case in cases:
        expected = spec.reference(*_copies(case.args))
        inputs = _copies(case.args)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):   # overflow shows as NaN, below
                warnings.simplefilter("ignore")
                got = fn(*inputs)
        except NotImplementedError:
            print(f"Not written yet: replace `raise NotImplementedError` in {spec.function_name} by your code, "
                  f"run that cell, then this one.")
            return False
        except Exception as error:              # the student's bug, reported as a case, not a traceback
            print(f"Not yet: for {case.text} your function raised {type(error).__name__}: {error}. "
                  f"Hint: {spec.hint}.")
            return False
        changed = [n for n, a, b in zip(case.names, case.args, inputs)
                   if isinstance(a, np.ndarray) and not np.array_equal(a, b, equal_nan=True)]
        problem = (f"your function changed its input {changed[0]}: work on a new array" if changed
                   else spec.compare(got, expected, Case(case.text, inputs, case.names)))   # what fn was given
        if problem:
            print(f"Not yet: for {case.text} {problem}. Hint: {spec.hint}.")
            return False
    _PASSED[name] = fn
    print(f"Right! {spec.function_name} agrees with the library on all {len(cases)} cases "
          f"(random inputs and edge cases: {_edge_words(cases)}).")
    return True


def _edge_words(cases) -> str:
    """The kinds of edge case among ``cases``, for the success message."""
    words = [w for w, key in (("ties", "tie"), ("zeros", "= 0"), ("extreme values", "1e"), ("clamping", "clamp"))
             if any(key in case.text for case in cases)]
    return ", ".join(words) or "boundaries"


def use_implementation(name: str, fn):
    """The student's function in the form the notebook's payoff cell uses (for instance a
    ``factorize_with(network, ranks)`` built on their SVD). Only once it has passed
    ``check_implementation(name, fn)``: a function that has not is refused."""
    check_choice("name", name, tuple(IMPLEMENTS))
    if _PASSED.get(name) is not fn:
        raise ValueError(f"{getattr(fn, '__name__', fn)!s} has not passed check_implementation({name!r}, ...) "
                         f"yet; run the check first")
    spec = IMPLEMENTS[name]
    return spec.plug(fn) if spec.plug else fn


def show_solution(name: str) -> None:
    """Print the model answer of exercise ``name`` (never printed unless asked)."""
    check_choice("name", name, tuple(IMPLEMENTS) + tuple(SOLUTIONS))
    print(IMPLEMENTS[name].solution() if name in IMPLEMENTS else SOLUTIONS[name])


# --- 03 pruning ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _lenet_dead_fraction():
    """Share of LeNet-300-100's weights on input pixels that are 0 in every training image."""
    from .data import load_dataset
    from .models import load_pretrained
    from .network import from_sklearn
    from .pruning import dead_inputs

    return dead_inputs(from_sklearn(load_pretrained("mnist-5k")), load_dataset("mnist-5k").X_train).fraction


def _csr_bits_layer1_90():
    import numpy as np

    from .pruning import stored_size

    mask = np.zeros((784, 300), dtype=bool)
    mask.ravel()[:round(0.1 * mask.size)] = True           # which weights are kept does not change the count
    return stored_size([mask], "csr", bias_bits=0)["bits"]


def _cubic_step_2():
    from .pruning import schedule

    return schedule(0.9, 5, kind="cubic")[1]


def _relative_fillers_0_20():
    import numpy as np

    from .pruning import relative_fillers

    return relative_fillers(np.array([0, 20]), 3).size


EXERCISES.update({
    "prune-bitmask-break-even": Exercise(
        "Above which sparsity s (0 to 1) does a bitmask (64-bit values + 1 bit per weight) take fewer bits "
        "than the dense float64 matrix?",
        lambda: 1 / 64, ".4f", "solve (1 - s) m n 64 + m n = 64 m n for s"),
    "prune-csr-bits-layer1-90": Exercise(
        "How many bits does CSR store for LeNet's 784 x 300 weight matrix at 90 % sparsity (float64 values, "
        "the narrowest unsigned index types, one row per output neuron; no bias)?",
        _csr_bits_layer1_90, "d",
        "nnz values x (64 + bits of a column index that fits 0..783) + (300 + 1) row pointers, each wide "
        "enough for nnz"),
    "prune-dead-pixel-share": Exercise(
        "What fraction (0 to 1) of all LeNet-300-100's weights sits on dead input pixels?",
        _lenet_dead_fraction, ".3f", "dead pixels x 300 first-layer weights each, over all weights of the network"),
    "prune-cubic-step-2": Exercise(
        "Zhu & Gupta's cubic schedule from 0 to 90 % in 5 steps: what is the sparsity after step 2?",
        _cubic_step_2, ".4f", "s_t = s_f + (s_i - s_f)(1 - t / n)^3 with t = 2, n = 5"),
    "prune-relative-fillers": Exercise(
        "Relative indices with k = 3 bits (gaps up to 8): how many filler zeros does a row whose only "
        "nonzeros are at positions 0 and 20 need?",
        _relative_fillers_0_20, "d", "a gap longer than 8 positions needs a stored filler zero every 8 positions"),
})
