"""Priors P_Z: sampling with an explicit generator, and the encoder head that lands on the support.

The only thing SAE needs from a prior is samples (ICLR §4), so a prior is a small class with
``sample(n, generator)``. ``head`` maps raw encoder outputs onto the prior's support:
L2 normalisation for the sphere, softmax for the simplex (ICLR §6), identity otherwise.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class Prior:
    name = "prior"
    min_dim = 1

    def __init__(self, dim: int):
        if not isinstance(dim, int) or dim < self.min_dim:
            raise ValueError(f"latent_dim={dim!r} is not possible for the {self.name} prior (needs an integer >= {self.min_dim})")
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32) -> Tensor:
        raise NotImplementedError

    def head(self, h: Tensor) -> Tensor:
        return h

    def __repr__(self):
        return f"{type(self).__name__}(dim={self.dim})"


class Gaussian(Prior):
    """Isotropic N(0, std² I)."""
    name = "gaussian"

    def __init__(self, dim: int, std: float = 1.0):
        super().__init__(dim)
        self.std = std

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        return (self.std * torch.randn(n, self.dim, generator=generator, dtype=dtype)).to(device)


class UniformSphere(Prior):
    """Uniform on the unit hypersphere S^{d−1} ⊂ R^d (normalised Gaussian draws, as in the WAE code)."""
    name = "sphere"
    min_dim = 2

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        return self.head(torch.randn(n, self.dim, generator=generator, dtype=dtype)).to(device)

    def head(self, h):
        return h / h.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class Dirichlet(Prior):
    """Dirichlet(α) on the simplex Δ^{d−1}; the encoder ends in a softmax."""
    name = "dirichlet"
    min_dim = 2

    def __init__(self, dim: int, alpha: float = 0.5):
        super().__init__(dim)
        if not alpha > 0:
            raise ValueError(f"dirichlet alpha must be positive, got {alpha}")
        self.alpha = alpha

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        # numpy's sampler, seeded from the torch generator: reproducible without global state
        seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
        draws = np.random.default_rng(seed).dirichlet(np.full(self.dim, self.alpha), size=n)
        return torch.as_tensor(draws, dtype=dtype).to(device)

    def head(self, h):
        return torch.softmax(h, dim=-1)


class UniformBox(Prior):
    """Uniform on the box [low, high]^d (the square of the Swiss-roll experiment)."""
    name = "box"

    def __init__(self, dim: int, low: float = -1.0, high: float = 1.0):
        super().__init__(dim)
        self.low, self.high = low, high

    def sample(self, n, generator=None, device="cpu", dtype=torch.float32):
        u = torch.rand(n, self.dim, generator=generator, dtype=dtype)
        return (self.low + (self.high - self.low) * u).to(device)


class WhatWhere(Prior):
    """The probabilistic-programming toy's product prior (ICLR §6.5): z = (z_what, z_where), with
    z_what uniform on the sphere S^{d−4} ⊂ R^{d−3} and z_where ~ N(0, I_3) (scale, x, y)."""
    name = "whatwhere"
    min_dim = 5
    where_dim = 3

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


PRIORS = {"gaussian": Gaussian, "sphere": UniformSphere, "dirichlet": Dirichlet, "box": UniformBox,
          "whatwhere": WhatWhere}


def make_prior(name: str, dim: int, **kw) -> Prior:
    if name not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {name!r}")
    return PRIORS[name](dim, **kw)
