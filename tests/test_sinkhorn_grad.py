"""Gradients: envelope identity, finite differences, unrolled ≈ envelope at convergence."""
import numpy as np
import pytest
import torch
from conftest import random_problem

import sae


def problem(seed=0):
    a, b, C, x, y = random_problem(15, 12, seed=seed)
    return [torch.tensor(v) for v in (C, a, b, x, y)]


def _converged_value(C, a, b, eps=0.2):
    return sae.sinkhorn(C, a, b, eps=eps, tol=1e-13, max_iter=100_000).value.item()


def test_envelope_gradient_matches_finite_differences_and_pot():
    """∂value/∂C of the converged problem, checked against central differences of the value along
    a random direction and against POT's own envelope gradient (an independent implementation)."""
    import ot

    C, a, b, _, _ = problem()
    Cg = C.clone().requires_grad_()
    sae.sinkhorn(Cg, a, b, eps=0.2, tol=1e-13, max_iter=100_000, grad="envelope").value.backward()
    D = torch.randn(C.shape, generator=torch.Generator().manual_seed(3), dtype=C.dtype)
    h = 1e-5
    fd = (_converged_value(C + h * D, a, b) - _converged_value(C - h * D, a, b)) / (2 * h)
    assert (Cg.grad * D).sum().item() == pytest.approx(fd, rel=1e-6)
    Cp = C.clone().requires_grad_()
    res = ot.solve(Cp, a, b, reg=0.2, method="sinkhorn_log", max_iter=100_000, tol=1e-13, grad="envelope")
    res.value.backward()
    torch.testing.assert_close(Cg.grad, Cp.grad, rtol=1e-7, atol=1e-10)


