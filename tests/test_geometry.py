"""Latent-geometry helpers on cases with known answers."""
import numpy as np
import pytest

from sae.studies import geometry


def test_shell_concentrates_at_sqrt_d():
    norms = geometry.shell_norms([2, 64], n=20000)
    assert abs(norms[64].mean() - 8.0) < 0.1 and norms[64].std() / norms[64].mean() < norms[2].std() / norms[2].mean() / 3


def test_trustworthiness_and_knn_extremes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    assert geometry.trustworthiness(x, x[:, :5] * 3.0) > 0.999            # a scaling keeps every neighbourhood
    assert geometry.trustworthiness(x, rng.normal(size=(300, 2))) < 0.7   # noise keeps none
    y = (x[:, 0] > 0).astype(int)
    assert geometry.knn_accuracy(x[:200], y[:200], x[200:], y[200:]) > 0.8
    assert geometry.knn_accuracy(rng.normal(size=(200, 2)), y[:200], rng.normal(size=(100, 2)), y[200:]) < 0.7


def test_configs_follow_the_paper():
    cfg = geometry.swiss_roll_config("quick", "box")
    assert (cfg.model, cfg.latent_dim, cfg.hidden, cfg.sinkhorn.eps) == ("sae_encoder", 2, (50, 50), 1e-3)
    assert geometry.swiss_roll_config("quick", "sphere").latent_dim == 3
    m = geometry.mnist_encoder_config("quick")
    assert (m.prior, m.latent_dim, m.sinkhorn.eps) == ("sphere", 10, 0.5)


def _roll(**box) -> geometry.SwissRollStudy:
    row = dict(prior="box", epochs=10, trust_trained=0.93, trust_untrained=0.9, ot_trained=0.02, ot_untrained=0.1,
               ot_floor=0.01, trust_pca=0.86, trust_isomap=1.0)
    return geometry.SwissRollStudy([geometry.RollRow(**{**row, **box})], {}, None, {}, {})


def test_roll_summary_places_the_encoder_between_pca_and_isomap():
    folded = _roll().summary()
    assert "50% of the way" in folded and "not unrolled" in folded and "2.0×" in folded
    unrolled = _roll(trust_trained=0.995, ot_trained=0.01).summary()
    assert "an unrolled roll" in unrolled and "as uniform as prior draws" in unrolled


def test_the_roll_rule_needs_codes_on_the_prior_and_geometry_kept():
    assert _roll().holds()
    _roll().check()
    assert not _roll(ot_trained=0.06).holds()                  # OT above half the untrained net's
    with pytest.raises(AssertionError, match="onto the prior"):
        _roll(ot_trained=0.06).check()
    assert not _roll(trust_trained=0.87).holds()               # trustworthiness fell by more than 0.02
    with pytest.raises(AssertionError, match="geometry lost"):
        _roll(trust_trained=0.87).check()
    assert set(_roll().table.columns) >= {"trustworthiness, trained", "OT floor (prior vs prior)"}


def test_converged_reads_a_levelled_loss():
    assert geometry.converged([1.0, 0.5] + [0.1] * 18)
    assert not geometry.converged([1.0 / k for k in range(1, 21)])
    assert not geometry.converged([0.1])
