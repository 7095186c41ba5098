"""Optimal transport, the bottom layer: cost matrices, the Sinkhorn solver, sample-level losses.

Imports nothing else from ``sae``.
"""
from .costs import COSTS, cost_matrix
from .divergences import (SinkhornDivergenceResult, SinkhornLoss, exact_ot, exact_plan, sinkhorn_cost,
                          sinkhorn_divergence)
from .solver import ConvergenceWarning, SinkhornResult, round_plan, sinkhorn

__all__ = ["COSTS", "cost_matrix", "sinkhorn", "SinkhornResult", "ConvergenceWarning", "round_plan",
           "sinkhorn_cost", "sinkhorn_divergence", "SinkhornDivergenceResult", "SinkhornLoss", "exact_ot",
           "exact_plan"]
