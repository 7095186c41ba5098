"""Latent-geometry helpers on cases with known answers."""
import numpy as np

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


def test_roll_summary_places_the_encoder_between_pca_and_isomap():
    import pandas as pd

    row = {"prior": "box", "trustworthiness, PCA": 0.86, "trustworthiness, Isomap": 1.0,
           "OT to prior, trained": 0.02, "OT floor (prior vs prior)": 0.01}
    folded = geometry.roll_summary(pd.DataFrame([{**row, "trustworthiness, trained": 0.93}]))
    assert "50% of the way" in folded and "not unrolled" in folded and "2.0×" in folded
    unrolled = geometry.roll_summary(pd.DataFrame([{**row, "trustworthiness, trained": 0.995,
                                                    "OT to prior, trained": 0.01}]))
    assert "an unrolled roll" in unrolled and "as uniform as prior draws" in unrolled


def test_converged_reads_a_levelled_loss():
    assert geometry.converged([1.0, 0.5] + [0.1] * 18)
    assert not geometry.converged([1.0 / k for k in range(1, 21)])
    assert not geometry.converged([0.1])
