"""The probabilistic-programming toy: spatial transformers, the canvas data, localisation."""
import json
import math
import subprocess
import sys

import pytest
import torch

from sae.engine import config as C
from sae.engine import data as D
from sae.engine import metrics as M
from sae.models import autoencoders as models
from sae.models import whatwhere
from sae.models.priors import make_prior
from sae.studies import probprog


def test_glimpse_undoes_place():
    """Cropping at the pose a patch was placed with returns the patch (up to resampling blur)."""
    g = torch.Generator().manual_seed(0)
    patch = torch.zeros(4, 1, 28, 28)
    patch[:, :, 8:20, 10:18] = 1.0
    where = whatwhere.truncated_normal(4, 3, g, bound=1.5)
    back = whatwhere.glimpse(whatwhere.place(patch, where), where)
    assert (back - patch).abs().mean() < 0.06
    assert (whatwhere.glimpse(whatwhere.place(patch, where), torch.zeros(4, 3)) - patch).abs().mean() > 0.1


def test_pose_moves_the_digit_where_z_where_says():
    """z_where = (0, b, c) puts the patch's centre at (0.18 b, 0.18 c) in [−1, 1] canvas coordinates."""
    patch = torch.ones(2, 1, 28, 28)
    where = torch.tensor([[0.0, 2.0, 0.0], [0.0, 0.0, -2.0]])
    com = whatwhere.centre_of_mass(whatwhere.place(patch, where))
    assert torch.allclose(com, torch.tensor([[0.36, 0.0], [0.0, -0.36]]), atol=0.02)
    box = whatwhere.box_corners(where)
    assert torch.allclose(box[:, 2], torch.full((2,), 0.5 * 48))             # scale 0.5: the box spans 24 px


def test_truncated_normal_stays_in_bounds_and_is_seeded():
    a = whatwhere.truncated_normal(5000, 3, torch.Generator().manual_seed(1), bound=1.0)
    b = whatwhere.truncated_normal(5000, 3, torch.Generator().manual_seed(1), bound=1.0)
    assert torch.equal(a, b) and a.abs().max() <= 1.0 and abs(a.std().item() - 0.54) < 0.02


def test_canvas_data_holds_the_true_placements():
    d = D.canvas_mnist(64, 32)
    assert d.x_train.shape == (64, 1, 48, 48) and d.x_test.shape == (32, 1, 48, 48) and d.recon == "mse"
    assert d.extras["where_train"].shape == (64, 3) and 0 <= d.x_train.min() and d.x_train.max() <= 1
    clean = D.canvas_mnist(64, 32, salt=0.0)
    # without noise the centre of mass sits near the true centre (MNIST digits are centred by mass)
    err = (whatwhere.centre_of_mass(clean.x_test) - whatwhere.pose(clean.extras["where_test"])[1]).norm(dim=1)
    assert err.mean() * 24 < 1.5
    assert torch.equal(d.extras["where_test"], clean.extras["where_test"])   # same placements, noise differs
    with pytest.raises(ValueError, match="salt"):
        D.canvas_mnist(8, 8, salt=1.5)


def test_whatwhere_prior_splits_and_heads():
    p = make_prior("whatwhere", 13)
    z = p.sample(500, torch.Generator().manual_seed(0))
    what, where = p.split(z)
    assert what.shape == (500, 10) and torch.allclose(what.norm(dim=1), torch.ones(500))
    assert abs(where.std().item() - 1) < 0.1
    h = p.head(torch.randn(7, 13) * 5)
    assert torch.allclose(p.split(h)[0].norm(dim=1), torch.ones(7))
    with pytest.raises(ValueError, match="latent_dim=4"):
        make_prior("whatwhere", 4)


def test_model_needs_the_canvas_and_sums_two_sinkhorn_terms():
    with pytest.raises(ValueError, match="mnist_canvas"):
        C.make_config("smoke", "sae_whatwhere", "whatwhere", "mnist", latent_dim=13)
    with pytest.raises(ValueError, match="whatwhere"):
        C.make_config("smoke", "sae_whatwhere", "sphere", "mnist_canvas", latent_dim=13)
    cfg = probprog.config("smoke")
    m = models.build_model(cfg, (1, 48, 48), "mse")
    z = m.prior.sample(32, torch.Generator().manual_seed(0))
    zp = m.prior.sample(32, torch.Generator().manual_seed(1))
    (w, h), (pw, ph) = m.prior.split(z), m.prior.split(zp)
    sae_only = models.SAE.latent_penalty
    expected = sae_only(m, w, pw) + sae_only(m, h, ph)
    assert torch.allclose(m.latent_penalty(z, zp), expected)
    x = torch.rand(32, 1, 48, 48)
    out = m(x, zp)
    assert out["z"].shape == (32, 13) and m.decode(z).shape == (32, 1, 48, 48) and torch.isfinite(out["loss"])


def test_localisation_of_an_oracle_encoder_is_exact():
    """An encoder that returns the true z_where scores zero error; the baselines do not."""
    d = D.canvas_mnist(64, 64)
    cfg = probprog.config("smoke")
    m = models.build_model(cfg, d.shape, d.recon)

    class Oracle(torch.nn.Module):           # sees the whole test set in one batch (64 < embed's 1000)
        def forward(self, x):
            assert len(x) == 64
            return torch.cat([torch.randn(len(x), 10), d.extras["where_test"]], 1)

    m.encoder = Oracle()
    loc = whatwhere.localisation(m, d, M.embed(m, d.x_test))
    assert loc["centre_error_px"] < 1e-5 and loc["scale_error_rel"] < 1e-6 and loc["where_corr_x"] > 0.9999
    assert loc["baseline_centre_error_px"] > 2 and loc["baseline_com_error_px"] > 0.3


@pytest.mark.slow
def test_cli_trains_the_toy_on_smoke(tmp_path):
    res = subprocess.run([sys.executable, "-m", "sae", "train", "--profile", "smoke", "--model", "sae_whatwhere",
                          "--prior", "whatwhere", "--dataset", "mnist_canvas", "--set", "latent_dim=13",
                          "--out", str(tmp_path), "--no-progress"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    m = json.loads(open(f"{res.stdout.strip().splitlines()[-1]}/metrics.json").read())
    assert math.isfinite(m["centre_error_px"]) and "fid" not in m and m["n_test"] == 128
