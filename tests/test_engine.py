"""The experiment engine: priors, models, config, data loaders, training, resume, metrics."""
import gzip
import json
import math
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import sae
from sae.__main__ import main as cli_main
from sae.engine import config as C
from sae.engine import data as D
from sae.engine import metrics as M
from sae.engine.store import get_or_train, is_complete, run_dir
from sae.engine.train import TrainingError, train
from sae.engine.version import code_version
from sae.models import autoencoders as models
from sae.models import latent, priors, vmf


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
    assert latent.w2_gaussian_to_standard(z).item() == pytest.approx(4.25, rel=0.02)


def test_mmd_zero_for_same_sample_and_known_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=g, dtype=torch.float64)
    y = torch.randn(300, 2, generator=g, dtype=torch.float64)
    assert abs(latent.gaussian_mmd(x, y, 1.0).item()) < 0.01
    assert abs(latent.mmd_imq(x, y).item()) < 0.01
    # a large shift: cross terms vanish, MMD² → E k(x,x') + E k(y,y') of two N(0, I) in 2-D with σ²=1:
    # E exp(−‖x−x'‖²/2) = (1 + 2)^{−d/2} = 1/3 each, so MMD² ≈ 2/3
    assert latent.gaussian_mmd(x, y + 100, 1.0).item() == pytest.approx(2 / 3, abs=0.05)


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
    assert cfg.train.epochs == sae.sizes("experiment", "quick")["train"]["epochs"] and cfg.hidden == (256, 256)
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
# Every registered model on digits, with each prior it accepts (Gaussian and sphere when it accepts
# any), plus SAE on the simplex: derived from the classes, so a new baseline is tested as it lands.
COMBOS = [(m, p) for m, cls in C.MODELS.items() if cls.datasets is None
          for p in (cls.priors or ("gaussian", "sphere"))] + [("sae", "dirichlet")]


@pytest.mark.parametrize("model, prior", COMBOS)
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
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fid_every_records_fid_in_the_curve_and_survives_a_resume(tmp_path):
    from sae.engine.train import model_fid

    cfg = tiny(train={"epochs": 3, "batch_size": 32, "fid_every": 2})
    train(cfg, tmp_path / "run", progress=False, stop_after_epoch=2, evaluate_fn=_no_fid)
    m = train(cfg, tmp_path / "run", progress=False)            # resumed: epoch 2's FID came from the checkpoint
    curve = json.loads((tmp_path / "run" / "curve.json").read_text())
    assert [c["epoch"] for c in curve if "fid" in c] == [2, 3] and curve[-1]["fid"] == m["fid"]
    assert math.isfinite(curve[1]["fid"]) and curve[1]["fid"] != m["fid"]
    assert curve[1]["fid_se"] > 0 and curve[-1]["fid_se"] == m["fid_se"]      # each FID with its bootstrap s.e.
    enc = tiny("sae_encoder", train={"epochs": 2, "batch_size": 32, "fid_every": 1})
    train(enc, tmp_path / "enc", progress=False)                 # not generative: no FID anywhere
    assert "fid" not in (tmp_path / "enc" / "curve.json").read_text() + (tmp_path / "enc" / "metrics.json").read_text()
    assert model_fid(None, SimpleNamespace(shape=(3, 64, 64), y_train=None), cfg) is None
    with pytest.raises(ValueError, match="train.fid_every"):
        C.set_values(cfg, ["train.fid_every=-1"])


def test_nan_loss_stops_with_a_clear_error_and_leaves_nothing(tmp_path):
    cfg = tiny(train={"epochs": 2, "batch_size": 32, "lr": 1e30})
    with pytest.raises(TrainingError, match=r"loss became .* sinkhorn.eps=.*train.lr=1e\+30"):
        train(cfg, tmp_path / "run", progress=False, evaluate_fn=_no_fid)
    assert not (tmp_path / "run").exists()


def test_store_loads_complete_runs_without_training(tmp_path, monkeypatch):
    cfg = tiny("ae")
    import sae.engine.store as E

    monkeypatch.setattr(E, "train", lambda c, p, progress=True, **kw: train(c, p, progress=False, evaluate_fn=_no_fid))
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
@pytest.mark.parametrize("model, prior", [(m, p) for m, p in COMBOS if C.MODELS[m].generative])
def test_cli_trains_every_paper_combination_on_smoke(model, prior, tmp_path, capsys):
    """The command line's entry point, called in this process: a subprocess per combination spent
    most of its ~15 s starting Python and torch (test_cli_trains_on_full_mnist_offline and the
    README's commands run it as a process)."""
    assert cli_main(["train", "--profile", "smoke", "--model", model, "--prior", prior, "--out", str(tmp_path),
                     "--no-progress"]) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    m = json.loads(open(f"{path}/metrics.json").read())
    assert math.isfinite(m["reconstruction_error"]) and m["fid_n_real"] == m["fid_n_fake"] == 128


