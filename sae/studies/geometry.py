"""Latent-geometry studies: Sinkhorn encoders, and the Gaussian prior's shell.

Numbers back every qualitative claim: trustworthiness (is the latent neighbourhood of a point
made of its data neighbours?), k-NN accuracy of codes (do classes separate without labels?), and
the learned per-dimension code variance against the latent dimension.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, Isomap
from sklearn.manifold import trustworthiness as _trustworthiness
from sklearn.neighbors import KNeighborsClassifier

from ..engine import metrics
from ..engine.config import make_config
from ..engine.data import Dataset, load, swiss_roll
from ..engine.profiles import sizes
from ..engine.store import get_or_train
from ..engine.sweeps import table_config
from ..models import build_model


def swiss_roll_config(profile: str, prior: str, seed: int = 0):
    """ICLR §6.1: encoder alone, 50-50 ReLU MLP, ε = 1e-3, onto a square (box) or a sphere (S² ⊂ R³)."""
    s = sizes("geometry", profile)
    return make_config(profile, "sae_encoder", prior, "swissroll", latent_dim=2 if prior == "box" else 3,
                       hidden=(50, 50), seed=seed, sinkhorn={"eps": 1e-3, "max_iter": s.roll_L},
                       data={"n_train": 2000, "n_test": 1000},
                       train={"epochs": s.roll_epochs, "batch_size": 256, "lr": 1e-3})


def mnist_encoder_config(profile: str, seed: int = 0):
    """ICLR §6.1: MNIST onto the 10-d sphere, encoder only, ε = 0.5."""
    dataset = sizes("comparison", profile).dataset
    return make_config(profile, "sae_encoder", "sphere", dataset, latent_dim=10, seed=seed, sinkhorn={"eps": 0.5})


@torch.no_grad()
def codes(model, x: torch.Tensor) -> np.ndarray:
    model.eval()
    return model.embed(x).numpy()


def tsne(z: np.ndarray, profile: str, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of codes (PCA start, perplexity ≤ 30, iterations per profile)."""
    return TSNE(2, init="pca", random_state=seed, perplexity=min(30, len(z) // 4),
                max_iter=sizes("geometry", profile).tsne_iter).fit_transform(np.asarray(z))


def trustworthiness(x: np.ndarray, z: np.ndarray, k: int = 10) -> float:
    """Trustworthiness (Venna & Kaski 2001; scikit-learn): 1 when the k nearest codes of every point
    are among its k nearest data neighbours."""
    return float(_trustworthiness(x, z, n_neighbors=k))


def knn_accuracy(z_train, y_train, z_test, y_test, k: int = 5) -> float:
    return float(KNeighborsClassifier(k).fit(z_train, y_train).score(z_test, y_test))


def untrained(cfg, shape, recon, n_train):
    """The same architecture at its random initialisation: the baseline a trained encoder must beat."""
    torch.manual_seed(cfg.seed)
    return build_model(cfg, shape, recon, n_train).eval()


@dataclass
class SwissRollStudy:
    table: pd.DataFrame          # per prior: trustworthiness and OT to the prior, trained and untrained
    embeddings: dict             # prior -> (n_test, dim) test codes of the trained encoder
    roll: Dataset
    curves: dict                 # prior -> training loss (the Sinkhorn term) per epoch
    baselines: dict              # method -> (n_test, 2) embedding of the same points (PCA, Isomap)


@dataclass
class KnnStudy:
    accuracy: dict               # model -> 5-NN accuracy of test codes (fit on training codes)
    models: dict                 # model -> the network (untrained one included)
    digits: Dataset


TRUST_K = 10            # neighbours of the trustworthiness score


def prior_ot_floor(prior, n: int, draws: int = 5, seed: int = 0) -> float:
    """The largest exact OT distance between two independent n-point samples of the prior over
    ``draws`` pairs: what codes distributed exactly like the prior score against prior draws at
    this sample size (the same estimator as :func:`sae.engine.metrics.latent_ot`)."""
    g = torch.Generator().manual_seed(10_000 + seed)
    return max(metrics.latent_ot(prior.sample(n, g, dtype=torch.float64), prior, seed=seed + k)
               for k in range(draws))


def swiss_roll_study(profile: str) -> SwissRollStudy:
    """Per prior (square, sphere), the encoder trained to convergence: its loss curve, the
    trustworthiness (k = TRUST_K) and exact OT to the prior of its test codes, beside the same
    network untrained, the prior-vs-prior OT floor at the same sample size, and, for the square,
    PCA and Isomap (scikit-learn) embeddings of the same points."""
    roll = swiss_roll(2000, 1000)
    x = roll.x_test.numpy()
    baselines = {"PCA": PCA(2).fit_transform(x), "Isomap": Isomap(n_neighbors=TRUST_K, n_components=2).fit_transform(x)}
    rows, embeddings, curves = [], {}, {}
    for prior in ("box", "sphere"):
        cfg = swiss_roll_config(profile, prior)
        run = get_or_train(cfg, progress=False)
        model = run.model()
        z = codes(model, roll.x_test)
        z0 = codes(untrained(cfg, roll.shape, roll.recon, len(roll.x_train)), roll.x_test)
        embeddings[prior], curves[prior] = z, [c.loss for c in run.curve]
        row = {"prior": prior, "epochs": cfg.train.epochs, "trustworthiness, trained": trustworthiness(x, z),
               "trustworthiness, untrained": trustworthiness(x, z0),
               "OT to prior, trained": metrics.latent_ot(torch.as_tensor(z), model.prior),
               "OT to prior, untrained": metrics.latent_ot(torch.as_tensor(z0), model.prior),
               "OT floor (prior vs prior)": prior_ot_floor(model.prior, len(z))}
        for name, emb in baselines.items():
            row[f"trustworthiness, {name}"] = trustworthiness(x, emb) if prior == "box" else np.nan
        rows.append(row)
    return SwissRollStudy(pd.DataFrame(rows), embeddings, roll, curves, baselines)


def roll_summary(table: pd.DataFrame) -> str:
    """The square embedding in words, from its numbers: where its trustworthiness falls between PCA
    (a linear projection) and Isomap (an unrolling), and how close its codes are to the prior."""
    t = table.set_index("prior").loc["box"]
    trust, pca, iso = t["trustworthiness, trained"], t["trustworthiness, PCA"], t["trustworthiness, Isomap"]
    where = ("below PCA's" if trust < pca else "as high as Isomap's: an unrolled roll" if trust >= iso - 0.01
             else f"{(trust - pca) / (iso - pca):.0%} of the way from PCA's to Isomap's: neighbourhoods kept "
                  "better than by a linear projection, but the roll is not unrolled as Isomap unrolls it")
    ratio = t["OT to prior, trained"] / t["OT floor (prior vs prior)"]
    return textwrap.fill(f"Square prior: trustworthiness {trust:.3f}, {where} (PCA {pca:.3f}, Isomap {iso:.3f}); "
                         f"OT to the prior {ratio:.1f}× the prior-vs-prior floor "
                         + ("(the codes are as uniform as prior draws)." if ratio <= 1.0 else
                            "(the codes fill the square less evenly than prior draws)."), 100)


def converged(curve: list[float], tail: float = 0.2, tol: float = 0.1) -> bool:
    """The loss has levelled off: the mean of the last ``tail`` of the epochs is within ``tol``
    (relative) of the mean of the ``tail`` before it."""
    k = max(1, int(len(curve) * tail))
    if len(curve) < 2 * k:
        return False
    last, before = np.mean(curve[-k:]), np.mean(curve[-2 * k:-k])
    return bool(abs(before - last) <= tol * abs(before))


def check_swiss_roll(table: pd.DataFrame) -> None:
    """Codes move onto the prior (OT halves against the untrained net) and keep local geometry."""
    assert (table["OT to prior, trained"] < 0.5 * table["OT to prior, untrained"]).all(), "codes did not move onto the prior"
    assert (table["trustworthiness, trained"] >= table["trustworthiness, untrained"] - 0.02).all(), "local geometry lost"


def mnist_knn_study(profile: str) -> KnnStudy:
    """5-NN accuracy of test codes on the 10-d sphere (fit on training codes): the encoder trained
    with the Sinkhorn term alone, the full SAE of the comparison table, the encoder untrained, and
    raw pixels."""
    cfg = mnist_encoder_config(profile)
    digits = load(cfg.data)
    models = {"encoder only (Sinkhorn term)": get_or_train(cfg, progress=False).model(),
              "full SAE": get_or_train(table_config(profile, "sae", "sphere", 0), progress=False).model(),
              "untrained encoder": untrained(cfg, digits.shape, digits.recon, len(digits.x_train))}
    knn = {name: knn_accuracy(codes(m, digits.x_train), digits.y_train, codes(m, digits.x_test), digits.y_test)
           for name, m in models.items()}
    knn["raw pixels"] = knn_accuracy(digits.x_train.flatten(1).numpy(), digits.y_train,
                                     digits.x_test.flatten(1).numpy(), digits.y_test)
    return KnnStudy(knn, models, digits)


def knn_tsne_panels(study: KnnStudy, profile: str) -> dict:
    """t-SNE of the 10-d test codes of the encoder-only and the full SAE, coloured by digit."""
    pick = {"encoder only": "encoder only (Sinkhorn term)", "full SAE": "full SAE"}
    return {f"{name} (t-SNE of 10-d codes)": (tsne(codes(study.models[key], study.digits.x_test), profile),
                                              study.digits.y_test) for name, key in pick.items()}


SHELL_DIMS = (2, 10, 64)      # dimensions of the shell illustration


def shell_norms(dims=SHELL_DIMS, n: int = 5000, seed: int = 0) -> dict:
    """Norms of N(0, I_d) draws: concentrated near √d (the 'shell')."""
    g = torch.Generator().manual_seed(seed)
    return {d: torch.randn(n, d, generator=g).norm(dim=1).numpy() for d in dims}


def check_shell(norms: dict) -> dict:
    """The relative width std/mean of ‖z‖ thins with d (a shell); returns it per d."""
    rel = {d: float(r.std() / r.mean()) for d, r in norms.items()}
    assert rel[max(rel)] < rel[min(rel)] / 3, "the shell does not thin with d"
    return rel


def gaussian_variance_study(profile: str, methods=("sae", "hae", "swae", "w2gae"), seed: int = 0) -> pd.DataFrame:
    """Per-dimension variance of the test codes, for each method and latent dimension (Gaussian
    prior), at the profile's latent dimensions."""
    rows = []
    for d in sizes("geometry", profile).shell_dims:
        for m in methods:
            cfg = table_config(profile, m, "gaussian", seed, latent_dim=d, train={"fid_every": 0})   # FID at the end
            run = get_or_train(cfg, progress=False)
            rows.append({"method": m, "latent_dim": d, "code_variance": run.metrics["code_variance_mean"],
                         "fid": run.metrics.get("fid"), "latent_ot": run.metrics["latent_ot"]})
    return pd.DataFrame(rows)
