import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from compresslab.stats import (MeanSD, Verdict, accuracy_se, compare_accuracies, compare_paired, mcnemar,
                               mean_sd, paired_bootstrap, relative_mad)


def paired_predictions(both, a_only, b_only, neither, seed=0):
    """Labels and two prediction vectors with the given counts of right/wrong pairs (shuffled)."""
    rng = np.random.default_rng(seed)
    n = both + a_only + b_only + neither
    y = rng.integers(0, 10, size=n)
    wrong = (y + 1) % 10
    right_a = np.array([True] * both + [True] * a_only + [False] * b_only + [False] * neither)
    right_b = np.array([True] * both + [False] * a_only + [True] * b_only + [False] * neither)
    order = rng.permutation(n)
    right_a, right_b = right_a[order], right_b[order]
    return y, np.where(right_a, y, wrong), np.where(right_b, y, wrong)


# --- standard errors ---------------------------------------------------------------

@pytest.mark.parametrize("p, n", [(0.947, 1000), (0.5, 10), (1.0, 450), (0.0, 3), (0.9, 450)])
def test_accuracy_se_is_the_binomial_one(p, n):
    k = round(p * n)
    correct = np.array([1] * k + [0] * (n - k), dtype=float)      # a hand-made test set
    assert accuracy_se(k / n, n) == pytest.approx(correct.std() / math.sqrt(n))
    assert accuracy_se(k / n, n) == pytest.approx(math.sqrt(k / n * (1 - k / n) / n))


def test_accuracy_se_of_the_lecture_example():
    assert round(100 * accuracy_se(0.947, 1000), 1) == 0.7                 # "94.7 % ± 0.7"


@pytest.mark.parametrize("values", [[0.91, 0.93, 0.92], [1, 2, 3, 4, 10], [5.0, 5.0]])
def test_mean_sd_matches_numpy(values):
    result = mean_sd(values)
    assert isinstance(result, MeanSD) and result.n == len(values)
    assert result.mean == pytest.approx(np.mean(values))
    assert result.sd == pytest.approx(np.std(values, ddof=1))
    assert result.se == pytest.approx(np.std(values, ddof=1) / np.sqrt(len(values)))
    assert "mean ± sd of" in str(result)


def test_relative_mad_by_hand():
    assert relative_mad([1, 2, 3, 4, 100]) == pytest.approx(1 / 3)    # median 3, deviations 2 1 0 1 97 -> 1
    assert relative_mad([7.0]) == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: accuracy_se(1.2, 10), r"accuracy must be in \[0, 1\]; got 1.2"),
    (lambda: accuracy_se(0.5, 0), r"n must be in \[1, inf\]; got 0"),
    (lambda: mean_sd([0.9]), "at least 2 runs; got shape \\(1,\\)"),
    (lambda: mean_sd([0.9, float("nan")]), "values must be finite"),
    (lambda: relative_mad([]), "non-empty"),
])
def test_bad_values_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- McNemar -----------------------------------------------------------------------

@pytest.mark.parametrize("b, c", [(1, 0), (5, 5), (10, 2), (2, 10), (30, 12), (0, 7), (100, 80), (6, 1)])
def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_pairs(b, c):
    y, pa, pb = paired_predictions(both=500, a_only=b, b_only=c, neither=40)
    result = mcnemar(y, pa, pb)
    assert (result.b, result.c, result.n) == (b, c, 540 + b + c)
    assert result.p_value == pytest.approx(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


def test_mcnemar_without_discordant_pairs_finds_nothing():
    y, pa, pb = paired_predictions(both=90, a_only=0, b_only=0, neither=10)
    assert mcnemar(y, pa, pb).p_value == 1.0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 30), st.integers(0, 30), st.integers(0, 99))
def test_mcnemar_swapping_the_networks(both, a_only, b_only, neither, seed):
    if both + a_only + b_only + neither == 0:
        return
    y, pa, pb = paired_predictions(both, a_only, b_only, neither, seed)
    ab, ba = mcnemar(y, pa, pb), mcnemar(y, pb, pa)
    assert (ab.b, ab.c) == (ba.c, ba.b) == (a_only, b_only)
    assert ab.p_value == ba.p_value and 0 < ab.p_value <= 1


def test_mcnemar_counts_multilabel_samples_right_only_when_every_label_is():
    y = np.array([[1, 0], [0, 1], [1, 1]])
    pa = np.array([[1, 0], [0, 1], [1, 0]])       # right, right, wrong
    pb = np.array([[1, 1], [0, 1], [1, 1]])       # wrong, right, right
    result = mcnemar(y, pa, pb)
    assert (result.b, result.c) == (1, 1)


