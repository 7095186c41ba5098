"""Convention-free checks: invariances, batching, zero weights, stability, rounding, bad input."""
import math
import warnings

import pytest
import torch
from conftest import cuda, random_problem
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sae


def problem(seed, n=12, m=9, dtype=torch.float64):
    a, b, C, _, _ = random_problem(n, m, seed=seed)
    return [torch.tensor(v, dtype=dtype) for v in (C, a, b)]


def solve(C, a=None, b=None, **kw):
    kw = {"eps": 0.2, "tol": 1e-12, "max_iter": 50_000, **kw}
    return sae.sinkhorn(C, a, b, **kw)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10.0), shift=st.floats(-5.0, 5.0))
def test_invariances(seed, scale, shift):
    C, a, b = problem(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sae.ConvergenceWarning)
        r = solve(C, a, b)
        # transpose: OT(a, b, C) = OT(b, a, Cᵀ)
        rt = solve(C.T, b, a)
    assume(r.converged and rt.converged)      # the invariances hold for the solution, not for iterates
    torch.testing.assert_close(rt.plan, r.plan.T, rtol=1e-7, atol=1e-12)
    torch.testing.assert_close(rt.value, r.value, rtol=1e-9, atol=0)
    # scaling C and eps by s scales every value by s and leaves the plan alone
    rs = solve(scale * C, a, b, eps=0.2 * scale)
    torch.testing.assert_close(rs.plan, r.plan, rtol=1e-7, atol=1e-12)
    torch.testing.assert_close(rs.cost, scale * r.cost, rtol=1e-9, atol=0)
    # translation: C + k adds k to the value (balanced, unit mass); plan unchanged
    rk = solve(C + shift + 6.0, a, b)
    torch.testing.assert_close(rk.plan, r.plan, rtol=1e-7, atol=1e-12)
    torch.testing.assert_close(rk.value, r.value + shift + 6.0, rtol=1e-9, atol=1e-12)


