"""A toy of probabilistic programming (ICLR §6.5): what and where, with two Sinkhorn terms.

The generative program: draw z_what uniform on the 10-d sphere and z_where ~ N(0, I_3); a network
draws a 28×28 digit from z_what; a spatial transformer (Jaderberg et al. 2015) places it on a
48×48 canvas at the scale and position z_where encodes. The inference model mirrors it: a small
CNN reads z_where off the canvas, a spatial transformer crops a glimpse there, and an MLP encodes
the glimpse to z_what. Everything is deterministic; the latent cost is the sum of a Sinkhorn
divergence per part (:class:`sae.models.WhatWhereSAE`).

The data follow the same program with real digits: each embedded MNIST digit is placed by a
known z_where drawn from N(0, I_3) truncated to [−2, 2]³, and salt noise (pixels set to 1) that
the model does not explain is added. Because the true z_where is known, localisation is a number:
the distance in pixels between the digit's true centre and the one the encoder finds.

Pose of z_where = (a, b, c): scale s = 0.5 + 0.07·a (the 28-pixel box spans s·48 pixels, 17–31
at ±2σ) and centre (x, y) = 0.18·(b, c) in the canvas's [−1, 1] coordinates (±8.6 pixels at 2σ),
so a placed digit never leaves the canvas. These numbers are our choice; the paper gives none.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

CANVAS = 48              # canvas side in pixels
PATCH = 28               # the digit box: MNIST's 28×28
SCALE_MEAN, SCALE_STD, SHIFT_STD = 0.5, 0.07, 0.18
SALT = 0.02              # probability that a canvas pixel is set to 1
CANVAS_SEED = 20181001   # the fixed placements and noise of the canvas data set
WHAT_DIM = 10

# Per profile: training epochs of the toy (a few more than the quick profile's 8, for the spatial
# transformer to lock on). Nothing else differs from the profile's settings.
PROBPROG_SIZES = {"smoke": {"epochs": 1}, "quick": {"epochs": 10}, "paper": {"epochs": 100}}


def pose(z_where: Tensor) -> tuple[Tensor, Tensor]:
    """(scale (B,), centre (B, 2) as (x, y)) in the canvas's normalised [−1, 1] coordinates."""
    s = (SCALE_MEAN + SCALE_STD * z_where[:, 0]).clamp_min(0.05)
    return s, SHIFT_STD * z_where[:, 1:3]


def _grid(s: Tensor, t: Tensor, inverse: bool, size: int) -> Tensor:
    """Sampling grid of the similarity x ↦ s·x + t (glimpse) or its inverse (placing)."""
    if inverse:
        s, t = 1.0 / s, -t / s[:, None]
    zero = torch.zeros_like(s)
    theta = torch.stack([torch.stack([s, zero, t[:, 0]], 1), torch.stack([zero, s, t[:, 1]], 1)], 1)
    return F.affine_grid(theta, (len(s), 1, size, size), align_corners=False)


def place(patch: Tensor, z_where: Tensor, canvas: int = CANVAS) -> Tensor:
    """Put each (B, 1, 28, 28) patch on an empty canvas at the pose of z_where (the decoder's STN)."""
    s, t = pose(z_where)
    return F.grid_sample(patch, _grid(s, t, True, canvas), align_corners=False, padding_mode="zeros")


def glimpse(canvas: Tensor, z_where: Tensor, size: int = PATCH) -> Tensor:
    """Crop the (B, 1, size, size) window at the pose of z_where out of each canvas (the encoder's STN)."""
    s, t = pose(z_where)
    return F.grid_sample(canvas, _grid(s, t, False, size), align_corners=False, padding_mode="zeros")


def truncated_normal(n: int, dim: int, generator: torch.Generator, bound: float = 3.0) -> Tensor:
    """N(0, I) conditioned on every coordinate lying in [−bound, bound] (rejection, redrawn row-wise)."""
    z = torch.randn(n, dim, generator=generator)
    while True:
        bad = (z.abs() > bound).any(1)
        if not bad.any():
            return z
        z[bad] = torch.randn(int(bad.sum()), dim, generator=generator)


def canvas_mnist(n_train: int | None = None, n_test: int | None = None, salt: float = SALT):
    """The embedded digits placed on a 48×48 canvas at known poses, with salt noise.

    Placement and noise are fixed by CANVAS_SEED, so every run sees the same canvases; the true
    z_where of each canvas is in ``extras["where_train"]`` / ``extras["where_test"]``.
    """
    from .data import Dataset, embedded_mnist

    if not 0 <= salt < 1:
        raise ValueError(f"salt must be a probability in [0, 1), got {salt}")
    digits = embedded_mnist(n_train, n_test)
    g = torch.Generator().manual_seed(CANVAS_SEED)
    out = {}
    for part, x in (("train", digits.x_train), ("test", digits.x_test)):
        where = truncated_normal(len(x), 3, g)
        with torch.no_grad():
            canvas = place(x, where)
        noise = torch.rand(canvas.shape, generator=g) < salt
        out[part] = (torch.where(noise, torch.ones_like(canvas), canvas).clamp(0, 1), where)
    return Dataset("mnist_canvas", out["train"][0], digits.y_train, out["test"][0], digits.y_test,
                   (1, CANVAS, CANVAS), "mse",
                   f"{digits.source}, placed on a {CANVAS}x{CANVAS} canvas with {salt:.0%} salt noise",
                   {"where_train": out["train"][1], "where_test": out["test"][1]})


