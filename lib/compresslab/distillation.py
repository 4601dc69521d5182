"""Knowledge distillation: train a small student on a teacher's softened probabilities.

A teacher's logits v, divided by a temperature T before the softmax, give soft
targets q = softmax(v / T); the student's logits z give p = softmax(z / T).
The student minimises (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge
in a Neural Network"):

    L = (1 - w) CE(y, softmax(z)) + w T^2 CE(q, p),     w = soft_weight

At T = 1 a confident teacher says little beyond the label; as T grows the small
probabilities it gives to the wrong classes (a "2" that looks a bit like a "7")
become visible: the "dark knowledge". The gradient of the soft term is
T (p - q) / N, so the T^2 keeps it on the scale of the hard term. For large T
and zero-mean logits, p - q ~ (z - v) / (K T) for K classes, so

    T^2 * d CE(q, p) / dz  ->  (z - v) / K,

the gradient of the logit-matching loss 1/2 ||z - v||^2 / K (Hinton et al.
2015 §2.1; Ba & Caruana 2014): logit matching is the high-temperature limit.

The training itself is the suite's one engine (``training.train`` with
``teacher_logits``, ``temperature``, ``soft_weight``); this module chooses
teachers, soft targets and students around it.

**The pitfall.** A teacher that memorised its training images (the shipped
LeNet-300-100: training accuracy 1.000) gives nearly one-hot soft targets
there, so distilling on those images is training on the labels again. The
fixes here give each training image soft targets from a teacher that did not
fit it: ``out_of_fold_teacher`` (k-fold), a held-out transfer set
(``distill(..., X_transfer=...)`` with a teacher fit on the rest),
``early_stopped_teacher``, and a transfer set of the training images moved by a
pixel (``shifted_copies``); ``Ensemble`` averages several teachers.
``soft_target_entropy`` measures how much each one says beyond the label.

Students: any softmax ``Network`` with the teacher's classes and inputs:
``random_network`` of any widths, depth or activation, ``softmax_regression``,
``lowrank_student`` (the factorized teacher as a start), a pruned student
(what ``pruning.prune`` returns, or a network of ``Sparse`` layers: its pruned
weights stay exactly 0, ``pruned_student``), and ``distill_quantized`` (a b-bit
student trained with fake quantization and soft targets together: Apprentice,
Mishra & Marr 2018). ``fitnets`` adds hint training (Romero et al. 2015).
References: Hinton et al. 2015; Ba & Caruana 2014 ("Do Deep Nets Really Need
to be Deep?"); Mishra & Marr 2018; Romero et al. 2015 ("FitNets: Hints for
Thin Deep Nets"); Choudhary et al. 2020 (the survey).
"""
from __future__ import annotations

import hashlib

import numpy as np

from ._validation import (check_array_2d, check_callable, check_choice, check_float, check_int, check_labels,
                          check_network)
from ._validation import check_random_state as check_seed
from .network import Dense, Network, random_network

DEFAULT_TEACHER = "mnist-5k"        # the shipped LeNet-300-100
HINT_TEMPERATURE = 1000.0           # the soft loss at this T is logit matching to O(1/T): the hint loss
COMBINE = ("logits", "probabilities")


# ----------------------------------------------------------------------------
# Softmax with temperature and what it carries
# ----------------------------------------------------------------------------

def check_temperature(temperature, name="temperature") -> float:
    """T must be a finite real number > 0."""
    return check_float(name, temperature, low=0, low_open=True)


