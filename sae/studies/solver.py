"""The numerical studies of the Sinkhorn chapter: each a few solver calls returning a record whose
``check()`` asserts what the theory says (an AssertionError with a sentence when it fails); the
chapter calls them, checks and plots. Sizes come from ``sizes("solver", profile)``
(:mod:`sae.engine.profiles`).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..ot import ConvergenceWarning, cost_matrix, exact_ot, round_plan, sinkhorn, sinkhorn_divergence


def toy_clouds(n: int, d: int = 2, seed: int = 0, dtype=torch.float64):
    """Two point clouds with uniform weights: a ring-shaped mixture and a shifted Gaussian."""
    g = torch.Generator().manual_seed(seed)
    angle = 2 * torch.pi * torch.rand(n, generator=g, dtype=dtype)
    ring = torch.stack([torch.cos(angle), torch.sin(angle)], 1) + 0.1 * torch.randn(n, 2, generator=g, dtype=dtype)
    x = torch.cat([ring, torch.zeros(n, d - 2, dtype=dtype)], 1) if d > 2 else ring
    y = 0.5 * torch.randn(n, d, generator=g, dtype=dtype) + torch.tensor([1.5] + [0.0] * (d - 1), dtype=dtype)
    return x, y


@dataclass
class EpsSweep:
    """Sharp cost and regularised value of Sinkhorn against exact OT over a grid of ε (increasing),
    with the iterations each solve used and the ε log min(N, M) bound of the regularised value."""
    eps: np.ndarray
    cost: np.ndarray
    value: np.ndarray
    iters: np.ndarray
    exact: float
    bound: np.ndarray
    median_C: float

    @property
    def cost_gap(self) -> np.ndarray:
        return self.cost - self.exact

    @property
    def value_gap(self) -> np.ndarray:
        return self.value - self.exact

    def check(self) -> None:
        """exact OT ≤ sharp cost ≤ regularised value ≤ exact OT + ε log n, at every ε (solver precision)."""
        tol = 1e-9 * self.exact
        assert np.all(self.cost_gap >= -tol), "sharp cost below exact OT"
        assert np.all(self.cost <= self.value + tol), "sharp cost above the regularised value"
        assert np.all(self.value_gap <= self.bound + tol), "regularised value above OT + eps log n"

    @property
    def table(self) -> pd.DataFrame:
        """Gaps to exact OT, the ε log n bound and the iterations used, per ε."""
        return pd.DataFrame({"eps": self.eps, "sharp - OT": self.cost_gap, "value - OT": self.value_gap,
                             "eps log n": self.bound, "iterations": self.iters})


def eps_sweep(x, y, n_eps: int, rel_range=(1e-3, 10.0), tol: float = 1e-9) -> EpsSweep:
    """Sharp cost and regularised value against exact OT for ε on a log grid (× median C).

    Solved to ``tol`` with warm starts from the previous (larger) ε: ε-scaling, which makes the
    small-ε end affordable.
    """
    C = cost_matrix(x, y)
    exact = exact_ot(x, y).item()
    med = C.median().item()
    eps_grid = np.geomspace(rel_range[1], rel_range[0], n_eps) * med
    rows, init = [], None
    for eps in eps_grid:
        r = sinkhorn(C, eps=float(eps), tol=tol, max_iter=200_000, init=init)
        init = (r.f, r.g)
        rows.append((eps, r.cost.item(), r.value.item(), r.n_iter))
    eps, cost, value, iters = map(np.array, zip(*rows[::-1]))
    return EpsSweep(eps, cost, value, iters, exact, eps * np.log(min(C.shape)), med)


def convergence_curves(x, y, rel_eps=(1.0, 0.1, 0.01), max_iter: int = 1000) -> dict:
    """Marginal error after each iteration, for several ε (× median C)."""
    C = cost_matrix(x, y)
    med = C.median().item()
    out = {}
    for rel in rel_eps:
        r = sinkhorn(C, eps=rel * med, max_iter=max_iter, check_every=1)
        out[f"{rel:g}"] = (np.arange(1, r.n_iter + 1), r.errors.numpy())
    return out


@dataclass
class Limits:
    """Debiased Sinkhorn divergences (sharp and regularised) over a grid of ε, with their two
    limits: exact OT (ε → 0) and ½ MMD² with kernel −c (ε → ∞); the largest marginal error any solve
    stopped at, and (for the theory chapter's check) the allowance that error buys and the points per
    measure."""
    eps: np.ndarray
    sharp: np.ndarray
    regularized: np.ndarray
    exact: float
    half_mmd: float
    max_marginal_error: float
    allowance: float = 0.0
    n: int = 0

    def check(self, rel: float = 0.01) -> None:
        """Sharp divergence within ``rel`` of W_c at the smallest ε; both divergences within ``rel``
        of ½MMD² at the largest."""
        assert abs(self.sharp[0] - self.exact) < rel * self.exact, "small eps: not close to W_c"
        assert abs(self.regularized[-1] - self.half_mmd) < rel * self.half_mmd, "large eps: not close to MMD/2"
        assert abs(self.sharp[-1] - self.half_mmd) < rel * self.half_mmd, "large eps: sharp not close to MMD/2"

    def gaps(self) -> tuple[float, float]:
        """Relative gap of the regularised divergence to W_c at the smallest ε and to ½MMD² at the largest."""
        return (abs(self.regularized[0] - self.exact) / self.exact,
                abs(self.regularized[-1] - self.half_mmd) / abs(self.half_mmd))


def mmd_limit(x, y, n_eps: int, rel_range=(1e-3, 1e4), max_iter: int = 5000, tol: float = 1e-7) -> Limits:
    """Debiased divergences across ε, with their two limits: exact OT and ½ MMD² for k = −c.

    Self-transport terms converge slowly under alternating updates at small ε, so some solves
    stop at ``max_iter``; instead of warning, the largest marginal error reached is returned.
    """
    C_xy, C_xx, C_yy = cost_matrix(x, y), cost_matrix(x, x), cost_matrix(y, y)
    half_mmd = (C_xy.mean() - 0.5 * C_xx.mean() - 0.5 * C_yy.mean()).item()
    med = C_xy.median().item()
    eps_grid = np.geomspace(*rel_range, n_eps) * med
    sharp, reg, worst = [], [], 0.0
    for eps in eps_grid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            r = sinkhorn_divergence(x, y, eps=float(eps), max_iter=max_iter, tol=tol)
        worst = max(worst, r.marginal_error.item())
        sharp.append(r.sharp.item())
        reg.append(r.regularized.item())
    return Limits(eps_grid, np.array(sharp), np.array(reg), exact_ot(x, y).item(), half_mmd, worst)


def saved_bytes(fn) -> tuple[object, int]:
    """Run ``fn`` and count the bytes autograd keeps for the backward pass (unique storages)."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


@dataclass
class Gradients:
    """Unrolled against envelope gradients of the regularised value w.r.t. C: per L the median
    milliseconds and the MB autograd keeps for each; the two gradients at the largest L and their
    relative L1 difference."""
    L: list[int]
    ms_unrolled: list[float] = field(default_factory=list)
    ms_envelope: list[float] = field(default_factory=list)
    mb_unrolled: list[float] = field(default_factory=list)
    mb_envelope: list[float] = field(default_factory=list)
    unrolled_grad: np.ndarray | None = None
    envelope_grad: np.ndarray | None = None

    @property
    def L_scatter(self) -> int:
        return self.L[-1]

    @property
    def rel_diff(self) -> float:
        g1, g2 = self.unrolled_grad, self.envelope_grad
        return float(np.abs(g1 - g2).sum() / np.abs(g2).sum())

    def check(self, rel: float = 1e-3) -> None:
        assert self.rel_diff < rel, f"unrolled and envelope gradients differ by {self.rel_diff:.2e}"

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"L": self.L, "ms_unrolled": self.ms_unrolled, "ms_envelope": self.ms_envelope,
                             "mb_unrolled": self.mb_unrolled, "mb_envelope": self.mb_envelope})


