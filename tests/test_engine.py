"""The experiment engine: priors, models, config, data loaders, training, resume, metrics."""
import gzip
import json
import math
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

from sae import config as C
from sae import data as D
from sae import metrics as M
from sae import models, priors, vmf
from sae.experiments import get_or_train, is_complete, load_run, run_dir
from sae.train import TrainingError, train


# ---------------------------------------------------------------- priors
@pytest.mark.parametrize("name, dim", [("gaussian", 5), ("sphere", 7), ("dirichlet", 10), ("box", 3)])
def test_prior_support_and_reproducibility(name, dim):
    p = priors.make_prior(name, dim)
    z = p.sample(4000, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert z.shape == (4000, dim)
    torch.testing.assert_close(z, p.sample(4000, torch.Generator().manual_seed(0), dtype=torch.float64))
    if name == "gaussian":
        assert abs(z.mean().item()) < 0.03 and abs(z.var().item() - 1) < 0.03
    if name == "sphere":
        torch.testing.assert_close(z.norm(dim=1), torch.ones(4000, dtype=torch.float64))
        assert z.mean(0).abs().max() < 0.05
    if name == "dirichlet":
        assert (z >= 0).all()
        torch.testing.assert_close(z.sum(1), torch.ones(4000, dtype=torch.float64))
        assert abs(z[:, 0].mean().item() - 1 / dim) < 0.01          # E z_k = α_k / Σα
    if name == "box":
        assert z.min() >= -1 and z.max() <= 1 and abs(z.mean().item()) < 0.03
    h = torch.randn(6, dim)
    out = p.head(h)
    if name == "sphere":
        torch.testing.assert_close(out.norm(dim=1), torch.ones(6))
    if name == "dirichlet":
        torch.testing.assert_close(out.sum(1), torch.ones(6))


def test_prior_rejects_impossible_dimension():
    with pytest.raises(ValueError, match="latent_dim=1 is not possible for the sphere prior"):
        priors.make_prior("sphere", 1)
    with pytest.raises(ValueError, match="prior must be one of"):
        priors.make_prior("cauchy", 3)


# ---------------------------------------------------------------- latent distances
def test_w2_gaussian_closed_form():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 3, generator=g, dtype=torch.float64) * torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64) + 1.0
    # W2²(N(1, diag(4, 1, 1/4)), N(0, I)) = 3 + Σ (σ_k − 1)² = 3 + 1 + 0 + 1/4
    assert models.w2_gaussian_to_standard(z).item() == pytest.approx(4.25, rel=0.02)


def test_mmd_zero_for_same_sample_and_known_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=g, dtype=torch.float64)
    y = torch.randn(300, 2, generator=g, dtype=torch.float64)
    assert abs(models.gaussian_mmd(x, y, 1.0).item()) < 0.01
    assert abs(models.mmd_imq(x, y).item()) < 0.01
    # a large shift: cross terms vanish, MMD² → E k(x,x') + E k(y,y') of two N(0, I) in 2-D with σ²=1:
    # E exp(−‖x−x'‖²/2) = (1 + 2)^{−d/2} = 1/3 each, so MMD² ≈ 2/3
    assert models.gaussian_mmd(x, y + 100, 1.0).item() == pytest.approx(2 / 3, abs=0.05)


# ---------------------------------------------------------------- vMF (HVAE)
def test_vmf_kl_matches_closed_form_on_s2():
    k = torch.tensor([0.5, 2.0, 10.0, 50.0], dtype=torch.float64)
    expected = torch.log(k / torch.sinh(k)) + k / torch.tanh(k) - 1        # m = 3
    torch.testing.assert_close(vmf.kl_to_uniform(k, 3), expected, rtol=1e-8, atol=1e-10)
    kg = k.clone().requires_grad_()
    vmf.kl_to_uniform(kg, 3).sum().backward()
    h = 1e-6
    fd = (vmf.kl_to_uniform(k + h, 3) - vmf.kl_to_uniform(k - h, 3)) / (2 * h)
    torch.testing.assert_close(kg.grad, fd, rtol=1e-5, atol=1e-8)


