"""Implement-it exercises: the model answers pass, the stubs are "not written yet", and each
checker rejects typical wrong implementations with a message that names the failing case.

The wrong implementations are the mistakes students make (a transposed factor, S forgotten,
k + 1 singular values, rounding before scaling, a missing zero point, alpha = max|W|, a threshold
that removes every tied weight, a softmax that overflows, a gradient without T^2).
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from compresslab.exercises import (IMPLEMENTS, SOLUTIONS, check_implementation, show_solution,
                                   use_implementation)
from compresslab.network import random_network

ROOT = Path(__file__).resolve().parents[1]


def _function(name, source_kind="solution"):
    spec = IMPLEMENTS[name]
    namespace = {"np": np}
    exec(spec.solution() if source_kind == "solution" else spec.stub(), namespace)
    return namespace[spec.function_name]


# --- low-rank -------------------------------------------------------------------

def svd_transposed(W, k):                      # factors of W^T, swapped: right shapes only when square
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return Vt[:k].T * s[:k], U[:, :k].T


def svd_no_s(W, k):                            # S forgotten
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return U[:, :k], Vt[:k]


def svd_k_plus_1(W, k):                        # one singular value too many
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return U[:, :k + 1] * s[:k + 1], Vt[:k + 1]


def svd_s_on_right(W, k):                      # the right product, the wrong convention
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return U[:, :k], s[:k, None] * Vt[:k]


def svd_last_k(W, k):                          # the smallest singular values
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return U[:, -k:] * s[-k:], Vt[-k:]


def worth_le(m, n, k):                         # equal counted as smaller
    return k * (m + n) <= m * n


def worth_integer_division(m, n, k):
    return k < m * n // (m + n)


def worth_full_rank(m, n, k):                  # "any rank below full"
    return k < min(m, n)


# --- quantization -----------------------------------------------------------------

def sym_round_before_scaling(W, bits, clip=None):
    q_max = 2 ** (bits - 1) - 1
    scale = max(np.abs(W).max() if clip is None else clip, 1e-12) / q_max
    q = np.clip(np.round(W) / scale, -q_max, q_max)
    return q, scale * q


def sym_scale_from_max(W, bits, clip=None):   # S = max |W|, not max |W| / (2^(b-1) - 1)
    q_max = 2 ** (bits - 1) - 1
    scale = max(np.abs(W).max() if clip is None else clip, 1e-12)
    q = np.clip(np.round(W / scale), -q_max, q_max)
    return q, scale * q


def sym_power_of_two(W, bits, clip=None):     # S = max / 2^(b-1)
    q_max = 2 ** (bits - 1) - 1
    scale = max(np.abs(W).max() if clip is None else clip, 1e-12) / 2 ** (bits - 1)
    q = np.clip(np.round(W / scale), -q_max, q_max)
    return q, scale * q


def sym_no_clamp(W, bits, clip=None):
    q_max = 2 ** (bits - 1) - 1
    scale = max(np.abs(W).max() if clip is None else clip, 1e-12) / q_max
    q = np.round(W / scale)
    return q, scale * q


def sym_zero_division(W, bits, clip=None):    # all-zero W: 0 / 0
    q_max = 2 ** (bits - 1) - 1
    scale = (np.abs(W).max() if clip is None else clip) / q_max
    q = np.clip(np.round(W / scale), -q_max, q_max)
    return q, scale * q


def _affine(W, bits, lo, hi, *, widen=True, zero_point=True, clamp=True, round_zero=True, subtract=True):
    q_max = 2 ** bits - 1
    lo = W.min() if lo is None else lo
    hi = W.max() if hi is None else hi
    if widen:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-12) / q_max
    zero = -lo / scale
    zero = round(zero) if round_zero else zero
    zero = zero if zero_point else 0
    q = np.round(W / scale) + zero
    q = np.clip(q, 0, q_max) if clamp else q
    return q, zero, scale * (q - zero if subtract else q)


def affine_missing_zero_point(W, bits, lo=None, hi=None):
    return _affine(W, bits, lo, hi, zero_point=False)


def affine_no_widening(W, bits, lo=None, hi=None):
    return _affine(W, bits, lo, hi, widen=False)


def affine_no_clamp(W, bits, lo=None, hi=None):
    return _affine(W, bits, lo, hi, clamp=False)


def affine_zero_not_rounded(W, bits, lo=None, hi=None):
    return _affine(W, bits, lo, hi, round_zero=False)


def affine_dequantize_without_z(W, bits, lo=None, hi=None):
    return _affine(W, bits, lo, hi, subtract=False)


def xnor_max(W):
    return np.abs(W).max(axis=0)


def xnor_signed_mean(W):
    return W.mean(axis=0)


def xnor_per_row(W):
    return np.abs(W).mean(axis=1)


def xnor_one_scale(W):
    return np.abs(W).mean()


# --- pruning ----------------------------------------------------------------------

def mask_k_plus_1(W, sparsity):
    n = int(np.floor(sparsity * W.size + 0.5)) + 1
    mask = np.ones(W.size, bool)
    mask[np.argsort(np.abs(W).ravel(), kind="stable")[:n]] = False
    return mask.reshape(W.shape)


def mask_threshold(W, sparsity):               # |w| <= the n-th smallest: every tie goes
    n = int(np.floor(sparsity * W.size + 0.5))
    if n == 0:
        return np.ones(W.shape, bool)
    t = np.sort(np.abs(W).ravel())[n - 1]
    return np.abs(W) > t


def mask_signed(W, sparsity):                  # W, not |W|: removes the most negative
    n = int(np.floor(sparsity * W.size + 0.5))
    mask = np.ones(W.size, bool)
    mask[np.argsort(W.ravel(), kind="stable")[:n]] = False
    return mask.reshape(W.shape)


def mask_truncated_count(W, sparsity):         # int(s N) instead of the nearest whole number
    n = int(sparsity * W.size)
    mask = np.ones(W.size, bool)
    mask[np.argsort(np.abs(W).ravel(), kind="stable")[:n]] = False
    return mask.reshape(W.shape)


def project_in_place(W, mask):
    W[~mask] = 0.0
    return W


def project_inverted(W, mask):
    return np.where(mask, 0.0, W)


def project_flat(W, mask):
    return W[mask]


# --- distillation -------------------------------------------------------------------

def softmax_overflows(logits, T):
    e = np.exp(np.asarray(logits, float) / T)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_ignores_t(logits, T):
    z = np.asarray(logits, float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_wrong_axis(logits, T):
    z = np.asarray(logits, float) / T
    e = np.exp(z - z.max())
    return e / e.sum(axis=0, keepdims=True)


def _soft(z, T):
    z = np.asarray(z, float) / T
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def gradient_without_t2(z, v, T):              # the gradient of CE(q, p), not of T^2 CE(q, p)
    return (_soft(z, T) - _soft(v, T)) / (T * len(z))


def gradient_t2_on_gradient(z, v, T):
    return T**2 * (_soft(z, T) - _soft(v, T)) / len(z)


def gradient_not_averaged(z, v, T):
    return T * (_soft(z, T) - _soft(v, T))


def gradient_wrong_sign(z, v, T):
    return T * (_soft(v, T) - _soft(z, T)) / len(z)


WRONG = {
    "lowrank-truncated-svd": [(svd_transposed, "W of shape (3, 2) and k = 1", "has shape (2, 1), expected (3, 1)"),
                              (svd_no_s, "W of shape (3, 2) and k = 1", "differs from the best rank-1"),
                              (svd_k_plus_1, "W of shape (3, 2) and k = 1", "has shape (3, 2), expected (3, 1)"),
                              (svd_s_on_right, "W of shape (3, 2) and k = 1", "not orthonormal"),
                              (svd_last_k, "W of shape (3, 2) and k = 1", "differs from the best rank-1")],
    "lowrank-worth-it": [(worth_le, "an (6, 3) matrix at rank k = 2", "said True, expected False"),
                         (worth_integer_division, "an (784, 300) matrix at rank k = 216", "said False, expected True"),
                         (worth_full_rank, "an (300, 100) matrix at rank k = 80", "said True, expected False")],
    "quant-symmetric-quantizer": [
        (sym_round_before_scaling, "W of shape (6, 4), 8 bits", "code for W"),
        (sym_scale_from_max, "W of shape (6, 4), 8 bits", "code for W"),
        (sym_power_of_two, "W of shape (6, 4), 8 bits", "code for W"),
        (sym_no_clamp, "clip = 2 (values beyond +-2 clamp)", "code for W[0, 0] = -3 is -10, expected -7"),
        (sym_zero_division, "W = 0 of shape (2, 3), 8 bits", "NaN")],
    "quant-affine-quantizer": [
        (affine_missing_zero_point, "W of shape (6, 4), 8 bits", "zero point Z is 0, expected"),
        (affine_no_widening, "all >= 0 (like ReLU outputs)", "zero point Z is"),
        (affine_no_clamp, "range [-1, 3] (values outside clamp)", "code for W[0, 0] = -3 is -7, expected 0"),
        (affine_zero_not_rounded, "W of shape (6, 4), 8 bits", "zero point Z is"),
        (affine_dequantize_without_z, "W of shape (6, 4), 8 bits", "dequantized value")],
    "quant-xnor-scale": [(xnor_max, "W = [[0.3], [-0.1], [0.2], [-0.4]] (one neuron)", "alpha[0] is 0.4, expected 0.25"),
                         (xnor_signed_mean, "W = [[0.3], [-0.1], [0.2], [-0.4]] (one neuron)", "alpha[0] is"),
                         (xnor_per_row, "W = [[0.3], [-0.1], [0.2], [-0.4]] (one neuron)", "has shape (4,)"),
                         (xnor_one_scale, "W = [[0.3], [-0.1], [0.2], [-0.4]] (one neuron)", "per column")],
    "prune-magnitude-mask": [(mask_k_plus_1, "W of shape (4, 5) at sparsity 0.5", "removes 11 weights, expected 10"),
                             (mask_threshold, "tied magnitudes (three zeros, three 0.1s) at sparsity 0.4",
                              "removes 6 weights, expected 4"),
                             (mask_signed, "W of shape (4, 5) at sparsity 0.5", "removes a weight of magnitude"),
                             (mask_truncated_count, "sparsity 0.6 (0.6 x 6 = 3.6 weights: remove 4)",
                              "removes 3 weights, expected 4")],
    "prune-mask-projection": [(project_in_place, "W of shape (4, 3) and a mask keeping half", "changed its input W"),
                              (project_inverted, "W of shape (4, 3) and a mask keeping half", "projected W["),
                              (project_flat, "W of shape (4, 3) and a mask keeping half", "has shape")],
    "distill-softmax-temperature": [
        (softmax_overflows, "logits [1000, 999, 0] at T = 1 (large logits)", "NaN"),
        (softmax_ignores_t, "logits of shape (4, 5) at T = 4", "probabilities[0, 0]"),
        (softmax_wrong_axis, "logits of shape (4, 5) at T = 1", "probabilities[0, 0]")],
    "distill-soft-gradient": [(gradient_without_t2, "4 rows of 5 classes at T = 4", "gradient[0, 0]"),
                              (gradient_t2_on_gradient, "4 rows of 5 classes at T = 4", "gradient[0, 0]"),
                              (gradient_not_averaged, "4 rows of 5 classes at T = 1", "gradient[0, 0]"),
                              (gradient_wrong_sign, "one row of 3 classes at T = 1", "gradient[0, 0]")],
}


def test_every_exercise_has_wrong_implementations():
    assert sorted(WRONG) == sorted(IMPLEMENTS)
    assert all(len(wrong) >= 3 for wrong in WRONG.values())


@pytest.mark.parametrize("name", sorted(IMPLEMENTS))
def test_the_model_answer_passes(name, capsys):
    assert check_implementation(name, _function(name)) is True
    assert capsys.readouterr().out.startswith("Right!")


@pytest.mark.parametrize("name", sorted(IMPLEMENTS))
def test_the_stub_is_not_written_yet(name, capsys):
    stub = _function(name, "stub")
    assert check_implementation(name, stub) is False
    assert "Not written yet" in capsys.readouterr().out
    with pytest.raises(ValueError, match="has not passed"):
        use_implementation(name, stub)


@pytest.mark.parametrize("name, wrong, case, detail",
                         [(name, *w) for name, ws in WRONG.items() for w in ws],
                         ids=lambda x: getattr(x, "__name__", None))
def test_a_wrong_implementation_is_rejected_naming_the_case(name, wrong, case, detail, capsys):
    assert check_implementation(name, wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: for ") and case in out and detail in out, out
    assert "Hint:" in out
    assert "too large" not in out and "too small" not in out


def test_a_transposed_factor_of_a_square_matrix_is_rejected_by_value(capsys):
    """Square W: the transposed factors have the right shapes, so only the values can tell."""
    def on_square_only(W, k):
        if W.shape[0] != W.shape[1]:
            return _function("lowrank-truncated-svd")(W, k)
        return svd_transposed(W, k)
    assert check_implementation("lowrank-truncated-svd", on_square_only) is False
    assert "for W of shape (4, 4) and k = 2 your left @ right differs from the best rank-2" in capsys.readouterr().out


def test_the_message_of_the_issue():
    """The issue's example: the case, the shape and k, and by how much the product is off."""
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        check_implementation("lowrank-truncated-svd", svd_no_s)
    out = buffer.getvalue()
    match = re.search(r"for W of shape \(3, 2\) and k = 1 your left @ right differs from the best "
                      r"rank-1 approximation by ([0-9.]+)", out)
    assert match, out
    # the distance, recomputed with NumPy on the case's own W
    from compresslab.exercises import IMPLEMENTS as specs
    W, k = specs["lowrank-truncated-svd"].cases()[0].args
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    expected = np.linalg.norm(U[:, :1] @ Vt[:1] - (U[:, :1] * s[:1]) @ Vt[:1])
    assert float(match.group(1)) == pytest.approx(expected, rel=1e-3)


