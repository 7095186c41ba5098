"""The one table of run sizes: everything that differs between the ``smoke``, ``quick`` and ``paper``
profiles, per study. Nothing else in the package or the book depends on the profile's name.

    sizes("solver", "quick")["n"]          # points per cloud in the Sinkhorn chapter
    sizes("experiment", profile)           # the settings every training run of that profile starts from

``smoke`` is seconds per chapter (the tests), ``quick`` CPU minutes (``make book``, CI), ``paper``
the paper's scale (a GPU). A profile is *not* part of a run's identity: two profiles that ask for
the same settings share a run (:mod:`sae.engine.store`).
"""
from __future__ import annotations

import copy
import os

PROFILES = ("smoke", "quick", "paper")
DEFAULT = "quick"        # what `make book`, CI and the command line use unless told otherwise

SIZES: dict[str, dict[str, dict]] = {
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
    # The comparison and ablation tables: which MNIST, how many seeds, the ε/L sensitivity grid of
    # SAE (both priors, seed 0) and the batch sizes of the step-time study.
    "comparison": {
        "smoke": {"dataset": "mnist", "seeds": [0], "sensitivity_eps": [0.1, 10.0], "sensitivity_L": [10],
                  "step_batches": [32, 64]},
        "quick": {"dataset": "mnist", "seeds": [0, 1], "sensitivity_eps": [0.01, 0.1, 1.0, 10.0],
                  "sensitivity_L": [50], "step_batches": [64, 128, 256, 512, 1024]},
        "paper": {"dataset": "mnist_full", "seeds": [0, 1, 2, 3, 4], "sensitivity_eps": [0.001, 0.01, 0.1, 1.0, 10.0],
                  "sensitivity_L": [10, 50, 200], "step_batches": [64, 128, 256, 512, 1024, 2048]},
    },
    # The Sinkhorn chapter: points per cloud, ε grid length, iterations of the convergence curves,
    # live benchmark sizes and repeats, L values of the gradient study.
    "solver": {
        "smoke": {"n": 40, "n_eps": 6, "convergence_iter": 200, "bench_sizes": [128], "bench_repeat": 2,
                  "grad_L": [10, 50]},
        "quick": {"n": 200, "n_eps": 12, "convergence_iter": 1000, "bench_sizes": [256, 1024], "bench_repeat": 3,
                  "grad_L": [10, 50, 100, 200]},
        "paper": {"n": 500, "n_eps": 16, "convergence_iter": 3000, "bench_sizes": [256, 1024, 4096],
                  "bench_repeat": 5, "grad_L": [10, 50, 100, 200, 400]},
    },
    # The theory chapter: atoms per measure, random trials, encoder fitting and training steps,
    # Monte Carlo draws, ε grid length.
    "theory": {
        "smoke": {"n": 16, "trials": 20, "fit_steps": [0, 50, 500], "train_steps": 40, "mc": 20_000, "n_eps": 6},
        "quick": {"n": 48, "trials": 200, "fit_steps": [0, 10, 30, 100, 300, 1000], "train_steps": 250,
                  "mc": 200_000, "n_eps": 10},
        "paper": {"n": 128, "trials": 1000, "fit_steps": [0, 10, 30, 100, 300, 1000, 3000], "train_steps": 1000,
                  "mc": 2_000_000, "n_eps": 16},
    },
    # Latent geometry: Swiss-roll encoder epochs (7 steps each; quick and paper run until the loss
    # has levelled off, which the chapter checks) and Sinkhorn iterations L, latent dimensions of
    # the Gaussian-shell study, t-SNE iterations.
    "geometry": {
        "smoke": {"roll_epochs": 10, "roll_L": 20, "shell_dims": [2, 8], "tsne_iter": 250},
        "quick": {"roll_epochs": 60, "roll_L": 100, "shell_dims": [2, 8, 32], "tsne_iter": 1000},
        "paper": {"roll_epochs": 200, "roll_L": 500, "shell_dims": [2, 8, 16, 32, 64], "tsne_iter": 1000},
    },
    # Dirichlet priors: training epochs (twice quick's 6: softmax codes take longer to settle).
    "simplex": {"smoke": {"epochs": 1}, "quick": {"epochs": 12}, "paper": {"epochs": 100}},
    # The what/where toy: training epochs (a few more than 8, for the spatial transformer to lock on).
    "probprog": {"smoke": {"epochs": 1}, "quick": {"epochs": 10}, "paper": {"epochs": 100}},
}


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r} (check SAE_PROFILE or -p profile)")
    return profile


def sizes(study: str, profile: str) -> dict:
    """The sizes ``study`` uses at ``profile`` (a copy: callers may change it freely).

    Args:
        study (str): one of the keys of ``SIZES`` (``"experiment"``, ``"comparison"``, ``"solver"``, …).
        profile (str): ``"smoke"``, ``"quick"`` or ``"paper"``.

    Returns:
        dict: that study's settings at that profile.

    Raises:
        ValueError: an unknown study or profile (the message lists the known ones).

    Example:
        >>> sizes("solver", "smoke")["n"]
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
