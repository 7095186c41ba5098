"""Metrics as the paper reports them, each printed with what it was computed on.

* reconstruction error: summed binary cross-entropy per test image on binarised MNIST (ICLR §6),
  summed squared error per image otherwise;
* latent MMD×1000: unbiased MMD² between test-set codes and as many prior draws, Gaussian kernel
  with σ² = half the mean squared distance between prior draws (the paper gives no bandwidth; this
  choice is fixed per prior, so a column compares like with like);
* latent OT: exact OT (squared Euclidean) between test codes and prior draws;
* FID: Fréchet distance between Gaussians fitted to features of real and generated images, in the
  feature space of a small CNN trained here on the digits (ICLR protocol for MNIST), or of a local
  TorchScript network (Inception for CelebA). n_real and n_fake always travel with the score.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import Tensor, nn

from ..models.latent import gaussian_mmd, gaussian_mmd_scan
from ..ot import exact_ot

BINARISE_SEED = 1234


def binarise(x: Tensor, seed: int = BINARISE_SEED) -> Tensor:
    """A fixed stochastic binarisation (the test set of dynamically binarised MNIST)."""
    return torch.bernoulli(x, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def reconstruction_error(model, x: Tensor, batch: int = 500) -> float:
    """Mean per-example reconstruction cost of the deterministic codes (model.embed)."""
    model.eval()
    dev = next(model.parameters()).device
    xt = binarise(x) if model.recon == "bce" else x
    total = 0.0
    for i in range(0, len(xt), batch):
        xb = xt[i:i + batch].to(dev)
        total += model.reconstruction(xb, model.decoder(model.embed(xb))).item() * len(xb)
    return total / len(xt)


@torch.no_grad()
def embed(model, x: Tensor, batch: int = 1000) -> Tensor:
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([model.embed(x[i:i + batch].to(dev)).cpu() for i in range(0, len(x), batch)])


def mmd_bandwidth(prior, n: int = 2000, seed: int = 0) -> float:
    z = prior.sample(n, torch.Generator().manual_seed(seed), dtype=torch.float64)
    return 0.5 * (torch.cdist(z, z) ** 2).sum().item() / (n * (n - 1))


def latent_mmd_x1000(codes: Tensor, prior, seed: int = 0) -> float:
    z = prior.sample(len(codes), torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return 1000 * gaussian_mmd(codes.double(), z, mmd_bandwidth(prior)).item()


BANDWIDTH_FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)   # the scan of claim 7: multiples of the fixed bandwidth


def latent_mmd_x1000_scan(codes: Tensor, prior, seed: int = 0, factors=BANDWIDTH_FACTORS) -> dict[str, float]:
    """:func:`latent_mmd_x1000` at σ² = factor × the fixed bandwidth, for every factor (same prior
    draws): whether a model's latent match holds at every kernel width, not only at ours. The
    value at factor 1 equals :func:`latent_mmd_x1000`."""
    z = prior.sample(len(codes), torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    base = mmd_bandwidth(prior)
    values = gaussian_mmd_scan(codes.double(), z, [f * base for f in factors])
    return {f"{f:g}": 1000 * v.item() for f, v in zip(factors, values)}


def latent_ot(codes: Tensor, prior, seed: int = 0, max_n: int = 2000) -> float:
    codes = codes[:max_n].double()
    z = prior.sample(len(codes), torch.Generator().manual_seed(seed + 2), dtype=torch.float64)
    return exact_ot(codes, z).item()


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}) between Gaussians fitted to two feature sets."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    with warnings.catch_warnings():             # a singular product is handled below, not printed
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():          # singular product: regularise as pytorch-fid does
        off = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


@torch.no_grad()
def features(net: nn.Module, x: Tensor, batch: int = 500) -> np.ndarray:
    net.eval()
    dev = next(net.parameters()).device if any(True for _ in net.parameters()) else torch.device("cpu")
    return torch.cat([net(x[i:i + batch].to(dev)).cpu() for i in range(0, len(x), batch)]).numpy()


def knn_radii(f: Tensor, k: int, chunk: int = 1000) -> Tensor:
    """Distance from each row of ``f`` to its k-th nearest other row."""
    return torch.cat([torch.kthvalue(torch.cdist(f[i:i + chunk], f), k + 1, dim=1).values
                      for i in range(0, len(f), chunk)])


def _covered(query: Tensor, ref: Tensor, radii: Tensor, chunk: int = 1000) -> Tensor:
    """Whether each query row lies within the k-NN ball of some reference row."""
    return torch.cat([(torch.cdist(query[i:i + chunk], ref) <= radii[None]).any(1) for i in range(0, len(query), chunk)])


def precision_recall(real_features, fake_features, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall of a generative model (Kynkäänniemi et al. 2019): each
    feature set's manifold is the union of balls reaching every point's k-th nearest neighbour;
    precision is the share of generated points inside the real manifold (fidelity), recall the
    share of real points inside the generated one (diversity)."""
    fr = torch.as_tensor(np.asarray(real_features), dtype=torch.float32)     # cpu: features come back as numpy
    ff = torch.as_tensor(np.asarray(fake_features), dtype=torch.float32)     # cpu: as above
    precision = _covered(ff, fr, knn_radii(fr, k)).float().mean().item()
    recall = _covered(fr, ff, knn_radii(ff, k)).float().mean().item()
    return precision, recall


PR_K = 3          # the neighbourhood size of Kynkäänniemi et al. (2019)


def fid(net: nn.Module, real: Tensor, fake: Tensor, n_boot: int = 0, seed: int = 0, pr_k: int | None = None) -> dict:
    """FID with the feature network ``net``, the sample sizes it was computed on, and with
    ``n_boot`` > 0 its bootstrap standard error ``se``: the spread of FID over resamplings (with
    replacement) of both feature sets, the sampling noise a difference of FIDs must beat. With
    ``pr_k``, also :func:`precision_recall` in the same features (``precision``, ``recall``)."""
    fr, ff = features(net, real), features(net, fake)
    out = {"fid": frechet_distance(fr, ff), "n_real": len(real), "n_fake": len(fake)}
    if pr_k:
        out["precision"], out["recall"] = precision_recall(fr, ff, pr_k)
        out["pr_k"] = pr_k
    if n_boot:
        g = np.random.default_rng(seed)
        boots = [frechet_distance(fr[g.integers(0, len(fr), len(fr))], ff[g.integers(0, len(ff), len(ff))])
                 for _ in range(n_boot)]
        out["se"], out["n_boot"] = float(np.std(boots, ddof=1)), n_boot
    return out


class TorchScriptFeatures(nn.Module):
    """A feature network read from a local TorchScript file (e.g. Inception exported by the user).

    The file must map images (B, C, H, W) in [0, 1] to features (B, F); nothing is downloaded.
    """

    def __init__(self, path):
        super().__init__()
        if not Path(path).is_file():
            raise FileNotFoundError(f"feature network weights {path!r} not found (give a local TorchScript file)")
        self.net = torch.jit.load(str(path), map_location="cpu")
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)   # cpu: moves with the module (.to)

    def forward(self, x):
        return self.net(x.to(self.anchor.device)).flatten(1)
