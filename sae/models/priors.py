"""Priors P_Z: sampling with an explicit generator, and the encoder head that lands on the support.

The only thing SAE needs from a prior is samples (ICLR §4), so a prior is a small class with
``sample(n, generator)``. ``head`` maps raw encoder outputs onto the prior's support:
L2 normalisation for the sphere, softmax for the simplex (ICLR §6), identity otherwise.

Each prior declares the facts the engine needs (``default_eps`` of SAE's latent Sinkhorn, how to
interpolate between two codes, how to build itself from a config) and registers under its name,
so nothing outside this file branches on a prior's name.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..utils import registrar
from .whatwhere import WHERE_DIM

PRIORS: dict[str, type["Prior"]] = {}


register = registrar(PRIORS, "prior")     # class decorator: file a class under its ``name``


class Prior:
    name = "prior"
    min_dim = 1
    default_eps = 0.1        # SAE's latent ε unless a config says otherwise (ICLR §6: ε = 0.1)

    def __init__(self, dim: int):
        if not isinstance(dim, int) or dim < self.min_dim:
            raise ValueError(f"latent_dim={dim!r} is not possible for the {self.name} prior (needs an integer >= {self.min_dim})")
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32) -> Tensor:
        raise NotImplementedError

    def head(self, h: Tensor) -> Tensor:
        return h

    def interpolate(self, a: Tensor, b: Tensor, t: Tensor) -> Tensor:
        """Codes between a and b (D,) at times t (T,): straight lines (they stay on convex supports)."""
        return a + t.view(-1, 1) * (b - a)

    def spec(self) -> tuple:
        """What identifies this distribution: its kind and its numeric settings (dim, α, std, …)."""
        return (self.name, *sorted((k, v) for k, v in vars(self).items() if isinstance(v, (int, float))))

    @classmethod
    def from_config(cls, cfg) -> "Prior":
        """The prior an ExperimentConfig asks for (``latent_dim`` and any prior-specific setting)."""
        return cls(cfg.latent_dim)

    def __repr__(self):
        return f"{type(self).__name__}(dim={self.dim})"


@register
class Gaussian(Prior):
    """Isotropic N(0, std² I)."""
    name = "gaussian"
    default_eps = 10.0       # UAI Table 1 note: 10 for the Gaussian, smaller was unstable

    def __init__(self, dim: int, std: float = 1.0):
        super().__init__(dim)
        self.std = std

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        return (self.std * torch.randn(n, self.dim, generator=generator, dtype=dtype)).to(device)  # cpu: then moved


@register
class UniformSphere(Prior):
    """Uniform on the unit hypersphere S^{d−1} ⊂ R^d (normalised Gaussian draws, as in the WAE code)."""
    name = "sphere"
    min_dim = 2

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        return self.head(torch.randn(n, self.dim, generator=generator, dtype=dtype)).to(device)  # cpu: then moved

    def head(self, h):
        return h / h.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def interpolate(self, a, b, t):
        """Geodesic (slerp) between unit vectors a and b (ICLR §6.3)."""
        omega = torch.arccos((a * b).sum().clamp(-1 + 1e-7, 1 - 1e-7))
        t = t.view(-1, 1)
        return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@register
class Dirichlet(Prior):
    """Dirichlet(α) on the simplex Δ^{d−1}; the encoder ends in a softmax.

    The paper gives no ε for the simplex, whose squared distances are ≤ 2 and mostly far less: at
    0.1 the plan blurs, so ours is 0.01 (the Dirichlet chapter trains both and shows the difference).
    """
    name = "dirichlet"
    min_dim = 2
    default_eps = 0.01

    def __init__(self, dim: int, alpha: float = 0.5):
        super().__init__(dim)
        if not alpha > 0:
            raise ValueError(f"dirichlet alpha must be positive, got {alpha}")
        self.alpha = alpha

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.latent_dim, alpha=cfg.dirichlet_alpha)

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        # numpy's sampler, seeded from the torch generator: reproducible without global state
        seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
        draws = np.random.default_rng(seed).dirichlet(np.full(self.dim, self.alpha), size=n)
        return torch.as_tensor(draws, dtype=dtype).to(device)

    def head(self, h):
        return torch.softmax(h, dim=-1)


@register
class UniformBox(Prior):
    """Uniform on the box [low, high]^d (the square of the Swiss-roll experiment)."""
    name = "box"

    def __init__(self, dim: int, low: float = -1.0, high: float = 1.0):
        super().__init__(dim)
        self.low, self.high = low, high

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        u = torch.rand(n, self.dim, generator=generator, dtype=dtype)     # cpu: the generator's device; moved below
        return (self.low + (self.high - self.low) * u).to(device)


@register
class WhatWhere(Prior):
    """The probabilistic-programming toy's product prior (ICLR §6.5): z = (z_what, z_where), with
    z_what uniform on the sphere S^{d−4} ⊂ R^{d−3} and z_where ~ N(0, I_3) (scale, x, y)."""
    name = "whatwhere"
    min_dim = 5
    where_dim = WHERE_DIM

    def __init__(self, dim: int):
        super().__init__(dim)
        self.what = UniformSphere(dim - self.where_dim)
        self.where = Gaussian(self.where_dim)

    def split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(z_what, z_where) of codes or prior draws."""
        return z[..., :-self.where_dim], z[..., -self.where_dim:]

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        what = self.what.sample(n, generator, device, dtype)
        return torch.cat([what, self.where.sample(n, generator, device, dtype)], dim=-1)

    def head(self, h):
        what, where = self.split(h)
        return torch.cat([self.what.head(what), where], dim=-1)


def make_prior(name: str, dim: int, **kw) -> Prior:
    if name not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {name!r}")
    return PRIORS[name](dim, **kw)
