"""A dataset and its pretrained network, loaded, timed and scored once.

Every notebook and dashboard starts from the same four facts: the data, the
pretrained float64 network, how long its forward pass over the test set takes
(the ``s`` of speedup delta = s / s*) and its test accuracy. ``load_baseline``
gathers them in one call, so no cell repeats the load / time / score steps and
every measured speedup divides by the same timing.

Core module: NumPy and scikit-learn only (no matplotlib, no ipywidgets).
"""
from __future__ import annotations

from dataclasses import dataclass

from .data import Dataset, load_dataset
from .metrics import time_forward
from .models import load_pretrained
from .network import Network, from_sklearn


@dataclass(frozen=True)
class Baseline:
    """A dataset and its pretrained float64 network, timed and scored once.

    ``seconds``: median forward pass over ``dataset.X_test`` (``time_forward``);
    ``accuracy``: test accuracy. Frozen: the numbers describe ``network`` as it
    was loaded; train a ``network.copy()``, never the baseline itself.
    """

    dataset: Dataset
    network: Network
    seconds: float
    accuracy: float

    @property
    def name(self) -> str:
        return self.dataset.name

    def __repr__(self):
        return (f"Baseline({self.name!r}: {self.network.n_params:,} params, test accuracy "
                f"{self.accuracy:.2%}, {1e3 * self.seconds:.2f} ms per test-set forward pass)")


def load_baseline(name: str, *, repeats: int = 7) -> Baseline:
    """Load dataset ``name`` and its pretrained network; time and score it once.

    ``repeats``: timings whose median is ``seconds`` (after a warm-up call).
    """
    dataset = load_dataset(name)
    network = from_sklearn(load_pretrained(name))
    return Baseline(dataset, network, time_forward(network, dataset.X_test, repeats=repeats),
                    network.score(dataset.X_test, dataset.y_test))
