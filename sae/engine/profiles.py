"""The one table of run sizes: everything that differs between the ``smoke``, ``quick`` and ``paper``
profiles, per study. Nothing else in the package or the book depends on the profile's name.

    sizes("solver", "quick").n             # points per cloud in the Sinkhorn chapter
    sizes("experiment", profile)           # the settings every training run of that profile starts from

``smoke`` is seconds per chapter (the tests), ``quick`` CPU minutes (``make book``, CI), ``paper``
the paper's scale (a GPU). A profile is *not* part of a run's identity: two profiles that ask for
the same settings share a run (:mod:`sae.engine.store`).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass

PROFILES = ("smoke", "quick", "paper")
DEFAULT = "quick"        # what `make book`, CI and the command line use unless told otherwise


@dataclass(frozen=True)
class ComparisonSizes:
    """The comparison and ablation tables: which MNIST, the seeds, the ε/L sensitivity grid of SAE
    (both priors, seed 0), the batch sizes of the step-time study and the bootstrap resamplings
    behind each standard error of the FID-protocol study (display only: no verdict uses them)."""
    dataset: str
    seeds: list[int]
    sensitivity_eps: list[float]
    sensitivity_L: list[int]
    step_batches: list[int]
    protocol_boot: int


@dataclass(frozen=True)
class SolverSizes:
    """The Sinkhorn chapter: points per cloud, ε grid length, iterations of the convergence
    curves, live benchmark sizes and repeats, L values of the gradient study."""
    n: int
    n_eps: int
    convergence_iter: int
    bench_sizes: list[int]
    bench_repeat: int
    grad_L: list[int]


@dataclass(frozen=True)
class TheorySizes:
    """The theory chapter: atoms per measure, random trials, encoder fitting and training steps,
    Monte Carlo draws, ε grid length."""
    n: int
    trials: int
    fit_steps: list[int]
    train_steps: int
    mc: int
    n_eps: int


@dataclass(frozen=True)
class GeometrySizes:
    """Latent geometry: Swiss-roll encoder epochs (7 steps each; quick and paper run until the loss
    has levelled off, which the chapter checks) and Sinkhorn iterations L, latent dimensions of the
    Gaussian-shell study, t-SNE iterations."""
    roll_epochs: int
    roll_L: int
    shell_dims: list[int]
    tsne_iter: int


@dataclass(frozen=True)
class Epochs:
    """A study that only sets how long its runs train."""
    epochs: int


SIZES: dict[str, dict[str, object]] = {
    # Settings every training run starts from (ExperimentConfig fields, nested ones as dicts); the
    # paper's: all of MNIST, 100 epochs, batch 128 (ICLR §6), the 512-512 MLP of the config default.
    "experiment": {
        "smoke": {"data": {"n_train": 256, "n_test": 128}, "train": {"epochs": 1, "batch_size": 64, "fid_every": 1},
                  "hidden": (64, 64)},
        # a live check of the code, not evidence (the stored full-MNIST sweeps are): sized so that
        # `make book` builds every chapter within 20 minutes on 2 idle cores
        "quick": {"data": {"n_train": 4000, "n_test": 1000}, "train": {"epochs": 6, "batch_size": 64, "fid_every": 3},
                  "hidden": (256, 256)},
        "paper": {"data": {"n_train": None, "n_test": None}, "train": {"epochs": 100, "batch_size": 128,
                                                                         "fid_every": 10}},
    },
    "comparison": {
        "smoke": ComparisonSizes("mnist", [0], [0.1, 10.0], [10], [32, 64], 3),
        "quick": ComparisonSizes("mnist", [0, 1], [0.01, 0.1, 1.0, 10.0], [50], [64, 128, 256, 512, 1024], 15),
        "paper": ComparisonSizes("mnist_full", [0, 1, 2, 3, 4], [0.001, 0.01, 0.1, 1.0, 10.0], [10, 50, 200],
                                 [64, 128, 256, 512, 1024, 2048], 30),
    },
    "solver": {
        "smoke": SolverSizes(40, 6, 200, [128], 2, [10, 50]),
        "quick": SolverSizes(200, 12, 1000, [256, 1024], 3, [10, 50, 100, 200]),
        "paper": SolverSizes(500, 16, 3000, [256, 1024, 4096], 5, [10, 50, 100, 200, 400]),
    },
    "theory": {
        "smoke": TheorySizes(16, 20, [0, 50, 500], 40, 20_000, 6),
        "quick": TheorySizes(48, 200, [0, 10, 30, 100, 300, 1000], 250, 200_000, 10),
        "paper": TheorySizes(128, 1000, [0, 10, 30, 100, 300, 1000, 3000], 1000, 2_000_000, 16),
    },
    "geometry": {
        "smoke": GeometrySizes(10, 20, [2, 8], 250),
        "quick": GeometrySizes(60, 100, [2, 32], 1000),      # two ends: `make book` within 20 minutes
        "paper": GeometrySizes(200, 500, [2, 8, 16, 32, 64], 1000),
    },
    # Dirichlet priors: training epochs (twice quick's 6: softmax codes take longer to settle).
    "simplex": {"smoke": Epochs(1), "quick": Epochs(12), "paper": Epochs(100)},
    # The what/where toy: training epochs (a few more than 8, for the spatial transformer to lock on).
    "probprog": {"smoke": Epochs(1), "quick": Epochs(10), "paper": Epochs(100)},
}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r} (check SAE_PROFILE or -p profile)")
    return profile


def sizes(study: str, profile: str):
    """The sizes ``study`` uses at ``profile`` (a copy: callers may change it freely).

    Args:
        study (str): one of the keys of ``SIZES`` (``"experiment"``, ``"comparison"``, ``"solver"``, …).
        profile (str): ``"smoke"``, ``"quick"`` or ``"paper"``.

    Returns:
        that study's settings at that profile: a dict of ExperimentConfig fields for
        ``"experiment"``, otherwise the study's sizes record (``ComparisonSizes``, ``SolverSizes``, …).

    Raises:
        ValueError: an unknown study or profile (the message lists the known ones).

    Example:
        >>> sizes("solver", "smoke").n
        40
    """
    check_profile(profile)
    if study not in SIZES:
        raise ValueError(f"study must be one of {sorted(SIZES)}, got {study!r}")
    return copy.deepcopy(SIZES[study][profile])


def default_profile() -> str:
    """The run size a chapter uses unless papermill overrides it: ``$SAE_PROFILE`` or ``"quick"``.

    ``make book PROFILE=paper`` exports ``SAE_PROFILE``; that is how the choice reaches every chapter.

    Returns:
        str: ``"smoke"``, ``"quick"`` or ``"paper"``.

    Raises:
        ValueError: ``$SAE_PROFILE`` names no profile.
    """
    return check_profile(os.environ.get("SAE_PROFILE", DEFAULT))
