"""The theory helpers against closed forms and known values."""

import pytest
import torch

from sae.studies import theory


def test_wasserstein_p_closed_forms():
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    # shifting a measure by s moves it W_p = |s| for every p
    for p in (1.0, 2.0, 3.0):
        assert theory.wasserstein_p(x, x + 0.7, p=p).item() == pytest.approx(0.7, rel=1e-12)
    # two atoms to their midpoint: W_2² = mean of squared distances = 0.25
    assert theory.wasserstein_p(x, torch.tensor([[0.5]], dtype=torch.float64), p=2).item() == pytest.approx(0.5)


def test_lipschitz_bound_is_an_upper_bound_and_exact_for_linear():
    net = theory.relu_net([3, 8, 8, 2], seed=1)
    z = torch.randn(200, 3, dtype=torch.float64)
    assert theory.empirical_lipschitz(net, z) <= theory.lipschitz_upper_bound(net) + 1e-12
    lin = theory.relu_net([3, 3], seed=2)            # a single linear layer: the bound is its norm
    u = torch.linalg.svd(lin[0].weight.detach()).Vh[0]
    pts = torch.stack([torch.zeros(3, dtype=torch.float64), u])
    assert theory.empirical_lipschitz(lin, pts) == pytest.approx(theory.lipschitz_upper_bound(lin), rel=1e-10)


def test_wae_identity_and_merged_atoms():
    G = torch.nn.Sequential(torch.nn.ReLU(), theory.relu_net([2, 2], seed=0))   # not injective
    x = torch.randn(10, 2, dtype=torch.float64)
    z = -torch.rand(6, 2, dtype=torch.float64)                                   # all map to G(0)
    w = torch.full((6,), 1 / 6, dtype=torch.float64)
    lhs, rhs, atoms = theory.wae_identity(x, z, w, G)
    assert atoms == 1 and lhs == pytest.approx(rhs, rel=1e-12)


def test_monge_encoder_makes_the_bound_tight():
    G = theory.relu_net([2, 8, 2], seed=3)
    x, z = torch.randn(12, 2, dtype=torch.float64), torch.randn(12, 2, dtype=torch.float64)
    t = theory.min_min_terms(x, theory.monge_encoder(x, z, G), z, G, theory.lipschitz_upper_bound(G))
    assert t.W_latent < 1e-12 and abs(t.slack) < 1e-10


def test_sphere_law_and_bounds():
    # d = 3: t = <z, z'> is uniform on [-1, 1] (Archimedes), so P(t < 1 - δ²/2) = 1 - δ²/4
    for delta in (0.3, 1.0, 1.4):
        assert theory.sphere_far_exact(3, delta) == pytest.approx(1 - delta**2 / 4, abs=1e-12)
    assert theory.sphere_bound_paper(10, 1.0) == pytest.approx(1 - 1 / (40 * (2 ** 0.5 - 1) ** 2), abs=1e-12)
    assert round(theory.sphere_bound_paper(10, 1.0), 3) == 0.854      # 1 - 1/(40 (√2 - 1)²), the paper's example value
    p, se = theory.sphere_far_monte_carlo(10, 1.0, 100_000, seed=1)
    assert abs(p - theory.sphere_far_exact(10, 1.0)) < 5 * se
    for d in (2, 5, 64):
        for delta in (0.5, 1.0):
            assert theory.sphere_bound_chebyshev(d, delta) <= theory.sphere_far_exact(d, delta)


def test_nat_special_case():
    f = torch.nn.functional.normalize(torch.randn(15, 4, dtype=torch.float64), dim=1)
    z = torch.nn.functional.normalize(torch.randn(15, 4, dtype=torch.float64), dim=1)
    r = theory.nat_check(f, z)
    assert r.plan_is_permutation and r.same_permutation
    assert r.ot_cost == pytest.approx(r.from_trace, abs=1e-12)


def test_the_repulsion_rule_allows_failures_below_three_dimensions_only():
    def study(*failing_d):
        rows = [theory.SphereRow(d, 1.0, 0.5, 0.5, 0.01, 0.6 if d in failing_d else 0.4, 0.3) for d in (2, 10)]
        return theory.SphereStudy(rows)

    assert study().violations() == [] and study().fails_only_in_low_dimensions()
    assert [r.d for r in study(2).violations()] == [2] and study(2).fails_only_in_low_dimensions()
    assert not study(2, 10).fails_only_in_low_dimensions()
    study(2, 10).check()                                                 # MC and Chebyshev are fine here
    bad = theory.SphereStudy([theory.SphereRow(10, 1.0, 0.5, 0.9, 0.01, 0.4, 0.3)])
    with pytest.raises(AssertionError, match="disagrees with MC"):
        bad.check()
    assert list(study().table.columns)[:4] == ["d", "delta", "exact", "Monte Carlo"]
