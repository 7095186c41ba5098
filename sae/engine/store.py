"""The results store: one folder per (configuration, code version), loaded when complete, trained
(or resumed) otherwise.

    results/runs/<model>-<prior>-<dataset>-<config hash>-<code version>/
        config.json   checkpoint.pt   curve.json   metrics.json (written last: marks completion)

A run's identity is its settings (the config hash) and the code it executes (the *code version*,
:mod:`sae.engine.version`: the solver, the engine, and of the registered models, priors and data
sets only the ones the run uses). After an edit to that code the same command finds no folder of
its own and trains a new run; the old folder is then *stale*, listed by ``python -m sae runs`` and
removed by ``python -m sae runs --remove-stale``. Adding a model, prior or data set makes no run
stale. One process trains a run at a time (``.lock`` in its folder, :mod:`sae.engine.runlock`).
Results kept under ``results/stored/`` carry the commit that made them and keep loading as they are.
"""
from __future__ import annotations

import json
import math
import shutil
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from ..models import build_model
from ..utils import atomic_write, results_root
from . import data as data_mod
from .config import ExperimentConfig, from_dict
from .profiles import PROFILES
from .runlock import LOCK
from .train import SAMPLES, train
from .version import current_version, run_keys

RUNS = "runs"
LEGACY = PROFILES      # the layout before code versions kept runs in one folder per profile


def _current_version(cfg: ExperimentConfig) -> str:
    return current_version(run_keys(cfg))


def known_fields(cls, d: dict) -> dict:
    """The entries of ``d`` that are fields of ``cls`` (a file written by older code may lack some)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


@dataclass(frozen=True)
class Machine:
    """Where a run or a sweep ran (:func:`sae.utils.machine`)."""
    platform: str = "?"
    python: str = "?"
    torch: str = "?"
    cpu: str = "?"
    cpu_count: int | None = None
    torch_threads: int | None = None    # None: recorded before runs recorded it

    @classmethod
    def from_json(cls, d: dict | None) -> "Machine":
        return cls(**known_fields(cls, d or {}))


@dataclass(frozen=True)
class Provenance:
    """What made a run: the commit, the code version, the machine and how long it took."""
    commit: str = "?"
    code_version: str = "?"
    machine: Machine = field(default_factory=Machine)
    device: str = "cpu"
    train_seconds: float = math.nan               # the epochs only (summed over resumptions)
    wall_seconds_this_process: float = math.nan   # the last process, evaluation and FID included
    data: str = ""

    @classmethod
    def from_json(cls, d: dict | None) -> "Provenance":
        d = dict(d or {})
        return cls(**{**known_fields(cls, d), "machine": Machine.from_json(d.get("machine"))})


@dataclass(frozen=True)
class Metrics:
    """A complete run's ``metrics.json`` (:func:`sae.engine.train.evaluate`), typed. A metric a run
    did not take (FID of a non-generative model, precision/recall before runs took them) is NaN;
    what a model's own evaluation adds (the what/where toy's localisation errors) is in ``extra``."""
    reconstruction_error: float = math.nan
    reconstruction_kind: str = ""
    latent_mmd_x1000: float = math.nan
    latent_mmd_x1000_by_bandwidth: dict[str, float] = field(default_factory=dict)
    latent_ot: float = math.nan
    code_variance_mean: float = math.nan
    n_test: int | None = None
    fid: float = math.nan
    fid_se: float = math.nan
    fid_n_real: int | None = None
    fid_n_fake: int | None = None
    fid_network: str = ""
    precision: float = math.nan
    recall: float = math.nan
    provenance: Provenance = field(default_factory=Provenance)
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict) -> "Metrics":
        known = known_fields(cls, d)
        extra = {k: v for k, v in d.items() if k not in known}
        return cls(**{**known, "provenance": Provenance.from_json(d.get("provenance")), "extra": extra})

    def numbers(self) -> dict[str, float]:
        """Every scalar metric the run took, by name (what ``python -m sae train`` prints)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(self.extra)
        return {k: v for k, v in out.items() if isinstance(v, float) and v == v}


@dataclass(frozen=True)
class CurvePoint:
    """One epoch of a run's ``curve.json``: its mean loss terms, its seconds and, at the epochs a
    FID was taken, the FID with its bootstrap standard error (NaN at the others)."""
    epoch: int = 0
    loss: float = math.nan
    rec: float = math.nan
    penalty: float = math.nan
    seconds: float = math.nan
    fid: float = math.nan
    fid_se: float = math.nan

    @classmethod
    def from_json(cls, d: dict) -> "CurvePoint":
        return cls(**known_fields(cls, d))


def load_curve(path: Path) -> list[CurvePoint]:
    """The curve of the run in ``path`` (empty for a run without one)."""
    f = Path(path) / "curve.json"
    return [CurvePoint.from_json(c) for c in json.loads(f.read_text())] if f.exists() else []


def load_metrics(path: Path) -> Metrics:
    return Metrics.from_json(json.loads((Path(path) / "metrics.json").read_text()))


def load_config(path: Path) -> ExperimentConfig:
    return from_dict(json.loads((Path(path) / "config.json").read_text()))


