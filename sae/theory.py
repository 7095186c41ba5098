"""Exact checks of the paper's theory on finite distributions.

Every quantity here is exact up to the LP solver's precision: measures are discrete, W_p is
computed by POT's network simplex (:func:`sae.exact_ot`), generators are small ReLU networks
whose Lipschitz constant is bounded by the product of their layers' spectral norms.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from .costs import cost_matrix
from .divergences import exact_ot, exact_plan


def wasserstein_p(x: Tensor, y: Tensor, a: Tensor | None = None, b: Tensor | None = None, p: float = 2.0) -> Tensor:
    """Exact W_p between discrete measures Σ a_i δ_{x_i} and Σ b_j δ_{y_j} (Euclidean ground metric)."""
    return exact_ot(x, y, a, b, cost="euclidean", p=p).clamp_min(0) ** (1.0 / p)


def relu_net(sizes: list[int], seed: int = 0, scale: float = 1.0, negative_slope: float = 0.0,
             dtype=torch.float64) -> nn.Sequential:
    """A small (leaky-)ReLU MLP with Gaussian weights, used as a generator or encoder."""
    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = nn.Linear(i, o, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(scale * torch.randn(o, i, generator=g, dtype=dtype) / math.sqrt(i))
            lin.bias.copy_(0.1 * torch.randn(o, generator=g, dtype=dtype))
        layers.append(lin)
        if k < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope) if negative_slope else nn.ReLU())
    return nn.Sequential(*layers)


def lipschitz_upper_bound(net: nn.Module) -> float:
    """Product of the spectral norms of the linear layers (Balan et al. 2017, as cited in UAI §2.3).

    Valid for the ℓ2 metric when every activation has |g'| ≤ 1 (ReLU, leaky ReLU, tanh, sigmoid).
    """
    bound = 1.0
    for m in net.modules():
        if isinstance(m, nn.Linear):
            bound *= torch.linalg.matrix_norm(m.weight.detach(), ord=2).item()
    return bound


def empirical_lipschitz(net: nn.Module, z: Tensor) -> float:
    """A lower bound on Lip(net): the largest ‖G(z)−G(z')‖/‖z−z'‖ over pairs of the given points."""
    with torch.no_grad():
        out = net(z)
    dz = cost_matrix(z, z, "euclidean")
    dx = cost_matrix(out, out, "euclidean")
    mask = dz > 1e-12
    return (dx[mask] / dz[mask]).max().item()


def wae_identity(x: Tensor, z: Tensor, w: Tensor, G: nn.Module, cost: str = "sqeuclidean", p: float = 1.0):
    """Both sides of W_c(P_X, G#P_Z) = inf_{Q: Q_Z = P_Z} E c(X, G(Z)) for discrete P_X, P_Z.

    P_X is uniform on x; P_Z = Σ w_k δ_{z_k}. The right side's encoders with Q_Z = P_Z are exactly
    the couplings of P_X and P_Z, so it is itself an OT problem with cost c(x_i, G(z_k)).
    The left side transports P_X to the push-forward measure, whose atoms are merged when G is
    not injective.
    """
    with torch.no_grad():
        gz = G(z)
    # left: P_G as a measure with distinct atoms (merge coincident images)
    atoms, inverse = torch.unique(gz, dim=0, return_inverse=True)
    weights = torch.zeros(len(atoms), dtype=w.dtype).index_add_(0, inverse, w)
    lhs = exact_ot(x, atoms, None, weights, cost=cost, p=p)
    # right: couplings of P_X and P_Z, cost c(x, G(z))
    C = cost_matrix(x, gz, cost, p=p)
    rhs = (exact_plan(C, None, w) * C).sum()
    return lhs.item(), rhs.item(), len(atoms)


def min_min_terms(x: Tensor, codes: Tensor, z: Tensor, G: nn.Module, gamma: float, p: float = 2.0) -> dict:
    """Left and right sides of the bound for a deterministic encoder with codes Q(x_i) = codes[i].

    W_p(P_X, P_G) ≤ (E ‖X − G(Q(X))‖^p)^{1/p} + γ W_p(Q_Z, P_Z)   (UAI Thm 2.1 / ICLR Thm 3.1).
    P_X uniform on x, P_Z uniform on z.
    """
    with torch.no_grad():
        rec = (torch.linalg.vector_norm(x - G(codes), dim=1) ** p).mean() ** (1 / p)
        w_latent = wasserstein_p(codes, z, p=p)
        w_data = wasserstein_p(x, G(z), p=p)
    rhs = rec + gamma * w_latent
    return {"W_data": w_data.item(), "rec": rec.item(), "W_latent": w_latent.item(),
            "rhs": rhs.item(), "slack": (rhs - w_data).item()}


def monge_encoder(x: Tensor, z: Tensor, G: nn.Module, p: float = 2.0) -> Tensor:
    """Codes of the optimal deterministic encoder when P_X, P_Z are uniform on n points each.

    Exact OT between P_X and G#P_Z is an assignment σ; Q(x_i) = z_σ(i) pushes P_X onto P_Z exactly
    (so the latent term vanishes) and reconstructs at cost W_p(P_X, P_G).
    """
    with torch.no_grad():
        C = cost_matrix(x, G(z), "euclidean", p=p)
    rows, cols = linear_sum_assignment(C.numpy())
    codes = torch.empty_like(z)
    codes[rows] = z[cols]
    return codes


def fit_encoder(x: Tensor, target: Tensor, steps: int, width: int = 64, seed: int = 0, lr: float = 1e-2) -> nn.Module:
    """Regress an MLP encoder onto target codes (a universal approximator approaching a map)."""
    torch.manual_seed(seed)
    enc = relu_net([x.shape[1], width, width, target.shape[1]], seed=seed)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((enc(x) - target) ** 2).sum(1).mean()
        loss.backward()
        opt.step()
    return enc


def train_encoder_min_min(x: Tensor, z: Tensor, G: nn.Module, beta: float, steps: int, p: float = 2.0,
                          width: int = 64, seed: int = 0, lr: float = 5e-3) -> dict:
    """Minimise rec^{1/p} + β W_p(Q_Z, P_Z) over an MLP encoder, G fixed; exact OT every step."""
    torch.manual_seed(seed)
    enc = relu_net([x.shape[1], width, width, z.shape[1]], seed=seed + 1)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    for p_ in G.parameters():
        p_.requires_grad_(False)
    for _ in range(steps):
        opt.zero_grad()
        codes = enc(x)
        rec = (torch.linalg.vector_norm(x - G(codes), dim=1) ** p).mean() ** (1 / p)
        loss = rec + beta * wasserstein_p(codes, z, p=p)
        loss.backward()
        opt.step()
    with torch.no_grad():
        codes = enc(x)
    return codes


# ----------------------------------------------------------------------------- the hypersphere

def sphere_far_exact(d: int, delta: float) -> float:
    """P(‖z − z′‖ > δ) for z, z′ independent uniform on S^{d−1} ⊂ R^d.

    t = ⟨z, z′⟩ has (1 + t)/2 ~ Beta((d−1)/2, (d−1)/2), and ‖z − z′‖² = 2 − 2t.
    """
    t0 = 1.0 - delta**2 / 2.0
    return float(stats.beta.cdf((t0 + 1.0) / 2.0, (d - 1) / 2.0, (d - 1) / 2.0))


def sphere_far_monte_carlo(d: int, delta: float, n: int, seed: int = 0) -> tuple[float, float]:
    """Monte Carlo estimate of P(‖z − z′‖ > δ) and its standard error."""
    g = torch.Generator().manual_seed(seed)
    z = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
    z2 = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
    hit = (torch.linalg.vector_norm(z - z2, dim=1) > delta).double()
    p = hit.mean().item()
    return p, math.sqrt(max(p * (1 - p), 1e-300) / n)


def sphere_bound_paper(d: int, delta: float) -> float:
    """ICLR Proposition 6.1: P(‖z − z′‖ > δ) ≥ 1 − 1/(4d(√2 − δ)²), "in the high-dimensional regime"."""
    return 1.0 - 1.0 / (4.0 * d * (math.sqrt(2.0) - delta) ** 2)


def sphere_bound_chebyshev(d: int, delta: float) -> float:
    """A bound valid in every dimension: E t = 0, Var t = 1/d, so Chebyshev on t = ⟨z, z′⟩ gives
    P(‖z − z′‖ ≤ δ) = P(t ≥ 1 − δ²/2) ≤ 1/(d (1 − δ²/2)²)."""
    return 1.0 - 1.0 / (d * (1.0 - delta**2 / 2.0) ** 2)


def nat_check(codes: Tensor, z: Tensor) -> dict:
    """NAT (Bojanowski & Joulin 2017) as the ε = 0 SAE latent term on the unit sphere.

    For unit vectors ‖f − z‖² = 2 − 2⟨f, z⟩, so exact OT with squared Euclidean cost between n codes
    and n prior samples is the permutation maximising Tr(R Z Fᵀ), NAT's objective.
    """
    P = exact_plan(cost_matrix(codes, z))
    n = len(codes)
    rows, cols = linear_sum_assignment(-(codes @ z.T).numpy())
    trace = (codes[rows] * z[cols]).sum().item()
    ot_cost = exact_ot(codes, z).item()
    return {"ot_cost": ot_cost, "nat_trace": trace, "from_trace": 2 - 2 * trace / n,
            "same_permutation": bool(np.array_equal(P.argmax(1).numpy()[rows], cols)),
            "plan_is_permutation": bool(torch.allclose(P * n, (P * n).round(), atol=1e-9))}


# Sizes per run profile: atoms per measure, random trials, encoder training steps, Monte Carlo draws.
THEORY_SIZES = {
    "smoke": {"n": 16, "trials": 20, "fit_steps": [0, 50, 500], "train_steps": 40, "mc": 20_000, "n_eps": 6},
    "quick": {"n": 48, "trials": 200, "fit_steps": [0, 10, 30, 100, 300, 1000], "train_steps": 250,
              "mc": 200_000, "n_eps": 10},
    "paper": {"n": 128, "trials": 1000, "fit_steps": [0, 10, 30, 100, 300, 1000, 3000], "train_steps": 1000,
              "mc": 2_000_000, "n_eps": 16},
}
