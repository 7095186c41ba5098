"""Closed-form and kernel latent distances of the baselines (WAE's MMD, the paper's W2GAE) and the
Gaussian-kernel MMD the ICLR tables report."""
from __future__ import annotations

import torch
from torch import Tensor


def mmd_imq(x: Tensor, y: Tensor, scales=(1.0,), sigma2_p: float = 1.0) -> Tensor:
    """Unbiased MMD² with the IMQ kernel summed over scales (WAE's ``mmd_penalty``)."""
    n, d = x.shape
    base = 2.0 * d * sigma2_p
    dxx, dyy, dxy = torch.cdist(x, x) ** 2, torch.cdist(y, y) ** 2, torch.cdist(x, y) ** 2
    off = 1.0 - torch.eye(n, device=x.device, dtype=x.dtype)
    total = torch.zeros((), device=x.device, dtype=x.dtype)
    for s in scales:
        C = base * s
        kxx, kyy, kxy = C / (C + dxx), C / (C + dyy), C / (C + dxy)
        total = total + ((kxx + kyy) * off).sum() / (n * (n - 1)) - 2 * kxy.mean()
    return total


def w2_gaussian_to_standard(z: Tensor) -> Tensor:
    """W₂²(N(μ̂, Σ̂), N(0, I)) = ‖μ̂‖² + Tr Σ̂ + d − 2 Tr Σ̂^{1/2}, Σ̂^{1/2} by a clamped eigendecomposition."""
    mu = z.mean(0)
    zc = z - mu
    cov = zc.T @ zc / (len(z) - 1)
    evals = torch.linalg.eigvalsh(cov).clamp_min(1e-8)
    return (mu**2).sum() + evals.sum() + z.shape[1] - 2 * evals.sqrt().sum()


def gaussian_mmd(x: Tensor, y: Tensor, sigma2: float) -> Tensor:
    """Unbiased MMD² with the Gaussian kernel exp(−‖x − y‖²/(2σ²)) (the ICLR tables' latent MMD)."""
    return gaussian_mmd_scan(x, y, (sigma2,))[0]


def gaussian_mmd_scan(x: Tensor, y: Tensor, sigma2s) -> Tensor:
    """:func:`gaussian_mmd` at every bandwidth σ² of ``sigma2s`` (the distances computed once): (len,)."""
    n, m = len(x), len(y)
    dxx, dyy, dxy = torch.cdist(x, x) ** 2, torch.cdist(y, y) ** 2, torch.cdist(x, y) ** 2
    out = []
    for s2 in sigma2s:
        kxx, kyy = torch.exp(-dxx / (2 * s2)), torch.exp(-dyy / (2 * s2))
        out.append((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
                   - 2 * torch.exp(-dxy / (2 * s2)).mean())
    return torch.stack(out)
