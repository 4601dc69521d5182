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
def suite_quiet():
    """The test starts once no background job of the suite runs: pytest-randomly may run a
    dashboard test just before, whose .npz deflate or warm-up is still going (and holds BLAS
    at one thread). For tests that count jobs or read BLAS's own thread count."""
    from compresslab.metrics import busy_jobs, wait_until_quiet

    assert wait_until_quiet(120), busy_jobs()


@pytest.fixture()
def rng():
    return np.random.default_rng(0)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# --- test order -------------------------------------------------------------------------
# With pytest-randomly (the dev extra) the tests run in a random order, its seed printed in
# the header ("Using --randomly-seed=N"; rerun that order with -p randomly --randomly-seed=N,
# or keep file order with -p no:randomly). The browser tests share one JupyterLab server
# and one Chromium, so they run last and in the order they are written, whatever the seed.

_COLLECTED = {}


def pytest_itemcollected(item):
    _COLLECTED[item.nodeid] = len(_COLLECTED)          # the order the files define


def pytest_collection_modifyitems(config, items):
    # runs after pytest-randomly's shuffle (a wrapper that reorders before the other hooks)
    browser = sorted((item for item in items if item.get_closest_marker("browser")),
                     key=lambda item: _COLLECTED.get(item.nodeid, 0))
    if browser:
        items[:] = [item for item in items if not item.get_closest_marker("browser")] + browser


def pytest_report_header(config):
    randomly = config.pluginmanager.hasplugin("randomly") and config.getoption("randomly_reorganize", False)
    return "test order: " + ("random (seed above), browser tests last in file order" if randomly
                             else "file order (pytest-randomly not active)")
