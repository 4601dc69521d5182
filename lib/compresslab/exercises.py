"""Self-checks for the notebooks' exercises.

``check(exercise, answer)`` says right or wrong without giving the answer
away. Every expected answer is computed from the library, never typed in.

An answer is right when it is correct to the precision the notebook shows for
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
from dataclasses import dataclass
from typing import Callable

from ._validation import check_choice
from .models import LENET_300_100

LENET_LAYER_SIZES = (784, *LENET_300_100, 10)     # inputs, the hidden layers, outputs


def _dense_params(sizes) -> int:
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


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


# ``shown`` follows what the notebooks print for that kind of number: counts of
# bytes, FLOPs and parameters, ranks and zero points as whole numbers; alpha with
# 2 decimals (02: "alpha (bits) {:.2f}"); shares as fractions with 3 decimals
# (01 prints them as "{:5.1%}"); break-even ranks with 1 decimal (01: "{:6.1f}");
# Frobenius errors with 4 decimals (01: "{:.4f}"); scales, which span decades,
# with 4 significant digits.
EXERCISES = {
    "intro-lenet-float32-bytes": Exercise(
        "How many bytes do the weights and biases of LeNet-300-100 take in float32?",
        lambda: 4 * _dense_params(LENET_LAYER_SIZES), "d",
        "count weights (m x n) and biases (n) of the three layers; a float32 is 4 bytes"),
    "intro-alpha-float16": Exercise(
        "What is the compression rate alpha (by bits) of any dense network stored in float16 "
        "instead of float64?",
        lambda: 64 / 16, ".2f", "alpha = a / a*: the bits of the original over the bits of the compressed"),
    "intro-first-layer-flops": Exercise(
        "How many FLOPs does the first layer of LeNet-300-100 cost for ONE image "
        "(count a multiply-add as 2, plus one add per bias)?",
        lambda: 2 * 784 * 300 + 300, "d", "X @ W is (1 x 784) times (784 x 300); then add the bias"),
    "intro-share-first-layer": Exercise(
        "What fraction (0 to 1) of LeNet-300-100's parameters sits in its first layer?",
        lambda: (784 * 300 + 300) / _dense_params(LENET_LAYER_SIZES), ".3f",
        "parameters of layer 1 over the parameters of all three layers"),
    "lowrank-params-rank20": Exercise(
        "How many weights (no bias) does a rank-20 factorization of the 784 x 300 layer store?",
        lambda: 20 * (784 + 300), "d", "U_k S_k is m x k and V_k^T is k x n"),
    "lowrank-break-even-300x100": Exercise(
        "Above which rank k does factorizing a 300 x 100 layer stop saving parameters?",
        lambda: 300 * 100 / (300 + 100), ".1f", "solve k (m + n) = m n for k"),
    "lowrank-error-layer2-rank10": Exercise(
        "What is the Frobenius error ||W - W_10||_F of LeNet's second layer (300 x 100) at rank 10? "
        "(use svds[1].s, not the matrices)",
        lambda: float((_lenet_svds()[1].s[10:] ** 2).sum() ** 0.5), ".4f",
        "Eckart-Young: the square root of the sum of the squared singular values you drop"),
    "lowrank-energy90-layer1": Exercise(
        "What is the smallest rank that keeps 90 % of the squared singular values of LeNet's first layer?",
        lambda: _lenet_svds()[0].rank_for_energy(0.9), "d",
        "np.cumsum of s**2 divided by the total; find the first index that reaches 0.9 (ranks count from 1)"),
    "quant-lenet-4bit-weight-bytes": Exercise(
        "How many bytes do LeNet-300-100's weights (not biases) take as 4-bit codes?",
        lambda: (784 * 300 + 300 * 100 + 100 * 10) * 4 / 8, "d", "weights only: m n per layer, half a byte each"),
    "quant-symmetric-scale": Exercise(
        "8-bit symmetric quantization of weights in [-0.5, 0.5]: what is the scale S?",
        lambda: 0.5 / (2**7 - 1), ".4g", "the largest |w| maps to the largest code, 2^(b-1) - 1"),
    "quant-affine-zero-point": Exercise(
        "8-bit affine quantization of the range [-0.2, 0.6]: what is the zero point Z?",
        lambda: round(0.2 / (0.8 / 255)), "d", "S = (hi - lo) / (2^b - 1), then Z = round(-lo / S)"),
    "quant-binary-scale": Exercise(
        "One neuron's weights are [0.3, -0.1, 0.2, -0.4]. What scale does XNOR-Net binarization use?",
        lambda: (0.3 + 0.1 + 0.2 + 0.4) / 4, ".4g", "the scale s minimising ||w - s sign(w)||^2 is mean |w|"),
}


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
        direction = "too large" if value > expected else "too small"
        print(f"Not yet: {value:g} is {direction} (checked {item.precision_text()}). Hint: {item.hint}.")
    return right