def test_an_exception_is_reported_as_the_case(capsys):
    def broken(W, k):
        raise ValueError("rank must be positive")
    assert check_implementation("lowrank-truncated-svd", broken) is False
    out = capsys.readouterr().out
    assert "for W of shape (3, 2) and k = 1 your function raised ValueError: rank must be positive" in out


def test_a_function_that_changes_its_input_is_rejected(capsys):
    def scale_in_place(W):
        W /= 2
        return np.abs(W).mean(axis=0) * 2
    assert check_implementation("quant-xnor-scale", scale_in_place) is False
    assert "changed its input W" in capsys.readouterr().out


def test_a_result_sharing_memory_with_the_input_is_rejected(capsys):
    def view(W, mask):                          # W * 1 where kept... as a view when nothing is pruned
        return W if mask.all() else np.where(mask, W, 0.0)
    assert check_implementation("prune-mask-projection", view) is False
    assert "for W of shape (2, 5) and a mask keeping everything your result shares memory with W" in \
        capsys.readouterr().out


def test_not_a_function(capsys):
    assert check_implementation("quant-xnor-scale", 0.25) is False
    assert "Not a function" in capsys.readouterr().out
    with pytest.raises(ValueError, match="name must be one of"):
        check_implementation("nope", np.mean)


def test_midpoint_rounding_either_way_is_accepted(capsys):
    """np.round rounds halves to even, floor(x + 0.5) rounds them up: both are round-to-nearest."""
    def half_up(W, bits, clip=None):
        q_max = 2 ** (bits - 1) - 1
        scale = max(np.abs(W).max() if clip is None else clip, 1e-12) / q_max
        q = np.clip(np.floor(W / scale + 0.5), -q_max, q_max)
        return q, scale * q
    assert check_implementation("quant-symmetric-quantizer", half_up) is True


