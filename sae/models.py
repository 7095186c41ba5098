"""Generative autoencoders: one deterministic base, one latent penalty per method.

The base computes ``rec + beta * penalty``; each method overrides ``latent_penalty`` (and VAE /
HVAE override ``encode`` to sample codes and add their KL). This is disentanglement_lib's
``regularizer`` pattern; every class docstring names what it implements.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import vmf
from .divergences import exact_ot, sinkhorn_divergence
from .nets import make_nets
from .priors import Prior, make_prior


class Autoencoder(nn.Module):
    """Deterministic autoencoder (AE): no latent term. Codes are ``prior.head(encoder(x))``."""

    def __init__(self, cfg, shape, recon: str, n_train: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.prior: Prior = make_prior(cfg.prior, cfg.latent_dim, **({"alpha": cfg.dirichlet_alpha}
                                                                      if cfg.prior == "dirichlet" else {}))
        self.beta = cfg.beta
        self.recon = recon
        self.encoder, self.decoder = self.build_nets(shape)
        if cfg.targets:
            if not n_train:
                raise ValueError("targets=True needs the number of training examples")
            g = torch.Generator().manual_seed(10_000 + cfg.seed)
            self.register_buffer("target_bank", self.prior.sample(n_train, g))     # (n_train, latent_dim)

    @torch.no_grad()
    def reassign_targets(self, idx: Tensor, z: Tensor, generator=None) -> None:
        """ICLR Table 1 "targets": give each code of the batch the target the solver matches it to.

        Hungarian: the exact optimal permutation. Sinkhorn: a permutation *sampled* from the plan,
        here by perturb-and-MAP (Gumbel noise on log P, then an assignment); the paper does not
        say how it samples, so this is our choice.
        """
        from scipy.optimize import linear_sum_assignment

        from .costs import cost_matrix
        from .divergences import exact_plan
        from .sinkhorn import sinkhorn

        t = self.target_bank[idx]
        C = cost_matrix(z.detach().to(t.dtype), t)
        if self.cfg.model == "hae":
            sigma = exact_plan(C).argmax(1)
        else:
            s = self.cfg.sinkhorn
            logp = torch.log(sinkhorn(C, eps=s.eps, max_iter=s.max_iter).plan.clamp_min(1e-30))
            u = torch.rand(logp.shape, generator=generator, dtype=logp.dtype).clamp(1e-12, 1 - 1e-12)
            _, cols = linear_sum_assignment(-(logp - torch.log(-torch.log(u))).cpu().numpy())
            sigma = torch.as_tensor(cols, device=t.device)
        self.target_bank[idx] = t[sigma]

    def build_nets(self, shape) -> tuple[nn.Module, nn.Module]:
        """(encoder, decoder): the encoder emits ``encoder_outputs()`` numbers per example."""
        return make_nets(self.cfg.arch, shape, self.cfg.hidden, self.cfg.latent_dim, self.encoder_outputs())

    def encoder_outputs(self) -> int:
        return self.cfg.latent_dim

    def extra_metrics(self, data, codes: Tensor) -> dict:
        """Metrics particular to this model, from the test ``codes`` evaluate() already computed."""
        return {}

    def encode(self, x: Tensor, generator=None) -> tuple[Tensor, Tensor]:
        """(codes used for decoding, extra loss term such as a KL); deterministic here."""
        return self.prior.head(self.encoder(x)), torch.zeros((), device=x.device)

    def embed(self, x: Tensor) -> Tensor:
        """The deterministic code of x (posterior mean direction for HVAE, mean for VAE)."""
        return self.prior.head(self.encoder(x))

    def decode(self, z: Tensor) -> Tensor:
        """Images in data space: sigmoid of the logits for binarised data, raw values otherwise."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.recon == "bce" else out

    def reconstruction(self, x: Tensor, logits: Tensor) -> Tensor:
        """Per-example reconstruction cost, summed over pixels: BCE (MNIST, ICLR §6) or squared error."""
        if self.recon == "bce":
            return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        return ((logits - x) ** 2).flatten(1).sum(1).mean()

    def latent_penalty(self, z: Tensor, z_prior: Tensor, generator=None) -> Tensor:
        return torch.zeros((), device=z.device)

    def forward(self, x: Tensor, z_prior: Tensor, generator=None) -> dict:
        z, extra = self.encode(x, generator)                  # (B, latent_dim)
        rec = self.reconstruction(x, self.decoder(z))
        pen = self.latent_penalty(z, z_prior, generator) + extra
        return {"loss": rec + self.beta * pen, "rec": rec, "penalty": pen, "z": z}


class VAE(Autoencoder):
    """VAE / β-VAE: Gaussian encoder, reparameterised sample, closed-form KL to N(0, I) weighted by β."""

    def encoder_outputs(self):
        return 2 * self.cfg.latent_dim

    def encode(self, x, generator=None):
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        logvar = logvar.clamp(-12, 8)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()
        return z, kl

    def embed(self, x):
        return self.encoder(x).chunk(2, dim=1)[0]