def gradient_study(x, y, L_list, rel_eps: float = 0.1, dtype=torch.float32, repeat: int = 3) -> Gradients:
    """Unrolled against envelope gradients of the regularised value w.r.t. C."""
    C0 = cost_matrix(x, y).to(dtype)
    eps = rel_eps * C0.median().item()
    out = Gradients(list(L_list))
    for L in L_list:
        for mode in ("unrolled", "envelope"):
            def run():
                C = C0.clone().requires_grad_()
                res, nbytes = saved_bytes(lambda: sinkhorn(C, eps=eps, max_iter=L, grad=mode).value)
                res.backward()
                return C.grad, nbytes
            run()
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                grad, nbytes = run()
                times.append(1e3 * (time.perf_counter() - t0))
            getattr(out, f"ms_{mode}").append(float(np.median(times)))
            getattr(out, f"mb_{mode}").append(nbytes / 2**20)
            setattr(out, f"{mode}_grad", grad.numpy())
    return out


@dataclass
class Rounding:
    """Marginal error of the Sinkhorn plan after ``iters`` iterations, before and after the
    rounding of Altschuler et al., how far rounding moved the plan, and the plans' costs."""
    iters: list[int]
    err_before: np.ndarray
    err_after: np.ndarray
    moved: np.ndarray
    cost_before: np.ndarray
    cost_after: np.ndarray

    def check(self) -> None:
        assert np.all(self.err_after < 1e-12), "rounded plan has inexact marginals"
        assert np.all(self.moved <= 2 * self.err_before + 1e-12), "rounding moved the plan more than the bound"


def rounding_study(x, y, iters=(1, 2, 5, 10, 20, 50), rel_eps: float = 0.01) -> Rounding:
    """Marginal error of the Sinkhorn plan before and after :func:`sae.round_plan`."""
    C = cost_matrix(x, y)
    eps = rel_eps * C.median().item()
    before, after, moved, cost_before, cost_after = [], [], [], [], []
    for L in iters:
        r = sinkhorn(C, eps=eps, max_iter=L)
        R = round_plan(r.plan, r.a, r.b)
        err = lambda P: ((P.sum(1) - r.a).abs().sum() + (P.sum(0) - r.b).abs().sum()).item()
        before.append(err(r.plan)); after.append(err(R)); moved.append((R - r.plan).abs().sum().item())
        cost_before.append(r.cost.item()); cost_after.append((R * C).sum().item())
    return Rounding(list(iters), *map(np.array, (before, after, moved, cost_before, cost_after)))


def check_convergence(curves: dict) -> None:
    """The marginal error fell over the iterations, at every ε (``curves``: :func:`convergence_curves`)."""
    for label, (_, err) in curves.items():
        assert err[-1] < err[0], f"marginal error did not decrease at eps={label}"
