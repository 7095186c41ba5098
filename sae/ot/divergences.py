"""Sample-level OT losses: thin wrappers over :func:`sae.sinkhorn` and POT's exact solver."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import torch
from torch import Tensor

from .costs import COSTS, cost_matrix
from .solver import SinkhornResult, iteration_budget, sinkhorn

__all__ = ["sinkhorn_cost", "sinkhorn_divergence", "SinkhornDivergenceResult", "SinkhornLoss", "exact_ot",
           "exact_plan"]


def sinkhorn_cost(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
                  eps: float, cost: str = "sqeuclidean", **kw) -> Tensor:
    r"""Sharp Sinkhorn cost ⟨P*, C⟩ between two point clouds (ICLR Eq. 10): the entropic plan's
    transport cost, without the entropy term and without debiasing.

    Args:
        x ((N, D) or (B, N, D) Tensor), y ((M, D) or (B, M, D) Tensor): point clouds.
        a ((N,) or (B, N) Tensor, optional), b ((M,) or (B, M) Tensor, optional): weights; uniform if None.
        eps (float): ε, in cost units.
        cost (str): see :func:`sae.cost_matrix`.
        **kw: the other settings of :func:`sae.sinkhorn` (``max_iter``, ``tol``, ``grad``, …).

    Returns:
        () or (B,) Tensor.

    Raises:
        ValueError: as :func:`sae.cost_matrix` and :func:`sae.sinkhorn`.

    References:
        Luise, Rudi, Pontil & Ciliberto (2018), *Differential properties of Sinkhorn approximation
        for learning with Wasserstein distance* (the sharp cost).

    Example:
        >>> x = torch.tensor([[0.0], [1.0]])
        >>> round(sinkhorn_cost(x, x, eps=0.01).item(), 4)
        0.0
    """
    return sinkhorn(cost_matrix(x, y, cost), a, b, eps=eps, **kw).cost


@dataclass(frozen=True, eq=False)
class SinkhornDivergenceResult:
    r"""The debiased Sinkhorn divergence and the three entropic problems behind it.

    ``S = T(x, y) − ½ T(x, x) − ½ T(y, y)``, with T the sharp cost ⟨P*, C⟩ or the regularised
    value ⟨P*, C⟩ + ε KL(P*‖a⊗b) of each problem. Both combinations are available whatever ``kind``
    was asked for; ``value`` is the one of ``kind``, the loss :class:`SinkhornLoss` returns.

    Attributes:
        value: () or (B,) tensor, S for ``kind``; differentiable as the solves were asked.
        kind: ``"sharp"`` or ``"regularized"``.
        xy: the :class:`SinkhornResult` of T(x, y) (plan, potentials, marginal errors per check,
            ``converged``), batched as the input was; ``xx`` and ``yy`` likewise for T(x, x), T(y, y).
    """

    value: Tensor
    kind: str
    _solves: tuple = field(repr=False)      # ((SinkhornResult, index or None), …) for xy, xx, yy
    _lead: tuple = field(repr=False)

    @cached_property
    def xy(self) -> SinkhornResult:
        return _part(*self._solves[0])

    @cached_property
    def xx(self) -> SinkhornResult:
        return _part(*self._solves[1])

    @cached_property
    def yy(self) -> SinkhornResult:
        return _part(*self._solves[2])

    def _combine(self, attr: str) -> Tensor:
        t = [getattr(r, attr) for r in (self.xy, self.xx, self.yy)]
        return t[0] - 0.5 * (t[1] + t[2])

    @property
    def sharp(self) -> Tensor:
        """S with T = ⟨P*, C⟩ (UAI Eq. 12), the loss the paper trains on."""
        return self.value if self.kind == "sharp" else self._combine("cost")

    @property
    def regularized(self) -> Tensor:
        """S with T = ⟨P*, C⟩ + ε KL(P*‖a⊗b) (UAI Eq. 8)."""
        return self.value if self.kind == "regularized" else self._combine("value")

    @property
    def marginal_error(self) -> Tensor:
        """The largest last-checked marginal error of the three sub-problems (per batch element)."""
        return torch.stack([r.errors[-1] for r in (self.xy, self.xx, self.yy)]).amax(0)

    @property
    def converged(self) -> bool | None:
        """All three sub-problems reached ``tol``; None when no ``tol`` was asked for."""
        flags = [r.converged for r in (self.xy, self.xx, self.yy)]
        return None if flags[0] is None else all(flags)

    @property
    def n_iter(self) -> int:
        """Iterations run (the most of the three sub-problems)."""
        return max(r.n_iter for r in (self.xy, self.xx, self.yy))


def _part(res: SinkhornResult, index) -> SinkhornResult:
    """Sub-problem ``index`` (an int, or a slice of the batch) of a batched solve; the whole result for None."""
    return res if index is None else res.select(index)


def sinkhorn_divergence(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
                        eps: float, max_iter: int | None = None, tol: float | None = None, check_every: int = 10,
                        grad: Literal["unrolled", "envelope"] = "unrolled", cost: str = "sqeuclidean",
                        kind: Literal["sharp", "regularized"] = "sharp") -> SinkhornDivergenceResult:
    r"""Debiased Sinkhorn divergence S(x, y) = T(x, y) − ½T(x, x) − ½T(y, y) (UAI Eqs. 8 and 12).

    T is the sharp cost ⟨P*, C⟩ (``kind="sharp"``, the loss the paper trains on) or the regularised
    value ⟨P*, C⟩ + ε KL(P*‖a⊗b) (``kind="regularized"``), each P* the entropic plan of
    :func:`sae.sinkhorn` for that pair. No clamping at 0, unlike POT's
    ``empirical_sinkhorn_divergence``: a negative sharp divergence is information, not an error.
    When x and y have the same number of points the three problems are solved as one batch.

    Args:
        x ((N, D) or (B, N, D) Tensor), y ((M, D) or (B, M, D) Tensor): point clouds (batched: B
            independent pairs).
        a ((N,) or (B, N) Tensor, optional), b ((M,) or (B, M) Tensor, optional): weights of equal
            total mass; uniform if None.
        eps (float): ε, in cost units (POT's ``reg``).
        max_iter (int, optional): L, the iterations of each sub-problem. Given alone: exactly L
            (the paper's fixed L, no tolerance, no warning).
        tol (float, optional): stop a sub-problem once its marginal error < ``tol``, checked every
            ``check_every`` iterations, and warn (``ConvergenceWarning``) if it never is. With
            neither setting: ``tol = 1e-5`` within 1000 iterations (``sae.ot.iteration_budget``).
        check_every (int): block length of :func:`sae.sinkhorn`.
        grad (str): ``"unrolled"`` (through the iterations) or ``"envelope"``.
        cost (str): see :func:`sae.cost_matrix`.
        kind (str): ``"sharp"`` or ``"regularized"``: which T ``value`` combines.

    Returns:
        SinkhornDivergenceResult: ``value`` (() or (B,) Tensor), both combinations (``sharp``,
        ``regularized``), the three sub-problems ``xy``, ``xx``, ``yy`` and their convergence.

    Raises:
        ValueError: on a bad ``kind``, shapes that do not pair up, non-finite points, or a setting
            :func:`sae.sinkhorn` refuses (the message names it).

    References:
        Genevay, Peyré & Cuturi (2018), *Learning generative models with Sinkhorn divergences*;
        Feydy et al. (2019), *Interpolating between optimal transport and MMD using Sinkhorn
        divergences*; Luise et al. (2018) for the sharp cost.

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
        >>> r = sinkhorn_divergence(x, x + 1.0, eps=0.01, max_iter=200)
        >>> round(r.value.item(), 2), r.xy.plan.shape
        (2.0, torch.Size([2, 2]))
    """
    if kind not in ("sharp", "regularized"):
        raise ValueError(f"kind must be 'sharp' or 'regularized', got {kind!r}")
    if not isinstance(x, Tensor) or not isinstance(y, Tensor) or x.dim() not in (2, 3) or y.dim() != x.dim():
        raise ValueError(f"x and y must be tensors of shape (N, D) and (M, D), or (B, N, D) and (B, M, D); got "
                         f"{_shape(x)} and {_shape(y)}")
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
        r = sinkhorn(C, A, Bw, **solve)
        t = pick(r).reshape(3, *lead)
        nb = len(C) // 3
        where = [(r, slice(i * nb, (i + 1) * nb)) if lead else (r, i) for i in range(3)]
        return SinkhornDivergenceResult(t[0] - 0.5 * (t[1] + t[2]), kind, tuple(where), lead)
    rs = (sinkhorn(cost_matrix(x, y, cost), a, b, **solve), sinkhorn(cost_matrix(x, x, cost), a, a, **solve),
          sinkhorn(cost_matrix(y, y, cost), b, b, **solve))
    return SinkhornDivergenceResult(pick(rs[0]) - 0.5 * (pick(rs[1]) + pick(rs[2])), kind,
                                    tuple((r, None) for r in rs), lead)


def _shape(t) -> str:
    return str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__


class SinkhornLoss(torch.nn.Module):
    r"""The debiased Sinkhorn divergence between point clouds as a loss for any model.

    ``SinkhornLoss(eps=0.1, max_iter=50)(codes, prior_draws)`` is SAE's latent term (UAI Eq. 12):
    zero on identical clouds, symmetric, differentiable in both clouds and in the weights.
    Every setting is keyword-only and checked when the loss is built.

    Args:
        eps (float): ε, in cost units (POT's ``reg``; GeomLoss's ``blur**p``).
        max_iter (int, optional): L, the iterations run. Given alone: exactly L, a fixed
            computation graph (the paper's choice; SAE's configuration sets L = 50 this way).
        tol (float, optional): stop once the marginal error falls below it (checked every
            ``check_every`` iterations) and warn (``ConvergenceWarning``) if it never does.
            The default, with neither setting, converges: ``tol = 1e-5`` within 1000 iterations.
        cost (str): ``"sqeuclidean"`` (the paper's latent cost), ``"euclidean"``, ``"cosine"`` or
            ``"geodesic"``.
        kind (str): ``"sharp"`` (⟨P*, C⟩, the paper's) or ``"regularized"`` (with ε KL).
        grad (str): ``"unrolled"`` (through the iterations, the paper's) or ``"envelope"``.

    Shapes:
        x (N, D) and y (M, D) give a scalar; x (B, N, D) and y (B, M, D) give (B,). Optional weights
        a (N,) / (B, N) and b (M,) / (B, M) of equal total mass.

    Returns:
        Called on (x, y) or (x, y, a, b), the divergence's ``value``, a () or (B,) tensor
        (:func:`sinkhorn_divergence` gives the whole :class:`SinkhornDivergenceResult`).

    Raises:
        ValueError: at construction, a setting out of range or unknown (named in the message); at
            call, clouds or weights that :func:`sinkhorn_divergence` refuses.

    References:
        Patrini et al. (2019), *Sinkhorn AutoEncoders*, UAI, Eq. 12 and Algorithm 2; Feydy et al.
        (2019), *Interpolating between optimal transport and MMD using Sinkhorn divergences*.

    Example:
        >>> loss = SinkhornLoss(eps=0.1, max_iter=50)
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
        >>> round(loss(x, x).item(), 6)
        0.0
    """

    def __init__(self, *, eps: float = 0.1, max_iter: int | None = None, tol: float | None = None, check_every: int = 10,
                 cost: str = "sqeuclidean", kind: Literal["sharp", "regularized"] = "sharp",
                 grad: Literal["unrolled", "envelope"] = "unrolled"):
        super().__init__()
        max_iter, tol = iteration_budget(max_iter, tol)
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
        """The divergence between clouds x and y (weights a, b; uniform if None): () or (B,) tensor."""
        return sinkhorn_divergence(x, y, a, b, eps=self.eps, max_iter=self.max_iter, tol=self.tol,
                                   check_every=self.check_every, grad=self.grad, cost=self.cost, kind=self.kind).value

    def extra_repr(self) -> str:
        return (f"eps={self.eps:g}, max_iter={self.max_iter}, tol={self.tol}, cost={self.cost!r}, kind={self.kind!r}, "
                f"grad={self.grad!r}")


def exact_plan(C: Tensor, a: Tensor | None = None, b: Tensor | None = None) -> Tensor:
    """Exact optimal plan of the linear program min ⟨P, C⟩ over U(a, b), by POT's network simplex.

    Args:
        C ((N, M) Tensor): cost matrix (any device; solved on the CPU in float64).
        a ((N,) Tensor, optional), b ((M,) Tensor, optional): weights of equal mass; uniform if None.

    Returns:
        (N, M) Tensor: the plan, detached, in C's dtype and on C's device.

    Raises:
        ValueError: from POT, on weights that do not match C or differ in mass.

    References:
        Bonneel, van de Panne, Paris & Heidrich (2011), *Displacement interpolation using
        Lagrangian mass transport* (the network simplex of ``ot.emd``).

    Example:
        >>> exact_plan(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.5000]])
    """
    import ot  # POT is imported lazily: the solver above does not need it

    n, m = C.shape[-2:]
    Cd = C.detach().to(torch.float64).cpu()
    a = torch.full((n,), 1.0 / n, dtype=torch.float64) if a is None else a.detach().to(torch.float64).cpu()  # cpu: POT's emd
    b = torch.full((m,), 1.0 / m, dtype=torch.float64) if b is None else b.detach().to(torch.float64).cpu()  # cpu: POT's emd
    P = ot.emd(a, b, Cd, numItermax=max(100_000, 50 * n * m))
    return P.to(dtype=C.dtype, device=C.device)


def exact_ot(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, *,
             cost: str = "sqeuclidean", p: float = 1.0) -> Tensor:
    """Exact OT cost min_P ⟨P, C⟩ between point clouds (the Hungarian baseline, HAE).

    With uniform weights and N = M this is an assignment problem. The plan is found by POT
    (``ot.emd``) and held fixed, so the gradient flows through the matched pairs' costs, as in
    the paper's HAE. Works on any device (the LP itself runs on the CPU in float64).

    Args:
        x ((N, D) Tensor), y ((M, D) Tensor): point clouds.
        a ((N,) Tensor, optional), b ((M,) Tensor, optional): weights; uniform if None.
        cost (str): see :func:`sae.cost_matrix`. p (float): power for ``"euclidean"``.

    Returns:
        () Tensor, differentiable in x and y with the plan held fixed.

    Raises:
        ValueError: as :func:`sae.cost_matrix` and :func:`exact_plan`.

    References:
        Kuhn (1955), *The Hungarian method for the assignment problem*; Patrini et al. (2019),
        *Sinkhorn AutoEncoders* (HAE).

    Example:
        >>> x = torch.tensor([[0.0], [2.0]])
        >>> exact_ot(x, x + 1.0).item()
        1.0
    """
    C = cost_matrix(x, y, cost, p=p)
    return (exact_plan(C, a, b) * C).sum((-2, -1))
