"""POT is the oracle: plans, costs, values, potentials and gradients in float64."""
import warnings

import numpy as np
import pytest
import torch
from conftest import random_problem

import sae

ot = pytest.importorskip("ot")


def t(*arrays, dtype=torch.float64):
    return [torch.from_numpy(np.asarray(x)).to(dtype) for x in arrays]


@pytest.mark.parametrize("rel_eps", [1.0, 0.1, 0.03, 0.003])
def test_matches_pot_solve(rel_eps):
    a, b, C, _, _ = random_problem()
    eps = rel_eps * np.median(C)
    ref = ot.solve(C, a, b, reg=eps, max_iter=200_000, tol=1e-13)   # reg_type="KL"
    res = sae.sinkhorn(*t(C, a, b), eps=eps, max_iter=200_000, tol=1e-12)
    assert res.converged
    np.testing.assert_allclose(res.plan.numpy(), ref.plan, rtol=1e-6, atol=1e-11)
    np.testing.assert_allclose(res.cost.item(), ref.value_linear, rtol=1e-9)        # the sharp cost
    np.testing.assert_allclose(res.value.item(), ref.value, rtol=1e-9)
    np.testing.assert_allclose(res.dual_value.item(), ref.value, rtol=1e-9)
    # POT's potentials are log-scalings: eps*log_u = f + eps*log(a) + const (style-examples §8).
    f_pot, g_pot = eps * ref.potentials[0], eps * ref.potentials[1]
    f_ours, g_ours = res.f.numpy() + eps * np.log(a), res.g.numpy() + eps * np.log(b)
    np.testing.assert_allclose(f_ours - f_ours.mean(), f_pot - f_pot.mean(), atol=1e-8 * np.median(C))
    np.testing.assert_allclose(g_ours - g_ours.mean(), g_pot - g_pot.mean(), atol=1e-8 * np.median(C))


