"""Latent-geometry studies: Sinkhorn encoders, and the Gaussian prior's shell.

Numbers back every qualitative claim: trustworthiness (is the latent neighbourhood of a point
made of its data neighbours?), k-NN accuracy of codes (do classes separate without labels?), and
the learned per-dimension code variance against the latent dimension.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import asdict, dataclass

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


TRUST_KEPT = 0.02       # the trained encoder keeps local geometry: trustworthiness at most this below untrained
OT_MOVED = 0.5          # the codes move onto the prior: OT to it below this share of the untrained net's


@dataclass(frozen=True)
class RollRow:
    """The Swiss-roll encoder onto one prior: trustworthiness of its test codes and their exact OT
    to the prior, trained and untrained, the prior-vs-prior OT floor at the same sample size, and
    (for the square) PCA's and Isomap's trustworthiness on the same points."""
    prior: str
    epochs: int
    trust_trained: float
    trust_untrained: float
    ot_trained: float
    ot_untrained: float
    ot_floor: float
    trust_pca: float = math.nan
    trust_isomap: float = math.nan

    def moved_onto_prior(self) -> bool:
        return self.ot_trained < OT_MOVED * self.ot_untrained

    def kept_geometry(self) -> bool:
        return self.trust_trained >= self.trust_untrained - TRUST_KEPT

    def text(self) -> str:
        classical = (f", PCA {self.trust_pca:.3f}, Isomap {self.trust_isomap:.3f}"
                     if not math.isnan(self.trust_isomap) else "")
        return (f"roll→{self.prior}: trustworthiness {self.trust_trained:.3f} (untrained {self.trust_untrained:.3f}"
                f"{classical}), OT to prior {self.ot_trained:.3g} = {self.ot_trained / self.ot_floor:.1f}× the "
                f"prior-vs-prior floor (untrained {self.ot_untrained:.3g})")


ROLL_COLUMNS = {"prior": "prior", "epochs": "epochs", "trust_trained": "trustworthiness, trained",
                "trust_untrained": "trustworthiness, untrained", "ot_trained": "OT to prior, trained",
                "ot_untrained": "OT to prior, untrained", "ot_floor": "OT floor (prior vs prior)",
                "trust_pca": "trustworthiness, PCA", "trust_isomap": "trustworthiness, Isomap"}


@dataclass
class SwissRollStudy:
    rows: list[RollRow]          # per prior (square, sphere)
    embeddings: dict             # prior -> (n_test, dim) test codes of the trained encoder
    roll: Dataset
    curves: dict                 # prior -> training loss (the Sinkhorn term) per epoch
    baselines: dict              # method -> (n_test, 2) embedding of the same points (PCA, Isomap)

    @property
    def table(self) -> pd.DataFrame:
        """The rows as the chapter shows them (one column per number, named for a reader)."""
        return pd.DataFrame([asdict(r) for r in self.rows]).rename(columns=ROLL_COLUMNS)

    def holds(self) -> bool:
        """The chapter's and claim 11's rule: on every prior the codes moved onto the prior (OT below
        OT_MOVED of the untrained net's) and kept local geometry (trustworthiness within TRUST_KEPT)."""
        return all(r.moved_onto_prior() and r.kept_geometry() for r in self.rows)

    def check(self) -> None:
        """Fail loudly (the chapter's check) unless :meth:`holds`, naming the part that broke."""
        assert all(r.moved_onto_prior() for r in self.rows), "codes did not move onto the prior"
        assert all(r.kept_geometry() for r in self.rows), "local geometry lost"

    def summary(self) -> str:
        """The square embedding in words, from its numbers: where its trustworthiness falls between
        PCA (a linear projection) and Isomap (an unrolling), and how close its codes are to the prior."""
        t = next(r for r in self.rows if r.prior == "box")
        trust, pca, iso = t.trust_trained, t.trust_pca, t.trust_isomap
        where = ("below PCA's" if trust < pca else "as high as Isomap's: an unrolled roll" if trust >= iso - 0.01
                 else f"{(trust - pca) / (iso - pca):.0%} of the way from PCA's to Isomap's: neighbourhoods kept "
                      "better than by a linear projection, but the roll is not unrolled as Isomap unrolls it")
        ratio = t.ot_trained / t.ot_floor
        return textwrap.fill(f"Square prior: trustworthiness {trust:.3f}, {where} (PCA {pca:.3f}, Isomap {iso:.3f}); "
                             f"OT to the prior {ratio:.1f}× the prior-vs-prior floor "
                             + ("(the codes are as uniform as prior draws)." if ratio <= 1.0 else
                                "(the codes fill the square less evenly than prior draws)."), 100)


ENCODER_ONLY, FULL_SAE, UNTRAINED, PIXELS = ("encoder only (Sinkhorn term)", "full SAE", "untrained encoder",
                                            "raw pixels")
KNN_GAIN = 0.05         # claim 11: the encoder's codes separate classes when 5-NN beats untrained codes by this


@dataclass
class KnnStudy:
    accuracy: dict               # model -> 5-NN accuracy of test codes (fit on training codes)
    models: dict                 # model -> the network (untrained one included)
    digits: Dataset

    def gain(self) -> float:
        """5-NN accuracy of the encoder-only codes over the untrained encoder's."""
        return self.accuracy[ENCODER_ONLY] - self.accuracy[UNTRAINED]


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
        classical = ({"trust_pca": trustworthiness(x, baselines["PCA"]),
                      "trust_isomap": trustworthiness(x, baselines["Isomap"])} if prior == "box" else {})
        rows.append(RollRow(prior, cfg.train.epochs, trustworthiness(x, z), trustworthiness(x, z0),
                            metrics.latent_ot(torch.as_tensor(z), model.prior),
                            metrics.latent_ot(torch.as_tensor(z0), model.prior),
                            prior_ot_floor(model.prior, len(z)), **classical))
    return SwissRollStudy(rows, embeddings, roll, curves, baselines)


def converged(curve: list[float], tail: float = 0.2, tol: float = 0.1) -> bool:
    """The loss has levelled off: the mean of the last ``tail`` of the epochs is within ``tol``
    (relative) of the mean of the ``tail`` before it."""
    k = max(1, int(len(curve) * tail))
    if len(curve) < 2 * k:
        return False
    last, before = np.mean(curve[-k:]), np.mean(curve[-2 * k:-k])
    return bool(abs(before - last) <= tol * abs(before))


def mnist_knn_study(profile: str) -> KnnStudy:
    """5-NN accuracy of test codes on the 10-d sphere (fit on training codes): the encoder trained
    with the Sinkhorn term alone, the full SAE of the comparison table, the encoder untrained, and
    raw pixels."""
    cfg = mnist_encoder_config(profile)
    digits = load(cfg.data)
    models = {ENCODER_ONLY: get_or_train(cfg, progress=False).model(),
              FULL_SAE: get_or_train(table_config(profile, "sae", "sphere", 0), progress=False).model(),
              UNTRAINED: untrained(cfg, digits.shape, digits.recon, len(digits.x_train))}
    knn = {name: knn_accuracy(codes(m, digits.x_train), digits.y_train, codes(m, digits.x_test), digits.y_test)
           for name, m in models.items()}
    knn[PIXELS] = knn_accuracy(digits.x_train.flatten(1).numpy(), digits.y_train,
                                     digits.x_test.flatten(1).numpy(), digits.y_test)
    return KnnStudy(knn, models, digits)


def knn_tsne_panels(study: KnnStudy, profile: str) -> dict:
    """t-SNE of the 10-d test codes of the encoder-only and the full SAE, coloured by digit."""
    pick = {"encoder only": ENCODER_ONLY, "full SAE": FULL_SAE}
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
            rows.append({"method": m, "latent_dim": d, "code_variance": run.metrics.code_variance_mean,
                         "fid": run.metrics.fid, "latent_ot": run.metrics.latent_ot})
    return pd.DataFrame(rows)
