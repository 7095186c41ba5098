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

from ..models.latent import gaussian_mmd
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


def fid(net: nn.Module, real: Tensor, fake: Tensor, n_boot: int = 0, seed: int = 0) -> dict:
    """FID with the feature network ``net``, the sample sizes it was computed on, and with
    ``n_boot`` > 0 its bootstrap standard error ``se``: the spread of FID over resamplings (with
    replacement) of both feature sets, the sampling noise a difference of FIDs must beat."""
    fr, ff = features(net, real), features(net, fake)
    out = {"fid": frechet_distance(fr, ff), "n_real": len(real), "n_fake": len(fake)}
    if n_boot:
        g = np.random.default_rng(seed)
        boots = [frechet_distance(fr[g.integers(0, len(fr), len(fr))], ff[g.integers(0, len(ff), len(ff))])
                 for _ in range(n_boot)]
        out["se"], out["n_boot"] = float(np.std(boots, ddof=1)), n_boot
    return out


def latent_mmd_floor_x1000(prior, n: int, seed: int = 0, n_null: int = 10, q: float = 0.95) -> float:
    """The ``q`` quantile of MMD×1000 between two independent prior samples of ``n`` points each
    (``n_null`` pairs), same kernel as :func:`latent_mmd_x1000`: what codes that match the prior
    exactly score at this sample size (the ICLR tables' "empirical lower bound"). The unbiased
    estimator is 0 on average for a perfect match and often negative, so the floor is the upper
    end of its spread, not its mean. It depends on the prior, ``n`` and the seed only, so it is
    computed once per process for all the runs that share them."""
    key = (prior.spec(), n, seed, n_null, q)
    if key not in _FLOORS:
        g = torch.Generator().manual_seed(seed + 3)
        bandwidth = mmd_bandwidth(prior)
        null = [1000 * gaussian_mmd(prior.sample(n, g, dtype=torch.float64), prior.sample(n, g, dtype=torch.float64),
                                    bandwidth).item() for _ in range(n_null)]
        _FLOORS[key] = float(np.quantile(null, q))
    return _FLOORS[key]


_FLOORS: dict[tuple, float] = {}


class TorchScriptFeatures(nn.Module):
    """A feature network read from a local TorchScript file (e.g. Inception exported by the user).

    The file must map images (B, C, H, W) in [0, 1] to features (B, F); nothing is downloaded.
    """

    def __init__(self, path):
        super().__init__()
        if not Path(path).is_file():
            raise FileNotFoundError(f"feature network weights {path!r} not found (give a local TorchScript file)")
        self.net = torch.jit.load(str(path), map_location="cpu")
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)   # gives the module a device

    def forward(self, x):
        return self.net(x.to(self.anchor.device)).flatten(1)
