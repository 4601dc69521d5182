"""The notebooks' self-checks: every exercise accepts its answer typed the way the
notebook prints that kind of number, and rejects typical wrong answers.

The expected values here are computed independently of ``exercises.py`` (NumPy,
the library's transforms, or a hand formula), never from ``Exercise.expected``.
"""
import functools
import math

import numpy as np
import pytest

from compresslab.exercises import EXERCISES, check
from compresslab.lowrank import break_even_rank, factorize
from compresslab.network import random_network
from compresslab.quantization import pack_codes, quantize_binary, quantize_uniform

LENET = (784, 300, 100, 10)


@functools.lru_cache(maxsize=1)
def _lenet():
    from compresslab.models import load_pretrained
    from compresslab.network import from_sklearn

    return from_sklearn(load_pretrained("mnist-5k"))


def _random_lenet():
    return random_network(LENET, random_state=0)


def _frobenius_error_layer2_rank10():
    W = _lenet().layers[1].weight                                       # (300, 100)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    W10 = (U[:, :10] * s[:10]) @ Vt[:10]                                # the best rank-10 approximation
    return float(np.linalg.norm(W - W10))


def _energy90_rank_layer1():
    s = np.linalg.svd(_lenet().layers[0].weight, compute_uv=False)
    energy = np.cumsum(s**2) / np.sum(s**2)
    return int(np.argmax(energy >= 0.9)) + 1                            # ranks count from 1


def _rank20_weights():
    net = _random_lenet()
    layer = factorize(net, ranks=[20, 100, 10]).network.layers[0]
    return layer.n_params - net.layers[0].bias.size


def _weight_bytes_4bit():
    return sum(pack_codes(np.zeros(m * n, dtype=np.uint32), 4).size for m, n in zip(LENET, LENET[1:]))


