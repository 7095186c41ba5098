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

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ..engine.data import load
from ..engine.fid import mnist_feature_net
from ..engine.metrics import latent_ot
from ..engine.profiles import sizes
from ..engine.store import get_or_train
from ..engine.sweeps import table_config
from . import geometry

# The ICLR settings: 10-d Dir(1/2) (Fig. 3a), 10-d Dir(1/5) (text), 16-d Dir(1/5) (Fig. 3b–e).
SETTINGS = ((10, 0.5), (10, 0.2), (16, 0.2))
PURITY = 0.5             # a vertex "belongs" to a digit when at least half of its codes are that digit
MIN_CODES = 10           # vertices holding fewer test codes are not counted


def config(profile: str, dim: int, alpha: float, seed: int = 0, eps: float | None = None):
    """SAE on MNIST with a d-dimensional Dir(α) prior: softmax encoder, squared Euclidean cost.

    The paper states no ε or cost for the simplex; we keep the squared Euclidean cost of every
    other experiment and use the prior's ε = 0.01 unless ``eps`` (book page "The paper's setup and
    our deviations")."""
    extra = {"sinkhorn": {"eps": eps}} if eps is not None else {}
    return table_config(profile, "sae", "dirichlet", seed, latent_dim=dim, dirichlet_alpha=alpha,
                        train={"epochs": sizes("simplex", profile).epochs, "fid_every": 0}, **extra)


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


@dataclass(frozen=True)
class CrispGroup:
    """Decoded codes of one kind: how many, their mean classifier confidence and binarity."""
    name: str
    n: int
    confidence: float
    binarity: float


CRISP_GAIN = 0.05      # claim 12: near-vertex samples at least this much more confidently classified than inside ones


@dataclass(frozen=True)
class Crispness:
    """Are samples near a vertex crisper than samples inside the simplex? Three groups (exact
    vertices, prior samples in the top decile of vertexness, the bottom half) and the Spearman
    correlations of vertexness with confidence and binarity over the prior samples."""
    exact: CrispGroup
    near: CrispGroup
    inside: CrispGroup
    spearman_confidence: float
    spearman_binarity: float

    @property
    def near_minus_inside_confidence(self) -> float:
        return self.near.confidence - self.inside.confidence

    @property
    def near_minus_inside_binarity(self) -> float:
        return self.near.binarity - self.inside.binarity

    def crisper_near_vertices(self) -> bool:
        """Claim 12's half on samples: near-vertex samples ≥ CRISP_GAIN more confident than inside
        ones, and confidence rising with vertexness (ρ > 0)."""
        return self.near_minus_inside_confidence >= CRISP_GAIN and self.spearman_confidence > 0

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(g) for g in (self.exact, self.near, self.inside)]).set_index("name")


def crispness_summary(df: pd.DataFrame) -> Crispness:
    """Mean confidence and binarity of: exact vertices, prior samples in the top decile of
    vertexness ("near a vertex"), and the bottom half ("inside"); Spearman correlations."""
    s = df[~df.vertex]
    hi, lo = s.vertexness.quantile(0.9), s.vertexness.median()

    def group(name, g):
        return CrispGroup(name, len(g), float(g.confidence.mean()), float(g.binarity.mean()))

    return Crispness(group("exact vertices", df[df.vertex]),
                     group(f"near a vertex (top 10%, max ≥ {hi:.2f})", s[s.vertexness >= hi]),
                     group(f"inside (bottom 50%, max < {lo:.2f})", s[s.vertexness < lo]),
                     float(spearmanr(s.vertexness, s.confidence)[0]), float(spearmanr(s.vertexness, s.binarity)[0]))


def sorted_profile(z: torch.Tensor | np.ndarray) -> np.ndarray:
    """Mean of each code's coordinates sorted in decreasing order: how much mass the largest,
    second largest, … coordinate carries (the same curve for codes and prior draws when they match)."""
    return -np.sort(-np.asarray(z), axis=1).mean(0)


def classifier(cfg) -> torch.nn.Module:
    """The digit classifier behind the FID features of ``cfg``'s data (trained once on its full
    training split, cached)."""
    return mnist_feature_net(load(replace(cfg.data, n_train=None, n_test=None)))[0].cnn.eval()


@dataclass
class SimplexStudy:
    summary: pd.DataFrame        # one row per setting
    runs: dict                   # label -> (run, test codes)
    models: dict                 # label -> trained model
    tables: dict                 # label -> vertex table
    crispness: pd.DataFrame      # ``crispness`` of the 16-d Dir(1/5) model (label MAIN)
    data: object                 # the digits
    knn_sphere: float            # 5-NN accuracy of SAE on the 10-d sphere (comparison table, seed 0)


