"""Sample-level OT losses: thin wrappers over :func:`sae.sinkhorn` and POT's exact solver."""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .costs import COSTS, cost_matrix
from .solver import sinkhorn

__all__ = ["sinkhorn_cost", "sinkhorn_divergence", "SinkhornLoss", "exact_ot", "exact_plan"]


def sinkhorn_cost(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
                  eps: float, cost: str = "sqeuclidean", **kw) -> Tensor:
    """Sharp Sinkhorn cost ⟨P*, C⟩ between point clouds x (N, D) and y (M, D) (ICLR Eq. 10)."""
    return sinkhorn(cost_matrix(x, y, cost), a, b, eps=eps, **kw).cost


def sinkhorn_divergence(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
                        eps: float, max_iter: int = 100, tol: float | None = None, check_every: int = 10,
                        grad: Literal["unrolled", "envelope"] = "unrolled", cost: str = "sqeuclidean",
                        kind: Literal["sharp", "regularized"] = "sharp") -> Tensor:
    r"""Debiased Sinkhorn divergence S(x, y) = T(x, y) − ½T(x, x) − ½T(y, y) (UAI Eq. 8 and 12).

    T is the sharp cost ⟨P*, C⟩ (``kind="sharp"``, the loss the paper trains on) or the regularised
    value ⟨P*, C⟩ + ε KL(P*‖a⊗b) (``kind="regularized"``). No clamping at 0, unlike POT's
    ``empirical_sinkhorn_divergence``: a negative sharp divergence is information, not an error.
    When x and y have the same number of points the three problems are solved as one batch.

    Args:
        x ((N, D) or (B, N, D) Tensor), y ((M, D) or (B, M, D) Tensor): point clouds (batched: B
            independent pairs). a, b ((N,) / (M,), or batched): weights, uniform if None.
        eps, max_iter, tol, check_every, grad: passed to :func:`sae.sinkhorn` (ε; L iterations, or
            until the marginal error < ``tol``; unrolled or envelope gradient).
        cost (str): see :func:`sae.cost_matrix`. kind (str): ``"sharp"`` or ``"regularized"``.

    Returns:
        () Tensor, or (B,) for batched clouds.
    """
    if kind not in ("sharp", "regularized"):
        raise ValueError(f"kind must be 'sharp' or 'regularized', got {kind!r}")
    if x.dim() not in (2, 3) or y.dim() != x.dim():
        raise ValueError(f"x and y must have shape (N, D) and (M, D), or (B, N, D) and (B, M, D); got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    solve = dict(eps=eps, max_iter=max_iter, tol=tol, check_every=check_every, grad=grad)
    pick = (lambda r: r.cost) if kind == "sharp" else (lambda r: r.value)
    lead, n, m = x.shape[:-2], x.shape[-2], y.shape[-2]
    a = torch.full(lead + (n,), 1.0 / n, dtype=x.dtype, device=x.device) if a is None else a.expand(lead + (n,))
    b = torch.full(lead + (m,), 1.0 / m, dtype=y.dtype, device=y.device) if b is None else b.expand(lead + (m,))
    if n == m:                                    # the three problems as one batch of 3 (or 3B)
        C = torch.cat([cost_matrix(x, y, cost).reshape(-1, n, m), cost_matrix(x, x, cost).reshape(-1, n, n),
                       cost_matrix(y, y, cost).reshape(-1, m, m)])
        A = torch.cat([a.reshape(-1, n), a.reshape(-1, n), b.reshape(-1, m)])
        Bw = torch.cat([b.reshape(-1, m), a.reshape(-1, n), b.reshape(-1, m)])
        t = pick(sinkhorn(C, A, Bw, **solve)).reshape(3, *lead)
        return t[0] - 0.5 * (t[1] + t[2])
    t_xy = pick(sinkhorn(cost_matrix(x, y, cost), a, b, **solve))
    t_xx = pick(sinkhorn(cost_matrix(x, x, cost), a, a, **solve))
    t_yy = pick(sinkhorn(cost_matrix(y, y, cost), b, b, **solve))
    return t_xy - 0.5 * (t_xx + t_yy)


class SinkhornLoss(torch.nn.Module):
    r"""The debiased Sinkhorn divergence between point clouds as a loss for any model.

    ``SinkhornLoss(eps=0.1, max_iter=50)(codes, prior_draws)`` is SAE's latent term (UAI Eq. 12):
    zero on identical clouds, symmetric, differentiable in both clouds and in the weights.
    Every setting is keyword-only and checked when the loss is built.

    Args:
        eps (float): ε, in cost units (POT's ``reg``; GeomLoss's ``blur**p``).
        max_iter (int): L, the iterations run (all of them unless ``tol`` stops earlier).
        tol (float, optional): stop once the marginal error falls below it (checked every
            ``check_every`` iterations). None: exactly ``max_iter`` iterations, the paper's choice.
        cost (str): ``"sqeuclidean"`` (the paper's latent cost), ``"euclidean"``, ``"cosine"`` or
            ``"geodesic"``.
        kind (str): ``"sharp"`` (⟨P*, C⟩, the paper's) or ``"regularized"`` (with ε KL).
        grad (str): ``"unrolled"`` (through the iterations, the paper's) or ``"envelope"``.

    Shapes:
        x (N, D) and y (M, D) give a scalar; x (B, N, D) and y (B, M, D) give (B,). Optional weights
        a (N,) / (B, N) and b (M,) / (B, M) of equal total mass.

    Example:
        >>> loss = SinkhornLoss(eps=0.1, max_iter=50)
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
        >>> round(loss(x, x).item(), 6)
        0.0
    """

    def __init__(self, *, eps: float = 0.1, max_iter: int = 50, tol: float | None = None, check_every: int = 10,
                 cost: str = "sqeuclidean", kind: Literal["sharp", "regularized"] = "sharp",
                 grad: Literal["unrolled", "envelope"] = "unrolled"):
        super().__init__()
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"eps must be a positive number, got {eps!r}")
        if not (isinstance(max_iter, int) and max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        if tol is not None and not tol > 0:
            raise ValueError(f"tol must be positive or None, got {tol!r}")
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
        if kind not in ("sharp", "regularized"):
            raise ValueError(f"kind must be 'sharp' or 'regularized', got {kind!r}")
        if grad not in ("unrolled", "envelope"):
            raise ValueError(f"grad must be 'unrolled' or 'envelope', got {grad!r}")
        self.eps, self.max_iter, self.tol, self.check_every = float(eps), max_iter, tol, check_every
        self.cost, self.kind, self.grad = cost, kind, grad

    def forward(self, x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None) -> Tensor:
        return sinkhorn_divergence(x, y, a, b, eps=self.eps, max_iter=self.max_iter, tol=self.tol,
                                   check_every=self.check_every, grad=self.grad, cost=self.cost, kind=self.kind)

    def extra_repr(self) -> str:
        return (f"eps={self.eps:g}, max_iter={self.max_iter}, tol={self.tol}, cost={self.cost!r}, kind={self.kind!r}, "
                f"grad={self.grad!r}")


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
