"""Pairwise cost matrices between point clouds.

Conventions follow POT where they overlap: ``"sqeuclidean"`` is ``‖x − y‖²`` exactly as
``ot.dist(x, y)`` (no factor ½, unlike GeomLoss), which is also the paper's latent cost c′.
"""
from __future__ import annotations

import torch
from torch import Tensor


class NonFiniteError(ValueError):
    """Points or costs hold NaN or infinite values (a diverged model's codes, typically); the
    message names the argument. Training catches it and reports a diverged loss."""

COSTS = ("sqeuclidean", "euclidean", "cosine", "geodesic")


def _check_points(x: Tensor, y: Tensor) -> None:
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() not in (2, 3):
            raise ValueError(f"{name} must have shape (N, D) or (B, N, D), got {tuple(t.shape)}")
        if t.shape[-2] == 0:
            raise ValueError(f"{name} is empty: it has no points")
        if not torch.isfinite(t).all():
            raise NonFiniteError(f"{name} contains NaN or infinite values")
    if x.dim() != y.dim():
        raise ValueError(f"x and y must both be batched or both unbatched, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y must have points of the same dimension, got D={x.shape[-1]} and D={y.shape[-1]}")
    if x.dim() == 3 and x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size, got {x.shape[0]} and {y.shape[0]}")


def _unit(t: Tensor) -> Tensor:
    return t / t.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(t.dtype).tiny)


def cost_matrix(x: Tensor, y: Tensor, cost: str = "sqeuclidean", p: float = 1.0) -> Tensor:
    r"""Cost matrix ``C[..., i, j] = c(x_i, y_j)``.

    Args:
        x ((N, D) or (B, N, D) Tensor): source points.
        y ((M, D) or (B, M, D) Tensor): target points.
        cost (str): ``"sqeuclidean"`` ‖x−y‖² (POT's ``ot.dist``); ``"euclidean"`` ‖x−y‖^p;
            ``"cosine"`` 1 − cos∠(x, y); ``"geodesic"`` the great-circle angle arccos⟨x̂, ŷ⟩
            (``"cosine"`` and ``"geodesic"`` normalise the points onto the sphere first).
        p (float): power of the Euclidean distance, used by ``"euclidean"`` only.

    Returns:
        (N, M) or (B, N, M) Tensor, differentiable in both clouds.

    Raises:
        ValueError: clouds that are not finite (N, D) / (B, N, D) tensors of one dimension D and one
            batch size, an empty cloud, an unknown ``cost``, or ``p`` ≤ 0.

    References:
        ``ot.dist`` in POT (Flamary et al., 2021, *POT: Python Optimal Transport*), whose
        ``"sqeuclidean"`` convention this follows.

    Example:
        >>> cost_matrix(torch.zeros(2, 3), torch.ones(1, 3))
        tensor([[3.],
                [3.]])
    """
    _check_points(x, y)
    if cost == "sqeuclidean":
        # ‖x‖² + ‖y‖² − 2⟨x, y⟩ as one matrix product; clamp the tiny negatives rounding makes.
        xx = (x * x).sum(-1).unsqueeze(-1)  # (…, N, 1)
        yy = (y * y).sum(-1).unsqueeze(-2)  # (…, 1, M)
        return (xx + yy - 2 * x @ y.transpose(-1, -2)).clamp_min(0)
    if cost == "euclidean":
        if not p > 0:
            raise ValueError(f"p must be positive, got {p}")
        # Exact differences, not the ‖x‖²+‖y‖²−2⟨x,y⟩ shortcut cdist takes above 25 points, whose
        # cancellation errors matter for near-coincident points; backward is 0 (not NaN) there.
        d = torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")
        return d if p == 1 else d.pow(p)
    if cost in ("cosine", "geodesic"):
        cos = _unit(x) @ _unit(y).transpose(-1, -2)
        if cost == "cosine":
            return 1 - cos
        # arccos has an infinite slope at ±1: stay a hair inside so gradients stay finite.
        lim = 1 - 10 * torch.finfo(cos.dtype).eps
        return torch.arccos(cos.clamp(-lim, lim))
    raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")