class HVAE(Autoencoder):
    """Hyperspherical VAE (Davidson et al. 2018): vMF(μ, κ) posterior, uniform prior on the sphere."""

    def encoder_outputs(self):
        return self.cfg.latent_dim + 1

    def encode(self, x, generator=None):
        h = self.encoder(x)
        mu = F.normalize(h[:, :-1], dim=1)
        kappa = F.softplus(h[:, -1]) + 1.0                       # κ ≥ 1 keeps the sampler and KL tame
        z = vmf.sample(mu, kappa, generator)
        return z, vmf.kl_to_uniform(kappa, self.cfg.latent_dim).mean()

    def embed(self, x):
        return F.normalize(self.encoder(x)[:, :-1], dim=1)


class WAE(Autoencoder):
    """WAE-MMD (Tolstikhin et al. 2018): unbiased MMD² with the inverse multiquadratic kernel
    k(x, y) = C/(C + ‖x − y‖²), C = 2 d σ²_p, summed over the WAE code's scales."""

    SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

    def latent_penalty(self, z, z_prior, generator=None):
        return mmd_imq(z, z_prior, scales=self.SCALES)


class SWAE(Autoencoder):
    """Sliced-Wasserstein AE (Kolouri et al. 2019): SW₂² over 200 random directions, by POT."""

    n_projections = 200

    def latent_penalty(self, z, z_prior, generator=None):
        import ot

        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
        return ot.sliced_wasserstein_distance(z, z_prior, n_projections=self.n_projections, p=2, seed=seed) ** 2


class W2GAE(Autoencoder):
    """The paper's W2GAE: closed-form W₂² between N(μ̂, Σ̂) fitted to the batch and N(0, I) (UAI Eq. 13)."""

    def latent_penalty(self, z, z_prior, generator=None):
        return w2_gaussian_to_standard(z)


class HAE(Autoencoder):
    """The paper's HAE: exact OT (Hungarian) between the code batch and a prior batch."""

    def latent_penalty(self, z, z_prior, generator=None):
        return exact_ot(z, z_prior)


class SAE(Autoencoder):
    """Sinkhorn AutoEncoder: debiased sharp Sinkhorn divergence between codes and prior draws
    (UAI Eq. 12 in the loss D + β·S of Algorithm 2), L fixed iterations, backprop through them."""

    def latent_penalty(self, z, z_prior, generator=None):
        s = self.cfg.sinkhorn
        return sinkhorn_divergence(z, z_prior, eps=s.eps, max_iter=s.max_iter, grad=s.grad, kind=s.kind)


class SinkhornEncoder(SAE):
    """Encoder-only Sinkhorn training (ICLR §6.1): the latent term alone, no reconstruction."""

    def forward(self, x, z_prior, generator=None):
        z, _ = self.encode(x, generator)
        pen = self.latent_penalty(z, z_prior)
        zero = torch.zeros((), device=x.device)
        return {"loss": pen, "rec": zero, "penalty": pen, "z": z}


class WhatWhereSAE(SAE):
    """The probabilistic-programming toy (ICLR §6.5): the decoder draws a digit from z_what and a
    spatial transformer places it with z_where; the encoder finds z_where, crops a glimpse there
    and encodes it to z_what (:mod:`sae.probprog`). The latent cost is the sum of two Sinkhorn
    divergences, z_what against the sphere and z_where against N(0, I_3), both at sinkhorn.eps."""

    def build_nets(self, shape):
        from .probprog import WhatWhereDecoder, WhatWhereEncoder

        what_dim = self.cfg.latent_dim - self.prior.where_dim
        return WhatWhereEncoder(shape, self.cfg.hidden, what_dim), WhatWhereDecoder(shape, self.cfg.hidden, what_dim)

    def latent_penalty(self, z, z_prior, generator=None):
        (what, where), (p_what, p_where) = self.prior.split(z), self.prior.split(z_prior)
        return super().latent_penalty(what, p_what) + super().latent_penalty(where, p_where)

    def extra_metrics(self, data, codes):
        from .probprog import localisation

        return localisation(self, data, codes)


MODEL_CLASSES = {"ae": Autoencoder, "vae": VAE, "betavae": VAE, "wae": WAE, "swae": SWAE, "w2gae": W2GAE,
                 "hae": HAE, "sae": SAE, "hvae": HVAE, "sae_encoder": SinkhornEncoder, "sae_whatwhere": WhatWhereSAE}


def build_model(cfg, shape, recon: str, n_train: int | None = None) -> Autoencoder:
    return MODEL_CLASSES[cfg.model](cfg, shape, recon, n_train)


# ------------------------------------------------------------------------------ latent distances

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
    n, m = len(x), len(y)
    k = lambda a, b: torch.exp(-(torch.cdist(a, b) ** 2) / (2 * sigma2))
    kxx, kyy = k(x, x), k(y, y)
    return ((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
            - 2 * k(x, y).mean())