def test_vmf_samples_have_the_right_mean_resultant_length():
    from scipy import special

    m, kappa = 10, 20.0
    mu = torch.nn.functional.normalize(torch.randn(1, m, dtype=torch.float64), dim=1).repeat(20000, 1)
    z = vmf.sample(mu, torch.full((20000,), kappa, dtype=torch.float64), torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.norm(dim=1), torch.ones(20000, dtype=torch.float64))
    a_m = special.ive(m / 2, kappa) / special.ive(m / 2 - 1, kappa)          # E⟨z, μ⟩ = A_m(κ)
    assert (z * mu).sum(1).mean().item() == pytest.approx(a_m, abs=0.005)


# ---------------------------------------------------------------- config
def test_config_defaults_hash_and_overrides():
    cfg = C.make_config("quick", "sae", "gaussian")
    assert cfg.sinkhorn.eps == 10.0 and cfg.beta == 100.0
    assert cfg.train.epochs == C.PROFILE_SETTINGS["quick"]["train"]["epochs"] and cfg.hidden == (256, 256)
    assert cfg.hash == C.make_config("quick", "sae", "gaussian").hash
    assert cfg.hash != C.make_config("quick", "sae", "sphere").hash
    c2 = C.set_values(cfg, ["sinkhorn.eps=0.5", "train.epochs=3", "data.n_train=None", "hidden=32,16"])
    assert (c2.sinkhorn.eps, c2.train.epochs, c2.data.n_train, c2.hidden) == (0.5, 3, None, (32, 16))
    assert C.from_dict(C.to_dict(c2)) == c2


