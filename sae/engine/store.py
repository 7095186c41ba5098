"""The results store: one folder per (configuration, code version), loaded when complete, trained
(or resumed) otherwise.

    results/runs/<model>-<prior>-<dataset>-<config hash>-<code version>/
        config.json   checkpoint.pt   curve.json   metrics.json (written last: marks completion)

The *code version* (:mod:`sae.engine.version`) hashes the source files that train and evaluate a
run: the solver, the models, the engine but for this file, the profile table and the version
module itself. After any edit to
them the same command finds no folder of its own and trains a new run; the old folder is then
*stale*, listed by ``python -m sae runs`` and removed by ``python -m sae runs --remove-stale``.
Results kept under ``results/stored/`` carry the commit that made them and keep loading as they are.
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..models import build_model
from ..utils import repo_root
from . import data as data_mod
from .config import ExperimentConfig, from_dict
from .profiles import PROFILES
from .train import train
from .version import current_version

RUNS = "runs"
LEGACY = PROFILES      # the layout before code versions kept runs in one folder per profile


def _current_version() -> str:
    return current_version()


@dataclass
class Run:
    cfg: ExperimentConfig
    path: Path
    metrics: dict
    curve: list

    def model(self, device="cpu"):
        """The trained model, rebuilt from the config and the checkpoint (tensors only are unpickled)."""
        d = data_mod.load(self.cfg.data)
        m = build_model(self.cfg, d.shape, d.recon, len(d.x_train))
        ckpt = torch.load(self.path / "checkpoint.pt", map_location=device, weights_only=True)
        m.load_state_dict(ckpt["model"])
        return m.to(device).eval()


def run_name(cfg: ExperimentConfig) -> str:
    return f"{cfg.model}-{cfg.prior}-{cfg.data.name}-{cfg.hash}"


def run_dir(cfg: ExperimentConfig, root: Path | None = None) -> Path:
    """Where the run of ``cfg`` made by the current code lives."""
    root = Path(root) if root is not None else repo_root() / "results"
    return root / RUNS / f"{run_name(cfg)}-{_current_version()}"


CHECKPOINT_REMOVED = "checkpoint.pt.done"     # a stored sweep's run whose weights were dropped to keep it small


def is_complete(path: Path) -> bool:
    path = Path(path)
    return (path / "metrics.json").exists() and any((path / f).exists() for f in ("checkpoint.pt", CHECKPOINT_REMOVED))


def load_run(path: Path) -> Run:
    path = Path(path)
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is not a complete run (no metrics.json)")
    cfg = from_dict(json.loads((path / "config.json").read_text()))
    curve = json.loads((path / "curve.json").read_text()) if (path / "curve.json").exists() else []
    return Run(cfg, path, json.loads((path / "metrics.json").read_text()), curve)


def get_or_train(cfg: ExperimentConfig, root: Path | None = None, progress: bool = True) -> Run:
    """Load the run of ``cfg`` made by the current code if complete; otherwise train (or resume) it.

    A run of the same settings made by other code is never returned: it is stale, and a new run
    is trained beside it (the message says so when ``progress`` is on).
    """
    path = run_dir(cfg, root)
    if not is_complete(path):
        if progress:
            older = [p.name for p in path.parent.glob(f"{run_name(cfg)}-*") if p != path]
            if older:
                print(f"code changed since {', '.join(older)}: training {path.name} anew "
                      "(`python -m sae runs --remove-stale` removes stale runs)", file=sys.stderr)
        train(cfg, path, progress=progress)
    return load_run(path)


@dataclass
class RunState:
    path: Path
    state: str            # complete | partial | stale
    epochs_done: int | None
    why: str = ""


def _epochs_done(path: Path) -> int | None:
    if (path / "curve.json").exists():
        return len(json.loads((path / "curve.json").read_text()))
    if (path / "checkpoint.pt").exists():
        try:
            return int(torch.load(path / "checkpoint.pt", map_location="cpu", weights_only=True)["epoch"])
        except Exception:           # an unreadable checkpoint is reported, never fatal for a listing
            return None
    return None


def list_runs(root: Path | None = None) -> list[RunState]:
    """Every run folder under ``root`` with its state against the current code."""
    root = Path(root) if root is not None else repo_root() / "results"
    version = _current_version()
    out = []
    for p in sorted((root / RUNS).glob("*")) if (root / RUNS).is_dir() else []:
        if not p.is_dir():
            continue
        if not p.name.endswith("-" + version):
            out.append(RunState(p, "stale", _epochs_done(p), f"made by code version {p.name.rsplit('-', 1)[-1]}, "
                                f"current is {version}"))
        else:
            out.append(RunState(p, "complete" if is_complete(p) else "partial", _epochs_done(p)))
    for legacy in LEGACY:
        for p in sorted((root / legacy).glob("*")) if (root / legacy).is_dir() else []:
            out.append(RunState(p, "stale", _epochs_done(p), "folder of the layout before code versions"))
    return out


def remove_stale(root: Path | None = None) -> list[Path]:
    """Delete every stale run folder under ``root``; return what was removed."""
    gone = []
    for r in list_runs(root):
        if r.state == "stale":
            shutil.rmtree(r.path)
            gone.append(r.path)
    return gone
