"""Dirichlet priors on the simplex (ICLR §6.4, Figure 3): which digits sit at which vertices, and
whether samples near a vertex are crisper than samples inside the simplex.

The encoder ends in a softmax, so a code is a point of the simplex Δ^{d−1}; its *vertex* is its
largest coordinate, and its *vertexness* is that coordinate's value (1 at a vertex, 1/d at the
centre). Numbers behind the paper's qualitative statements:

* ``vertex_table``: per vertex, how many test codes it holds and which digit dominates there
  (the paper: with 16-d Dir(1/5) "every digit sits on one of the 16 vertices");
* ``crispness``: for decoded prior samples, the confidence of the digit classifier (max softmax)
  and how black-and-white the image is, against vertexness (the paper: "samples from vertices
  are crisper").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

# The ICLR settings: 10-d Dir(1/2) (Fig. 3a), 10-d Dir(1/5) (text), 16-d Dir(1/5) (Fig. 3b–e).
SETTINGS = ((10, 0.5), (10, 0.2), (16, 0.2))
# Per profile: training epochs (twice the quick profile's 8: the softmax codes take longer to settle).
SIMPLEX_SIZES = {"smoke": {"epochs": 1}, "quick": {"epochs": 16}, "paper": {"epochs": 100}}
PURITY = 0.5             # a vertex "belongs" to a digit when at least half of its codes are that digit
MIN_CODES = 10           # vertices holding fewer test codes are not counted


def config(profile: str, dim: int, alpha: float, seed: int = 0, eps: float | None = None):
    """SAE on MNIST with a d-dimensional Dir(α) prior: softmax encoder, squared Euclidean cost.

    The paper states no ε or cost for the simplex; we keep the squared Euclidean cost of every
    other experiment (paper-notes §2.2) and use ε = 0.01 (config.SINKHORN_EPS) unless ``eps``."""
    from .config import make_config

    extra = {"sinkhorn": {"eps": eps}} if eps is not None else {}
    return make_config(profile, "sae", "dirichlet", "mnist", latent_dim=dim, dirichlet_alpha=alpha, seed=seed,
                       train={"epochs": SIMPLEX_SIZES[profile]["epochs"]}, **extra)


def label(dim: int, alpha: float) -> str:
    return f"{dim}-d Dir({alpha:g})"


MAIN = label(16, 0.2)    # the model of ICLR Fig. 3c–e


def vertex_table(codes: np.ndarray, labels: np.ndarray, min_codes: int = MIN_CODES) -> pd.DataFrame:
    """One row per vertex holding ≥ ``min_codes`` codes: count, share, majority digit, purity,
    mean vertexness of its codes. Sorted by majority digit."""
    codes, labels = np.asarray(codes), np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise ValueError(f"codes must be (n, d) with one label each; got {codes.shape} and {labels.shape}")
    top, mx = codes.argmax(1), codes.max(1)
    rows = []
    for k in range(codes.shape[1]):
        at = top == k
        if at.sum() < min_codes:
            continue
        counts = np.bincount(labels[at], minlength=10)
        rows.append({"vertex": k, "codes": int(at.sum()), "share": float(at.mean()), "digit": int(counts.argmax()),
                     "purity": float(counts.max() / at.sum()), "vertexness": float(mx[at].mean()),
                     "second digit": int(np.argsort(counts)[-2])})
    return pd.DataFrame(rows).sort_values(["digit", "purity"], ascending=[True, False]).reset_index(drop=True)


def digits_with_a_vertex(table: pd.DataFrame, purity: float = PURITY) -> list[int]:
    """The digits that dominate (purity ≥ ``purity``) at least one vertex."""
    return sorted(set(table.loc[table["purity"] >= purity, "digit"]))


def mean_purity(table: pd.DataFrame) -> float:
    """Share of test codes whose vertex's majority digit is their own digit."""
    return float((table["purity"] * table["codes"]).sum() / table["codes"].sum())


def edge_path(i: int, j: int, dim: int, steps: int = 8) -> torch.Tensor:
    """(steps, dim) points on the simplex edge from vertex e_i to vertex e_j (ICLR Fig. 3d)."""
    t = torch.linspace(0, 1, steps)[:, None]
    e = torch.eye(dim)
    return (1 - t) * e[i] + t * e[j]


def vertexness(z: torch.Tensor | np.ndarray) -> np.ndarray:
    return np.asarray(z).max(1)


