"""Encoder and decoder networks: plain nn.Modules, no losses.

* ``mlp``: fully connected ReLU nets for MNIST (ICLR §6 says "fully connected" without sizes; we
  choose 784-512-512-z and its mirror) and small widths for 2-D/3-D toys.
* ``conv``: the WAE convolutional nets for 64×64 images (tolstikhin/wae ``models.py``): encoder
  4 conv 5×5 stride 2 (128, 256, 512, 1024) + BN + ReLU, then linear to z; decoder linear to
  8×8×1024, three stride-2 transposed convs (512, 256, 128) + BN + ReLU, a last transposed conv to
  the image channels.
"""
from __future__ import annotations

import math

from torch import nn


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(i, o))
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, shape, hidden, out_dim):
        super().__init__()
        self.net = mlp([math.prod(shape), *hidden, out_dim])

    def forward(self, x):
        return self.net(x.flatten(1))                      # (B, out_dim)


class MLPDecoder(nn.Module):
    def __init__(self, latent_dim, hidden, shape):
        super().__init__()
        self.shape = tuple(shape)
        self.net = mlp([latent_dim, *reversed(hidden), math.prod(shape)])

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)           # logits or values, (B, *shape)


class ConvEncoder(nn.Module):
    def __init__(self, shape, out_dim, channels=(128, 256, 512, 1024)):
        super().__init__()
        c, h, w = shape
        layers, prev = [], c
        for ch in channels:
            layers += [nn.Conv2d(prev, ch, 5, stride=2, padding=2), nn.BatchNorm2d(ch), nn.ReLU()]
            prev, h, w = ch, (h + 1) // 2, (w + 1) // 2
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(prev * h * w, out_dim)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class ConvDecoder(nn.Module):
    def __init__(self, latent_dim, shape, channels=(1024, 512, 256, 128)):
        super().__init__()
        c, h, w = shape
        self.start = (channels[0], h // 8, w // 8)
        self.fc = nn.Sequential(nn.Linear(latent_dim, math.prod(self.start)), nn.ReLU())
        layers, prev = [], channels[0]
        for ch in channels[1:]:
            layers += [nn.ConvTranspose2d(prev, ch, 5, stride=2, padding=2, output_padding=1), nn.BatchNorm2d(ch),
                       nn.ReLU()]
            prev = ch
        layers.append(nn.ConvTranspose2d(prev, c, 5, stride=1, padding=2))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):
        return self.deconv(self.fc(z).view(-1, *self.start))


def make_nets(arch: str, shape, hidden, latent_dim: int, enc_out: int):
    """(encoder, decoder) for data of ``shape``; the encoder emits ``enc_out`` numbers per example."""
    if arch == "mlp":
        return MLPEncoder(shape, hidden, enc_out), MLPDecoder(latent_dim, hidden, shape)
    if arch == "conv":
        if len(shape) != 3 or shape[1] % 8 or shape[2] % 8:
            raise ValueError(f"arch='conv' needs images (C, H, W) with H, W divisible by 8, got {shape}")
        return ConvEncoder(shape, enc_out), ConvDecoder(latent_dim, shape)
    raise ValueError(f"arch must be mlp or conv, got {arch!r}")