def test_any_tie_break_is_accepted_for_the_mask():
    def ties_last(W, sparsity):
        n = int(np.floor(sparsity * W.size + 0.5))
        order = np.lexsort((-np.arange(W.size), np.abs(W).ravel()))     # ties: the LAST position first
        mask = np.ones(W.size, bool)
        mask[order[:n]] = False
        return mask.reshape(W.shape)
    assert check_implementation("prune-magnitude-mask", ties_last) is True


def test_solutions_only_on_request(capsys):
    for name in list(IMPLEMENTS) + list(SOLUTIONS):
        show_solution(name)
        assert capsys.readouterr().out.strip()
    show_solution("lowrank-truncated-svd")
    assert "np.linalg.svd" in capsys.readouterr().out
    check_implementation("lowrank-truncated-svd", svd_no_s)
    assert "np.linalg.svd(W" not in capsys.readouterr().out.split("Hint:")[0]


# --- the payoff: a passing function used in place of the library's --------------------

def test_payoff_lowrank_matches_the_library():
    from compresslab.lowrank import factorize

    net = random_network((20, 12, 6, 3), random_state=0)
    name = "lowrank-truncated-svd"
    fn = _function(name)
    assert check_implementation(name, fn)
    mine = use_implementation(name, fn)(net, [4, 3, 1])
    library = factorize(net, ranks=[4, 3, 1]).network
    X = np.random.default_rng(0).normal(size=(7, 20))
    np.testing.assert_allclose(mine.logits(X), library.logits(X), atol=1e-10)
    assert mine.n_params == library.n_params