def test_mcnemar_checks_shapes():
    with pytest.raises(ValueError, match=r"pred_b must have the shape of y_true \(3,\); got \(2,\)"):
        mcnemar([0, 1, 2], [0, 1, 2], [0, 1])


# --- paired bootstrap ----------------------------------------------------------------

def test_paired_bootstrap_matches_resampling_indices():
    """Reference: the textbook bootstrap that resamples test-sample indices."""
    y, pa, pb = paired_predictions(both=800, a_only=60, b_only=30, neither=110, seed=3)
    result = paired_bootstrap(y, pa, pb, n_boot=4000, random_state=0)
    assert result.difference == pytest.approx(np.mean(pa == y) - np.mean(pb == y))
    rng = np.random.default_rng(1)
    d = (pa == y).astype(int) - (pb == y).astype(int)
    idx = rng.integers(0, len(y), size=(4000, len(y)))
    low, high = np.quantile(d[idx].mean(axis=1), [0.025, 0.975])
    assert result.low == pytest.approx(low, abs=0.004) and result.high == pytest.approx(high, abs=0.004)
    assert result.low < result.difference < result.high
    # and the normal approximation: width ~ 2 * 1.96 * sd(d) / sqrt(n)
    assert result.high - result.low == pytest.approx(2 * 1.96 * d.std() / np.sqrt(len(d)), rel=0.1)


def test_paired_bootstrap_of_identical_predictions_is_zero():
    y, pa, _ = paired_predictions(both=50, a_only=5, b_only=0, neither=5)
    result = paired_bootstrap(y, pa, pa.copy(), random_state=0)
    assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_swapped_is_mirrored():
    y, pa, pb = paired_predictions(both=300, a_only=40, b_only=20, neither=40, seed=5)
    ab = paired_bootstrap(y, pa, pb, n_boot=4000, random_state=0)
    ba = paired_bootstrap(y, pb, pa, n_boot=4000, random_state=0)
    assert ba.difference == -ab.difference
    assert ba.low == pytest.approx(-ab.high, abs=0.006) and ba.high == pytest.approx(-ab.low, abs=0.006)
    assert "paired bootstrap" in str(ab) and "95 % CI" in str(ab)


def test_paired_bootstrap_checks_arguments():
    y, pa, pb = paired_predictions(both=10, a_only=1, b_only=1, neither=1)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\); got 1.5"):
        paired_bootstrap(y, pa, pb, confidence=1.5)
    with pytest.raises(ValueError, match=r"n_boot must be in \[100, inf\]; got 5"):
        paired_bootstrap(y, pa, pb, n_boot=5)


# --- verdicts ------------------------------------------------------------------------

def test_compare_accuracies_by_standard_errors():
    """se of the difference = sqrt(0.005^2 + 0.005^2) = 0.00707; two of them = 1.41 points."""
    rule = Verdict.rule("global wins if its accuracy is higher by more than two standard errors at every "
                        "budget", expect="A wins")
    a = [(0.95, 0.005), (0.95, 0.005), (0.90, 0.005)]
    b = [(0.90, 0.005), (0.94, 0.005), (0.95, 0.005)]
    verdict = compare_accuracies(a, b, labels=["5 %", "10 %", "20 %"], names=("global", "per layer"),
                                 margin_se=2, rule=rule, noun="budget")
    assert verdict.conclusions() == ["global wins", "no detectable difference", "per layer wins"]
    assert verdict.rows[0]["se_difference"] == pytest.approx(math.sqrt(2) * 0.005)
    assert verdict.conclusion == ("mixed over 3 budgets: global wins at 1 (5 %); per layer wins at 1 (20 %); "
                                  "no detectable difference at 1 (10 %)")
    assert verdict.holds is False
    text = str(verdict)
    lines = text.splitlines()
    assert lines[0] == ("Rule (stated before measuring): global wins if its accuracy is higher by more than two "
                        "standard errors at every budget")
    assert "budget" in lines[2] and "global - per layer" in lines[2]
    assert "95.0 % ± 0.5" in lines[3] and "90.0 % ± 0.5" in lines[3] and "+5.0 ± 0.7 pts" in lines[3]
    assert lines[-1].startswith("Verdict: mixed") and lines[-1].endswith("the rule does NOT hold.")
    assert repr(verdict) == text


