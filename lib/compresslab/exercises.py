"""Self-checks for the notebooks' exercises.

``check(exercise, answer)`` says right or wrong without giving the answer
away. Every expected answer is computed from the library, never typed in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ._validation import check_choice

LENET_300_100 = (784, 300, 100, 10)


def _dense_params(sizes) -> int:
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


@dataclass(frozen=True)
class Exercise:
    question: str
    expected: Callable[[], float]
    rel_tol: float
    hint: str


EXERCISES = {
    "intro-lenet-float32-bytes": Exercise(
        "How many bytes do the weights and biases of LeNet-300-100 take in float32?",
        lambda: 4 * _dense_params(LENET_300_100), 0.0,
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
        lambda: (784 * 300 + 300) / _dense_params(LENET_300_100), 0.005,
        "parameters of layer 1 over the parameters of all three layers"),
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
