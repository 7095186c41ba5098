"""Optimal transport, the bottom layer: cost matrices, the Sinkhorn solver, sample-level losses.

Imports nothing else from ``sae``.
"""
from .costs import COSTS, NonFiniteError, cost_matrix
from .divergences import (SinkhornDivergenceResult, SinkhornLoss, exact_ot, exact_plan, sinkhorn_cost,
                          sinkhorn_divergence)
from .solver import ConvergenceWarning, SinkhornResult, iteration_budget, round_plan, sinkhorn

__all__ = ["COSTS", "cost_matrix", "NonFiniteError", "sinkhorn", "SinkhornResult", "ConvergenceWarning", "round_plan", "iteration_budget",
           "sinkhorn_cost", "sinkhorn_divergence", "SinkhornDivergenceResult", "SinkhornLoss", "exact_ot",
           "exact_plan"]