@pytest.mark.parametrize("make, match", [
    (lambda: C.make_config("quick", "gan"), "model must be one of"),
    (lambda: C.make_config("quick", "sae", "cauchy"), "prior must be one of"),
    (lambda: C.make_config("huge"), "profile must be one of"),
    (lambda: C.make_config("quick", "vae", "sphere"), "model 'vae' needs prior gaussian"),
    (lambda: C.make_config("quick", "hvae", "gaussian"), "needs prior sphere"),
    (lambda: C.make_config("quick", "sae", "sphere", latent_dim=1), "latent_dim=1 is not possible for the sphere"),
    (lambda: C.make_config("quick", sinkhorn={"eps": 0.0}), "sinkhorn.eps must be positive"),
    (lambda: C.make_config("quick", dataset="celeba"), "data.root must name the local folder"),
    (lambda: C.set_values(C.make_config(), ["sinkhorn.epsilon=1"]), "unknown setting 'sinkhorn.epsilon'"),
    (lambda: C.set_values(C.make_config(), ["train.epochs=many"]), "bad value for train.epochs"),
])
def test_bad_configuration_names_the_setting(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---------------------------------------------------------------- data
def test_embedded_mnist_split_is_fixed_and_balanced():
    d = D.embedded_mnist()
    assert d.x_train.shape == (4000, 1, 28, 28) and d.x_test.shape == (1000, 1, 28, 28)
    assert 0 <= d.x_train.min() and d.x_train.max() <= 1
    counts = torch.bincount(d.y_test, minlength=10)
    assert counts.min() > 70 and counts.max() < 130               # shuffled, not sorted by label
    torch.testing.assert_close(D.embedded_mnist(100, 50).x_train, d.x_train[:100])


def _write_idx(path, arr, gz=False):
    arr = np.asarray(arr, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)


def test_idx_mnist_from_a_local_folder(tmp_path):
    rng = np.random.default_rng(0)
    imgs, labels = rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 10, 12)
    _write_idx(tmp_path / "train-images-idx3-ubyte", imgs[:8])
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:8])
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs[8:], gz=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[8:], gz=True)
    d = D.idx_mnist(tmp_path)
    assert d.x_train.shape == (8, 1, 28, 28) and d.x_test.shape == (4, 1, 28, 28)
    np.testing.assert_allclose(d.x_train[3, 0].numpy(), imgs[3] / 255.0, rtol=1e-6)
    assert d.y_test.tolist() == labels[8:].tolist()
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        D.read_idx(tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        D.idx_mnist(tmp_path / "nowhere")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.*not found"):
        D.idx_mnist(tmp_path)


def test_celeba_from_a_local_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(tmp_path / f"{i:06d}.jpg")
    d = D.celeba(tmp_path)
    assert d.x_train.shape == (9, 3, 64, 64) and d.x_test.shape == (1, 3, 64, 64)
    assert 0 <= d.x_train.min() and d.x_train.max() <= 1 and d.recon == "mse"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no CelebA images"):
        D.celeba(tmp_path / "empty")


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("model, prior", [("ae", "sphere"), ("vae", "gaussian"), ("betavae", "gaussian"),
                                          ("wae", "gaussian"), ("wae", "sphere"), ("swae", "gaussian"),
                                          ("swae", "sphere"), ("w2gae", "gaussian"), ("hae", "gaussian"),
                                          ("hae", "sphere"), ("sae", "gaussian"), ("sae", "sphere"),
                                          ("sae", "dirichlet"), ("hvae", "sphere"), ("sae_encoder", "sphere")])
def test_one_step_lowers_the_loss_on_a_fixed_batch(model, prior):
    cfg = C.make_config("smoke", model, prior, hidden=(32,))
    m = models.build_model(cfg, (1, 28, 28), "bce")
    x = torch.bernoulli(torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    z = m.prior.sample(32, torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        out = m(x, z, torch.Generator().manual_seed(2))
        assert out["z"].shape == (32, cfg.latent_dim) and torch.isfinite(out["loss"])
        opt.zero_grad(); out["loss"].backward(); opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < losses[0]


def test_conv_nets_shapes():
    cfg = C.make_config("smoke", "sae", "sphere", arch="conv", latent_dim=64)
    m = models.build_model(cfg, (3, 64, 64), "mse")
    out = m(torch.rand(4, 3, 64, 64), m.prior.sample(4))
    assert out["z"].shape == (4, 64) and m.decode(out["z"]).shape == (4, 3, 64, 64)


# ---------------------------------------------------------------- metrics
def test_frechet_distance_known_values():
    g = np.random.default_rng(0)
    a = g.normal(size=(5000, 4))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # same covariance, mean shifted by 2 along every axis: FID = ‖Δμ‖² = 16
    assert M.frechet_distance(a, a + 2.0) == pytest.approx(16.0, rel=1e-6)
    # N(0, I) vs N(0, 4I) in 4-D: Tr(I + 4I − 2·2I) = 4
    assert M.frechet_distance(g.normal(size=(20000, 4)), 2 * g.normal(size=(20000, 4))) == pytest.approx(4.0, rel=0.05)


def test_latent_metrics_identical_vs_shifted():
    p = priors.make_prior("gaussian", 3)
    same = p.sample(1000, torch.Generator().manual_seed(99), dtype=torch.float64)
    assert abs(M.latent_mmd_x1000(same, p)) < 5
    assert M.latent_mmd_x1000(same + 3, p) > 100
    shifted = M.latent_ot(same + 1.0, p)
    assert 3 - 0.5 < shifted < 3 + 1.5 and M.latent_ot(same, p) < 1.0


def test_torchscript_feature_network(tmp_path):
    stand_in = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 5)))
    stand_in.save(str(tmp_path / "features.pt"))
    net = M.TorchScriptFeatures(tmp_path / "features.pt")
    x = torch.rand(50, 3, 8, 8)
    r = M.fid(net, x, x)
    assert r["n_real"] == 50 and abs(r["fid"]) < 1e-6
    with pytest.raises(FileNotFoundError, match="local TorchScript"):
        M.TorchScriptFeatures(tmp_path / "missing.pt")