def test_a_rule_that_holds_at_every_setting():
    rule = Verdict.rule("A is better everywhere", expect="A wins")
    verdict = compare_accuracies([(0.9, 0.01)] * 2, [(0.8, 0.01)] * 2, rule=rule)
    assert verdict.conclusion == "A wins at every setting (2 of 2)" and verdict.holds is True
    assert str(verdict).endswith("-> the rule holds.")
    anywhere = Verdict.rule("B wins somewhere", expect="B wins", at="any")
    assert compare_accuracies([(0.9, 0.01)] * 2, [(0.8, 0.01)] * 2, rule=anywhere).holds is False


def test_compare_accuracies_reads_reports_and_seed_runs():
    report = SimpleNamespace(accuracy=0.947, accuracy_se=accuracy_se(0.947, 1000))
    seeds = mean_sd([0.90, 0.91, 0.92])                   # se = 0.01 / sqrt(3)
    verdict = compare_accuracies([report], [seeds])
    row = verdict.rows[0]
    assert row["se_b"] == pytest.approx(0.01 / math.sqrt(3)) and row["a"] == 0.947
    assert verdict.conclusion == "A wins"                   # 3.7 points, se 0.9 points
    with pytest.raises(TypeError, match="a_reports must hold Reports"):
        compare_accuracies([0.9], [0.8])


def test_compare_paired_uses_mcnemar_and_bonferroni():
    """b = 12, c = 3: exact p = 0.035, below 0.05 but not below 0.05 / 2."""
    y, pa, pb = paired_predictions(both=400, a_only=12, b_only=3, neither=20)
    _, qa, qb = paired_predictions(both=400, a_only=3, b_only=40, neither=20)
    p = binomtest(12, 15, 0.5).pvalue
    assert 0.025 < p < 0.05
    y2 = paired_predictions(both=400, a_only=3, b_only=40, neither=20)[0]
    single = compare_paired(y, [pa], [pb], names=("pruned", "dense"))
    assert single.conclusion == "pruned wins" and single.rows[0]["p"] == pytest.approx(p)
    # two settings on two test sets of the same size would need separate y; here: the same set twice
    both = compare_paired(y, [pa, pa], [pb, pb], labels=[1, 2], names=("pruned", "dense"))
    assert both.conclusions() == ["no detectable difference"] * 2       # p > 0.05 / 2
    loose = compare_paired(y, [pa, pa], [pb, pb], bonferroni=False)
    assert loose.conclusions() == ["A wins", "A wins"]
    reverse = compare_paired(y2, [qa], [qb])
    assert reverse.conclusion == "B wins" and (reverse.rows[0]["a_only"], reverse.rows[0]["b_only"]) == (3, 40)
    text = str(both)
    assert "exact McNemar on the 435 paired test samples, p < 0.05 / 2 settings (Bonferroni)" in text
    assert "pruned only" in text and "dense only" in text


@pytest.mark.parametrize("call, error, message", [
    (lambda: compare_accuracies([(0.9, 0.01)], []), ValueError, "same length; got 1 and 0"),
    (lambda: compare_accuracies([(0.9, 0.01)], [(0.9, 0.01)], labels=[1, 2]), ValueError,
     r"labels must give one label per setting \(1\); got 2"),
    (lambda: compare_accuracies([(0.9, 0.01)], [(0.9, 0.01)], names="AB"), TypeError, "names must be two strings"),
    (lambda: compare_accuracies([(0.9, 0.01)], [(0.9, 0.01)], margin_se=-1), ValueError, "margin_se"),
    (lambda: Verdict.rule(""), TypeError, "text must be a sentence"),
    (lambda: Verdict.rule("x", expect="A"), ValueError, "expect must be one of"),
    (lambda: Verdict.rule("x", at="most"), ValueError, r"at must be one of \('every', 'any'\); got 'most'"),
])
def test_verdict_arguments_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("values, shown", [
    ([0.934, 0.9374, 0.941], "0.9375 ± 0.0035"),       # mean and sd to the same decimal place
    ([0.90, 0.92, 0.94], "0.920 ± 0.020"),
    ([1.0, 1.0, 1.0], "1.000 ± 0.000"),                 # no spread: still three decimals, not "1 ± 0"
    ([88.0, 95.0, 102.0], "95.0 ± 7.0"),
])
def test_mean_sd_prints_mean_and_sd_to_one_precision(values, shown):
    assert str(mean_sd(values)).startswith(shown + " (mean ± sd of 3 runs)")