@pytest.mark.parametrize("name, scheme", [("quant-symmetric-quantizer", "symmetric"),
                                          ("quant-affine-quantizer", "affine")])
def test_payoff_quantizers_match_the_library(name, scheme):
    from compresslab.quantization import quantize

    net = random_network((20, 12, 3), random_state=1)
    fn = _function(name)
    assert check_implementation(name, fn)
    mine = use_implementation(name, fn)(net, 4)
    library = quantize(net, scheme, 4)
    for a, b in zip(mine.layers, library.layers):
        np.testing.assert_allclose(a.weight, b.weight, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(a.bias, net.layers[mine.layers.index(a)].bias)


def test_payoff_binary_matches_the_library():
    from compresslab.quantization import quantize

    net = random_network((20, 12, 3), random_state=2)
    fn = _function("quant-xnor-scale")
    assert check_implementation("quant-xnor-scale", fn)
    mine = use_implementation("quant-xnor-scale", fn)(net)
    for a, b in zip(mine.layers, quantize(net, "binary", 1).layers):
        np.testing.assert_allclose(a.weight, b.weight, rtol=1e-6)


def test_a_changed_function_must_pass_again():
    fn = _function("quant-xnor-scale")
    assert check_implementation("quant-xnor-scale", fn)
    assert not check_implementation("quant-xnor-scale", xnor_max)
    with pytest.raises(ValueError, match="has not passed"):
        use_implementation("quant-xnor-scale", fn)


# --- the notebooks show the stubs the checker expects --------------------------------

NOTEBOOK_EXERCISES = {"01_low_rank_factorization.ipynb": ["lowrank-truncated-svd", "lowrank-worth-it"],
                      "02_quantization.ipynb": ["quant-symmetric-quantizer", "quant-affine-quantizer",
                                                "quant-xnor-scale"]}


@pytest.mark.parametrize("notebook", sorted(NOTEBOOK_EXERCISES))
def test_the_notebook_has_each_exercise_stub_check_and_guarded_payoff(notebook):
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells]
    for name in NOTEBOOK_EXERCISES[notebook]:
        spec = IMPLEMENTS[name]
        stub = next(i for i, s in enumerate(sources) if s.startswith(f"def {spec.function_name}("))
        assert sources[stub].strip() == spec.stub().strip(), name          # the stub the checker documents
        assert cells[stub - 1]["cell_type"] == "markdown" and f'show_solution("{name}")' in sources[stub - 1]
        assert f'check_implementation("{name}", {spec.function_name})' in sources[stub + 1]
        payoff = sources[stub + 2]
        assert payoff.startswith("if ") and f'use_implementation("{name}"' in payoff, payoff
    others = [s for c, s in zip(cells, sources) if c["cell_type"] == "code" and not s.startswith("def ")]
    assert not any("raise NotImplementedError" in s for s in others)