# ---------------------------------------------------------------- training, store, resume
def tiny(model="sae", prior="sphere", **kw):
    kw = {"hidden": (32,), "data": {"n_train": 128, "n_test": 64}, "train": {"epochs": 3, "batch_size": 32}, **kw}
    return C.make_config("smoke", model, prior, **kw)


def _no_fid(model, data, cfg):
    codes = M.embed(model, data.x_test)
    return {"reconstruction_error": M.reconstruction_error(model, data.x_test), "code_mean": codes.mean().item()}


def test_resume_is_bitwise_identical(tmp_path):
    cfg = tiny()
    full = train(cfg, tmp_path / "full", progress=False, evaluate_fn=_no_fid)
    assert train(cfg, tmp_path / "killed", progress=False, stop_after_epoch=1, evaluate_fn=_no_fid) == {"stopped_after_epoch": 1}
    assert not (tmp_path / "killed" / "metrics.json").exists()
    resumed = train(cfg, tmp_path / "killed", progress=False, evaluate_fn=_no_fid)
    assert resumed["reconstruction_error"] == full["reconstruction_error"]
    assert resumed["code_mean"] == full["code_mean"]
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_with_a_clear_error_and_leaves_nothing(tmp_path):
    cfg = tiny(train={"epochs": 2, "batch_size": 32, "lr": 1e30})
    with pytest.raises(TrainingError, match=r"loss became .* sinkhorn.eps=.*train.lr=1e\+30"):
        train(cfg, tmp_path / "run", progress=False, evaluate_fn=_no_fid)
    assert not (tmp_path / "run").exists()


def test_store_loads_complete_runs_without_training(tmp_path, monkeypatch):
    cfg = tiny("ae")
    import sae.experiments as E

    monkeypatch.setattr(E, "train", lambda c, p, progress=True: train(c, p, progress=False, evaluate_fn=_no_fid))
    run = get_or_train(cfg, tmp_path)
    assert is_complete(run.path) and run.path == run_dir(cfg, tmp_path)
    assert json.loads((run.path / "config.json").read_text())["model"] == "ae" and len(run.curve) == 3
    monkeypatch.setattr(E, "train", lambda *a, **k: pytest.fail("a complete run was retrained"))
    again = get_or_train(cfg, tmp_path)
    assert again.metrics == run.metrics
    assert again.model()(torch.rand(2, 1, 28, 28), torch.zeros(2, 10))["z"].shape == (2, 10)


def test_cli_help_and_bad_setting():
    out = subprocess.run([sys.executable, "-m", "sae", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "hvae" in out.stdout and "dirichlet" in out.stdout and "swissroll" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "sae", "train", "--profile", "smoke", "--set", "sinkhorn.eps=-1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "sinkhorn.eps must be positive" in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize("model, prior", [("ae", "sphere"), ("vae", "gaussian"), ("betavae", "gaussian"),
                                          ("wae", "gaussian"), ("wae", "sphere"), ("swae", "gaussian"),
                                          ("swae", "sphere"), ("w2gae", "gaussian"), ("hae", "gaussian"),
                                          ("hae", "sphere"), ("sae", "gaussian"), ("sae", "sphere"),
                                          ("hvae", "sphere"), ("sae", "dirichlet")])
def test_cli_trains_every_paper_combination_on_smoke(model, prior, tmp_path):
    res = subprocess.run([sys.executable, "-m", "sae", "train", "--profile", "smoke", "--model", model, "--prior",
                          prior, "--out", str(tmp_path), "--no-progress"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    path = res.stdout.strip().splitlines()[-1]
    m = json.loads(open(f"{path}/metrics.json").read())
    assert math.isfinite(m["reconstruction_error"]) and m["fid_n_real"] == m["fid_n_fake"] == 128