def test_matches_pot_sinkhorn2_fixed_iterations():
    """With tol=None both run exactly L iterations: same intermediate, not only the same limit."""
    a, b, C, _, _ = random_problem(uniform=True)
    eps = 0.05 * np.median(C)
    for L in (1, 2, 7, 13, 50):
        ref_plan = ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", numItermax=L, stopThr=0.0)
        ref = ot.sinkhorn2(a, b, C, eps, method="sinkhorn_log", numItermax=L, stopThr=0.0)
        res = sae.sinkhorn(*t(C, a, b), eps=eps, max_iter=L, check_every=5)
        assert res.n_iter == L
        np.testing.assert_allclose(res.plan.numpy(), ref_plan, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(res.cost.item(), ref, rtol=1e-10)


@pytest.mark.parametrize("rel_eps", [0.5, 0.05, 0.01])
def test_sandwich_exact_cost_value(rel_eps):
    # 0 ≤ KL(P‖a⊗b) ≤ log min(N, M), hence  OT_0 ≤ <P,C> ≤ value ≤ OT_0 + eps·log min(N, M).
    a, b, C, _, _ = random_problem(seed=3)
    eps = rel_eps * np.median(C)
    exact = ot.emd2(a, b, C)
    r = sae.sinkhorn(*t(C, a, b), eps=eps, tol=1e-11, max_iter=100_000)
    cost, value = r.cost.item(), r.value.item()
    assert exact - 1e-9 <= cost <= value + 1e-12
    assert value <= exact + eps * np.log(min(C.shape)) + 1e-9


def test_sharp_divergence_matches_pot():
    _, _, _, x, y = random_problem(n=40, m=40, uniform=True)
    # Self-transport (x to x) converges slowly under alternating updates, in POT as here, so
    # compare a fixed number of iterations: the same computation in both libraries.
    eps, L = 0.5, 300
    ref = ot.bregman.empirical_sinkhorn_divergence(x, y, eps, numIterMax=L, stopThr=0.0)
    ours = sae.sinkhorn_divergence(*t(x, y), eps=eps, max_iter=L).value.item()
    assert ref > 0 and ours > 0          # POT clamps at 0: compare where it does not bite
    np.testing.assert_allclose(ours, ref, rtol=1e-8)


def test_divergence_unequal_sizes_equals_three_solves():
    _, _, _, x, y = random_problem(n=25, m=31)
    x, y = t(x, y)
    kw = dict(eps=0.3, max_iter=300)
    for kind, attr in (("sharp", "cost"), ("regularized", "value")):
        T = lambda u, v: getattr(sae.sinkhorn(sae.cost_matrix(u, v), **kw), attr)
        expected = T(x, y) - 0.5 * T(x, x) - 0.5 * T(y, y)
        torch.testing.assert_close(sae.sinkhorn_divergence(x, y, kind=kind, **kw).value, expected)


@pytest.mark.parametrize("n, m, batch", [(12, 12, ()), (12, 17, ()), (12, 12, (3,))])
def test_divergence_result_keeps_each_sub_problem(n, m, batch):
    """The typed result: each of the three problems as sae.sinkhorn solves it alone (same plan,
    potentials, errors, convergence), both combinations, and the worst marginal error."""
    g = torch.Generator().manual_seed(11)
    x = torch.randn(*batch, n, 2, generator=g, dtype=torch.float64)
    y = torch.randn(*batch, m, 2, generator=g, dtype=torch.float64) + 0.3
    kw = dict(eps=1.0, max_iter=5000, tol=1e-9, check_every=5)
    r = sae.sinkhorn_divergence(x, y, **kw)
    assert isinstance(r, sae.SinkhornDivergenceResult) and r.kind == "sharp" and r.value.shape == batch
    for part, (u, v) in zip((r.xy, r.xx, r.yy), ((x, y), (x, x), (y, y))):
        alone = sae.sinkhorn(sae.cost_matrix(u, v), **kw)
        assert part.plan.shape == alone.plan.shape and part.converged is True
        torch.testing.assert_close(part.plan, alone.plan, rtol=1e-7, atol=1e-12)
        if n != m:               # then each problem is solved alone, as here: the same iterations
            torch.testing.assert_close(part.errors, alone.errors)
    T = lambda attr: getattr(r.xy, attr) - 0.5 * (getattr(r.xx, attr) + getattr(r.yy, attr))
    torch.testing.assert_close(r.value, T("cost"))
    torch.testing.assert_close(r.sharp, T("cost"))
    torch.testing.assert_close(r.regularized, T("value"))
    reg = sae.sinkhorn_divergence(x, y, kind="regularized", **kw)
    torch.testing.assert_close(reg.value, r.regularized)
    torch.testing.assert_close(reg.sharp, r.sharp)
    assert r.converged is True and r.marginal_error.shape == batch and (r.marginal_error < 1e-9).all()
    assert r.n_iter == max(p.n_iter for p in (r.xy, r.xx, r.yy)) < 5000


def test_divergence_result_reports_a_sub_problem_that_did_not_converge():
    g = torch.Generator().manual_seed(12)
    x, y = torch.randn(20, 2, generator=g, dtype=torch.float64), torch.randn(20, 2, generator=g, dtype=torch.float64)
    with pytest.warns(sae.ConvergenceWarning):
        r = sae.sinkhorn_divergence(x, y, eps=0.01, max_iter=5, tol=1e-12)
    assert r.converged is False and r.marginal_error > 1e-12 and r.n_iter == 5
    assert sae.sinkhorn_divergence(x, y, eps=0.5, max_iter=5).converged is None      # no tol asked for


def test_gradient_matches_pot_autodiff():
    a, b, C, _, _ = random_problem(uniform=True)
    eps, L = 0.1 * np.median(C), 30
    C1 = torch.tensor(C, requires_grad=True)
    ot.sinkhorn2(*t(a, b), C1, eps, method="sinkhorn_log", numItermax=L + 2000, stopThr=0.0).backward()
    C2 = torch.tensor(C, requires_grad=True)
    sae.sinkhorn(C2, eps=eps, max_iter=L + 2000).cost.backward()
    torch.testing.assert_close(C2.grad, C1.grad, rtol=1e-6, atol=1e-9)


def test_exact_ot_matches_emd2():
    a, b, C, x, y = random_problem()
    got = sae.exact_ot(*t(x, y), *t(a, b)).item()
    np.testing.assert_allclose(got, ot.emd2(a, b, C), rtol=1e-10)


def test_sinkhorn_cost_matches_pot_sinkhorn2():
    """The sharp cost ⟨P_ε, C⟩ between point clouds equals POT's sinkhorn2 (which returns the
    linear cost of its entropic plan) on the same squared-Euclidean cost."""
    import ot

    a, b, C, x, y = random_problem(25, 30, seed=4)
    eps = 0.05 * C.mean()
    ours = sae.sinkhorn_cost(*t(x, y), *t(a, b), eps=eps, tol=1e-12, max_iter=100_000).item()
    ref = float(ot.sinkhorn2(a, b, C, eps, method="sinkhorn_log", numItermax=100_000, stopThr=1e-13))
    assert ours == pytest.approx(ref, rel=1e-8)


def test_warm_start_reaches_the_same_solution_sooner():
    """``init`` potentials of a nearby problem (ε-scaling) give the same solution in fewer iterations;
    the solution of the very problem converges at the first check."""
    a, b, C, _, _ = random_problem(30, 40, seed=5)
    C, a, b = t(C, a, b)
    eps = 0.01 * C.mean().item()
    cold = sae.sinkhorn(C, a, b, eps=eps, tol=1e-10, max_iter=100_000)
    near = sae.sinkhorn(C, a, b, eps=2 * eps, tol=1e-10, max_iter=100_000)
    warm = sae.sinkhorn(C, a, b, eps=eps, tol=1e-10, max_iter=100_000, init=(near.f, near.g))
    again = sae.sinkhorn(C, a, b, eps=eps, tol=1e-10, max_iter=100_000, init=(cold.f, cold.g), check_every=1)
    assert warm.n_iter < cold.n_iter and again.n_iter == 1
    torch.testing.assert_close(warm.plan, cold.plan, rtol=0, atol=1e-9)


@pytest.mark.parametrize("rel_eps, needs_log", [(1e-4, True), (0.5, False)])
def test_log_domain_fallback_runs_when_needed(monkeypatch, rel_eps, needs_log):
    """At tiny ε in float32 the scalings overflow and the solver redoes blocks with log-sum-exp
    updates; at moderate ε it never does. Either way the plan matches POT's log-domain solver."""
    import ot

    import importlib

    S = importlib.import_module("sae.ot.solver")

    calls = []
    real = S._log_block
    monkeypatch.setattr(S, "_log_block", lambda *args: calls.append(1) or real(*args))
    a, b, C, _, _ = random_problem(40, 40, seed=6)
    eps = rel_eps * float(np.median(C))
    r = sae.sinkhorn(*t(C, a, b, dtype=torch.float32), eps=eps, max_iter=300)
    assert bool(calls) == needs_log
    P = ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", numItermax=300, stopThr=0.0, warn=False)
    assert np.isfinite(r.plan.numpy()).all()
    np.testing.assert_allclose(r.plan.double().numpy(), P, atol=2e-4 if needs_log else 1e-6)


@pytest.mark.parametrize("n, m, weighted", [(20, 20, False), (15, 25, True)])
def test_sinkhorn_loss_matches_pots_debiased_combination(n, m, weighted):
    """SinkhornLoss = T(x, y) − ½T(x, x) − ½T(y, y) with T POT's sinkhorn2 (the plan's linear cost),
    solved to convergence, for equal and unequal sizes, uniform and given weights."""
    g = np.random.default_rng(7)
    x, y = g.normal(size=(n, 3)), g.normal(size=(m, 3)) + 0.5
    a = g.uniform(0.5, 1.5, n) if weighted else np.full(n, 1 / n)
    b = g.uniform(0.5, 1.5, m) if weighted else np.full(m, 1 / m)
    a, b = a / a.sum(), b / b.sum()
    eps = 1.0                   # converges in a few hundred iterations (at 0.3 the xx problem took 10⁵)
    T = lambda u, v, wu, wv: float(ot.sinkhorn2(wu, wv, ot.dist(u, v), eps, method="sinkhorn_log",
                                                numItermax=100_000, stopThr=1e-13))
    ref = T(x, y, a, b) - 0.5 * (T(x, x, a, a) + T(y, y, b, b))
    loss = sae.SinkhornLoss(eps=eps, max_iter=100_000, tol=1e-12)
    ours = loss(*t(x, y), *(t(a, b) if weighted else (None, None))).item()
    assert ours == pytest.approx(ref, rel=1e-7, abs=1e-10)


def test_sinkhorn_loss_batched_zero_symmetric_and_differentiable():
    g = torch.Generator().manual_seed(8)
    x, y = torch.randn(4, 16, 2, generator=g, dtype=torch.float64), torch.randn(4, 16, 2, generator=g, dtype=torch.float64)
    loss = sae.SinkhornLoss(eps=0.2, max_iter=200)
    batched = loss(x, y)
    assert batched.shape == (4,)
    torch.testing.assert_close(batched, torch.stack([loss(x[i], y[i]) for i in range(4)]), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(loss(x, x), torch.zeros(4, dtype=torch.float64), rtol=0, atol=1e-12)
    # symmetric at the solution (one of the xx problems converges slowly, in POT too: a fixed
    # budget rather than a tolerance it would take 10⁵ iterations to reach)
    converged = sae.SinkhornLoss(eps=1.0, max_iter=20_000)
    torch.testing.assert_close(converged(y, x), converged(x, y), rtol=1e-8, atol=1e-10)
    xg = x.clone().requires_grad_()
    loss(xg, y).sum().backward()
    assert torch.isfinite(xg.grad).all() and xg.grad.abs().sum() > 0


def test_library_defaults_converge_or_warn():
    """`SinkhornLoss(eps=0.1)` with no iteration settings, on two clouds of 200 and 150 points in
    5-d (one shifted by 1): the same value both ways and POT's converged debiased value, no
    warning; at a ε it cannot reach in its budget it warns. A fixed `max_iter` alone never warns."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 5, generator=g), torch.randn(150, 5, generator=g) + 1.0
    loss = sae.SinkhornLoss(eps=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sae.ConvergenceWarning)
        xy, yx = loss(x, y).item(), loss(y, x).item()
        functional = sae.sinkhorn_divergence(x, y, eps=0.1)
    assert xy == pytest.approx(yx, rel=1e-4) and functional.converged
    T = lambda u, v: float(ot.sinkhorn2(ot.unif(len(u)), ot.unif(len(v)), ot.dist(u, v), 0.1, method="sinkhorn_log",
                                        numItermax=3000, stopThr=1e-6, warn=False))   # its xx problems crawl below
    xd, yd = x.double().numpy(), y.double().numpy()
    pot = T(xd, yd) - 0.5 * (T(xd, xd) + T(yd, yd))
    assert xy == pytest.approx(pot, rel=1e-4) and yx == pytest.approx(pot, rel=1e-4)
    with pytest.warns(sae.ConvergenceWarning, match="did not converge in max_iter=1000"):
        sae.SinkhornLoss(eps=1e-3)(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sae.ConvergenceWarning)
        sae.SinkhornLoss(eps=1e-3, max_iter=50)(x, y)          # the paper's fixed L: asked for, no warning


@pytest.mark.parametrize("kw, match", [({"eps": 0.0}, "eps must be a positive"), ({"max_iter": 0}, "max_iter"),
                                       ({"tol": -1.0}, "tol must be positive"), ({"cost": "l1"}, "cost must be one of"),
                                       ({"kind": "debiased"}, "kind must be"), ({"grad": "implicit"}, "grad must be")])
def test_sinkhorn_loss_rejects_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        sae.SinkhornLoss(**kw)


def test_readme_loss_example_runs():
    from pathlib import Path

    readme = (Path(sae.__file__).resolve().parent.parent / "README.md").read_text()
    code = readme.split("## The Sinkhorn loss in your own model", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["codes"].grad is not None and torch.isfinite(namespace["loss"])
