"""Everything the reproduction report judges, gathered through the very calls the chapters make,
at the same profile and sizes: trained runs are reloaded from the store, the rest is recomputed
(cheap, and identical because every study seeds its own generators)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..engine.config import ExperimentConfig
from ..engine.profiles import sizes
from ..engine.sweeps import table_config
from . import comparison, geometry, probprog, simplex, theory
from .solver import Limits


@dataclass
class Evidence:
    profile: str
    setup: ExperimentConfig          # the comparison's SAE-sphere config (data, epochs, latent size)
    runs: pd.DataFrame               # comparison table, one line per run
    summary: pd.DataFrame            # ... per row, with mean code variance
    ablation_runs: pd.DataFrame      # ICLR Table 1, one line per run
    ablation: pd.DataFrame           # ... per row
    sensitivity: comparison.Sensitivity   # SAE across ε and L
    roll: geometry.SwissRollStudy
    knn: geometry.KnnStudy
    dirichlet: simplex.SimplexStudy
    probprog: probprog.ProbprogStudy
    bound: theory.BoundStudy         # theory: min-min bound on random pairs
    sphere: theory.SphereStudy       # theory: repulsion on the sphere
    limits: Limits                   # theory: the entropic limits


def gather(profile: str) -> Evidence:
    runs = comparison.run_table(profile)
    summary = comparison.with_code_variance(comparison.summarise(runs, ["label", "prior", "method"]), runs)
    ablation_runs = comparison.run_ablation(profile)
    ablation = comparison.summarise(ablation_runs, ["solver", "assignment", "beta"])
    t = sizes("theory", profile)
    return Evidence(profile, table_config(profile, "sae", "sphere", 0), runs, summary, ablation_runs, ablation,
                    comparison.run_sensitivity(profile), geometry.swiss_roll_study(profile),
                    geometry.mnist_knn_study(profile), simplex.study(profile), probprog.study(profile),
                    theory.bound_table(t.n, t.trials), theory.sphere_table(t.mc),
                    theory.entropic_limits(theory.monge_setup(t.n), t.n_eps))