@dataclass
class Run:
    """A complete run: its settings, folder, metrics and curve."""
    cfg: ExperimentConfig
    path: Path
    metrics: Metrics
    curve: list[CurvePoint]

    def model(self, device="cpu"):
        """The trained model, rebuilt from the config and the checkpoint, or from the half-precision
        weights a stored run keeps (tensors only are unpickled)."""
        d = data_mod.load(self.cfg.data)
        m = build_model(self.cfg, d.shape, d.recon, len(d.x_train))
        if (self.path / "checkpoint.pt").exists():
            state = torch.load(self.path / "checkpoint.pt", map_location=device, weights_only=True)["model"]
        elif (self.path / HALF_WEIGHTS).exists():
            state = {k: v.float() if v.is_floating_point() else v for k, v in
                     torch.load(self.path / HALF_WEIGHTS, map_location=device, weights_only=True).items()}
        else:
            raise FileNotFoundError(f"{self.path} keeps no weights (only a stored sweep's seed-0 runs do)")
        m.load_state_dict(state)
        return m.to(device).eval()

    def samples(self) -> "KeptSamples | None":
        """What the run kept for a reader, or None for a run made before runs kept samples."""
        return kept_samples(self.path)


@dataclass(frozen=True)
class KeptSamples:
    """A run's ``samples.npz`` (:func:`sae.engine.train.keep_samples`), in [0, 1]: decoded prior
    draws, decoded interpolations between test codes (one row of images each) and the test images
    they start and end at."""
    samples: np.ndarray
    interpolations: np.ndarray
    originals: np.ndarray


def kept_samples(path: Path) -> KeptSamples | None:
    """The samples the run in ``path`` kept (its ``samples.npz``), or None for a run made before
    runs kept samples: read without loading the run's config, metrics or weights."""
    if not (Path(path) / SAMPLES).exists():
        return None
    with np.load(Path(path) / SAMPLES) as z:
        scale = float(z["scale"])
        return KeptSamples(z["samples"].astype(np.float32) / scale, z["interpolations"].astype(np.float32) / scale,
                           z["originals"])


def run_name(cfg: ExperimentConfig) -> str:
    return f"{cfg.model}-{cfg.prior}-{cfg.data.name}-{cfg.hash}"


def run_dir(cfg: ExperimentConfig, root: Path | None = None) -> Path:
    """Where the run of ``cfg`` made by the current code lives."""
    root = Path(root) if root is not None else results_root()
    return root / RUNS / f"{run_name(cfg)}-{_current_version(cfg)}"


CHECKPOINT_REMOVED = "checkpoint.pt.done"     # a stored sweep's run whose weights were dropped to keep it small
HALF_WEIGHTS = "weights-fp16.pt"               # the model's weights in half precision (a stored seed-0 run)


def keep_half_weights(path: Path) -> None:
    """Write the model weights of the run in ``path`` in half precision (for a stored sweep)."""
    state = torch.load(Path(path) / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
    with atomic_write(Path(path) / HALF_WEIGHTS) as f:
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, f)


def is_complete(path: Path) -> bool:
    path = Path(path)
    return (path / "metrics.json").exists() and any((path / f).exists() for f in ("checkpoint.pt", CHECKPOINT_REMOVED))


def load_run(path: Path) -> Run:
    path = Path(path)
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is not a complete run (no metrics.json)")
    return Run(load_config(path), path, load_metrics(path), load_curve(path))


def get_or_train(cfg: ExperimentConfig, root: Path | None = None, progress: bool = True, wait: bool = False) -> Run:
    """Load the run of ``cfg`` made by the current code if complete; otherwise train (or resume) it.

    A run of the same settings made by other code is never returned: it is stale, and a new run
    is trained beside it (the message says so when ``progress`` is on). A run another process is
    training makes this call wait for it (``wait``) or raise :class:`sae.engine.runlock.RunLocked`.
    """
    path = run_dir(cfg, root)
    if not is_complete(path):
        if progress:
            older = [p.name for p in path.parent.glob(f"{run_name(cfg)}-*") if p != path]
            if older:
                print(f"code changed since {', '.join(older)}: training {path.name} anew "
                      "(`python -m sae runs --remove-stale` removes stale runs)", file=sys.stderr)
        train(cfg, path, progress=progress, wait=wait)
    return load_run(path)


@dataclass
class RunState:
    path: Path
    state: str            # complete | partial | stale
    epochs_done: int | None
    why: str = ""


UNREADABLE = "checkpoint unreadable: the run restarts from epoch 0 when asked for again"


def epochs_done(path: Path) -> int | None:
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
    root = Path(root) if root is not None else results_root()
    out = []
    for p in sorted((root / RUNS).glob("*")) if (root / RUNS).is_dir() else []:
        if not p.is_dir():
            continue
        try:
            version = _current_version(from_dict(json.loads((p / "config.json").read_text())))
        except FileNotFoundError:
            out.append(RunState(p, "partial", None, "no config.json yet: starting, or cut before it was written"
                                + (f"; {(p / LOCK).read_text(errors='replace')[:200]}" if (p / LOCK).exists() else "")))
            continue
        except (ValueError, KeyError, TypeError) as err:
            out.append(RunState(p, "stale", epochs_done(p), f"its config.json no longer loads ({err})"))
            continue
        done = epochs_done(p)
        if not p.name.endswith("-" + version):
            out.append(RunState(p, "stale", done, f"made by code version {p.name.rsplit('-', 1)[-1]}, "
                                f"current is {version}"))
        else:
            why = UNREADABLE if done is None and (p / "checkpoint.pt").exists() else ""
            out.append(RunState(p, "complete" if is_complete(p) else "partial", done, why))
    for legacy in LEGACY:
        for p in sorted((root / legacy).glob("*")) if (root / legacy).is_dir() else []:
            out.append(RunState(p, "stale", epochs_done(p), "folder of the layout before code versions"))
    return out


def remove_stale(root: Path | None = None) -> list[Path]:
    """Delete every stale run folder under ``root``; return what was removed."""
    gone = []
    for r in list_runs(root):
        if r.state == "stale":
            shutil.rmtree(r.path)
            gone.append(r.path)
    return gone
