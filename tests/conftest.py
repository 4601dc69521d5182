import os

import numpy as np
import pytest

from compresslab.data import load_dataset
from compresslab.models import load_pretrained
from compresslab.network import from_sklearn


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def mnist5k():
    return load_dataset("mnist-5k")


@pytest.fixture(scope="session")
def digits_mlp():
    return load_pretrained("digits")


@pytest.fixture()
def digits_net(digits_mlp):
    return from_sklearn(digits_mlp)


@pytest.fixture(scope="session")
def mnist_net():
    return from_sklearn(load_pretrained("mnist-5k"))


@pytest.fixture()
def rng():
    return np.random.default_rng(0)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
