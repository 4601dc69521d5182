"""Self-checks for the notebooks' exercises.

``check(exercise, answer)`` says right or wrong without giving the answer
away. Every expected answer is computed from the library, never typed in.
"""
from __future__ import annotations

import functools
import math
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
    rel_tol: float
    hint: str


@functools.lru_cache(maxsize=1)
def _lenet_svds():
    """The SVDs of the shipped LeNet-300-100's layers (for the low-rank exercises)."""
    from .lowrank import layer_svds
    from .models import load_pretrained
    from .network import from_sklearn

    return layer_svds(from_sklearn(load_pretrained("mnist-5k")))


EXERCISES = {
    "intro-lenet-float32-bytes": Exercise(
        "How many bytes do the weights and biases of LeNet-300-100 take in float32?",
        lambda: 4 * _dense_params(LENET_LAYER_SIZES), 0.0,
        "count weights (m x n) and biases (n) of the three layers; a float32 is 4 bytes"),
    "intro-alpha-float16": Exercise(
        "What is the compression rate alpha (by bits) of any dense network stored in float16 "
        "instead of float64?",
        lambda: 64 / 16, 1e-9, "alpha = a / a*: the bits of the original over the bits of the compressed"),
    "intro-first-layer-flops": Exercise(
        "How many FLOPs does the first layer of LeNet-300-100 cost for ONE image "
        "(count a multiply-add as 2, plus one add per bias)?",
        lambda: 2 * 784 * 300 + 300, 0.0, "X @ W is (1 x 784) times (784 x 300); then add the bias"),
    "intro-share-first-layer": Exercise(
        "What fraction (0 to 1) of LeNet-300-100's parameters sits in its first layer?",
        lambda: (784 * 300 + 300) / _dense_params(LENET_LAYER_SIZES), 0.005,
        "parameters of layer 1 over the parameters of all three layers"),
    "lowrank-params-rank20": Exercise(
        "How many weights (no bias) does a rank-20 factorization of the 784 x 300 layer store?",
        lambda: 20 * (784 + 300), 0.0, "U_k S_k is m x k and V_k^T is k x n"),
    "lowrank-break-even-300x100": Exercise(
        "Above which rank k does factorizing a 300 x 100 layer stop saving parameters?",
        lambda: 300 * 100 / (300 + 100), 1e-9, "solve k (m + n) = m n for k"),
    "lowrank-error-layer2-rank10": Exercise(
        "What is the Frobenius error ||W - W_10||_F of LeNet's second layer (300 x 100) at rank 10? "
        "(use svds[1].s, not the matrices)",
        lambda: float((_lenet_svds()[1].s[10:] ** 2).sum() ** 0.5), 1e-6,
        "Eckart-Young: the square root of the sum of the squared singular values you drop"),
    "lowrank-energy90-layer1": Exercise(
        "What is the smallest rank that keeps 90 % of the squared singular values of LeNet's first layer?",
        lambda: _lenet_svds()[0].rank_for_energy(0.9), 0.0,
        "np.cumsum of s**2 divided by the total; find the first index that reaches 0.9 (ranks count from 1)"),
    "quant-lenet-4bit-weight-bytes": Exercise(
        "How many bytes do LeNet-300-100's weights (not biases) take as 4-bit codes?",
        lambda: (784 * 300 + 300 * 100 + 100 * 10) * 4 / 8, 0.0, "weights only: m n per layer, half a byte each"),
    "quant-symmetric-scale": Exercise(
        "8-bit symmetric quantization of weights in [-0.5, 0.5]: what is the scale S?",
        lambda: 0.5 / (2**7 - 1), 1e-9, "the largest |w| maps to the largest code, 2^(b-1) - 1"),
    "quant-affine-zero-point": Exercise(
        "8-bit affine quantization of the range [-0.2, 0.6]: what is the zero point Z?",
        lambda: round(0.2 / (0.8 / 255)), 0.0, "S = (hi - lo) / (2^b - 1), then Z = round(-lo / S)"),
    "quant-binary-scale": Exercise(
        "One neuron's weights are [0.3, -0.1, 0.2, -0.4]. What scale does XNOR-Net binarization use?",
        lambda: (0.3 + 0.1 + 0.2 + 0.4) / 4, 1e-9, "the scale s minimising ||w - s sign(w)||^2 is mean |w|"),
}


def check(exercise: str, answer) -> bool:
    """Print whether ``answer`` is right; return True or False."""
    check_choice("exercise", exercise, tuple(EXERCISES))
    item = EXERCISES[exercise]
    if answer is None:
        print(f"No answer yet: replace None by your number. {item.question}")
        return False
    try:
        value = float(answer)
    except (TypeError, ValueError):
        print(f"Not a number: {answer!r}. {item.question}")
        return False
    expected = item.expected()
    right = math.isclose(value, expected, rel_tol=item.rel_tol, abs_tol=1e-12)
    if right:
        print(f"Right! {item.question}")
    else:
        direction = "too large" if value > expected else "too small"
        print(f"Not yet: {value:g} is {direction}. Hint: {item.hint}.")
    return right


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
        lambda: 1 / 64, 1e-6, "solve (1 - s) m n 64 + m n = 64 m n for s"),
    "prune-csr-bits-layer1-90": Exercise(
        "How many bits does CSR store for LeNet's 784 x 300 weight matrix at 90 % sparsity (float64 values, "
        "the narrowest unsigned index types, one row per output neuron; no bias)?",
        _csr_bits_layer1_90, 0.0,
        "nnz values x (64 + bits of a column index that fits 0..783) + (300 + 1) row pointers, each wide "
        "enough for nnz"),
    "prune-dead-pixel-share": Exercise(
        "What fraction (0 to 1) of all LeNet-300-100's weights sits on dead input pixels?",
        _lenet_dead_fraction, 0.005, "dead pixels x 300 first-layer weights each, over all weights of the network"),
    "prune-cubic-step-2": Exercise(
        "Zhu & Gupta's cubic schedule from 0 to 90 % in 5 steps: what is the sparsity after step 2?",
        _cubic_step_2, 1e-6, "s_t = s_f + (s_i - s_f)(1 - t / n)^3 with t = 2, n = 5"),
    "prune-relative-fillers": Exercise(
        "Relative indices with k = 3 bits (gaps up to 8): how many filler zeros does a row whose only "
        "nonzeros are at positions 0 and 20 need?",
        _relative_fillers_0_20, 0.0, "a gap longer than 8 positions needs a stored filler zero every 8 positions"),
})