def _check_logits(logits, name="logits") -> np.ndarray:
    if isinstance(logits, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers; got {type(logits).__name__}")
    z = np.asarray(logits)
    if z.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {z.dtype}")
    if z.ndim not in (1, 2) or z.shape[-1] < 1:
        raise ValueError(f"{name} must be (n_classes,) or (n_samples, n_classes); got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} must be finite; found {int(np.sum(~np.isfinite(z)))} NaN or infinite values")
    return z.astype(float, copy=False)


def soften(logits, temperature) -> np.ndarray:
    """softmax(z / T) along the last axis, for one row (K,) or many (N, K).

        q_k = exp(z_k / T) / sum_j exp(z_j / T)

    Stable for any finite logits and any T > 0: the row maximum is subtracted
    *before* dividing by T, so every exponent is <= 0 (no overflow) and the
    largest is exactly 0 (the sum is >= 1: no 0 / 0). T -> 0 gives the one-hot
    argmax, T -> infinity the uniform distribution.
    """
    T = check_temperature(temperature)
    z = _check_logits(logits)
    with np.errstate(over="ignore"):                        # overflow to -inf here just means exp = 0
        shifted = (z - z.max(axis=-1, keepdims=True)) / T   # <= 0, the largest exactly 0
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def entropy(P, axis=-1) -> np.ndarray:
    """Entropy in bits, H = -sum_k p_k log2 p_k (0 log 0 = 0), along ``axis``.

    0 bits: one-hot (nothing beyond the label); log2 K bits: uniform (10 classes: 3.32).
    """
    P = np.asarray(P, dtype=float)
    logs = np.log2(np.where(P > 0, P, 1.0))
    return -np.sum(P * logs, axis=axis)


def softened_curve(logits_row, temperatures):
    """The softened distribution of ONE image at many temperatures (the dashboard's
    "dark knowledge" picture): returns (P, H) with P (n_T, K) and H (n_T,) in bits.

    One vectorised pass (microseconds for 10 classes and 100 temperatures).
    """
    z = _check_logits(logits_row, "logits_row")
    if z.ndim != 1:
        raise ValueError(f"logits_row must be one image's logits (n_classes,); got shape {z.shape}")
    T = np.atleast_1d(np.asarray(temperatures, dtype=float))
    if T.ndim != 1 or not np.all(np.isfinite(T)) or np.any(T <= 0):
        raise ValueError(f"temperatures must be finite numbers > 0; got {np.asarray(temperatures)!r:.80}")
    with np.errstate(over="ignore"):
        shifted = (z - z.max())[None, :] / T[:, None]        # (n_T, K), <= 0
    e = np.exp(shifted)
    P = e / e.sum(axis=1, keepdims=True)
    return P, entropy(P)


def soft_loss_gradient(student_logits, teacher_logits, temperature, *, scaled=True) -> np.ndarray:
    """d/dz of the soft loss averaged over N rows, (N, K).

    scaled=True:  T^2 CE(q, p)  ->  T (p - q) / N   (what the engine uses)
    scaled=False:     CE(q, p)  ->  (p - q) / (T N)  (shrinks as 1/T^2 relative to the hard loss)
    with p = softmax(z / T), q = softmax(v / T).
    """
    T = check_temperature(temperature)
    z = np.atleast_2d(_check_logits(student_logits, "student_logits"))
    v = np.atleast_2d(_check_logits(teacher_logits, "teacher_logits"))
    if z.shape != v.shape:
        raise ValueError(f"student_logits and teacher_logits must have the same shape; got {z.shape} and {v.shape}")
    diff = soften(z, T) - soften(v, T)
    return (T if scaled else 1.0 / T) * diff / z.shape[0]


def logit_matching_gradient(student_logits, teacher_logits) -> np.ndarray:
    """d/dz of 1/2 ||z - v||^2 / (K N) on row-centred logits: ((z - z_bar) - (v - v_bar)) / (K N).

    The high-temperature limit of ``soft_loss_gradient(..., scaled=True)``
    (softmax ignores a constant added to a row, so only centred logits can be matched).
    """
    z = np.atleast_2d(_check_logits(student_logits, "student_logits"))
    v = np.atleast_2d(_check_logits(teacher_logits, "teacher_logits"))
    if z.shape != v.shape:
        raise ValueError(f"student_logits and teacher_logits must have the same shape; got {z.shape} and {v.shape}")
    zc = z - z.mean(axis=1, keepdims=True)
    vc = v - v.mean(axis=1, keepdims=True)
    return (zc - vc) / (z.shape[1] * z.shape[0])


# ----------------------------------------------------------------------------
# Teachers
# ----------------------------------------------------------------------------

def default_teacher() -> Network:
    """The shipped LeNet-300-100 trained on mnist-5k: ``from_sklearn(load_pretrained("mnist-5k"))``."""
    from .models import load_pretrained
    from .network import from_sklearn

    return from_sklearn(load_pretrained(DEFAULT_TEACHER))


def _network_logits(network: Network, X) -> np.ndarray:
    """Logits with one column per class: a logistic (binary) output z becomes [0, z],
    since softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]."""
    z = network.logits(X)
    if network.out_activation == "logistic":
        z = np.hstack([np.zeros_like(z), z])
    return z.astype(float, copy=False)


class Ensemble:
    """Several teachers as one: their logits averaged (default) or their probabilities.

    combine="logits": v = mean_m v_m. softmax(v / T) is the normalised geometric
    mean of the members' softened distributions at EVERY T, so one logit
    vector serves all temperatures (the engine softens teacher logits itself,
    and a dashboard can move T without asking the members again).
    combine="probabilities": q_T = mean_m softmax(v_m / T), the arithmetic mean
    Hinton et al. 2015 use for ensembles; it depends on T, so ``logits(X, T)``
    returns T log q_T (whose softmax at T is q_T exactly), recomputed per T.
    The arithmetic mean keeps the members' disagreement as extra entropy; the
    geometric mean is sharper where they disagree.
    """

    def __init__(self, members, *, combine="logits"):
        if isinstance(members, (Network, Ensemble)) or not hasattr(members, "__iter__"):
            raise TypeError(f"members must be a list of teachers; got {type(members).__name__}")
        members = [as_teacher(m, name=f"members[{i}]") for i, m in enumerate(members)]
        if not members:
            raise ValueError("members must hold at least one teacher; got an empty list")
        check_choice("combine", combine, COMBINE)
        first = members[0]
        for i, m in enumerate(members[1:], 1):
            if not np.array_equal(m.classes, first.classes) or m.n_features != first.n_features:
                raise ValueError(f"every member must have the same classes and inputs; members[{i}] has "
                                 f"classes {m.classes.tolist()} and {m.n_features} inputs, members[0] "
                                 f"{first.classes.tolist()} and {first.n_features}")
        self.members, self.combine = members, combine

    @property
    def classes(self) -> np.ndarray:
        return self.members[0].classes

    @property
    def n_features(self) -> int:
        return self.members[0].n_features

    def logits(self, X, temperature=1.0) -> np.ndarray:
        T = check_temperature(temperature)
        if self.combine == "logits":
            return np.mean([teacher_logits(m, X) for m in self.members], axis=0)
        Q = np.mean([soften(teacher_logits(m, X, T), T) for m in self.members], axis=0)
        return T * np.log(np.clip(Q, 1e-300, None))

    def predict_proba(self, X) -> np.ndarray:
        return soften(self.logits(X), 1.0)

    def predict(self, X) -> np.ndarray:
        return self.classes[np.argmax(self.logits(X), axis=1)]

    def score(self, X, y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def __repr__(self):
        return f"Ensemble({len(self.members)} members, combine={self.combine!r})"


def _row_keys(X) -> list:
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in X]


class OutOfFoldTeacher(Ensemble):
    """k teachers, each fit on all training images but one fold.

    ``logits(X)``: a row equal to a training image gets the logits of the
    one member that never saw it (an honest prediction, like a test image's);
    any other row gets the members' average (an ``Ensemble``). Rows are
    recognised by their bytes as float64.
    """

    def __init__(self, members, fold_of_row: dict, *, combine="logits"):
        super().__init__(members, combine=combine)
        self.fold_of_row = fold_of_row

    def logits(self, X, temperature=1.0) -> np.ndarray:
        out = super().logits(X, temperature)                    # the ensemble, for unseen rows
        folds = np.array([self.fold_of_row.get(k, -1) for k in _row_keys(X)])
        for f, member in enumerate(self.members):
            rows = np.flatnonzero(folds == f)
            if rows.size:
                out[rows] = teacher_logits(member, np.asarray(X)[rows])
        return out

    def __repr__(self):
        return f"OutOfFoldTeacher({len(self.members)} folds, {len(self.fold_of_row)} training rows)"


def as_teacher(teacher, name="teacher"):
    """A ``Network``, an ``Ensemble``, a fitted ``MLPClassifier`` (converted with
    ``from_sklearn``), a list of those (an ``Ensemble`` of logits), or None (the default teacher)."""
    if teacher is None:
        return default_teacher()
    if isinstance(teacher, Ensemble):
        return teacher
    if type(teacher).__name__ == "MLPClassifier":
        from .network import from_sklearn

        teacher = from_sklearn(teacher)
    elif isinstance(teacher, (list, tuple)):
        return Ensemble(teacher)
    check_network(name, teacher)
    if teacher.multilabel:
        raise ValueError(f"{name} must be a multiclass classifier (one label per image); got a multilabel network")
    return teacher


def teacher_logits(teacher, X, temperature=1.0) -> np.ndarray:
    """Logits v (n_samples, n_classes) with softmax(v / T) = the teacher's soft targets at T."""
    if isinstance(teacher, Ensemble):
        return teacher.logits(X, temperature)
    return _network_logits(as_teacher(teacher), X)


def soft_targets(teacher, X, temperature) -> np.ndarray:
    """The teacher's softened probabilities q = softmax(v / T), (n_samples, n_classes)."""
    return soften(teacher_logits(teacher, X, temperature), temperature)


def soft_target_entropy(teacher, X, temperature=1.0) -> float:
    """Mean entropy (bits) of the teacher's soft targets on X: ~0 means "only the label"."""
    return float(np.mean(entropy(soft_targets(teacher, X, temperature))))


def fit_teacher(X, y, *, hidden_layer_sizes=(300, 100), random_state=0, **mlp_kwargs) -> Network:
    """An MLPClassifier fit with the shipped teacher's recipe (``models.DEFAULT_MLP_KWARGS``),
    as a ``Network``. ``max_iter`` small = an early-stopped teacher."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from .models import DEFAULT_MLP_KWARGS
    from .network import from_sklearn

    X = check_array_2d("X", X)
    mlp = MLPClassifier(hidden_layer_sizes=tuple(hidden_layer_sizes), random_state=random_state,
                        **{**DEFAULT_MLP_KWARGS, **mlp_kwargs})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)       # a capped max_iter is the point
        mlp.fit(X, y)
    return from_sklearn(mlp)


def early_stopped_teacher(X, y, *, max_iter=3, hidden_layer_sizes=(300, 100), random_state=0,
                          **mlp_kwargs) -> Network:
    """A teacher stopped after ``max_iter`` epochs, before it memorises its training
    images (choose ``max_iter`` on the validation split)."""
    max_iter = check_int("max_iter", max_iter, low=1)
    return fit_teacher(X, y, hidden_layer_sizes=hidden_layer_sizes, random_state=random_state,
                       max_iter=max_iter, **mlp_kwargs)


def out_of_fold_teacher(X, y, n_folds=5, *, hidden_layer_sizes=(300, 100), random_state=0,
                        combine="logits", **mlp_kwargs) -> OutOfFoldTeacher:
    """k-fold teachers (stratified): the soft targets of every training image come
    from the teacher fit on the other k - 1 folds (cross-fitting, as in stacking)."""
    from sklearn.model_selection import StratifiedKFold

    X = check_array_2d("X", X)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with one label per row of X ({X.shape[0]}); got shape {y.shape}")
    n_folds = check_int("n_folds", n_folds, low=2, high=X.shape[0])
    check_seed("random_state", random_state)
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
    members, fold_of_row, keys = [], {}, _row_keys(X)
    for f, (fit_rows, held_rows) in enumerate(folds.split(X, y)):
        members.append(fit_teacher(X[fit_rows], y[fit_rows], hidden_layer_sizes=hidden_layer_sizes,
                                   random_state=random_state, **mlp_kwargs))
        fold_of_row.update({keys[i]: f for i in held_rows})
    return OutOfFoldTeacher(members, fold_of_row, combine=combine)


def split_labelled(X, y, n_labelled, *, random_state=0):
    """(X_labelled, y_labelled, X_unlabelled): a stratified labelled subset and the rest,
    whose labels are dropped, for a held-out transfer set."""
    from sklearn.model_selection import train_test_split

    X = check_array_2d("X", X)
    n_labelled = check_int("n_labelled", n_labelled, low=1, high=X.shape[0] - 1)
    X_lab, X_unlab, y_lab, _ = train_test_split(X, np.asarray(y), train_size=n_labelled, stratify=y,
                                                random_state=random_state)
    return X_lab, y_lab, X_unlab


# ----------------------------------------------------------------------------
# Distillation
# ----------------------------------------------------------------------------

def _check_pair(teacher, student, *, same_inputs=True):
    teacher = as_teacher(teacher)
    check_network("student", student)
    if not np.array_equal(np.asarray(teacher.classes), np.asarray(student.classes)) or student.multilabel:
        raise ValueError(f"teacher and student must have the same classes; got teacher "
                         f"{np.asarray(teacher.classes).tolist()} and student {np.asarray(student.classes).tolist()}")
    if same_inputs and teacher.n_features != student.n_features:
        raise ValueError(f"teacher and student must take the same inputs; got teacher {teacher.n_features} "
                         f"features and student {student.n_features}")
    return teacher


def downsample(X, factor=2, *, side=28) -> np.ndarray:
    """Average-pool square images (rows of side x side pixels) by ``factor`` in each
    direction: 28 x 28 -> 14 x 14 at factor 2, (n, 784) -> (n, 196). A student that
    sees these is a student with a different input from its teacher's."""
    X = check_array_2d("X", X, n_features=side * side)
    factor = check_int("factor", factor, low=1, high=side)
    if side % factor:
        raise ValueError(f"factor must divide the image side {side}; got {factor}")
    s = side // factor
    return X.reshape(-1, s, factor, s, factor).mean(axis=(2, 4)).reshape(-1, s * s)   # (n, s*s)


def shifted_copies(X, pixels=1, *, side=28) -> np.ndarray:
    """The images of X moved by ``pixels`` right, left, down and up (blank pixels enter
    at the edge): (4 n, side * side), the four copies one after the other in that order.
    Label-preserving for a digit moved by a pixel or two; unlabelled they are a transfer
    set of images a teacher never saw (its soft targets there are not memorised)."""
    X = check_array_2d("X", X, n_features=side * side)
    pixels = check_int("pixels", pixels, low=1, high=side - 1)
    images = X.reshape(-1, side, side)
    copies = []
    for axis, step in ((2, pixels), (2, -pixels), (1, pixels), (1, -pixels)):
        moved = np.zeros_like(images)
        source = [slice(None)] * 3
        target = [slice(None)] * 3
        source[axis] = slice(0, side - step) if step > 0 else slice(-step, side)
        target[axis] = slice(step, side) if step > 0 else slice(0, side + step)
        moved[tuple(target)] = images[tuple(source)]
        copies.append(moved.reshape(-1, side * side))
    return np.vstack(copies)


def pruned_student(student, masks=None):
    """``(network, masks)``: the network a pruned student trains and the masks that keep
    its pruned weights at exactly 0 (None: nothing to keep).

    student : a ``Network``, or a ``pruning.PruneResult`` (what ``prune`` returns:
        its network and its masks are used).
    masks : for a ``Network``: None (no pruned weights to keep), a list with one
        boolean array per layer shaped like its weight (True = kept, as
        ``PruneResult.masks``), or "zeros": every weight that is exactly 0 now
        stays 0 (a pruned network saved and loaded without its masks).

    The masks are kept the way ``pruning.fine_tune`` keeps them: the engine's
    ``after_step`` hook ``pruning.mask_projection`` sets the pruned weights back
    to 0 after every optimizer step (Adam's momentum and the L2 term would move
    them). A ``Sparse`` layer needs no mask: it stores only its surviving
    weights, so training cannot revive the others; its mask entry is ignored.
    A mask that prunes a layer of another kind (low-rank factors) is an error.
    """
    from .pruning import PruneResult, _check_masks

    if isinstance(student, PruneResult):
        if masks is not None:
            raise ValueError("masks come with a PruneResult student (student.masks); give them once, got "
                             f"masks={type(masks).__name__} as well")
        student, masks = student.network, student.masks
    check_network("student", student)
    if masks is None:
        return student, None
    if isinstance(masks, str):
        if masks != "zeros":
            raise ValueError(f"masks must be a list of boolean arrays, 'zeros' or None; got {masks!r}")
        masks = [layer.params["weight"] != 0 if "weight" in layer.params
                 else np.ones((layer.n_inputs, layer.n_outputs), dtype=bool) for layer in student.layers]
    if not isinstance(masks, (list, tuple)):
        raise TypeError(f"masks must be a list of boolean arrays (one per layer), 'zeros' or None; "
                        f"got {type(masks).__name__}")
    masks = _check_masks(masks, student)
    for i, (mask, layer) in enumerate(zip(masks, student.layers)):
        if "weight" not in layer.params:
            if layer.kind != "sparse" and not mask.all():
                raise ValueError(f"masks[{i}] prunes {int((~mask).sum())} weights of a {layer.kind!r} layer, which "
                                 "has no weight matrix to mask; prune a network of dense layers")
            masks[i] = np.ones_like(mask)             # Sparse: the structure keeps its zeros
    return student, (masks if not all(m.all() for m in masks) else None)


def distill(teacher, student, X, y, *, temperature=4.0, soft_weight=0.9, epochs=10, X_transfer=None,
            student_input=None, masks=None, random_state=0, **train_kwargs):
    """Train a copy of ``student`` on the labels and the teacher's soft targets; return
    ``(student, history)``. The input student and the teacher are never changed.

    Loss per batch (``training`` module doc): (1 - w) CE(y, p) + w T^2 CE(q_T, p_T).

    X_transfer : optional unlabelled rows that get soft targets only. They join X
        in one shuffled pool (each batch mixes both in proportion); the hard loss
        skips them (``hard_weight`` 0) and weights the labelled rows by
        (n + n_transfer) / n, so the hard term is still the mean over labelled
        rows and ``soft_weight`` keeps its meaning: the soft term averages over
        all rows.
    student_input : optional function of the teacher's input rows giving the student's
        (e.g. ``downsample``: the student sees 14 x 14 images, the teacher 28 x 28).
        The teacher's soft targets come from X; the student trains on
        ``student_input(X)`` and must be scored on ``student_input`` of the test rows.
    student, masks : a pruned student is a ``pruning.PruneResult``, a network with
        ``masks`` (a list, or "zeros"), or a network of ``Sparse`` layers: its pruned
        weights stay exactly 0 (``pruned_student``); the result is a ``Network``.
    train_kwargs : passed to ``training.train`` (batch_size, learning_rate, l2,
        weight_transform, X_test, y_test, progress, on_epoch, ...).

    Everything is checked before anything is trained; a non-softmax student with
    soft_weight > 0 is refused by the engine before its first step.
    """
    from .training import train

    if student_input is not None and not callable(student_input):
        raise TypeError(f"student_input must be a function of X (or None); got {type(student_input).__name__}")
    student, masks = pruned_student(student, masks)
    teacher = _check_pair(teacher, student, same_inputs=student_input is None)
    T = check_temperature(temperature)
    w = check_float("soft_weight", soft_weight, low=0, high=1)
    X = check_array_2d("X", X, n_features=teacher.n_features)
    y = check_labels("y", y, student, n_samples=X.shape[0])
    check_seed("random_state", random_state)
    hard_weight = None
    if X_transfer is not None:
        X_transfer = check_array_2d("X_transfer", X_transfer, n_features=teacher.n_features)
        n, m = X.shape[0], X_transfer.shape[0]
        X = np.vstack([X, X_transfer])
        # placeholder labels for transfer rows (never used: hard weight 0) keep the engine's checks simple
        y = np.concatenate([y, np.resize(np.asarray(y), m)])
        hard_weight = np.concatenate([np.full(n, (n + m) / n), np.zeros(m)])
    if w > 0 and student.out_activation != "softmax":
        # the engine's own rule and words, said before the teacher is asked anything
        raise ValueError("soft targets need a softmax output (multiclass); "
                         f"this network's output is {student.out_activation!r}")
    X_student = X
    if student_input is not None:
        X_student = check_array_2d("student_input(X)", student_input(X), n_features=student.n_features)
        if X_student.shape[0] != X.shape[0]:
            raise ValueError(f"student_input must keep one row per image ({X.shape[0]}); got {X_student.shape[0]}")
    logits = teacher_logits(teacher, X, T)                # (n_rows, n_classes)
    result = student.copy()
    if masks is not None:
        from .pruning import mask_projection

        project = mask_projection(masks)                  # pruning's own after_step hook (as fine_tune)
        project(result)                                   # start on the allowed weights too
        train_kwargs["after_step"] = _then(project, train_kwargs.get("after_step"))
    history = train(result, X_student, y, epochs=epochs, teacher_logits=logits, temperature=T, soft_weight=w,
                    hard_weight=hard_weight, random_state=random_state, **train_kwargs)
    return result, history


def _then(project, after_step=None):
    """The mask projection, then the caller's own ``after_step`` hook, if any."""
    if after_step is None:
        return project
    check_callable("after_step", after_step)

    def both(network):
        project(network)
        after_step(network)
    return both


def softmax_regression(n_features, classes=10, *, random_state=0) -> Network:
    """A student with no hidden layer: p = softmax(X W + b)."""
    n_classes = len(classes) if hasattr(classes, "__len__") else check_int("classes", classes, low=2)
    labels = np.asarray(classes) if hasattr(classes, "__len__") else None
    return random_network((n_features, n_classes), classes=labels, random_state=random_state)


def lowrank_student(teacher: Network, ranks) -> Network:
    """The teacher factorized to ``ranks`` (``lowrank.factorize``): a student that starts
    where the teacher is and is then distilled (and fine-tuned) in its low-rank form."""
    from .lowrank import factorize

    check_network("teacher", teacher)
    return factorize(teacher, ranks=ranks).network


def distill_quantized(teacher, student, X, y, scheme="symmetric", bits=2, *, granularity="tensor",
                      range_method="minmax", **distill_kwargs):
    """Apprentice (Mishra & Marr 2018): a low-precision student trained with fake
    quantization (the QAT hook, straight-through gradients to float masters) and
    the teacher's soft targets together; returns (quantized student, history)."""
    from .quantization import _check_options, float_master, quantize, weight_quantizer

    _check_pair(teacher, student)
    _check_options(scheme, bits, granularity, range_method, distill_kwargs.get("random_state", 0))
    master = float_master(student)
    hook = weight_quantizer(master, scheme, bits, granularity=granularity, range_method=range_method,
                            random_state=distill_kwargs.get("random_state", 0))
    trained, history = distill(teacher, master, X, y, weight_transform=hook, **distill_kwargs)
    return quantize(trained, scheme, bits, granularity=granularity, range_method=range_method,
                    random_state=distill_kwargs.get("random_state", 0)), history


# ----------------------------------------------------------------------------
# Hints (FitNets)
# ----------------------------------------------------------------------------

def hidden_activations(network: Network, X, layer: int) -> np.ndarray:
    """The activations g(z_layer) of hidden layer ``layer`` (1 = the first), (n_samples, width)."""
    check_network("network", network)
    layer = check_int("layer", layer, low=1, high=len(network.layers) - 1)
    inputs, _ = network.forward_all(network._check_X(X))
    return inputs[layer]


def hint_train(teacher: Network, student: Network, X, *, student_layer=1, teacher_layer=1, epochs=5,
               random_state=0, **train_kwargs):
    """FitNets stage 1 (Romero et al. 2015): train the student's layers up to hidden layer
    ``student_layer`` so that a learned linear map r of their output matches the
    teacher's hidden layer ``teacher_layer`` (the hint). Returns (student copy with those
    layers trained, history); the later layers are left as they were.

    Loss: 1/2 ||r(h_s) - h_t||^2 / width, each row centred. It is trained by the
    engine's own soft loss at T = HINT_TEMPERATURE, which is that loss to O(1/T)
    (the logit-matching limit, module doc): no second training loop. Centring
    drops one number per row (the row mean of the hint), since softmax ignores it.
    """
    from .training import train

    teacher = _check_pair(teacher, student)
    if not isinstance(teacher, Network):
        raise TypeError(f"hints need one teacher Network (its hidden layers are the hints); got {teacher!r}")
    X = check_array_2d("X", X, n_features=student.n_features)
    student_layer = check_int("student_layer", student_layer, low=1, high=len(student.layers) - 1)
    hint = hidden_activations(teacher, X, teacher_layer)               # (n, teacher width)
    width_s = student.layers[student_layer - 1].n_outputs
    rng = np.random.default_rng(random_state)
    bound = np.sqrt(6.0 / (width_s + hint.shape[1]))
    regressor = Dense(rng.uniform(-bound, bound, (width_s, hint.shape[1])), np.zeros(hint.shape[1]))
    guided = student.copy()
    body = Network(guided.layers[:student_layer] + [regressor], activation=student.activation,
                   classes=np.arange(hint.shape[1]))
    start_mse = _centred_mse(body.logits(X), hint)
    history = train(body, X, np.zeros(X.shape[0], dtype=int), epochs=epochs, teacher_logits=hint,
                    temperature=HINT_TEMPERATURE, soft_weight=1.0, random_state=random_state, **train_kwargs)
    # history.loss is T^2 CE, the hint loss plus a large constant (T^2 times the hint's entropy
    # at T); the hint loss itself, before and after, is what a reader wants to see
    history.hint_mse = (start_mse, _centred_mse(body.logits(X), hint))
    # body shares its first layers with ``guided`` (trained in place); the regressor is dropped
    return guided, history


def _centred_mse(r, h) -> float:
    """1/2 ||(r - r_bar) - (h - h_bar)||^2 / (width N): the hint loss, rows centred."""
    d = (r - r.mean(axis=1, keepdims=True)) - (h - h.mean(axis=1, keepdims=True))
    return float(0.5 * np.mean(d**2))


def fitnets(teacher: Network, student: Network, X, y, *, student_layer=1, teacher_layer=1, hint_epochs=5,
            random_state=0, **distill_kwargs):
    """Hint training, then distillation: returns (student, (hint_history, history))."""
    guided, hint_history = hint_train(teacher, student, X, student_layer=student_layer,
                                      teacher_layer=teacher_layer, epochs=hint_epochs,
                                      random_state=random_state,
                                      progress=distill_kwargs.get("progress", True))
    result, history = distill(teacher, guided, X, y, random_state=random_state, **distill_kwargs)
    return result, (hint_history, history)


# ----------------------------------------------------------------------------
# The omitted class (Hinton et al. 2015 §3)
# ----------------------------------------------------------------------------

def shift_bias(network: Network, cls, shift) -> Network:
    """A copy of ``network`` with ``shift`` added to the output bias of class ``cls``:
    p(cls) grows by the factor e^shift before renormalisation."""
    check_network("network", network)
    shift = check_float("shift", shift)
    classes = np.asarray(network.classes).tolist()
    if cls not in classes:
        raise ValueError(f"cls must be one of the network's classes {classes}; got {cls!r}")
    out = network.copy()
    last = out.layers[-1]
    bias = last.value("bias").copy()
    bias[classes.index(cls)] += shift
    out.layers[-1] = last.with_arrays(bias=bias)
    return out


def choose_bias_shift(network: Network, X, y, cls, shifts=np.arange(0.0, 12.01, 0.25)):
    """(shift, accuracy): the bias shift of class ``cls`` that maximises accuracy on
    (X, y) (give TRAINING rows, the omitted class included: test rows would
    choose on the test set), the smallest such shift on ties. Hinton et al. 2015
    raise the bias of the omitted 3 by 3.5."""
    shifts = np.asarray(shifts, dtype=float)
    if shifts.ndim != 1 or shifts.size == 0 or not np.all(np.isfinite(shifts)):
        raise ValueError(f"shifts must be a non-empty 1-D array of finite numbers; got {shifts!r:.80}")
    check_network("network", network)
    classes = np.asarray(network.classes).tolist()
    if cls not in classes:
        raise ValueError(f"cls must be one of the network's classes {classes}; got {cls!r}")
    z = network.logits(check_array_2d("X", X, n_features=network.n_features))    # one forward pass
    onehot = np.eye(len(classes))[classes.index(cls)]
    y = np.asarray(y)
    scores = [float(np.mean(np.asarray(network.classes)[np.argmax(z + d * onehot, axis=1)] == y)) for d in shifts]
    best = int(np.argmax(scores))                                                # first maximum: smallest shift
    return float(shifts[best]), scores[best]


# ----------------------------------------------------------------------------
# Regression: what distillation is without a softmax
# ----------------------------------------------------------------------------

def regression_distillation(X, y, *, teacher_hidden=(100, 100), student_hidden=(3,), seeds=(0, 1, 2),
                            test_size=0.3, max_iter=2000, **mlp_kwargs):
    """A regression teacher and a student fit on its predictions vs on the true targets.

    An ``MLPRegressor`` teacher is fit on (X_train, y_train); students of width
    ``student_hidden`` are fit on y_train (hard targets) and on the teacher's
    predictions for X_train. A regression output is one number per example
    with no softmax: nothing to soften, so no temperature. Returns a dict of
    arrays: R^2 on the test split for the teacher and each student kind
    (one per seed), and how far the teacher's training predictions sit from
    the true targets (RMSE, in units of the target's sd). ``mlp_kwargs`` go to
    every ``MLPRegressor`` (alpha, early_stopping, ...).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler

    X = check_array_2d("X", X)
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with one target per row of X ({X.shape[0]}); got shape {y.shape}")
    out = {k: [] for k in ("teacher_r2", "hard_r2", "distilled_r2", "teacher_rmse_sd")}
    for seed in seeds:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed)
        scale = StandardScaler().fit(X_tr)
        X_tr, X_te = scale.transform(X_tr), scale.transform(X_te)
        mu, sd = y_tr.mean(), y_tr.std()
        t_tr, t_te = (y_tr - mu) / sd, (y_te - mu) / sd          # standardised targets
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            teacher = MLPRegressor(hidden_layer_sizes=teacher_hidden, max_iter=max_iter, random_state=seed,
                                    **mlp_kwargs).fit(X_tr, t_tr)
            soft = teacher.predict(X_tr)                          # the teacher's "targets": one number each
            hard = MLPRegressor(hidden_layer_sizes=student_hidden, max_iter=max_iter, random_state=seed,
                                 **mlp_kwargs).fit(X_tr, t_tr)
            dist = MLPRegressor(hidden_layer_sizes=student_hidden, max_iter=max_iter, random_state=seed,
                                 **mlp_kwargs).fit(X_tr, soft)
        out["teacher_r2"].append(teacher.score(X_te, t_te))
        out["hard_r2"].append(hard.score(X_te, t_te))
        out["distilled_r2"].append(dist.score(X_te, t_te))
        out["teacher_rmse_sd"].append(float(np.sqrt(np.mean((soft - t_tr) ** 2))))
    return {k: np.array(v) for k, v in out.items()}


# ----------------------------------------------------------------------------
# Side by side
# ----------------------------------------------------------------------------

def compare(make_student, runs: dict, X, y, X_val, y_val, X_test=None, y_test=None, *, seeds=(0,),
            **distill_kwargs) -> list[dict]:
    """Train the same student under several teachers and report side by side.

    runs : name -> dict(teacher=..., X_transfer=..., X=..., y=...) (missing keys: the
        defaults; teacher=None with soft_weight 0 is the hard-label reference).
        A run may override any distill keyword (temperature, soft_weight, ...).
    make_student : seed -> a fresh student ``Network``.
    Each row: name, entropy_bits (mean entropy of the soft targets at T = 1 on
    the rows the soft loss sees), val_mean/val_sd, test_mean/test_sd over seeds, seconds.
    """
    import time

    rows = []
    for name, run in runs.items():
        run = dict(run)
        teacher = run.pop("teacher", None)
        X_run, y_run = run.pop("X", X), run.pop("y", y)
        kwargs = {**distill_kwargs, **run}
        soft_rows = X_run if kwargs.get("X_transfer") is None else np.vstack([X_run, kwargs["X_transfer"]])
        hard_only = kwargs.get("soft_weight", 0.9) == 0
        teacher = default_teacher() if teacher is None and not hard_only else teacher
        H = float("nan") if hard_only else soft_target_entropy(teacher, soft_rows, 1.0)
        val, test, start = [], [], time.perf_counter()
        for seed in seeds:
            student, _ = distill(teacher if teacher is not None else _dummy_teacher(make_student(seed)),
                                 make_student(seed), X_run, y_run, random_state=seed, **kwargs)
            val.append(student.score(X_val, y_val))
            if X_test is not None:
                test.append(student.score(X_test, y_test))
        rows.append(dict(run=name, entropy_bits=H, val_mean=float(np.mean(val)), val_sd=float(np.std(val, ddof=1))
                         if len(val) > 1 else float("nan"),
                         test_mean=float(np.mean(test)) if test else float("nan"),
                         test_sd=float(np.std(test, ddof=1)) if len(test) > 1 else float("nan"),
                         seconds_per_student=(time.perf_counter() - start) / len(seeds)))
    return rows


def _dummy_teacher(student):
    """For a hard-label run (soft_weight 0) the teacher is never asked; the student stands in."""
    return student
