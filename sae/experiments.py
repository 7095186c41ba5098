"""The results store: one folder per configuration, loaded when complete, trained otherwise.

    results/<profile>/<model>-<prior>-<dataset>-<hash>/
        config.json   checkpoint.pt   curve.json   metrics.json (written last: marks completion)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from . import data as data_mod
from .config import ExperimentConfig, from_dict
from .models import build_model
from .train import train
from .utils import repo_root


@dataclass
class Run:
    cfg: ExperimentConfig
    path: Path
    metrics: dict
    curve: list

    def model(self, device="cpu"):
        """The trained model, rebuilt from the config and the checkpoint."""
        d = data_mod.load(self.cfg.data)
        m = build_model(self.cfg, d.shape, d.recon, len(d.x_train))
        m.load_state_dict(torch.load(self.path / "checkpoint.pt", map_location=device, weights_only=False)["model"])
        return m.to(device).eval()


def run_dir(cfg: ExperimentConfig, root: Path | None = None) -> Path:
    root = Path(root) if root is not None else repo_root() / "results"
    return root / cfg.profile / f"{cfg.model}-{cfg.prior}-{cfg.data.name}-{cfg.hash}"


def is_complete(path: Path) -> bool:
    return (Path(path) / "metrics.json").exists() and (Path(path) / "checkpoint.pt").exists()


def load_run(path: Path) -> Run:
    path = Path(path)
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is not a complete run (no metrics.json)")
    cfg = from_dict(json.loads((path / "config.json").read_text()))
    curve = json.loads((path / "curve.json").read_text()) if (path / "curve.json").exists() else []
    return Run(cfg, path, json.loads((path / "metrics.json").read_text()), curve)


def get_or_train(cfg: ExperimentConfig, root: Path | None = None, progress: bool = True) -> Run:
    """Load the run of ``cfg`` if its folder is complete; otherwise train (or resume) it."""
    path = run_dir(cfg, root)
    if not is_complete(path):
        train(cfg, path, progress=progress)
    return load_run(path)
