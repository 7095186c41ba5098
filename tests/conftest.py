import matplotlib

matplotlib.use("Agg")

import os
import random

import numpy as np
import pytest
import torch

# Two threads (these machines have two cores), or fewer when OMP_NUM_THREADS says so: with a
# one-thread sweep running in the background, a one-thread test run shares the cores without the
# OpenMP spin-waiting that two-thread processes inflict on each other. Under `make test` two
# pytest-xdist workers share the two cores: one thread each, for them and for what they start
# (notebook kernels, subprocesses).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(min(2, int(os.environ.get("OMP_NUM_THREADS", "2"))))


@pytest.fixture(autouse=True, scope="session")
def _write_only_to_temporary_folders(tmp_path_factory):
    """Runs, caches, benchmark output and figures go to a temporary folder for the whole session
    (subprocesses and notebook kernels inherit it): the tests leave no trace in the repository."""
    for var, name in (("SAE_RESULTS", "results"), ("SAE_FIGURES", "figures")):
        os.environ[var] = str(tmp_path_factory.mktemp(name))
    yield


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global random state (torch, numpy, random): a test that draws
    without an explicit generator is still reproducible, and its failure can be rerun."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_problem(n=30, m=40, d=3, seed=0, uniform=False):
    """Weighted point clouds and POT's squared-Euclidean cost, float64 numpy."""
    import ot

    r = np.random.default_rng(seed)
    x, y = r.normal(size=(n, d)), r.normal(size=(m, d)) + 1.0
    a = np.full(n, 1 / n) if uniform else r.uniform(0.5, 1.5, n)
    b = np.full(m, 1 / m) if uniform else r.uniform(0.5, 1.5, m)
    return a / a.sum(), b / b.sum(), ot.dist(x, y), x, y


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
