"""Experiment configuration: frozen dataclasses with every default visible here, a stable hash,
and validation that names the offending setting.

    cfg = make_config(profile, model="sae", prior="sphere", dataset="mnist")
    cfg = set_values(cfg, ["sinkhorn.eps=10", "train.epochs=3"])

The profile picks the starting sizes (:mod:`sae.engine.profiles`) and is not stored: two profiles
that ask for the same settings make the same config. Choices and per-method defaults come from the
registries of models, priors and data sets, never from lists kept here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from ..models import MODELS, PRIORS
from .data import DATASETS
from .profiles import DEFAULT, PROFILES, check_profile, sizes


@dataclass(frozen=True)
class SinkhornConfig:
    eps: float = 0.1            # absolute ε of the latent Sinkhorn (the prior's default_eps unless set)
    max_iter: int = 50          # L, fixed during training (ICLR §6: L = 50)
    grad: str = "unrolled"      # backprop through the iterations, as in the paper
    kind: str = "sharp"         # debiased sharp divergence (UAI Eq. 12)


@dataclass(frozen=True)
class DataConfig:
    name: str = "mnist"         # a registered data set (sae.engine.data.DATASETS)
    root: str | None = None     # folder holding full MNIST (IDX files) or CelebA images
    n_train: int | None = 4000  # None: all
    n_test: int | None = 1000


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128       # ICLR §6: mini-batch 128
    lr: float = 1e-3
    device: str = "auto"        # auto: CUDA when present
    fid_every: int = 0          # > 0: FID also after every fid_every-th epoch (shows when the ordering settles)


@dataclass(frozen=True)
class ExperimentConfig:
    model: str = "sae"
    prior: str = "sphere"
    latent_dim: int = 10        # ICLR: 10 for MNIST, 64 for CelebA
    beta: float = 100.0
    dirichlet_alpha: float = 0.5
    hidden: tuple = (512, 512)  # fully connected encoder widths (decoder mirrors them)
    arch: str = "mlp"           # mlp | conv (the WAE convolutional nets, 64×64 images)
    targets: bool = False       # ICLR Table 1 "targets": fixed prior draws per example, reassigned (hae, sae)
    seed: int = 0
    sinkhorn: SinkhornConfig = field(default_factory=SinkhornConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def hash(self) -> str:
        """Stable 12-hex-digit hash of every setting."""
        return hashlib.sha256(json.dumps(to_dict(self), sort_keys=True).encode()).hexdigest()[:12]


def to_dict(cfg) -> dict:
    d = asdict(cfg)
    d["hidden"] = list(d["hidden"])
    return d


def from_dict(d: dict) -> ExperimentConfig:
    d = dict(d)
    d.pop("profile", None)          # stored before profiles left the run identity
    sub = {"sinkhorn": SinkhornConfig, "data": DataConfig, "train": TrainConfig}
    for k, cls in sub.items():
        if k in d:
            d[k] = cls(**d[k])
    if "hidden" in d:
        d["hidden"] = tuple(d["hidden"])
    return validate(ExperimentConfig(**d))


def _merge(cfg, overrides: dict):
    changes = {}
    names = {f.name for f in dataclasses.fields(cfg)}
    for k, v in overrides.items():
        if k not in names:
            raise ValueError(f"unknown setting {k!r} for {type(cfg).__name__}; known: {sorted(names)}")
        cur = getattr(cfg, k)
        changes[k] = _merge(cur, v) if dataclasses.is_dataclass(cur) and isinstance(v, dict) else v
    return replace(cfg, **changes)


def make_config(profile: str = DEFAULT, model: str = "sae", prior: str = "sphere", dataset: str = "mnist",
                **overrides) -> ExperimentConfig:
    """The config of one run: profile settings, then per-method defaults, then ``overrides``.

    Nested settings merge: ``make_config(profile, sinkhorn={"eps": 10})``.
    """
    start = sizes("experiment", profile)
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {prior!r}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
    cfg = ExperimentConfig(model=model, prior=prior, beta=MODELS[model].default_beta,
                           sinkhorn=SinkhornConfig(eps=PRIORS[prior].default_eps), data=DataConfig(name=dataset))
    cfg = _merge(cfg, start)
    return validate(_merge(cfg, overrides))


def _coerce(text: str, current, optional: bool = False):
    if optional and text.lower() == "none":
        return None
    if isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if isinstance(current, tuple):
        return tuple(int(v) for v in text.strip("()[] ").split(",") if v.strip())
    if current is None:
        if text.lower() == "none":
            return None
        for cast in (int, float):
            try:
                return cast(text)
            except ValueError:
                pass
    return None if text.lower() == "none" else text


def set_values(cfg: ExperimentConfig, assignments: list[str]) -> ExperimentConfig:
    """Apply ``key=value`` strings (dotted keys for nested settings), coercing to each field's type."""
    for a in assignments:
        if "=" not in a:
            raise ValueError(f"--set takes key=value, got {a!r}")
        key, text = a.split("=", 1)
        parts = key.strip().split(".")
        node = cfg
        for part in parts[:-1]:
            node = getattr(node, part, None)
            if not dataclasses.is_dataclass(node):
                raise ValueError(f"unknown setting {key!r}")
        fields = {f.name: f for f in dataclasses.fields(node)}
        if parts[-1] not in fields:
            raise ValueError(f"unknown setting {key!r}")
        try:
            value = _coerce(text, getattr(node, parts[-1]), optional="None" in str(fields[parts[-1]].type))
        except ValueError as err:
            raise ValueError(f"bad value for {key}: {err}") from None
        nested: dict = {parts[-1]: value}
        for part in reversed(parts[:-1]):
            nested = {part: nested}
        cfg = _merge(cfg, nested)
    return validate(cfg)


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    """Raise ValueError naming the setting when a configuration cannot run."""
    if cfg.model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {cfg.model!r}")
    if cfg.prior not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {cfg.prior!r}")
    if cfg.data.name not in DATASETS:
        raise ValueError(f"data.name must be one of {sorted(DATASETS)}, got {cfg.data.name!r}")
    model = MODELS[cfg.model]
    allowed = model.priors
    if allowed and cfg.prior not in allowed:
        raise ValueError(f"model {cfg.model!r} needs prior {' or '.join(allowed)}, got prior={cfg.prior!r}")
    min_dim = PRIORS[cfg.prior].min_dim
    if not isinstance(cfg.latent_dim, int) or cfg.latent_dim < min_dim:
        raise ValueError(f"latent_dim={cfg.latent_dim!r} is not possible for the {cfg.prior} prior (needs >= {min_dim})")
    if cfg.beta < 0:
        raise ValueError(f"beta must be >= 0, got {cfg.beta}")
    if not cfg.sinkhorn.eps > 0:
        raise ValueError(f"sinkhorn.eps must be positive, got {cfg.sinkhorn.eps}")
    if cfg.sinkhorn.max_iter < 1:
        raise ValueError(f"sinkhorn.max_iter must be >= 1, got {cfg.sinkhorn.max_iter}")
    if cfg.sinkhorn.grad not in ("unrolled", "envelope"):
        raise ValueError(f"sinkhorn.grad must be unrolled or envelope, got {cfg.sinkhorn.grad!r}")
    if cfg.sinkhorn.kind not in ("sharp", "regularized"):
        raise ValueError(f"sinkhorn.kind must be sharp or regularized, got {cfg.sinkhorn.kind!r}")
    if cfg.train.epochs < 1 or cfg.train.batch_size < 2 or not cfg.train.lr > 0:
        raise ValueError(f"train needs epochs >= 1, batch_size >= 2, lr > 0; got {cfg.train}")
    if not isinstance(cfg.train.fid_every, int) or cfg.train.fid_every < 0:
        raise ValueError(f"train.fid_every must be an integer >= 0 (0: FID at the end only), got {cfg.train.fid_every!r}")
    if cfg.train.device not in ("auto", "cpu", "cuda") and not cfg.train.device.startswith("cuda:"):
        raise ValueError(f"train.device must be auto, cpu or cuda, got {cfg.train.device!r}")
    if cfg.targets and not model.supports_targets:
        able = sorted(n for n, m in MODELS.items() if m.supports_targets)
        raise ValueError(f"targets=True is the ICLR Table 1 variant of {' and '.join(able)}, not of model={cfg.model!r}")
    needed = model.datasets
    if needed and cfg.data.name not in needed:
        raise ValueError(f"model {cfg.model!r} needs data.name {' or '.join(map(repr, needed))}, got {cfg.data.name!r}")
    if cfg.arch not in ("mlp", "conv"):
        raise ValueError(f"arch must be mlp or conv, got {cfg.arch!r}")
    if DATASETS[cfg.data.name].needs_root and not cfg.data.root:
        raise ValueError(f"data.root must name the local folder holding {cfg.data.name} (nothing is downloaded)")
    for k in ("n_train", "n_test"):
        v = getattr(cfg.data, k)
        if v is not None and v < 2:
            raise ValueError(f"data.{k} must be >= 2 or None, got {v}")
    return cfg


__all__ = ["ExperimentConfig", "SinkhornConfig", "DataConfig", "TrainConfig", "MODELS", "PRIORS", "DATASETS",
           "PROFILES", "make_config", "set_values", "validate", "to_dict", "from_dict", "check_profile"]