# ---------------------------------------------------------------- the store: identity and staleness
def test_profile_is_not_part_of_a_runs_identity():
    """Two profiles asking for the same settings make the same config, hence share a run."""
    smoke = C.make_config("smoke", "sae", "sphere")
    same = C.make_config("quick", "sae", "sphere", **sae.sizes("experiment", "smoke"))
    assert smoke == same and smoke.hash == same.hash
    assert "profile" not in C.to_dict(smoke)
    assert C.from_dict({**C.to_dict(smoke), "profile": "quick"}) == smoke     # stored configs keep loading


def test_code_version_follows_the_training_code(tmp_path):
    import shutil

    import sae.engine.version as V

    pkg = tmp_path / "sae"
    shutil.copytree(V.PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    cfg = C.make_config("smoke", "sae", "sphere")
    v0 = V.code_version(cfg, pkg)
    assert v0 == V.code_version(cfg) == V.current_version(V.run_keys(cfg))
    for rel, changes in (("engine/store.py", False), ("engine/profiles.py", False), ("engine/version.py", False),
                         ("engine/runlock.py", False), ("studies/comparison.py", False), ("engine/train.py", True),
                         ("models/autoencoders.py", True), ("ot/solver.py", True)):
        before = (pkg / rel).read_text()
        (pkg / rel).write_text(before + "\nAN_EDIT = 1\n")
        assert (V.code_version(cfg, pkg) != v0) == changes, rel
        # documentation, comments and layout are not code: no run goes stale for them
        (pkg / rel).write_text(before.replace('"""', '"""Edited docs. ', 1) + "\n\n# a comment\n")
        assert V.code_version(cfg, pkg) == v0, rel
        (pkg / rel).write_text(before)


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_a_runs_identity_is_the_code_it_executes(tmp_path):
    """Adding a model, prior or data set (with a helper of its own) changes no existing run; an
    edit to SAE's class changes SAE's runs (and its subclasses') and no others; an edit to the base
    class or to a data set's loader changes every run that uses them."""
    import shutil

    import sae.engine.version as V

    pkg = tmp_path / "sae"
    shutil.copytree(V.PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    cfgs = {f"{m}-{p}-{d}": C.make_config("smoke", m, p, d) for m, p, d in
            (("ae", "sphere", "mnist"), ("sae", "sphere", "mnist"), ("sae_encoder", "sphere", "mnist"),
             ("hae", "gaussian", "mnist"), ("vae", "gaussian", "mnist_full"), ("swae", "sphere", "swissroll"))}
    versions = lambda: {k: V.code_version(c, pkg) for k, c in cfgs.items()}
    v0 = versions()
    models, priors, data = pkg / "models/autoencoders.py", pkg / "models/priors.py", pkg / "engine/data.py"
    models.write_text(models.read_text() + README_EXAMPLE + "\n\ndef _halved(z):\n    return z / 2\n\n\n@register\n"
                      "class HalfAE(Autoencoder):\n    name = 'half'\n\n    def embed(self, x):\n"
                      "        return _halved(super().embed(x))\n")
    priors.write_text(priors.read_text() + "\n\n@register\nclass Cube(Prior):\n    name = 'cube'\n\n"
                      "    def sample(self, n, generator=None, device='cpu', dtype=torch.float32):\n"
                      "        return torch.rand(n, self.dim, generator=generator, dtype=dtype)\n")
    data.write_text(data.read_text() + "\n\ndef fashion(n_train, n_test):\n    return embedded_mnist(n_train, n_test)\n"
                    "\n\nregister('fashion')(lambda n_train, n_test, root: fashion(n_train, n_test))\n")
    assert versions() == v0, "adding a model, a prior and a data set made existing runs stale"
    _edit(models, "self.sinkhorn_loss = SinkhornLoss(", "self.sinkhorn_loss = SinkhornLoss(check_every=5, ")
    v1 = versions()
    assert {k for k in v0 if v1[k] != v0[k]} == {"sae-sphere-mnist", "sae_encoder-sphere-mnist"}
    _edit(models, "return torch.sigmoid(out) if", "return torch.sigmoid(out + 0) if")      # the base class
    v2 = versions()
    assert all(v2[k] != v1[k] for k in v0)
    _edit(data, "def full_mnist(", "def full_mnist(*_args, ")                               # one data set's loader
    v3 = versions()
    assert {k for k in v0 if v3[k] != v2[k]} == {"vae-gaussian-mnist_full"}


README_EXAMPLE = re.search(r"## Extending.*?```python\n(.*?)```", (Path(__file__).resolve().parent.parent / "README.md").read_text(), re.S).group(1)


def test_an_edit_to_the_training_code_trains_a_new_run(tmp_path, monkeypatch):
    import sae.engine.store as E

    cfg = tiny("ae")
    trained = []
    monkeypatch.setattr(E, "train", lambda c, p, progress=True, **kw: trained.append(p) or
                        train(c, p, progress=False, evaluate_fn=_no_fid))
    monkeypatch.setattr(E, "_current_version", lambda cfg: "aaaaaaaaaa")
    old = get_or_train(cfg, tmp_path)
    monkeypatch.setattr(E, "_current_version", lambda cfg: "bbbbbbbbbb")     # the code changed
    new = get_or_train(cfg, tmp_path)
    assert len(trained) == 2 and new.path != old.path and new.path.name.endswith("bbbbbbbbbb")
    # provenance names the code that ran, whatever the folder is called
    assert new.metrics.provenance.code_version == code_version(cfg) != "bbbbbbbbbb"
    cut = C.make_config("smoke", "ae", "sphere", seed=9, data={"n_train": 64, "n_test": 32},
                        train={"epochs": 3, "batch_size": 32}, hidden=(16,))
    train(cut, run_dir(cut, tmp_path), progress=False, stop_after_epoch=1, evaluate_fn=_no_fid)
    states = {s.path.name: (s.state, s.epochs_done) for s in E.list_runs(tmp_path)}
    assert states[old.path.name] == ("stale", 3) and states[new.path.name] == ("complete", 3)
    assert states[run_dir(cut, tmp_path).name] == ("partial", 1)
    assert E.remove_stale(tmp_path) == [old.path] and not old.path.exists() and new.path.exists()


def test_runs_command_lists_and_prunes(tmp_path):
    stale = tmp_path / "runs" / "ae-sphere-mnist-000000000000-0000000000"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text(json.dumps(C.to_dict(C.make_config("smoke", "ae", "sphere"))))
    legacy = tmp_path / "quick" / "ae-sphere-mnist-111111111111"
    legacy.mkdir(parents=True)
    res = subprocess.run([sys.executable, "-m", "sae", "runs", "--out", str(tmp_path), "--remove-stale"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "0 complete, 0 partial, 2 stale" in res.stdout and "removed 2 stale" in res.stdout
    assert not stale.exists() and not legacy.exists()


# ---------------------------------------------------------------- full MNIST from the pinned wheel
def test_full_mnist_from_the_pinned_wheel():
    d = D.load(C.DataConfig(name="mnist_full", n_train=None, n_test=None))
    assert (len(d.x_train), len(d.x_test), d.shape, d.recon) == (60000, 10000, (1, 28, 28), "bce")
    assert d.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(d.y_test.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert d.x_train.min() >= 0 and d.x_train.max() < 1
    small = D.full_mnist(100, 50)
    assert torch.equal(small.x_test, d.x_test[:50])


def test_mnist_pickle_reader_refuses_code_and_a_wrong_hash(tmp_path):
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo unpickled > " + str(tmp_path / "ran"),))

    evil = tmp_path / "evil.pkl.gz"
    evil.write_bytes(gzip.compress(pickle.dumps(((Evil(), 1), (1, 1), (1, 1)))))
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        D.read_mnist_pickle(evil, sha256=None)
    assert not (tmp_path / "ran").exists()
    with pytest.raises(ValueError, match="SHA-256"):
        D.read_mnist_pickle(evil)                  # the pinned hash is checked before anything is read


def test_cli_trains_on_full_mnist_offline(tmp_path):
    res = subprocess.run([sys.executable, "-m", "sae", "train", "--profile", "smoke", "--model", "sae_encoder",
                          "--dataset", "mnist_full", "--out", str(tmp_path), "--no-progress"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    m = json.loads((Path(res.stdout.strip().splitlines()[-1]) / "metrics.json").read_text())
    assert m["provenance"]["data"].startswith("full MNIST") and m["n_test"] == 128


def test_figures_of_one_profile_leave_the_others_alone(tmp_path):
    import matplotlib.pyplot as plt

    from sae import plotting

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    plotting.save(fig, "line", "quick", {"k": 1}, folder=tmp_path)
    before = (tmp_path / "quick" / "line.png").read_bytes()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    plotting.save(fig, "line", "smoke", folder=tmp_path)
    assert (tmp_path / "quick" / "line.png").read_bytes() == before
    assert (tmp_path / "smoke" / "line.png").exists()
    assert json.loads((tmp_path / "quick" / "line.json").read_text())["profile"] == "quick"
    with pytest.raises(ValueError, match="profile must be one of"):
        plotting.save(fig, "line", "huge", folder=tmp_path)


def test_stored_results_need_a_clean_tree(tmp_path):
    from sae.utils import repo_root, require_clean_for_stored

    stored = repo_root() / "results" / "stored" / "x"
    with pytest.raises(SystemExit, match="uncommitted changes"):
        require_clean_for_stored(stored, "abc123-dirty")
    require_clean_for_stored(stored, "abc123")                      # clean: fine
    require_clean_for_stored(tmp_path / "scratch", "abc123-dirty")  # scratch output: fine


def test_fid_standard_error_shrinks_with_the_sample():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4))
    g = torch.Generator().manual_seed(0)
    small = M.fid(net, torch.randn(100, 12, generator=g), torch.randn(100, 12, generator=g) + 0.3, n_boot=30)
    large = M.fid(net, torch.randn(2000, 12, generator=g), torch.randn(2000, 12, generator=g) + 0.3, n_boot=30)
    assert 0 < large["se"] < small["se"] and small["n_boot"] == 30


def test_the_bandwidth_scan_of_the_latent_mmd():
    """Factor 1 is the reported latent MMD; prior draws score near 0 at every width, shrunken codes
    far above it at every width."""
    p = priors.make_prior("sphere", 6)
    codes = p.sample(600, torch.Generator().manual_seed(9))
    scan = M.latent_mmd_x1000_scan(codes * 0.6, p)
    assert list(scan) == ["0.125", "0.25", "0.5", "1", "2", "4"]
    assert scan["1"] == pytest.approx(M.latent_mmd_x1000(codes * 0.6, p), rel=1e-12)
    matched = M.latent_mmd_x1000_scan(codes, p)
    assert all(abs(matched[k]) < 5 and scan[k] > 10 * max(abs(matched[k]), 0.5) for k in scan)


def test_precision_recall_separates_fidelity_from_diversity():
    """Same distribution: both high; far away: both 0; collapsed onto a few real points: precision
    high, recall low (the mode-dropping a FID of Bernoulli means can hide)."""
    g = torch.Generator().manual_seed(0)
    real, same = torch.randn(1500, 8, generator=g), torch.randn(1500, 8, generator=g)
    assert min(M.precision_recall(real, same)) > 0.6
    assert M.precision_recall(real, same + 20.0) == (0.0, 0.0)
    collapsed = real[:20].repeat(75, 1) + 0.01 * torch.randn(1500, 8, generator=g)
    precision, recall = M.precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.1
    # the radii are the distance to the k-th nearest *other* point
    line = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert M.knn_radii(line, 1).tolist() == [1.0, 1.0, 2.0, 4.0]


def test_fid_protocol_images():
    """The protocols score what they say: means in [0, 1], thresholded and sampled images binary,
    reconstructions of the test digits."""
    from sae.studies import fid_protocol

    cfg = tiny("sae")
    model = models.build_model(cfg, (1, 28, 28), "bce")
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    out = {w: fid_protocol._images(model, w, x, torch.Generator().manual_seed(1)) for w in fid_protocol.WHAT}
    assert all(o.shape == x.shape for o in out.values())
    assert 0 < out["Bernoulli means"].min() and out["Bernoulli means"].max() < 1
    for w in ("thresholded at 0.5", "Bernoulli samples"):
        assert set(out[w].unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(out["thresholded at 0.5"], (out["Bernoulli means"] > 0.5).float())




@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_targets_variants_train_on_cuda():
    """SAE's and HAE's fixed-targets variants (ICLR Table 1) draw their matching noise on the cost
    matrix's device: one step of each on CUDA, and match_targets on a CUDA cost matrix."""
    for model_name in ("sae", "hae"):
        cfg = C.make_config("smoke", model_name, "sphere", seed=0, targets=True, hidden=(16,),
                            data={"n_train": 64, "n_test": 32}, train={"epochs": 1, "batch_size": 32})
        model = models.build_model(cfg, (1, 28, 28), "bce", 64).cuda()
        C_ = torch.rand(32, 32, device="cuda")
        perm = model.match_targets(C_, torch.Generator().manual_seed(0))
        assert perm.device.type == "cuda" and sorted(perm.tolist()) == list(range(32))
        idx = torch.arange(32, device="cuda")
        out = model(torch.rand(32, 1, 28, 28, device="cuda"), model.target_bank[idx], torch.Generator().manual_seed(1))
        out["loss"].backward()
        model.reassign_targets(idx, out["z"], torch.Generator().manual_seed(2))
