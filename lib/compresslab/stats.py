"""How sure are we? Standard errors, paired tests and verdicts for small experiments.

A test accuracy is an estimate from n samples, so it carries a standard error;
two networks scored on the same test set are compared sample by sample; and an
experiment in a notebook states its rule *before* it measures, then a helper
prints the verdict together with the numbers it rests on.

- ``accuracy_se(p, n)``: binomial standard error sqrt(p (1 - p) / n).
- ``mean_sd(values)``: mean and sample standard deviation of seed runs.
- ``mcnemar(y, pred_a, pred_b)``: McNemar's exact test on the discordant pairs
  (McNemar 1947; Dietterich 1998, "Approximate statistical tests for comparing
  supervised classification learning algorithms").
- ``paired_bootstrap(y, pred_a, pred_b)``: a percentile bootstrap interval of
  acc_A - acc_B, resampling test samples (Efron & Tibshirani 1993).
- ``Verdict.rule(text)`` then ``compare_accuracies(...)`` or ``compare_paired(...)``:
  a readable table and a conclusion: "A wins", "B wins" or "no detectable difference".

Only numpy and scipy.stats; reports are read by their attributes (``accuracy``,
``accuracy_se``), so this module imports nothing else of the library.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_float, check_int, check_random_state

A_WINS, B_WINS, NO_DIFFERENCE = "A wins", "B wins", "no detectable difference"
CONCLUSIONS = (A_WINS, B_WINS, NO_DIFFERENCE)


# --- one number and its uncertainty ---------------------------------------------------

def accuracy_se(accuracy: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on ``n`` samples: sqrt(p (1 - p) / n).

    At p = 0.947 on 1,000 test images it is 0.007: differences below about two
    of those (1.4 points) could be the luck of the test set."""
    accuracy = check_float("accuracy", accuracy, low=0, high=1)
    n = check_int("n", n, low=1)
    return math.sqrt(accuracy * (1 - accuracy) / n)


def relative_mad(values) -> float:
    """Median absolute deviation divided by the median: the spread of timings
    that one slow outlier cannot inflate (0 for one value)."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D list of numbers; got shape {values.shape}")
    median = np.median(values)
    if median == 0:
        raise ValueError("values must have a non-zero median to give a relative spread; got median 0")
    return float(np.median(np.abs(values - median)) / abs(median))


@dataclass(frozen=True)
class MeanSD:
    """Mean and sample standard deviation (ddof = 1) of ``n`` runs, e.g. seeds."""

    mean: float
    sd: float
    n: int

    @property
    def se(self) -> float:
        """Standard error of the mean: sd / sqrt(n)."""
        return self.sd / math.sqrt(self.n)

    @property
    def decimals(self) -> int:
        """Decimals that show the sd to two significant digits (the mean to the
        same place: "0.9374 ± 0.0035", "95.3 ± 7.2"); 3 when the sd is 0."""
        if self.sd == 0:
            return 3
        return int(min(6, max(0, 1 - math.floor(math.log10(abs(self.sd))))))

    def __str__(self):
        d = self.decimals
        return f"{self.mean:.{d}f} ± {self.sd:.{d}f} (mean ± sd of {self.n} runs)"


def mean_sd(values) -> MeanSD:
    """Mean ± sample standard deviation of seed runs (``np.std(ddof=1)``; needs two or more)."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"values must be a 1-D list of at least 2 runs; got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"values must be finite; got {values.tolist()[:5]}")
    return MeanSD(float(values.mean()), float(values.std(ddof=1)), int(values.size))


# --- two networks, the same test set --------------------------------------------------

def _correct(name, y_true, y_pred) -> np.ndarray:
    """(n_samples,) booleans: the prediction is right (every label, for multilabel)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{name} must have the shape of y_true {y_true.shape}; got {y_pred.shape}")
    if y_true.ndim not in (1, 2) or y_true.shape[0] == 0:
        raise ValueError(f"y_true must be (n_samples,) or (n_samples, n_labels) with n_samples >= 1; "
                         f"got shape {y_true.shape}")
    equal = y_true == y_pred
    return equal.all(axis=1) if equal.ndim == 2 else equal


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test. ``b``: A right and B wrong; ``c``: A wrong and B right."""

    b: int
    c: int
    p_value: float
    n: int

    def __str__(self):
        return (f"A right & B wrong: {self.b}, A wrong & B right: {self.c} "
                f"(of {self.n}); exact McNemar p = {self.p_value:.3g}")