def study(profile: str, seed: int = 0) -> SimplexStudy:
    """Train (or reload) SAE with each Dirichlet setting, plus 16-d Dir(1/5) at the paper's default
    ε = 0.1, and measure each on the test digits; and SAE on the sphere for comparison."""
    settings = [(d, a, None) for d, a in SETTINGS] + [(16, 0.2, 0.1)]
    base = config(profile, *SETTINGS[0], seed)
    digits = load(base.data)
    rows, runs, models, tables = [], {}, {}, {}
    for dim, alpha, eps in settings:
        cfg = config(profile, dim, alpha, seed, eps)
        run = get_or_train(cfg, progress=False)
        model = run.model()
        z_test, z_train = geometry.codes(model, digits.x_test), geometry.codes(model, digits.x_train)
        table = vertex_table(z_test, digits.y_test.numpy())
        name = label(dim, alpha) + ("" if eps is None else f", ε = {eps:g}")
        runs[name], models[name], tables[name] = (run, z_test), model, table
        rows.append({"setting": name, "ε": cfg.sinkhorn.eps, "RE": run.metrics.reconstruction_error,
                     "FID": run.metrics.fid, "latent OT": run.metrics.latent_ot,
                     "5-NN accuracy": geometry.knn_accuracy(z_train, digits.y_train, z_test, digits.y_test),
                     "vertex purity": mean_purity(table),
                     "digits with a vertex": len(digits_with_a_vertex(table)),
                     "largest coordinate, codes": float(vertexness(z_test).mean()),
                     "largest coordinate, prior": float(vertexness(model.prior.sample(
                         len(z_test), torch.Generator().manual_seed(seed))).mean())})
    sphere = get_or_train(table_config(profile, "sae", "sphere", seed), progress=False).model()
    knn_sphere = geometry.knn_accuracy(geometry.codes(sphere, digits.x_train), digits.y_train,
                                       geometry.codes(sphere, digits.x_test), digits.y_test)
    return SimplexStudy(pd.DataFrame(rows), runs, models, tables, crispness(models[MAIN], classifier(base), seed=seed),
                        digits, knn_sphere)


def tsne_panels(st: SimplexStudy, profile: str, names=(label(10, 0.5), MAIN)) -> dict:
    """t-SNE of the test codes of the named settings, coloured by digit (ICLR Fig. 3a, b)."""
    return {n: (geometry.tsne(st.runs[n][1], profile), st.data.y_test) for n in names}


@torch.no_grad()
def decoded_vertices(st: SimplexStudy, name: str = MAIN) -> torch.Tensor:
    """The decoder's image of each vertex e_k that holds codes, in the vertex table's order."""
    model = st.models[name]
    return model.decode(torch.eye(model.prior.dim)[st.tables[name]["vertex"].tolist()])


@dataclass
class PosteriorVsPrior:
    joint_codes: np.ndarray      # t-SNE of codes, fit jointly with the prior draws
    joint_prior: np.ndarray
    profile_codes: np.ndarray    # sorted-coordinate profiles
    profile_prior: np.ndarray
    ot_codes: float              # OT of the test codes to prior draws (the run's metric)
    ot_floor: float              # OT of prior draws to other prior draws, same size

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"largest coordinate": [self.profile_codes[0], self.profile_prior[0]],
                             "second": [self.profile_codes[1], self.profile_prior[1]],
                             "OT to prior draws": [self.ot_codes, self.ot_floor]}, index=["test codes", "prior draws"])


def posterior_vs_prior(st: SimplexStudy, profile: str, name: str = MAIN, seed: int = 1) -> PosteriorVsPrior:
    """Aggregated posterior against the prior (ICLR Fig. 3c): a joint t-SNE, the sorted-coordinate
    profiles, and OT to prior draws beside the prior-vs-prior floor at the same sample size."""
    run, z = st.runs[name]
    prior = st.models[name].prior
    draws = prior.sample(len(z), torch.Generator().manual_seed(seed)).numpy()
    joint = geometry.tsne(np.r_[z, draws], profile)
    return PosteriorVsPrior(joint[:len(z)], joint[len(z):], sorted_profile(z), sorted_profile(draws),
                            run.metrics.latent_ot, latent_ot(torch.as_tensor(draws), prior, seed=5))


@torch.no_grad()
def edges_and_samples(st: SimplexStudy, name: str = MAIN, n_pairs: int = 4, steps: int = 10,
                      seed: int = 2) -> tuple[dict, torch.Tensor, list]:
    """Decoded points on simplex edges between vertices owned by different digits (ICLR Fig. 3d),
    and 30 decoded prior samples (Fig. 3e). Returns ({"a → b": images}, samples, vertex pairs)."""
    table, model = st.tables[name], st.models[name]
    firsts = table.drop_duplicates("digit")
    pairs = list(zip(firsts["vertex"].values[0::2], firsts["vertex"].values[1::2]))[:n_pairs]
    owner = dict(zip(table["vertex"], table["digit"]))
    rows = {f"{owner[i]} → {owner[j]}": model.decode(edge_path(int(i), int(j), model.prior.dim, steps))
            for i, j in pairs}
    samples = model.decode(model.prior.sample(30, torch.Generator().manual_seed(seed)))
    return rows, samples, [[int(i), int(j)] for i, j in pairs]


def findings(st: SimplexStudy) -> list[str]:
    """The sentences the chapter's conclusion quotes, from the study's numbers."""
    by = st.summary.set_index("setting")
    out = [f"10-d Dir(1/2) vs the sphere: 5-NN accuracy {by.loc[label(10, 0.5), '5-NN accuracy']:.3f} vs "
           f"{st.knn_sphere:.3f}"]
    for name in (label(10, 0.2), MAIN):
        out.append(f"{name}: vertex purity {by.loc[name, 'vertex purity']:.2f}, "
                   f"{by.loc[name, 'digits with a vertex']} of 10 digits own a vertex")
    alt = MAIN + ", ε = 0.1"
    out.append(f"ε = 0.01 vs 0.1 (16-d Dir(1/5)): FID {by.loc[MAIN, 'FID']:.0f} vs {by.loc[alt, 'FID']:.0f}, "
               f"purity {by.loc[MAIN, 'vertex purity']:.2f} vs {by.loc[alt, 'vertex purity']:.2f}")
    return out