# name -> (the value computed independently, how the notebook prints that kind of number,
#          wrong answers built from the true value: typical method errors).
# The print formats come from the notebooks' cells: 00 prints bytes and params as "{:,}" and
# FLOPs as "{:,}"; 01 prints shares as "{:5.1%}", ranks as "{:3d}", break-even ranks as
# "{:6.1f}", Frobenius errors as "{:.4f}"; 02 prints alpha (bits) as "{:.2f}" and file bytes
# as "{:,d}". Scales are not printed as numbers by the notebooks: 4 significant digits.
CASES = {
    "intro-lenet-float32-bytes": (
        lambda: _random_lenet().astype("float32").storage_bits() // 8, ",",
        lambda v: [8 * v,                                      # bits, not bytes
                   2 * v,                                      # float64
                   4 * sum(a * b for a, b in zip(LENET, LENET[1:]))]),   # weights only
    "intro-alpha-float16": (
        lambda: np.dtype(np.float64).itemsize / np.dtype(np.float16).itemsize, ".2f",
        lambda v: [1 / v,                                      # a* / a
                   v - 1,                                      # beta, not alpha
                   2.0]),                                      # float32
    "intro-first-layer-flops": (
        lambda: _random_lenet().layers[0].flops(1), ",",
        lambda v: [2 * 784 * 300,                              # no bias
                   784 * 300 + 300,                            # multiply-add counted once
                   2 * 784 * 300 + 2 * 300]),
    "intro-share-first-layer": (
        lambda: _random_lenet().layers[0].n_params / _random_lenet().n_params, ".1%",
        lambda v: [100 * v,                                    # a percentage, not a fraction
                   v / (1 - v),                                # first layer over the others
                   1 - v]),
    "lowrank-params-rank20": (
        _rank20_weights, "d",
        lambda v: [v + 20,                                     # S stored apart
                   v + 300,                                    # bias counted
                   20 * 784, 784 * 300]),
    "lowrank-break-even-300x100": (
        lambda: break_even_rank(300, 100), ".1f",
        lambda v: [100.0,                                      # full rank
                   300 * 100 / 300, math.sqrt(300 * 100)]),
    "lowrank-error-layer2-rank10": (
        _frobenius_error_layer2_rank10, ".4f",
        lambda v: [v**2,                                       # no square root
                   float(np.linalg.svd(_lenet().layers[1].weight, compute_uv=False)[10:].sum()),  # s, not s^2
                   float(np.sqrt((np.linalg.svd(_lenet().layers[1].weight,
                                                compute_uv=False)[9:] ** 2).sum()))]),  # off by one index
    "lowrank-energy90-layer1": (
        _energy90_rank_layer1, "d",
        lambda v: [v - 1,                                      # the 0-based index
                   v + 1,
                   int(np.argmax(np.cumsum(s := np.linalg.svd(_lenet().layers[0].weight, compute_uv=False))
                                 / s.sum() >= 0.9)) + 1]),      # s, not s^2
    "quant-lenet-4bit-weight-bytes": (
        _weight_bytes_4bit, ",",
        lambda v: [8 * v,                                      # bits, not bytes
                   v + 4 * (300 + 100 + 10) / 8,               # biases too
                   2 * v]),                                    # a byte per code
    "quant-symmetric-scale": (
        lambda: float(quantize_uniform(np.array([[-0.5], [0.5]]), 8)[1][0]), ".4g",
        lambda v: [0.5 / 2**7,                                 # 2^(b-1), not 2^(b-1) - 1
                   1.0 / 255,                                  # the affine scale
                   0.5 / 255, 1.0 / 127]),
    "quant-affine-zero-point": (
        lambda: int(quantize_uniform(np.array([[-0.2], [0.6]]), 8, symmetric=False)[2][0]), "d",
        lambda v: [0.2 / (0.8 / 255),                          # not rounded
                   math.floor(0.2 / (0.8 / 255)),              # floor, not round
                   round(0.6 / (0.8 / 255)),                   # hi / S, not -lo / S
                   255 - v]),
    "quant-binary-scale": (
        lambda: float(quantize_binary(np.array([[0.3], [-0.1], [0.2], [-0.4]]))[1][0]), ".4g",
        lambda v: [np.mean([0.3, -0.1, 0.2, -0.4]),            # mean of w, not of |w|
                   0.4,                                        # max |w|
                   np.sum(np.abs([0.3, -0.1, 0.2, -0.4]))]),   # sum, not mean
    "prune-bitmask-break-even": (
        lambda: 1 / 64, ".4f",
        lambda v: [1 - v,                                      # the density, not the sparsity
                   1 / 32,                                     # 32-bit values
                   63 / 64]),
    "prune-csr-bits-layer1-90": (
        lambda: round(0.1 * 784 * 300) * (64 + 16) + (300 + 1) * 16, ",",   # uint16 fits 0..783 and nnz
        lambda v: [round(0.1 * 784 * 300) * 64,                # values only
                   round(0.1 * 784 * 300) * (64 + 32) + 301 * 32,   # 32-bit indices
                   v + 301 * 16]),                             # pointers counted twice
    "prune-dead-pixel-share": (
        lambda: _dead_pixels() * 300 / sum(a * b for a, b in zip(LENET, LENET[1:])), ".3f",
        lambda v: [_dead_pixels() / 784,                       # pixels, not weights
                   1 - v,
                   _dead_pixels() * 300 / _random_lenet().n_params * 10]),
    "prune-cubic-step-2": (
        lambda: 0.9 + (0.0 - 0.9) * (1 - 2 / 5) ** 3, ".4f",
        lambda v: [0.9 * 2 / 5,                                # linear
                   0.9 * (1 - (1 - 2 / 5) ** 2),               # squared
                   0.9 * (1 - (1 - 3 / 5) ** 3)]),             # off by one step
    "prune-relative-fillers": (
        lambda: math.ceil(20 / 8) - 1, "d",
        lambda v: [20 // 8 + 1,                                # one too many
                   0,                                          # no fillers
                   20 // 3]),                                  # gap over k, not 2^k
    "distill-soften-first": (
        lambda: float(np.exp(1.5) / (np.exp(1.5) + np.exp(0.5) + 1.0)), ".3f",
        lambda v: [np.exp(3) / (np.exp(3) + np.exp(1) + 1),     # T = 1
                   3 / 4,                                      # no exp
                   np.exp(6) / (np.exp(6) + np.exp(2) + 1)]),  # multiplied by T
    "distill-entropy-bits": (
        lambda: -(0.5 * np.log2(0.5) + 2 * 0.25 * np.log2(0.25)), ".2f",
        lambda v: [v * np.log(2),                              # nats, not bits
                   -np.log2(0.5)]),                            # only the largest
    "distill-gradient-first": (
        lambda: float(5 * (np.exp(0.4) / (np.exp(0.4) + 2) - np.exp(0.8) / (np.exp(0.8) + 2))), ".4f",
        lambda v: [v / 5,                                      # without the T^2 (times 1/T ...)
                   v / 25,                                     # (p - q) / T
                   5 * v]),                                    # T^2 (p - q)
    "distill-student-bytes": (
        lambda: 8 * (784 * 30 + 30 + 30 * 10 + 10), ",",
        lambda v: [8 * (784 * 30 + 30 * 10),                   # weights only
                   v / 2,                                      # float32
                   784 * 30 + 30 + 30 * 10 + 10]),             # parameters, not bytes
}


@functools.lru_cache(maxsize=1)
def _dead_pixels() -> int:
    """Input pixels that are 0 in every training image of mnist-5k, counted directly."""
    from compresslab.data import load_dataset

    return int((load_dataset("mnist-5k").X_train.max(axis=0) == 0).sum())


def _printed(value, fmt):
    """The value as the notebook prints it (a string, e.g. '1,066,440', '88.3%', '11.4478')."""
    return f"{int(value):,}" if fmt == "," else format(int(value) if fmt == "d" else value, fmt)


def _last_digit(printed, fmt):
    """One unit in the last printed place of a printed value."""
    if fmt in (",", "d"):
        return 1.0
    text = printed.rstrip("%")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 10.0 ** -decimals / (100 if printed.endswith("%") else 1)


def _as_float(printed):
    return float(printed.rstrip("%").replace(",", "")) / (100 if printed.endswith("%") else 1)


def test_every_exercise_has_a_case():
    assert sorted(CASES) == sorted(EXERCISES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_value_the_notebook_prints_is_right(name, capsys):
    compute, fmt, _ = CASES[name]
    printed = _printed(compute(), fmt)
    assert check(name, printed) is True, printed                     # typed as printed, as a string
    assert check(name, _as_float(printed)) is True, printed          # and as a number
    assert check(name, compute()) is True                            # full precision too
    assert capsys.readouterr().out.count("Right!") == 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_answers_are_rejected(name, capsys):
    compute, fmt, method_errors = CASES[name]
    value = compute()
    printed = _printed(value, fmt)
    unit = _last_digit(printed, fmt)
    wrong = [_as_float(printed) + unit, _as_float(printed) - unit]  # off by one in the last printed digit
    if value != 0:
        wrong.append(-_as_float(printed))                            # wrong sign
    wrong += method_errors(value)
    for answer in wrong:
        assert check(name, answer) is False, f"{name} accepted {answer!r} (right: {printed})"
        out = capsys.readouterr().out
        assert "Not yet" in out and "too large" not in out and "too small" not in out   # no bisecting
        assert printed.rstrip("%") not in out.replace(f"{float(answer):g}", "")   # answer not given away


def test_the_examples_of_issue_10():
    """The issue's two reproducers: answers typed as the notebook prints them. (The low-rank
    error was 11.4478 before the weights were retrained on the new training split: recomputed.)"""
    from compresslab.lowrank import layer_svds
    from compresslab.models import load_pretrained
    from compresslab.network import from_sklearn

    error = layer_svds(from_sklearn(load_pretrained("mnist-5k")))[1].error(10)
    assert check("lowrank-error-layer2-rank10", float(f"{error:.4f}")) is True
    assert check("lowrank-error-layer2-rank10", float(f"{error:.4f}") - 1e-4) is False
    assert check("quant-symmetric-scale", 0.003937) is True
    assert check("quant-symmetric-scale", 0.00394) is False          # fewer digits than shown


def test_not_a_number(capsys):
    assert check("intro-alpha-float16", None) is False
    assert "No answer yet" in capsys.readouterr().out
    for bad in ("many", "4,0", float("nan"), float("inf"), [4]):
        assert check("intro-alpha-float16", bad) is False


def test_unknown_exercise():
    with pytest.raises(ValueError, match="exercise must be one of"):
        check("nope", 1)