def test_envelope_weight_gradients_match_finite_differences():
    """∂value/∂a = f and ∂value/∂b = g, checked along mass-preserving directions e_i − e_j
    (the value is defined only for a and b of equal mass)."""
    C, a, b, _, _ = problem()
    ag, bg = a.clone().requires_grad_(), b.clone().requires_grad_()
    sae.sinkhorn(C, ag, bg, eps=0.2, tol=1e-13, max_iter=100_000, grad="envelope").value.backward()
    h = 1e-6
    for w, grad, which in ((a, ag.grad, "a"), (b, bg.grad, "b")):
        d = torch.zeros_like(w)
        d[0], d[3] = 1.0, -1.0
        shift = lambda t: (C, w + t * d, b) if which == "a" else (C, a, w + t * d)
        fd = (_converged_value(*shift(h)) - _converged_value(*shift(-h))) / (2 * h)
        assert (grad * d).sum().item() == pytest.approx(fd, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("dtype, rel_eps", [(torch.float64, 0.2), (torch.float32, 1e-3)])
def test_envelope_plan_is_detached_whichever_block_ran_last(dtype, rel_eps):
    """At small eps in float32 the last block runs in the log domain: same contract."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g)
    C = sae.cost_matrix(x, y).to(dtype).requires_grad_()
    r = sae.sinkhorn(C, eps=rel_eps * C.median().item(), max_iter=10, grad="envelope")
    assert not r.plan.requires_grad and r.value.requires_grad
    r.value.backward()
    torch.testing.assert_close(C.grad, r.plan, rtol=0, atol=0)


def test_envelope_stores_no_iterations():
    C, a, b, _, _ = problem()
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        sae.sinkhorn(C.clone().requires_grad_(), a, b, eps=0.2, max_iter=200, grad="envelope").value
    assert sum(saved) <= 2 * C.numel() + 100      # the plan and the potentials, nothing per iteration


@pytest.mark.parametrize("attr", ["value", "cost"])
def test_unrolled_matches_finite_differences(attr):
    C, a, b, _, _ = problem(1)
    eps, L = 0.3, 25
    g = torch.Generator().manual_seed(0)
    D = torch.randn(C.shape, generator=g, dtype=C.dtype)
    D -= D.mean()
    Cg = C.clone().requires_grad_()
    getattr(sae.sinkhorn(Cg, a, b, eps=eps, max_iter=L), attr).backward()
    h = 1e-6
    f = lambda M: getattr(sae.sinkhorn(M, a, b, eps=eps, max_iter=L), attr).item()
    fd = (f(C + h * D) - f(C - h * D)) / (2 * h)
    np.testing.assert_allclose((Cg.grad * D).sum().item(), fd, rtol=1e-6, atol=1e-9)


def test_unrolled_equals_envelope_at_convergence():
    C, a, b, _, _ = problem(2)
    g1, g2 = C.clone().requires_grad_(), C.clone().requires_grad_()
    sae.sinkhorn(g1, a, b, eps=0.3, max_iter=3000).value.backward()
    sae.sinkhorn(g2, a, b, eps=0.3, max_iter=3000, grad="envelope").value.backward()
    torch.testing.assert_close(g1.grad, g2.grad, rtol=1e-6, atol=1e-10)


def test_divergence_gradient_wrt_points_finite_differences():
    _, _, _, x, y = problem(3)
    xg = x.clone().requires_grad_()
    sae.sinkhorn_divergence(xg, y, eps=0.5, max_iter=30).value.backward()
    D = torch.randn_like(x)
    h = 1e-6
    f = lambda z: sae.sinkhorn_divergence(z, y, eps=0.5, max_iter=30).value.item()
    fd = (f(x + h * D) - f(x - h * D)) / (2 * h)
    np.testing.assert_allclose((xg.grad * D).sum().item(), fd, rtol=1e-6, atol=1e-9)


def test_exact_ot_gradient_flows_through_matched_pairs():
    x = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(6, 2, dtype=torch.float64)
    sae.exact_ot(x, y).backward()
    P = sae.exact_plan(sae.cost_matrix(x.detach(), y))
    expected = 2 * (x.detach() - 6 * P @ y) / 6      # d/dx_i Σ_j P_ij ‖x_i − y_j‖², P rows sum to 1/6
    torch.testing.assert_close(x.grad, expected)


def _block_inputs(n=7, m=5, k=4, batch=(), seed=0):
    """The scaling loop's inputs, A = diag(a) K (…, N, M), Bt = (K diag(b))ᵀ (…, M, N) and a
    positive row u (…, 1, N), from a positive kernel K and positive weights (unbatched: 2-D, mm)."""
    g = torch.Generator().manual_seed(seed)
    K = torch.exp(-torch.rand(*batch, n, m, generator=g, dtype=torch.float64))
    u, a = (torch.rand(*batch, 1, n, generator=g, dtype=torch.float64) + 0.5 for _ in range(2))
    b = torch.rand(*batch, 1, m, generator=g, dtype=torch.float64) + 0.5
    A, Bt = a.transpose(-1, -2) * K, (K * b).transpose(-1, -2).contiguous()
    return [t.requires_grad_() for t in (A, Bt, u)], k


@pytest.mark.parametrize("batch", [(), (3,)])
def test_scaling_adjoint_passes_gradcheck(batch):
    """The hand-written backward of the scaling iterations against finite differences."""
    from sae.ot.solver import _ScalingIterations

    inputs, k = _block_inputs(batch=batch)
    assert torch.autograd.gradcheck(lambda *t: _ScalingIterations.apply(*t, k), inputs, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("batch", [(), (2,)])
def test_scaling_adjoint_equals_autograd_through_the_plain_loop(batch):
    """Same gradients, to rounding, as autograd differentiating the plain loop op by op."""
    from sae.ot.solver import _scale, _ScalingIterations

    inputs, k = _block_inputs(n=9, m=6, k=10, batch=batch, seed=1)
    g = torch.Generator().manual_seed(2)
    wu = torch.randn(*batch, 1, 9, generator=g, dtype=torch.float64)
    wv = torch.randn(*batch, 1, 6, generator=g, dtype=torch.float64)
    grads = []
    for fn in (_ScalingIterations.apply, _scale):
        uu, vv = fn(*inputs, k)
        grads.append(torch.autograd.grad((uu * wu).sum() + (vv * wv).sum(), inputs))
    for mine, ref in zip(*grads):
        torch.testing.assert_close(mine, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("attr, grad_of", [("cost", "C"), ("value", "C"), ("cost", "weights")])
def test_unrolled_solver_gradient_equals_the_plain_unrolled_loop(monkeypatch, attr, grad_of):
    """End to end, through blocks, absorptions and the plan: the solver's unrolled gradient is the
    one autograd takes through the plain iterations (the adjoint swapped out for the loop)."""
    import importlib

    S = importlib.import_module("sae.ot.solver")
    C, a, b, _, _ = problem(2)
    eps = 0.05 * C.median().item()                    # small enough that the kernel is re-absorbed

    def grads():
        Cg, ag, bg = C.clone().requires_grad_(), a.clone().requires_grad_(), b.clone().requires_grad_()
        getattr(S.sinkhorn(Cg, ag, bg, eps=eps, max_iter=60, check_every=7), attr).backward()
        return (Cg.grad,) if grad_of == "C" else (ag.grad, bg.grad)

    mine = grads()
    monkeypatch.setattr(S._ScalingIterations, "apply", S._scale)
    ref = grads()
    for x, y in zip(mine, ref):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)