def test_batched_equals_one_by_one():
    Cs, As, Bs = zip(*(problem(s, n=10, m=10) for s in range(4)))
    batch = sae.sinkhorn(torch.stack(Cs), torch.stack(As), torch.stack(Bs), eps=0.3, max_iter=40)
    for i in range(4):
        one = sae.sinkhorn(Cs[i], As[i], Bs[i], eps=0.3, max_iter=40)
        torch.testing.assert_close(batch.plan[i], one.plan, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(batch.cost[i], one.cost, rtol=1e-10, atol=0)
        torch.testing.assert_close(batch.value[i], one.value, rtol=1e-10, atol=0)


def test_batched_with_shared_weights_broadcasts():
    C = torch.stack([problem(s, 8, 8)[0] for s in range(3)])
    r = sae.sinkhorn(C, eps=0.5, max_iter=30)
    assert r.plan.shape == (3, 8, 8) and r.cost.shape == (3,) and r.errors.shape[1:] == (3,)


def test_zero_weights():
    C, a, b = problem(1)
    a = a.clone(); a[[0, 5]] = 0; a /= a.sum()
    r = solve(C, a, b)
    assert torch.isfinite(r.f).all() and torch.isfinite(r.value)
    assert r.plan[[0, 5]].abs().max() == 0
    # the same as dropping those rows
    keep = [i for i in range(len(a)) if i not in (0, 5)]
    r2 = solve(C[keep], a[keep], b)
    torch.testing.assert_close(r.plan[keep], r2.plan, rtol=1e-8, atol=1e-13)
    torch.testing.assert_close(r.value, r2.value, rtol=1e-9, atol=0)


def test_identity_problem_gives_diagonal_plan():
    x = torch.randn(20, 4, dtype=torch.float64)
    r = sae.sinkhorn(sae.cost_matrix(x, x), eps=1e-3 * sae.cost_matrix(x, x).median().item(), max_iter=2000)
    torch.testing.assert_close(r.plan, torch.eye(20, dtype=torch.float64) / 20, atol=1e-8, rtol=0)
    assert r.cost.item() < 1e-8


@pytest.mark.parametrize("rel", [1e-1, 1e-2, 1e-3])
def test_float32_finite_at_small_eps(rel):
    """Issue 3: float32 stays finite down to eps = 1e-3 · median(C)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 64, generator=g), torch.randn(256, 64, generator=g) + 0.5
    C = sae.cost_matrix(x, y)
    r = sae.sinkhorn(C, eps=rel * C.median().item(), max_iter=200)
    for q in (r.plan, r.cost, r.value, r.f, r.g):
        assert torch.isfinite(q).all()
    assert abs(r.plan.sum().item() - 1) < 1e-4
    # and it is the same computation as float64, to float32 precision
    r64 = sae.sinkhorn(C.double(), eps=rel * C.median().item(), max_iter=200)
    assert abs(r.cost.item() - r64.cost.item()) / r64.cost.item() < 1e-4


def test_convergence_flag_and_warning():
    C, a, b = problem(2)
    with pytest.warns(sae.ConvergenceWarning, match="max_iter=2 .*increase max_iter or eps"):
        r = sae.sinkhorn(C, a, b, eps=0.01, max_iter=2, tol=1e-12)
    assert r.converged is False
    r = solve(C, a, b)
    assert r.converged is True and r.n_iter < 50_000 and r.errors[-1] < 1e-12
    assert sae.sinkhorn(C, a, b, eps=0.2, max_iter=30).converged is None   # no tol: fixed L
    assert sae.sinkhorn(C, a, b, eps=0.2, max_iter=30).n_iter == 30


def test_marginal_error_reports_the_plan():
    C, a, b = problem(3)
    r = sae.sinkhorn(C, a, b, eps=0.05, max_iter=3, check_every=1)
    torch.testing.assert_close(r.errors[-1], r.marginal_error, rtol=1e-9, atol=1e-15)
    assert r.errors.shape == (3,) and (r.errors[1:] <= r.errors[:-1] * 1.5).all()


@pytest.mark.parametrize("n_iter", [1, 3, 10])
def test_round_plan(n_iter):
    C, a, b = problem(4)
    P = sae.sinkhorn(C, a, b, eps=0.05, max_iter=n_iter).plan
    R = sae.round_plan(P, a, b)
    assert (R >= 0).all()
    torch.testing.assert_close(R.sum(1), a, atol=1e-14, rtol=0)
    torch.testing.assert_close(R.sum(0), b, atol=1e-14, rtol=0)
    err = (P.sum(1) - a).abs().sum() + (P.sum(0) - b).abs().sum()
    assert (R - P).abs().sum() <= 2 * err + 1e-14     # Altschuler et al. 2017, Lemma 7
    torch.testing.assert_close(sae.round_plan(R, a, b), R, atol=1e-15, rtol=0)   # fixed point


def test_costs():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(sae.cost_matrix(x, y), torch.tensor([[1.0], [18.0]], dtype=torch.float64))
    torch.testing.assert_close(sae.cost_matrix(x, y, "euclidean"), torch.tensor([[1.0], [18 ** 0.5]], dtype=torch.float64))
    torch.testing.assert_close(sae.cost_matrix(x, y, "euclidean", p=3), torch.tensor([[1.0], [18 ** 1.5]], dtype=torch.float64))
    u = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    v = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(sae.cost_matrix(u, v, "cosine"), torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(sae.cost_matrix(u, v, "geodesic"), torch.tensor([[math.pi / 2, math.pi], [0.0, math.pi / 2]], dtype=torch.float64), atol=1e-6, rtol=0)
    # on the unit sphere: ‖x − y‖² = 2 · cosine cost
    s = torch.nn.functional.normalize(torch.randn(5, 3, dtype=torch.float64), dim=1)
    torch.testing.assert_close(sae.cost_matrix(s, s), 2 * sae.cost_matrix(s, s, "cosine"))
    # batched
    xb = torch.randn(2, 5, 3)
    assert sae.cost_matrix(xb, xb).shape == (2, 5, 5)
    # gradients stay finite at coincident points
    z = torch.randn(4, 3, requires_grad=True)
    for c in ("sqeuclidean", "euclidean", "geodesic"):
        sae.cost_matrix(z, z.detach(), c).sum().backward()
        assert torch.isfinite(z.grad).all()
        z.grad = None


C0 = torch.rand(4, 5)


@pytest.mark.parametrize("call, match", [
    (lambda: sae.sinkhorn(C0.numpy(), eps=1.0), "C must be a torch.Tensor"),
    (lambda: sae.sinkhorn(C0[0], eps=1.0), "C must have shape"),
    (lambda: sae.sinkhorn(torch.rand(0, 5), eps=1.0), "C is empty"),
    (lambda: sae.sinkhorn(torch.tensor([[1.0, float("nan")]]), eps=1.0), "C contains NaN"),
    (lambda: sae.sinkhorn(torch.tensor([[1.0, float("inf")]]), eps=1.0), "C contains NaN or infinite"),
    (lambda: sae.sinkhorn(torch.tensor([[1.0, -float("inf")], [float("inf"), 1.0]]), eps=1.0), "C contains NaN"),
    (lambda: sae.sinkhorn(torch.ones(2, 2, dtype=torch.long), eps=1.0), "floating-point"),
    (lambda: sae.sinkhorn(C0, eps=0.0), "eps must be a positive"),
    (lambda: sae.sinkhorn(C0, eps=-1.0), "eps must be a positive"),
    (lambda: sae.sinkhorn(C0, eps=float("nan")), "eps must be a positive"),
    (lambda: sae.sinkhorn(C0, torch.ones(3) / 3, eps=1.0), r"a has shape \(3,\)"),
    (lambda: sae.sinkhorn(C0, None, torch.ones(4) / 4, eps=1.0), r"b has shape \(4,\)"),
    (lambda: sae.sinkhorn(C0, torch.tensor([1.0, -0.5, 0.25, 0.25]), eps=1.0), "a must be finite and nonnegative"),
    (lambda: sae.sinkhorn(C0, torch.zeros(4), eps=1.0), "a must have positive total mass"),
    (lambda: sae.sinkhorn(C0, torch.ones(4), eps=1.0), "same total mass"),
    (lambda: sae.sinkhorn(C0, eps=1.0, max_iter=0), "max_iter must be a positive integer"),
    (lambda: sae.sinkhorn(C0, eps=1.0, tol=0.0), "tol must be positive"),
    (lambda: sae.sinkhorn(C0, eps=1.0, grad="implicit"), "grad must be"),
    (lambda: sae.sinkhorn(C0, eps=1.0, check_every=0), "check_every"),
    (lambda: sae.cost_matrix(torch.rand(3, 2), torch.rand(3, 4)), "same dimension"),
    (lambda: sae.cost_matrix(torch.rand(0, 2), torch.rand(3, 2)), "x is empty"),
    (lambda: sae.cost_matrix(torch.rand(3), torch.rand(3, 2)), "x must have shape"),
    (lambda: sae.cost_matrix(torch.rand(3, 2), torch.rand(3, 2), "manhattan"), "cost must be one of"),
    (lambda: sae.cost_matrix(torch.rand(3, 2), torch.tensor([[0.0, float("nan")]])), "y contains NaN"),
    (lambda: sae.sinkhorn_divergence(torch.rand(3, 2), torch.rand(3, 2), eps=1.0, kind="debiased"), "kind must be"),
    (lambda: sae.round_plan(torch.rand(3, 3), torch.ones(2) / 2, torch.ones(3) / 3), "P has shape"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@cuda
def test_cuda_matches_cpu():
    C, a, b = problem(5, n=200, m=150, dtype=torch.float32)
    r_cpu = sae.sinkhorn(C, a, b, eps=0.1, max_iter=100)
    r_gpu = sae.sinkhorn(C.cuda(), a.cuda(), b.cuda(), eps=0.1, max_iter=100)
    assert r_gpu.plan.is_cuda
    torch.testing.assert_close(r_gpu.plan.cpu(), r_cpu.plan, rtol=1e-4, atol=1e-7)
    x = torch.randn(64, 10, device="cuda", requires_grad=True)
    sae.sinkhorn_divergence(x, torch.randn(64, 10, device="cuda"), eps=0.1, max_iter=20).value.backward()
    assert torch.isfinite(x.grad).all()


def test_finite_costs_whose_sum_overflows_are_accepted():
    """The finiteness check sums C first; finite entries whose sum overflows must still pass."""
    C = torch.full((2, 2), 3e38)
    C[0, 0] = C[1, 1] = 0.0
    assert torch.isinf(C.sum())
    assert sae.sinkhorn(C, eps=1e37, max_iter=5).plan.shape == (2, 2)