class WhatWhereEncoder(nn.Module):
    """Canvas → (raw z_what, z_where): a CNN finds z_where, an MLP encodes the glimpse cropped there."""

    def __init__(self, shape, hidden, what_dim: int = WHAT_DIM):
        super().__init__()
        side = shape[-1]
        self.where_net = nn.Sequential(
            nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(), nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * math.ceil(side / 4) ** 2, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], 3))
        nn.init.zeros_(self.where_net[-1].weight)          # start at the mean pose (the usual STN start)
        nn.init.zeros_(self.where_net[-1].bias)
        from .nets import mlp

        self.what_net = mlp([PATCH * PATCH, *hidden, what_dim])

    def forward(self, x: Tensor) -> Tensor:
        where = self.where_net(x)                           # (B, 3)
        what = self.what_net(glimpse(x, where).flatten(1))  # (B, what_dim), normalised by the prior's head
        return torch.cat([what, where], 1)


class WhatWhereDecoder(nn.Module):
    """(z_what, z_where) → canvas: an MLP draws the digit patch, the spatial transformer places it."""

    def __init__(self, shape, hidden, what_dim: int = WHAT_DIM):
        super().__init__()
        from .nets import mlp

        self.side = shape[-1]
        self.what_net = mlp([what_dim, *reversed(hidden), PATCH * PATCH])

    def patch(self, what: Tensor) -> Tensor:
        """The digit the decoder draws for z_what, before placing: (B, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.what_net(what)).view(-1, 1, PATCH, PATCH)

    def forward(self, z: Tensor) -> Tensor:
        return place(self.patch(z[:, :-3]), z[:, -3:], self.side)


def config(profile: str, seed: int = 0, beta: float | None = None):
    """The toy's run: SAE with the what/where prior (10 + 3 dimensions) on the digit canvas."""
    from .config import make_config

    extra = {"beta": beta} if beta is not None else {}
    return make_config(profile, "sae_whatwhere", "whatwhere", "mnist_canvas", latent_dim=WHAT_DIM + 3, seed=seed,
                       train={"epochs": PROBPROG_SIZES[profile]["epochs"]}, **extra)


BETAS = (10.0, 100.0)     # ours, and SAE's MNIST value


def study(profile: str, seed: int = 0):
    """Train (or reload) the toy at each β of BETAS; one row of metrics per run, and the runs."""
    import pandas as pd

    from .experiments import get_or_train

    runs = {b: get_or_train(config(profile, seed, b), progress=False) for b in BETAS}
    keys = ("centre_error_px", "scale_error_rel", "where_corr_x", "where_corr_y", "where_corr_scale",
            "baseline_com_error_px", "baseline_centre_error_px", "reconstruction_error", "latent_ot")
    table = pd.DataFrame([{"beta": b, **{k: r.metrics[k] for k in keys},
                           "train_seconds": r.metrics["provenance"]["train_seconds"]} for b, r in runs.items()])
    return table, runs


def centre_of_mass(canvas: Tensor) -> Tensor:
    """Intensity-weighted centre of each canvas in [−1, 1] coordinates (x, y): the no-model baseline."""
    side = canvas.shape[-1]
    c = (torch.arange(side, dtype=canvas.dtype) + 0.5) / side * 2 - 1
    w = canvas[:, 0]
    m = w.sum((1, 2)).clamp_min(1e-12)
    return torch.stack([(w.sum(1) * c).sum(1) / m, (w.sum(2) * c).sum(1) / m], 1)


@torch.no_grad()
def localisation(model, data, codes: Tensor | None = None) -> dict:
    """How well the encoder's z_where recovers the true placement of the test digits.

    Centre error in pixels (mean Euclidean distance between true and found digit centres), scale
    error (mean |ŝ − s| / s), the correlation of each z_where coordinate with its true value, and
    two baselines: the canvas centre (no model) and the noisy canvas's centre of mass. ``codes``:
    the test codes when the caller has them already.
    """
    from .metrics import embed

    where_hat = model.prior.split(embed(model, data.x_test) if codes is None else codes)[1]
    where = data.extras["where_test"]
    (s_hat, t_hat), (s, t) = pose(where_hat), pose(where)
    px = CANVAS / 2
    corr = [float(np.corrcoef(where_hat[:, k].numpy(), where[:, k].numpy())[0, 1]) for k in range(3)]
    return {"centre_error_px": float((t_hat - t).norm(dim=1).mean() * px),
            "scale_error_rel": float(((s_hat - s).abs() / s).mean()),
            "where_corr_scale": corr[0], "where_corr_x": corr[1], "where_corr_y": corr[2],
            "baseline_centre_error_px": float(t.norm(dim=1).mean() * px),
            "baseline_com_error_px": float((centre_of_mass(data.x_test) - t).norm(dim=1).mean() * px)}


def box_corners(z_where: Tensor) -> Tensor:
    """(B, 4) pixel box (left, top, width, height) of the 28×28 digit box placed by z_where."""
    s, t = pose(z_where)
    half = s * CANVAS / 2
    cx, cy = (t[:, 0] + 1) * CANVAS / 2, (t[:, 1] + 1) * CANVAS / 2
    return torch.stack([cx - half, cy - half, 2 * half, 2 * half], 1)