def mcnemar(y_true, pred_a, pred_b) -> McNemar:
    """McNemar's exact test: do networks A and B err on the test set at different rates?

    Only the discordant samples carry information: b where A is right and B
    wrong, c where A is wrong and B right. If A and B were equally good, each
    discordant sample would fall either way with probability 1/2, so
    b ~ Binomial(b + c, 1/2), and the two-sided exact p-value is

        p = min(1, 2 * P[X <= min(b, c)]),   X ~ Binomial(b + c, 1/2)

    (p = 1 when b + c = 0). Paired, it sees differences that two separate
    standard errors miss: the samples both get right or both get wrong cancel.
    """
    right_a = _correct("pred_a", y_true, pred_a)
    right_b = _correct("pred_b", y_true, pred_b)
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    return McNemar(b, c, _two_sided_binomial_half(b, c), int(right_a.size))


def _two_sided_binomial_half(b: int, c: int) -> float:
    from scipy.stats import binom

    if b + c == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), b + c, 0.5)))


@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap interval of acc_A - acc_B (fractions, not percent)."""

    difference: float
    low: float
    high: float
    confidence: float
    n_boot: int

    def __str__(self):
        return (f"acc A - acc B = {100 * self.difference:+.2f} points, {100 * self.confidence:.0f} % CI "
                f"[{100 * self.low:+.2f}, {100 * self.high:+.2f}] (paired bootstrap, {self.n_boot} resamples)")


def paired_bootstrap(y_true, pred_a, pred_b, *, n_boot: int = 2000, confidence: float = 0.95,
                     random_state=None) -> BootstrapCI:
    """Percentile bootstrap interval of acc_A - acc_B, resampling test samples with replacement.

    Each resample draws n samples with replacement and scores both networks on
    the *same* draw (paired). Per sample, d = right_A - right_B is +1, 0 or -1,
    and the resampled difference is mean(d*), so the counts of +1, 0, -1 in a
    resample are Multinomial(n, their observed shares): drawn here directly,
    which is the same bootstrap without an (n_boot, n) index array.
    """
    right_a = _correct("pred_a", y_true, pred_a)
    right_b = _correct("pred_b", y_true, pred_b)
    n_boot = check_int("n_boot", n_boot, low=100)
    confidence = check_float("confidence", confidence, low=0, high=1, low_open=True, high_open=True)
    rng = check_random_state("random_state", random_state)
    if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
        rng = np.random.default_rng(rng)
    n = right_a.size
    d = right_a.astype(int) - right_b.astype(int)                     # (n,) in {-1, 0, 1}
    shares = np.array([np.sum(d == 1), np.sum(d == 0), np.sum(d == -1)]) / n
    counts = rng.multinomial(n, shares, size=n_boot)                  # (n_boot, 3)
    diffs = (counts[:, 0] - counts[:, 2]) / n                         # (n_boot,)
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return BootstrapCI(float(d.mean()), float(low), float(high), confidence, n_boot)


# --- verdicts: the rule first, then the numbers ---------------------------------------

@dataclass(frozen=True)
class Rule:
    """A rule stated before the measurement. ``expect`` (optional) is the outcome the
    rule claims, "A wins", "B wins" or "no detectable difference", at ``at`` = "every"
    or "any" of the compared settings; the verdict then says whether the claim holds."""

    text: str
    expect: str | None = None
    at: str = "every"

    def __str__(self):
        return f"Rule (stated before measuring): {self.text}"

    __repr__ = __str__


@dataclass
class Verdict:
    """The outcome of a rule on measured numbers: one row per setting (budget, rank, ...).

    ``declared_rule`` is the ``Rule`` stated first (``Verdict.rule(...)``).
    ``rows[i]`` holds the numbers of setting i (accuracies and standard errors,
    or McNemar counts and p) and its ``conclusion``; ``conclusion`` sums them
    up; ``holds`` is True/False when the rule declared what it expects, else None.
    """

    declared_rule: Rule | None
    names: tuple[str, str]
    method: str
    rows: list[dict] = field(default_factory=list)
    conclusion: str = ""
    holds: bool | None = None
    noun: str = "setting"

    @staticmethod
    def rule(text: str, *, expect: str | None = None, at: str = "every") -> Rule:
        """Declare the rule of an experiment before measuring it (returns a ``Rule``).

        Verdict.rule("global wins if its accuracy is higher by more than two standard "
                     "errors at every budget", expect="A wins")
        """
        if not isinstance(text, str) or not text.strip():
            raise TypeError(f"text must be a sentence stating the rule; got {text!r}")
        if expect is not None and expect not in CONCLUSIONS:
            raise ValueError(f"expect must be one of {CONCLUSIONS} or None; got {expect!r}")
        if at not in ("every", "any"):
            raise ValueError(f"at must be one of ('every', 'any'); got {at!r}")
        return Rule(text.strip(), expect, at)

    def conclusions(self) -> list[str]:
        """Each setting's conclusion, with the networks' names ("global wins", ...)."""
        return [row["conclusion"] for row in self.rows]

    def __str__(self):
        lines = [str(self.declared_rule)] if self.declared_rule is not None else []
        lines.append(f"Test: {self.method}")
        header, cells = _table(self)
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
        lines.append("  ".join([h.rjust(w) for h, w in zip(header[:-1], widths)] + [header[-1]]))
        # numbers right-aligned, the conclusion (last column) left-aligned: it reads as a sentence
        lines += ["  ".join([c.rjust(w) for c, w in zip(row[:-1], widths)] + [row[-1]]) for row in cells]
        claim = "" if self.holds is None else (" -> the rule holds." if self.holds else " -> the rule does NOT hold.")
        lines.append(f"Verdict: {self.conclusion}{claim}")
        return "\n".join(lines)

    __repr__ = __str__


def _table(verdict: Verdict):
    a, b = verdict.names
    paired = "p" in verdict.rows[0]
    header = [verdict.noun, a, b, f"{a} - {b}"] + ([f"{a} only", f"{b} only", "p"] if paired else []) + ["conclusion"]
    cells = []
    for row in verdict.rows:
        cell = [str(row["label"]), _pct(row["a"], row["se_a"]), _pct(row["b"], row["se_b"]),
                _points(row["difference"], row.get("se_difference"), row.get("ci"))]
        if paired:
            cell += [str(row["a_only"]), str(row["b_only"]), f"{row['p']:.2g}"]
        cells.append(cell + [row["conclusion"]])
    return header, cells


def _pct(value, se):
    return f"{100 * value:.1f} %" + ("" if se is None else f" ± {100 * se:.1f}")


def _points(diff, se, ci=None):
    spread = "" if se is None else f" ± {100 * se:.1f}"
    if ci is not None:
        spread = f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"
    return f"{100 * diff:+.1f}{spread} pts"


def _estimate(name, x) -> tuple[float, float | None]:
    """(value, standard error) of a Report, a MeanSD (se = sd / sqrt(n)) or a (value, se) pair."""
    if isinstance(x, MeanSD):
        return x.mean, x.se
    if hasattr(x, "accuracy") and hasattr(x, "accuracy_se"):
        return float(x.accuracy), float(x.accuracy_se)
    if isinstance(x, (tuple, list)) and len(x) == 2:
        return float(x[0]), float(x[1])
    raise TypeError(f"{name} must hold Reports (from evaluate), MeanSD (from mean_sd) or (accuracy, se) "
                    f"pairs; got {type(x).__name__}")


def _check_pair_lists(a, b, labels, names):
    a, b = list(a), list(b)
    if len(a) != len(b) or not a:
        raise ValueError(f"a and b must be non-empty and of the same length; got {len(a)} and {len(b)}")
    labels = [str(i + 1) for i in range(len(a))] if labels is None else [str(v) for v in labels]
    if len(labels) != len(a):
        raise ValueError(f"labels must give one label per setting ({len(a)}); got {len(labels)}")
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(s, str) for s in names)):
        raise TypeError(f"names must be two strings, e.g. ('global', 'per layer'); got {names!r}")
    return a, b, labels, tuple(names)


def _sum_up(verdict: Verdict) -> Verdict:
    """The overall conclusion, in the networks' names, and whether the rule's claim holds."""
    a, b, noun = *verdict.names, verdict.noun
    raw = [row.pop("_raw") for row in verdict.rows]
    k = len(raw)
    counts = {c: raw.count(c) for c in CONCLUSIONS}
    named = {A_WINS: f"{a} wins", B_WINS: f"{b} wins", NO_DIFFERENCE: NO_DIFFERENCE}
    if k == 1:
        verdict.conclusion = named[raw[0]]
    elif counts[raw[0]] == k:
        verdict.conclusion = f"{named[raw[0]]} at every {noun} ({k} of {k})"
    else:       # each part names its settings: "float wins at 2" read as "at 2 bits" (seen in a walk-through)
        labels = [row["label"] for row in verdict.rows]
        parts = [f"{named[c]} at {counts[c]} ({', '.join(str(label) for label, r in zip(labels, raw) if r == c)})"
                 for c in CONCLUSIONS if counts[c]]
        verdict.conclusion = f"mixed over {k} {noun}s: " + "; ".join(parts)
    rule = verdict.declared_rule
    if rule is not None and rule.expect is not None:
        verdict.holds = counts[rule.expect] == k if rule.at == "every" else counts[rule.expect] > 0
    return verdict


def compare_accuracies(a_reports, b_reports, labels=None, *, names=("A", "B"), margin_se: float = 2.0,
                       rule: Rule | None = None, noun: str = "setting") -> Verdict:
    """Compare two methods setting by setting (e.g. at each budget) by standard errors.

    At each setting, diff = acc_A - acc_B with standard error
    se_diff = sqrt(se_A^2 + se_B^2) (as if independent); "A wins" when
    diff > margin_se * se_diff, "B wins" when diff < -margin_se * se_diff,
    else "no detectable difference". Entries are Reports (binomial se), MeanSD
    of seed runs (se = sd / sqrt(n)) or (accuracy, se) pairs. On one shared
    test set the two accuracies are positively correlated, which makes this
    test conservative: ``compare_paired`` (McNemar) sees more.
    """
    a_reports, b_reports, labels, names = _check_pair_lists(a_reports, b_reports, labels, names)
    margin_se = check_float("margin_se", margin_se, low=0)
    verdict = Verdict(rule, names, f"{names[0]} - {names[1]} against {margin_se:g} standard errors of the "
                                   f"difference, se = sqrt(se_{names[0]}² + se_{names[1]}²)", noun=noun)
    for label, ra, rb in zip(labels, a_reports, b_reports):
        (a, se_a), (b, se_b) = _estimate("a_reports", ra), _estimate("b_reports", rb)
        diff, se = a - b, math.hypot(se_a, se_b)
        raw = A_WINS if diff > margin_se * se else B_WINS if diff < -margin_se * se else NO_DIFFERENCE
        verdict.rows.append(dict(label=label, a=a, se_a=se_a, b=b, se_b=se_b, difference=diff, se_difference=se,
                                 conclusion=_named(raw, names), _raw=raw))
    return _sum_up(verdict)


def compare_paired(y_true, a_predictions, b_predictions, labels=None, *, names=("A", "B"), alpha: float = 0.05,
                   bonferroni: bool = True, rule: Rule | None = None, noun: str = "setting") -> Verdict:
    """Compare two methods setting by setting on the same test samples, by McNemar's exact test.

    At each setting, "A wins" when p < threshold and A is right on more of the
    discordant samples (b > c), "B wins" when p < threshold and c > b, else
    "no detectable difference". The threshold is ``alpha``, divided by the
    number of settings when ``bonferroni`` (so that "at every budget" is not
    won by testing many budgets). ``a_predictions[i]`` are A's predicted labels
    on ``y_true`` at setting i (``network.predict(dataset.X_test)``).
    """
    a_predictions, b_predictions, labels, names = _check_pair_lists(a_predictions, b_predictions, labels, names)
    alpha = check_float("alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    k = len(labels)
    threshold = alpha / k if bonferroni else alpha
    shown = f"{alpha:g} / {k} {noun}s (Bonferroni)" if bonferroni and k > 1 else f"{alpha:g}"
    n = np.asarray(y_true).shape[0]
    verdict = Verdict(rule, names, f"exact McNemar on the {n:,} paired test samples, p < {shown}; "
                                   f"'{names[0]} only' = right by {names[0]} only; [95 % paired bootstrap "
                                   f"interval] of the difference", noun=noun)
    for label, pa, pb in zip(labels, a_predictions, b_predictions):
        test = mcnemar(y_true, pa, pb)
        acc_a = float(_correct("a_predictions", y_true, pa).mean())
        acc_b = float(_correct("b_predictions", y_true, pb).mean())
        ci = paired_bootstrap(y_true, pa, pb, random_state=0)          # seeded: the same table every run
        significant = test.p_value < threshold
        raw = (A_WINS if test.b > test.c else B_WINS) if significant and test.b != test.c else NO_DIFFERENCE
        verdict.rows.append(dict(label=label, a=acc_a, se_a=accuracy_se(acc_a, n), b=acc_b,
                                 se_b=accuracy_se(acc_b, n), difference=acc_a - acc_b, ci=(ci.low, ci.high),
                                 a_only=test.b,
                                 b_only=test.c, p=test.p_value, conclusion=_named(raw, names), _raw=raw))
    return _sum_up(verdict)


def _named(raw, names):
    return {A_WINS: f"{names[0]} wins", B_WINS: f"{names[1]} wins"}.get(raw, raw)
