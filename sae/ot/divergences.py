"""Sample-level OT losses: thin wrappers over :func:`sae.sinkhorn` and POT's exact solver."""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .costs import cost_matrix
from .solver import sinkhorn

__all__ = ["sinkhorn_cost", "sinkhorn_divergence", "exact_ot", "exact_plan"]


def sinkhorn_cost(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
                  eps: float, cost: str = "sqeuclidean", **kw) -> Tensor:
    """Sharp Sinkhorn cost ⟨P*, C⟩ between point clouds x (N, D) and y (M, D) (ICLR Eq. 10)."""
    return sinkhorn(cost_matrix(x, y, cost), a, b, eps=eps, **kw).cost


def sinkhorn_divergence(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
                        eps: float, cost: str = "sqeuclidean",
                        kind: Literal["sharp", "regularized"] = "sharp", **kw) -> Tensor:
    r"""Debiased Sinkhorn divergence S(x, y) = T(x, y) − ½T(x, x) − ½T(y, y) (UAI Eq. 8 and 12).

    T is the sharp cost ⟨P*, C⟩ (``kind="sharp"``, the loss the paper trains on) or the regularised
    value ⟨P*, C⟩ + ε KL(P*‖a⊗b) (``kind="regularized"``). No clamping at 0, unlike POT's
    ``empirical_sinkhorn_divergence``: a negative sharp divergence is information, not an error.
    When x and y have the same number of points the three problems are solved as one batch.

    Args:
        x ((N, D) Tensor), y ((M, D) Tensor): point clouds. a, b: weights, uniform if None.
        eps (float): ε. cost (str): see :func:`sae.cost_matrix`. **kw: passed to :func:`sae.sinkhorn`.
    """
    if kind not in ("sharp", "regularized"):
        raise ValueError(f"kind must be 'sharp' or 'regularized', got {kind!r}")
    if x.dim() != 2 or y.dim() != 2:
        raise ValueError(f"x and y must have shape (N, D) and (M, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    pick = (lambda r: r.cost) if kind == "sharp" else (lambda r: r.value)
    n, m = x.shape[0], y.shape[0]
    a = torch.full((n,), 1.0 / n, dtype=x.dtype, device=x.device) if a is None else a
    b = torch.full((m,), 1.0 / m, dtype=y.dtype, device=y.device) if b is None else b
    if n == m and a.shape == b.shape:
        C = torch.stack([cost_matrix(x, y, cost), cost_matrix(x, x, cost), cost_matrix(y, y, cost)])
        t = pick(sinkhorn(C, torch.stack([a, a, b]), torch.stack([b, a, b]), eps=eps, **kw))  # (3,)
        return t[0] - 0.5 * (t[1] + t[2])
    t_xy = pick(sinkhorn(cost_matrix(x, y, cost), a, b, eps=eps, **kw))
    t_xx = pick(sinkhorn(cost_matrix(x, x, cost), a, a, eps=eps, **kw))
    t_yy = pick(sinkhorn(cost_matrix(y, y, cost), b, b, eps=eps, **kw))
    return t_xy - 0.5 * (t_xx + t_yy)


def exact_plan(C: Tensor, a: Tensor | None = None, b: Tensor | None = None) -> Tensor:
    """Exact optimal plan of the linear program min ⟨P, C⟩ over U(a, b), by POT's network simplex."""
    import ot  # POT is imported lazily: the solver above does not need it

    n, m = C.shape[-2:]
    Cd = C.detach().to(torch.float64).cpu()
    a = torch.full((n,), 1.0 / n, dtype=torch.float64) if a is None else a.detach().to(torch.float64).cpu()
    b = torch.full((m,), 1.0 / m, dtype=torch.float64) if b is None else b.detach().to(torch.float64).cpu()
    P = ot.emd(a, b, Cd, numItermax=max(100_000, 50 * n * m))
    return P.to(dtype=C.dtype, device=C.device)


def exact_ot(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
             cost: str = "sqeuclidean", p: float = 1.0) -> Tensor:
    """Exact OT cost min_P ⟨P, C⟩ between point clouds (the Hungarian baseline, HAE).

    With uniform weights and N = M this is an assignment problem. The plan is found by POT
    (``ot.emd``) and held fixed, so the gradient flows through the matched pairs' costs, as in
    the paper's HAE. Works on any device (the LP itself runs on the CPU in float64).
    """
    C = cost_matrix(x, y, cost, p=p)
    return (exact_plan(C, a, b) * C).sum((-2, -1))
