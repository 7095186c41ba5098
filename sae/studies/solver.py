"""The numerical studies of the Sinkhorn chapter, as functions returning plain numbers.

Each study is a few solver calls; the chapter calls them, asserts what the theory says, and plots.
Sizes come from ``sizes("solver", profile)`` (:mod:`sae.engine.profiles`).
"""
from __future__ import annotations

import time
import warnings

import numpy as np
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


def eps_sweep(x, y, n_eps: int, rel_range=(1e-3, 10.0), tol: float = 1e-9) -> dict:
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
    return {"eps": eps, "cost": cost, "value": value, "iters": iters, "exact": exact,
            "cost_gap": cost - exact, "value_gap": value - exact,
            "bound": eps * np.log(min(C.shape)), "median_C": med}


def convergence_curves(x, y, rel_eps=(1.0, 0.1, 0.01), max_iter: int = 1000) -> dict:
    """Marginal error after each iteration, for several ε (× median C)."""
    C = cost_matrix(x, y)
    med = C.median().item()
    out = {}
    for rel in rel_eps:
        r = sinkhorn(C, eps=rel * med, max_iter=max_iter, check_every=1)
        out[f"{rel:g}"] = (np.arange(1, r.n_iter + 1), r.errors.numpy())
    return out


def mmd_limit(x, y, n_eps: int, rel_range=(1e-3, 1e4), max_iter: int = 5000, tol: float = 1e-7) -> dict:
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
    return {"eps": eps_grid, "sharp": np.array(sharp), "regularized": np.array(reg),
            "exact": exact_ot(x, y).item(), "half_mmd": half_mmd, "max_marginal_error": worst}


def saved_bytes(fn) -> tuple[object, int]:
    """Run ``fn`` and count the bytes autograd keeps for the backward pass (unique storages)."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def gradient_study(x, y, L_list, rel_eps: float = 0.1, dtype=torch.float32, repeat: int = 3) -> dict:
    """Unrolled against envelope gradients of the regularised value w.r.t. C."""
    C0 = cost_matrix(x, y).to(dtype)
    eps = rel_eps * C0.median().item()
    out = {"L": list(L_list), "ms_unrolled": [], "ms_envelope": [], "mb_unrolled": [], "mb_envelope": []}
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
            out[f"ms_{mode}"].append(float(np.median(times)))
            out[f"mb_{mode}"].append(nbytes / 2**20)
            out[f"{mode}_grad"] = grad.numpy()
    out["L_scatter"] = L_list[-1]
    g1, g2 = out["unrolled_grad"], out["envelope_grad"]
    out["rel_diff"] = float(np.abs(g1 - g2).sum() / np.abs(g2).sum())
    return out


def rounding_study(x, y, iters=(1, 2, 5, 10, 20, 50), rel_eps: float = 0.01) -> dict:
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
    return {"iters": list(iters), "err_before": np.array(before), "err_after": np.array(after),
            "moved": np.array(moved), "cost_before": np.array(cost_before), "cost_after": np.array(cost_after)}


# ------------------------------------------------------------------ what the chapter asserts
# Each raises AssertionError with a sentence when the statement fails numerically.

def check_sandwich(sweep: dict) -> None:
    """exact OT ≤ sharp cost ≤ regularised value ≤ exact OT + ε log n, at every ε (solver precision)."""
    tol = 1e-9 * sweep["exact"]
    assert np.all(sweep["cost_gap"] >= -tol), "sharp cost below exact OT"
    assert np.all(sweep["cost"] <= sweep["value"] + tol), "sharp cost above the regularised value"
    assert np.all(sweep["value_gap"] <= sweep["bound"] + tol), "regularised value above OT + eps log n"


def sweep_table(sweep: dict):
    """The ε sweep as a table: gaps to exact OT, the ε log n bound, iterations used."""
    import pandas as pd

    return pd.DataFrame({"eps": sweep["eps"], "sharp - OT": sweep["cost_gap"], "value - OT": sweep["value_gap"],
                         "eps log n": sweep["bound"], "iterations": sweep["iters"]})


def check_convergence(curves: dict) -> None:
    for label, (_, err) in curves.items():
        assert err[-1] < err[0], f"marginal error did not decrease at eps={label}"


def check_mmd_limit(lim: dict, rel: float = 0.01) -> None:
    """Sharp divergence within ``rel`` of W_c at the smallest ε; both divergences within ``rel`` of
    ½MMD² at the largest."""
    assert abs(lim["sharp"][0] - lim["exact"]) < rel * lim["exact"], "small eps: not close to W_c"
    assert abs(lim["regularized"][-1] - lim["half_mmd"]) < rel * lim["half_mmd"], "large eps: not close to MMD/2"
    assert abs(lim["sharp"][-1] - lim["half_mmd"]) < rel * lim["half_mmd"], "large eps: sharp not close to MMD/2"


def check_gradients(gs: dict, rel: float = 1e-3) -> None:
    assert gs["rel_diff"] < rel, f"unrolled and envelope gradients differ by {gs['rel_diff']:.2e}"


def check_rounding(rd: dict) -> None:
    assert np.all(rd["err_after"] < 1e-12), "rounded plan has inexact marginals"
    assert np.all(rd["moved"] <= 2 * rd["err_before"] + 1e-12), "rounding moved the plan more than the bound"
