"""The MNIST feature network for FID: a small CNN classifier trained here on the digits.

ICLR §6: "for MNIST we trained a 2-layer convolutional network and used its features". Ours:
two 5×5 conv layers (32, 64 channels) with max-pooling, a 128-unit hidden layer whose activations
are the FID features, and a 10-way output. Trained once per data source, cached under
``results/fid/`` with its held-out accuracy, and reloaded afterwards.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..utils import atomic_write, git_sha, machine, results_root, write_json


class DigitCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc = nn.Linear(64 * 7 * 7, 128)
        self.out = nn.Linear(128, 10)

    def features(self, x):
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc(h.flatten(1)))             # (B, 128): the FID features

    def forward(self, x):
        return self.out(self.features(x))


class _Features(nn.Module):
    def __init__(self, cnn):
        super().__init__()
        self.cnn = cnn

    def forward(self, x):
        return self.cnn.features(x)


def train_classifier(data, epochs: int = 8, seed: int = 0, log=print) -> tuple[DigitCNN, float]:
    """Train on data.x_train (with light shift augmentation), return the net and its test accuracy."""
    torch.manual_seed(seed)
    net = DigitCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    n = len(data.x_train)
    for epoch in range(epochs):
        net.train()
        for idx in torch.randperm(n, generator=g).split(64):       # cpu: the feature network trains on the CPU
            x = data.x_train[idx]
            shift = torch.randint(-2, 3, (2,), generator=g).tolist()
            x = torch.roll(x, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(net(x), data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net, accuracy(net, data.x_test, data.y_test)


@torch.no_grad()
def accuracy(net, x, y) -> float:
    net.eval()
    return (net(x).argmax(1) == y).float().mean().item()


def mnist_feature_net(data, cache_dir=None, log=print) -> tuple[nn.Module, dict]:
    """The cached FID network for ``data`` (trained on first use); returns (features, info)."""
    cache_dir = cache_dir or results_root() / "fid"
    cache_dir.mkdir(parents=True, exist_ok=True)
    # the key names the data and this file's code, so an edited recipe trains a new network
    recipe = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
    key = f"digitcnn-{data.name}-{len(data.x_train)}-{len(data.x_test)}-{recipe}"
    path, info_path = cache_dir / f"{key}.pt", cache_dir / f"{key}.json"
    net = DigitCNN()
    if path.exists() and info_path.exists():
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        info = json.loads(info_path.read_text())
    else:
        t0 = time.time()
        net, acc = train_classifier(data, log=log)
        info = {"network": "DigitCNN (2 conv + 128-unit feature layer)", "test_accuracy": acc,
                "n_train": len(data.x_train), "n_test": len(data.x_test), "data": data.source,
                "commit": git_sha(), "machine": machine(), "seconds": round(time.time() - t0, 1)}
        # jobs of a sweep may train it at once: each writes its own temporary files, then renames
        with atomic_write(path) as f:
            torch.save(net.state_dict(), f)
        write_json(info_path, info)
    return _Features(net).eval(), info
