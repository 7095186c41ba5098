"""sae: the package behind the Sinkhorn AutoEncoders companion book.

Flat public surface (as POT's ``ot.*``): the Sinkhorn solver and OT losses here; priors, models,
data, training and metrics in their submodules.
"""
from .costs import cost_matrix
from .divergences import exact_ot, exact_plan, sinkhorn_cost, sinkhorn_divergence
from .sinkhorn import ConvergenceWarning, SinkhornResult, round_plan, sinkhorn
from .utils import default_profile, repo_root

__version__ = "0.1.0"

__all__ = [
    "cost_matrix", "sinkhorn", "SinkhornResult", "ConvergenceWarning", "round_plan",
    "sinkhorn_cost", "sinkhorn_divergence", "exact_ot", "exact_plan",
    "default_profile", "repo_root", "__version__",
]
