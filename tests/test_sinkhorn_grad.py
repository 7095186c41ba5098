"""Gradients: envelope identity, finite differences, unrolled ≈ envelope at convergence."""
import numpy as np
import pytest
import torch

import sae
from conftest import random_problem


def problem(seed=0):
    a, b, C, x, y = random_problem(15, 12, seed=seed)
    return [torch.tensor(v) for v in (C, a, b, x, y)]


def test_envelope_gradient_is_the_plan():
    C, a, b, _, _ = problem()
    Cg = C.clone().requires_grad_()
    r = sae.sinkhorn(Cg, a, b, eps=0.2, tol=1e-12, max_iter=10_000, grad="envelope")
    r.value.backward()
    torch.testing.assert_close(Cg.grad, r.plan, rtol=0, atol=0)
    ag, bg = a.clone().requires_grad_(), b.clone().requires_grad_()
    sae.sinkhorn(C, ag, bg, eps=0.2, tol=1e-12, max_iter=10_000, grad="envelope").value.backward()
    torch.testing.assert_close(ag.grad, r.f, rtol=0, atol=0)
    torch.testing.assert_close(bg.grad, r.g, rtol=0, atol=0)


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
    sae.sinkhorn_divergence(xg, y, eps=0.5, max_iter=30).backward()
    D = torch.randn_like(x)
    h = 1e-6
    f = lambda z: sae.sinkhorn_divergence(z, y, eps=0.5, max_iter=30).item()
    fd = (f(x + h * D) - f(x - h * D)) / (2 * h)
    np.testing.assert_allclose((xg.grad * D).sum().item(), fd, rtol=1e-6, atol=1e-9)


def test_exact_ot_gradient_flows_through_matched_pairs():
    x = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    y = torch.randn(6, 2, dtype=torch.float64)
    sae.exact_ot(x, y).backward()
    P = sae.exact_plan(sae.cost_matrix(x.detach(), y))
    expected = 2 * (x.detach() - 6 * P @ y) / 6      # d/dx_i Σ_j P_ij ‖x_i − y_j‖², P rows sum to 1/6
    torch.testing.assert_close(x.grad, expected)
