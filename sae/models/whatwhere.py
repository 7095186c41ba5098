"""The what/where program of the probabilistic-programming toy (ICLR §6.5): spatial transformers
that place a digit on a canvas and crop it back, the networks built on them, and the localisation
metric the toy's model reports.

Pose of z_where = (a, b, c): scale s = 0.5 + 0.07·a (the 28-pixel box spans s·48 pixels, 17–31
at ±2σ) and centre (x, y) = 0.18·(b, c) in the canvas's [−1, 1] coordinates (±8.6 pixels at 2σ),
so a placed digit never leaves the canvas. These numbers are our choice; the paper gives none
(book page "The paper's setup and our deviations").
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .nets import mlp

CANVAS = 48              # canvas side in pixels
PATCH = 28               # the digit box: MNIST's 28×28
SCALE_MEAN, SCALE_STD, SHIFT_STD = 0.5, 0.07, 0.18
WHAT_DIM = 10
WHERE_DIM = 3            # z_where = (scale, x, y)



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
    z = torch.randn(n, dim, generator=generator)              # cpu: a prior's draws, moved by its sampler
    while True:
        bad = (z.abs() > bound).any(1)
        if not bad.any():
            return z
        z[bad] = torch.randn(int(bad.sum()), dim, generator=generator)      # cpu: as above


class WhatWhereEncoder(nn.Module):
    """Canvas → (raw z_what, z_where): a CNN finds z_where, an MLP encodes the glimpse cropped there."""

    def __init__(self, shape, hidden, what_dim: int = WHAT_DIM):
        super().__init__()
        side = shape[-1]
        self.where_net = nn.Sequential(
            nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(), nn.Conv2d(16, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * math.ceil(side / 4) ** 2, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], WHERE_DIM))
        nn.init.zeros_(self.where_net[-1].weight)          # start at the mean pose (the usual STN start)
        nn.init.zeros_(self.where_net[-1].bias)
        self.what_net = mlp([PATCH * PATCH, *hidden, what_dim])

    def forward(self, x: Tensor) -> Tensor:
        where = self.where_net(x)                           # (B, WHERE_DIM)
        what = self.what_net(glimpse(x, where).flatten(1))  # (B, what_dim), normalised by the prior's head
        return torch.cat([what, where], 1)


class WhatWhereDecoder(nn.Module):
    """(z_what, z_where) → canvas: an MLP draws the digit patch, the spatial transformer places it."""

    def __init__(self, shape, hidden, what_dim: int = WHAT_DIM):
        super().__init__()
        self.side = shape[-1]
        self.what_net = mlp([what_dim, *reversed(hidden), PATCH * PATCH])

    def patch(self, what: Tensor) -> Tensor:
        """The digit the decoder draws for z_what, before placing: (B, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.what_net(what)).view(-1, 1, PATCH, PATCH)

    def forward(self, z: Tensor) -> Tensor:
        return place(self.patch(z[:, :-WHERE_DIM]), z[:, -WHERE_DIM:], self.side)


def centre_of_mass(canvas: Tensor) -> Tensor:
    """Intensity-weighted centre of each canvas in [−1, 1] coordinates (x, y): the no-model baseline."""
    side = canvas.shape[-1]
    c = (torch.arange(side, dtype=canvas.dtype, device=canvas.device) + 0.5) / side * 2 - 1
    w = canvas[:, 0]
    m = w.sum((1, 2)).clamp_min(1e-12)
    return torch.stack([(w.sum(1) * c).sum(1) / m, (w.sum(2) * c).sum(1) / m], 1)


@torch.no_grad()
def localisation(model, data, codes: Tensor) -> dict:
    """How well the encoder's z_where recovers the true placement of the test digits.

    Centre error in pixels (mean Euclidean distance between true and found digit centres), scale
    error (mean |ŝ − s| / s), the correlation of each z_where coordinate with its true value, and
    two baselines: the canvas centre (no model) and the noisy canvas's centre of mass. ``codes``:
    the model's deterministic codes of ``data.x_test``.
    """
    where_hat = model.prior.split(codes)[1]
    where = data.extras["where_test"]
    (s_hat, t_hat), (s, t) = pose(where_hat), pose(where)
    px = CANVAS / 2
    corr = [float(np.corrcoef(where_hat[:, k].numpy(), where[:, k].numpy())[0, 1]) for k in range(WHERE_DIM)]
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
