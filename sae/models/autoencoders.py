"""Generative autoencoders: one deterministic base, one latent penalty per method.

The base computes ``rec + beta * penalty``; each method overrides ``latent_penalty`` (and VAE /
HVAE override ``encode`` to sample codes and add their KL). This is disentanglement_lib's
``regularizer`` pattern; every class docstring names what it implements.

A model declares its own facts as class attributes (``name``, ``default_beta``, the ``priors`` and
``datasets`` it accepts, whether it ``supports_targets``, whether it is ``generative``) and
registers with :func:`register`; the model registry, the CLI's choices, config validation and the
tests' parameter lists all read :data:`MODELS`. A new latent-penalty baseline is one decorated
class here (README, "Extending").
"""
from __future__ import annotations

import ot
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from ..ot import SinkhornLoss, cost_matrix, exact_ot, exact_plan, sinkhorn
from ..utils import registrar
from . import vmf
from .latent import mmd_imq, w2_gaussian_to_standard
from .nets import make_nets
from .priors import PRIORS, Prior
from .whatwhere import WhatWhereDecoder, WhatWhereEncoder, localisation

MODELS: dict[str, type["Autoencoder"]] = {}


register = registrar(MODELS, "model")     # class decorator: file a class under its ``name``


@register
class Autoencoder(nn.Module):
    """Deterministic autoencoder (AE): no latent term. Codes are ``prior.head(encoder(x))``."""

    name = "ae"
    default_beta = 0.0
    priors: tuple[str, ...] | None = None     # priors it can use; None: any (closed forms tie some to one)
    datasets: tuple[str, ...] | None = None   # data sets it needs; None: any
    supports_targets = False                  # ICLR Table 1 "targets" variant (fixed prior draws, reassigned)
    generative = True                         # decodes prior samples, so FID applies

    def __init__(self, cfg, shape, recon: str, n_train: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.prior: Prior = PRIORS[cfg.prior].from_config(cfg)
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
        """ICLR Table 1 "targets": give each code of the batch the target the solver matches it to."""
        t = self.target_bank[idx]
        self.target_bank[idx] = t[self.match_targets(cost_matrix(z.detach().to(t.dtype), t), generator)]

    def match_targets(self, C: Tensor, generator=None) -> Tensor:
        """The permutation (B,) matching codes (rows of C) to targets (columns); models with
        ``supports_targets`` define it."""
        raise NotImplementedError(f"model {self.name!r} has no targets variant")

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


@register
class VAE(Autoencoder):
    """VAE: Gaussian encoder, reparameterised sample, closed-form KL to N(0, I) weighted by β."""

    name = "vae"
    default_beta = 1.0
    priors = ("gaussian",)

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


@register
class BetaVAE(VAE):
    """β-VAE: the VAE with the KL weighted by β = 0.1 (ICLR Table 2)."""

    name = "betavae"
    default_beta = 0.1


@register
class HVAE(Autoencoder):
    """Hyperspherical VAE (Davidson et al. 2018): vMF(μ, κ) posterior, uniform prior on the sphere."""

    name = "hvae"
    default_beta = 1.0
    priors = ("sphere",)

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


@register
class WAE(Autoencoder):
    """WAE-MMD (Tolstikhin et al. 2018): unbiased MMD² with the inverse multiquadratic kernel
    k(x, y) = C/(C + ‖x − y‖²), C = 2 d σ²_p, summed over the WAE code's scales."""

    name = "wae"
    default_beta = 100.0
    SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

    def latent_penalty(self, z, z_prior, generator=None):
        return mmd_imq(z, z_prior, scales=self.SCALES)


@register
class SWAE(Autoencoder):
    """Sliced-Wasserstein AE (Kolouri et al. 2019): SW₂² over 200 random directions, by POT."""

    name = "swae"
    default_beta = 100.0
    n_projections = 200

    def latent_penalty(self, z, z_prior, generator=None):
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
        return ot.sliced_wasserstein_distance(z, z_prior, n_projections=self.n_projections, p=2, seed=seed) ** 2


@register
class W2GAE(Autoencoder):
    """The paper's W2GAE: closed-form W₂² between N(μ̂, Σ̂) fitted to the batch and N(0, I) (UAI Eq. 13)."""

    name = "w2gae"
    default_beta = 100.0
    priors = ("gaussian",)

    def latent_penalty(self, z, z_prior, generator=None):
        return w2_gaussian_to_standard(z)


@register
class HAE(Autoencoder):
    """The paper's HAE: exact OT (Hungarian) between the code batch and a prior batch."""

    name = "hae"
    default_beta = 100.0
    supports_targets = True

    def latent_penalty(self, z, z_prior, generator=None):
        return exact_ot(z, z_prior)

    def match_targets(self, C, generator=None):
        """Hungarian: the exact optimal permutation."""
        return exact_plan(C).argmax(1)


@register
class SAE(Autoencoder):
    """Sinkhorn AutoEncoder: debiased sharp Sinkhorn divergence between codes and prior draws
    (UAI Eq. 12 in the loss D + β·S of Algorithm 2), L fixed iterations, backprop through them."""

    name = "sae"
    default_beta = 100.0
    supports_targets = True

    def __init__(self, cfg, shape, recon: str, n_train: int | None = None):
        super().__init__(cfg, shape, recon, n_train)
        s = cfg.sinkhorn
        self.sinkhorn_loss = SinkhornLoss(eps=s.eps, max_iter=s.max_iter, grad=s.grad, kind=s.kind)

    def latent_penalty(self, z, z_prior, generator=None):
        return self.sinkhorn_loss(z, z_prior)

    def match_targets(self, C, generator=None):
        """A permutation *sampled* from the Sinkhorn plan, by perturb-and-MAP (Gumbel noise on
        log P, then an assignment); the paper does not say how it samples, so this is our choice."""
        s = self.cfg.sinkhorn
        logp = torch.log(sinkhorn(C, eps=s.eps, max_iter=s.max_iter).plan.clamp_min(1e-30))
        u = torch.rand(logp.shape, generator=generator, dtype=logp.dtype).to(logp.device).clamp(1e-12, 1 - 1e-12)
        _, cols = linear_sum_assignment(-(logp - torch.log(-torch.log(u))).cpu().numpy())
        return torch.as_tensor(cols, device=C.device)


@register
class SinkhornEncoder(SAE):
    """Encoder-only Sinkhorn training (ICLR §6.1): the latent term alone, no reconstruction."""

    name = "sae_encoder"
    default_beta = 1.0
    supports_targets = False
    generative = False                        # its decoder is never trained

    def forward(self, x, z_prior, generator=None):
        z, _ = self.encode(x, generator)
        pen = self.latent_penalty(z, z_prior)
        zero = torch.zeros((), device=x.device)
        return {"loss": pen, "rec": zero, "penalty": pen, "z": z}


@register
class WhatWhereSAE(SAE):
    """The probabilistic-programming toy (ICLR §6.5): the decoder draws a digit from z_what and a
    spatial transformer places it with z_where; the encoder finds z_where, crops a glimpse there
    and encodes it to z_what (:mod:`sae.models.whatwhere`). The latent cost is the sum of two
    Sinkhorn divergences, z_what against the sphere and z_where against N(0, I_3), both at
    sinkhorn.eps. Its reconstruction is squared error on the canvas, ~4x smaller than MNIST's BCE:
    at β = 100 the mini-batch noise of the latent term swamped the position signal, so β = 10
    (the probabilistic-programming chapter trains both and shows the difference)."""

    name = "sae_whatwhere"
    default_beta = 10.0
    priors = ("whatwhere",)
    datasets = ("mnist_canvas",)
    supports_targets = False

    def build_nets(self, shape):
        what_dim = self.cfg.latent_dim - self.prior.where_dim
        return WhatWhereEncoder(shape, self.cfg.hidden, what_dim), WhatWhereDecoder(shape, self.cfg.hidden, what_dim)

    def latent_penalty(self, z, z_prior, generator=None):
        (what, where), (p_what, p_where) = self.prior.split(z), self.prior.split(z_prior)
        return super().latent_penalty(what, p_what) + super().latent_penalty(where, p_where)

    def extra_metrics(self, data, codes):
        return localisation(self, data, codes)


def build_model(cfg, shape, recon: str, n_train: int | None = None) -> Autoencoder:
    """The model a config names, for data of ``shape`` with reconstruction ``recon``."""
    return MODELS[cfg.model](cfg, shape, recon, n_train)