@torch.no_grad()
def crispness(model, classifier, n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per decoded prior sample: vertexness of z, classifier confidence (max softmax probability)
    and binarity (mean |2x − 1| over pixels: 1 for pure black/white, 0 for uniform grey); plus
    the d exact vertices, marked ``vertex=True``."""
    model.eval()
    classifier.eval()
    z = model.prior.sample(n, torch.Generator().manual_seed(seed))
    z = torch.cat([z, torch.eye(model.prior.dim)])
    x = model.decode(z)
    conf = torch.softmax(classifier(x), 1).max(1).values
    binarity = (2 * x - 1).abs().flatten(1).mean(1)
    return pd.DataFrame({"vertexness": vertexness(z), "confidence": conf.numpy(), "binarity": binarity.numpy(),
                         "vertex": np.r_[np.zeros(n, bool), np.ones(model.prior.dim, bool)]})


def crispness_summary(df: pd.DataFrame) -> dict:
    """Mean confidence and binarity of: exact vertices, prior samples in the top decile of
    vertexness ("near a vertex"), and the bottom half ("inside"); Spearman correlations."""
    from scipy.stats import spearmanr

    s = df[~df["vertex"]]
    hi, lo = s["vertexness"].quantile(0.9), s["vertexness"].median()
    groups = {"exact vertices": df[df["vertex"]], f"near a vertex (top 10%, max ≥ {hi:.2f})": s[s["vertexness"] >= hi],
              f"inside (bottom 50%, max < {lo:.2f})": s[s["vertexness"] < lo]}
    out = {"groups": {k: {"n": len(g), "confidence": float(g["confidence"].mean()),
                          "binarity": float(g["binarity"].mean())} for k, g in groups.items()},
           "spearman_confidence": float(spearmanr(s["vertexness"], s["confidence"])[0]),
           "spearman_binarity": float(spearmanr(s["vertexness"], s["binarity"])[0])}
    names = list(groups)
    out["near_minus_inside_confidence"] = out["groups"][names[1]]["confidence"] - out["groups"][names[2]]["confidence"]
    out["near_minus_inside_binarity"] = out["groups"][names[1]]["binarity"] - out["groups"][names[2]]["binarity"]
    return out


def sorted_profile(z: torch.Tensor | np.ndarray) -> np.ndarray:
    """Mean of each code's coordinates sorted in decreasing order: how much mass the largest,
    second largest, … coordinate carries (the same curve for codes and prior draws when they match)."""
    return -np.sort(-np.asarray(z), axis=1).mean(0)


def classifier() -> torch.nn.Module:
    """The digit classifier behind the FID features (trained once on the full embedded split, cached)."""
    from .data import embedded_mnist
    from .fid import mnist_feature_net

    return mnist_feature_net(embedded_mnist())[0].cnn.eval()


def study(profile: str, seed: int = 0) -> dict:
    """Train (or reload) SAE with each Dirichlet setting, plus 16-d Dir(1/5) at the paper's default
    ε = 0.1, and measure each on the test digits.

    Returns {"summary": one row per run, "runs": {label: (run, test codes)}, "models", "tables"
    (vertex tables) per label, "crispness": ``crispness`` of the 16-d Dir(1/5) model (label MAIN),
    "data": the digits}.
    """
    from . import geometry
    from .data import embedded_mnist
    from .experiments import get_or_train

    settings = [(d, a, None) for d, a in SETTINGS] + [(16, 0.2, 0.1)]
    base = config(profile, *SETTINGS[0], seed)
    digits = embedded_mnist(base.data.n_train, base.data.n_test)
    rows, runs, models, tables = [], {}, {}, {}
    for dim, alpha, eps in settings:
        cfg = config(profile, dim, alpha, seed, eps)
        run = get_or_train(cfg, progress=False)
        model = run.model()
        z_test, z_train = geometry.codes(model, digits.x_test), geometry.codes(model, digits.x_train)
        table = vertex_table(z_test, digits.y_test.numpy())
        name = label(dim, alpha) + ("" if eps is None else f", ε = {eps:g}")
        runs[name], models[name], tables[name] = (run, z_test), model, table
        rows.append({"setting": name, "ε": cfg.sinkhorn.eps, "RE": run.metrics["reconstruction_error"],
                     "FID": run.metrics["fid"], "latent OT": run.metrics["latent_ot"],
                     "5-NN accuracy": geometry.knn_accuracy(z_train, digits.y_train, z_test, digits.y_test),
                     "vertex purity": mean_purity(table),
                     "digits with a vertex": len(digits_with_a_vertex(table)),
                     "largest coordinate, codes": float(vertexness(z_test).mean()),
                     "largest coordinate, prior": float(vertexness(model.prior.sample(
                         len(z_test), torch.Generator().manual_seed(seed))).mean())})
    return {"summary": pd.DataFrame(rows), "runs": runs, "models": models, "tables": tables,
            "crispness": crispness(models[MAIN], classifier(), seed=seed), "data": digits}
