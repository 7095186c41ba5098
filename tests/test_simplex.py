"""Dirichlet-prior helpers on codes whose answer is known."""
import numpy as np
import pandas as pd
import pytest
import torch

from sae.studies import simplex


def _codes(rng, vertices, n=40, sharp=0.9):
    """Codes near the given vertices of a 4-simplex, one label per code."""
    z = np.full((len(vertices) * n, 4), (1 - sharp) / 3)
    for i, v in enumerate(vertices):
        z[i * n:(i + 1) * n, v] = sharp
    return z + rng.uniform(0, 1e-3, z.shape)


def test_vertex_table_names_the_digit_at_each_vertex():
    rng = np.random.default_rng(0)
    z = _codes(rng, [0, 1, 2])
    y = np.r_[np.full(40, 7), np.full(40, 3), np.r_[np.full(20, 1), np.full(20, 8)]]
    t = simplex.vertex_table(z, y).set_index("vertex")
    assert set(t.index) == {0, 1, 2}
    assert t.loc[0, "digit"] == 7 and t.loc[0, "purity"] == 1.0 and t.loc[1, "digit"] == 3
    assert t.loc[2, "purity"] == 0.5 and t.loc[2, "codes"] == 40
    assert simplex.digits_with_a_vertex(t.reset_index()) == [1, 3, 7]   # a 50/50 vertex counts for its majority
    assert simplex.mean_purity(t.reset_index()) == pytest.approx((40 + 40 + 20) / 120)
    assert 3 not in simplex.vertex_table(z, y, min_codes=10)["vertex"].tolist()   # empty vertex left out


def test_vertex_table_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="one label each"):
        simplex.vertex_table(np.eye(3), np.zeros(2, int))


def test_edge_path_runs_along_the_simplex_edge():
    p = simplex.edge_path(1, 3, dim=5, steps=5)
    assert torch.allclose(p.sum(1), torch.ones(5)) and torch.equal(p[0], torch.eye(5)[1])
    assert torch.equal(p[-1], torch.eye(5)[3]) and (p[:, [0, 2, 4]] == 0).all()


def test_sorted_profile_matches_for_equal_laws_and_differs_for_sparser():
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet([0.5] * 6, 4000), rng.dirichlet([0.5] * 6, 4000)
    sparse = rng.dirichlet([0.1] * 6, 4000)
    assert np.abs(simplex.sorted_profile(a) - simplex.sorted_profile(b)).max() < 0.01
    assert simplex.sorted_profile(sparse)[0] > simplex.sorted_profile(a)[0] + 0.1


def test_crispness_summary_finds_a_planted_trend():
    rng = np.random.default_rng(0)
    v = rng.uniform(0.1, 1, 1000)
    df = pd.DataFrame({"vertexness": np.r_[v, np.ones(4)], "confidence": np.r_[0.5 + 0.4 * v, np.full(4, 0.95)],
                       "binarity": 0.8 + rng.uniform(0, 1e-6, 1004), "vertex": np.r_[np.zeros(1000, bool),
                                                                                          np.ones(4, bool)]})
    s = simplex.crispness_summary(df)
    assert s.spearman_confidence > 0.99 and s.near_minus_inside_confidence > 0.15 and s.crisper_near_vertices()
    assert abs(s.near_minus_inside_binarity) < 1e-6 and abs(s.spearman_binarity) < 0.1 and s.exact.n == 4
    flat = simplex.crispness_summary(df.assign(confidence=0.9 + rng.uniform(0, 1e-3, 1004)))
    assert not flat.crisper_near_vertices()


def test_config_uses_the_simplex_settings():
    cfg = simplex.config("quick", 16, 0.2)
    assert (cfg.prior, cfg.latent_dim, cfg.dirichlet_alpha, cfg.sinkhorn.eps) == ("dirichlet", 16, 0.2, 0.01)
    assert simplex.config("quick", 16, 0.2, eps=0.1).sinkhorn.eps == 0.1
