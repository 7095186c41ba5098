"""The von Mises–Fisher distribution on S^{m−1}, for the hyperspherical VAE baseline (HVAE/S-VAE).

Sampling: Wood's (1994) rejection sampler for w = ⟨z, μ⟩, a uniform tangent direction, and a
Householder reflection taking e₁ to μ (Davidson et al. 2018). Gradients flow through the accepted
proposal (the reparameterisation S-VAE uses); like S-VAE we omit the correction term of Naesseth
et al. (2017), so the κ-gradient is biased away from m = 3 (book page "The paper's setup and
our deviations").
KL(vMF(μ, κ) ‖ U(S^{m−1})) = κ A_m(κ) + log C_m(κ) + log(2π^{m/2}/Γ(m/2)), with
A_m = I_{m/2}/I_{m/2−1} and log C_m(κ) = (m/2 − 1) log κ − (m/2) log 2π − log I_{m/2−1}(κ).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special
from torch import Tensor


class _Ive(torch.autograd.Function):
    """Exponentially scaled modified Bessel function ive(v, κ) = I_v(κ) e^{−κ}, differentiable in κ."""

    @staticmethod
    def forward(ctx, v: float, kappa: Tensor):
        ctx.v = v
        ctx.save_for_backward(kappa)
        k = kappa.detach().cpu().double().numpy()
        return torch.as_tensor(special.ive(v, k), dtype=kappa.dtype, device=kappa.device)

    @staticmethod
    def backward(ctx, grad):
        (kappa,) = ctx.saved_tensors
        v = ctx.v
        k = kappa.detach().cpu().double().numpy()
        # d/dκ [I_v(κ) e^{−κ}] = I_{v+1} e^{−κ} + (v/κ − 1) I_v e^{−κ}
        d = special.ive(v + 1, k) + (v / k - 1.0) * special.ive(v, k)
        return None, grad * torch.as_tensor(d, dtype=kappa.dtype, device=kappa.device)


def log_bessel_i(v: float, kappa: Tensor) -> Tensor:
    """log I_v(κ), stable for large κ."""
    return torch.log(_Ive.apply(v, kappa)) + kappa


def kl_to_uniform(kappa: Tensor, m: int) -> Tensor:
    """KL(vMF(·, κ) ‖ Uniform(S^{m−1})), elementwise in κ (> 0)."""
    a = torch.exp(log_bessel_i(m / 2, kappa) - log_bessel_i(m / 2 - 1, kappa))          # A_m(κ)
    log_c = (m / 2 - 1) * torch.log(kappa) - (m / 2) * math.log(2 * math.pi) - log_bessel_i(m / 2 - 1, kappa)
    log_area = math.log(2) + (m / 2) * math.log(math.pi) - math.lgamma(m / 2)
    return kappa * a + log_c + log_area


def sample(mu: Tensor, kappa: Tensor, generator: torch.Generator | None = None, max_tries: int = 1000) -> Tensor:
    """z ~ vMF(μ, κ) for each row; μ (B, m) unit vectors, κ (B,) or (B, 1) positive."""
    B, m = mu.shape
    kappa = kappa.reshape(B)
    w = _sample_w(kappa, m, generator, max_tries)                                    # (B,)
    v = torch.randn(B, m - 1, generator=generator, dtype=mu.dtype).to(mu.device)
    v = v / v.norm(dim=1, keepdim=True)
    z = torch.cat([w.unsqueeze(1), torch.sqrt((1 - w**2).clamp_min(1e-10)).unsqueeze(1) * v], 1)   # around e₁
    e1 = torch.zeros_like(mu)
    e1[:, 0] = 1.0
    u = e1 - mu
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-10)
    return z - 2 * (z * u).sum(1, keepdim=True) * u                                  # Householder: e₁ ↦ μ


def _sample_w(kappa: Tensor, m: int, generator, max_tries: int) -> Tensor:
    """Wood (1994): w = ⟨z, μ⟩ by rejection, differentiable in κ through the accepted proposal."""
    c = m - 1
    root = torch.sqrt(4 * kappa**2 + c**2)
    b = (-2 * kappa + root) / c
    a = (c + 2 * kappa + root) / 4
    d = 4 * a * b / (1 + b) - c * math.log(c)
    w = torch.zeros_like(kappa)
    done = torch.zeros_like(kappa, dtype=torch.bool)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        eps = torch.as_tensor(rng.beta(c / 2, c / 2, size=kappa.shape), dtype=kappa.dtype, device=kappa.device)
        u = torch.as_tensor(rng.uniform(size=kappa.shape), dtype=kappa.dtype, device=kappa.device)
        w_prop = (1 - (1 + b) * eps) / (1 - (1 - b) * eps)
        t = 2 * a * b / (1 - (1 - b) * eps)
        accept = (c * torch.log(t) - t + d >= torch.log(u)) & ~done
        w = torch.where(accept, w_prop, w)
        done = done | accept
        if bool(done.all()):
            return w
    raise RuntimeError(f"vMF rejection sampler did not accept in {max_tries} tries (kappa range "
                       f"{kappa.min().item():.3g}..{kappa.max().item():.3g})")
