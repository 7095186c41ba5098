"""The paper's sweeps as settings: which runs make each table, and a sweep folder's manifest.

UAI Table 1 and ICLR Table 2 (MNIST columns) share one list of (method, prior) rows; ICLR Table 1
(Sinkhorn vs Hungarian, sampled vs fixed targets) is a second list; ``latent64`` is claim 3's
mechanism without CelebA (the Gaussian prior in 64 dimensions). A sweep trains every row for every
seed through the results store (:mod:`sae.engine.store`), locally or on SLURM
(:mod:`sae.studies.launch`), and keeps a :class:`Manifest` beside its runs.

Nothing here decides a run's numbers (a run's config does, and it is hashed): this file is not
part of any run's code version, so adding a sweep or a row makes no run stale.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..utils import write_json
from .config import ExperimentConfig, make_config
from .profiles import sizes
from .store import Machine, known_fields

# (method, prior, label): UAI Table 1 rows plus the ICLR Table 2 AE rows.
TABLE_ROWS = [
    ("ae", "gaussian", "AE"), ("vae", "gaussian", "VAE"), ("betavae", "gaussian", "β-VAE"),
    ("wae", "gaussian", "WAE"), ("swae", "gaussian", "SWAE"), ("w2gae", "gaussian", "W2GAE"),
    ("hae", "gaussian", "HAE"), ("sae", "gaussian", "SAE"),
    ("ae", "sphere", "AE (spherical)"), ("hvae", "sphere", "HVAE"), ("wae", "sphere", "WAE"),
    ("swae", "sphere", "SWAE"), ("hae", "sphere", "HAE"), ("sae", "sphere", "SAE"),
]
LABELS = {(m, p): lab for m, p, lab in TABLE_ROWS}
# ICLR Table 1: (solver, assignment, beta) on the sphere.
ABLATION_ROWS = [(s, a, b) for s in ("hungarian", "sinkhorn") for a in ("sample", "targets") for b in (10.0, 100.0)]
SOLVER_MODEL = {"hungarian": "hae", "sinkhorn": "sae"}    # ICLR Table 1's two solvers
MODEL_SOLVER = {m: s for s, m in SOLVER_MODEL.items()}

# The table rows whose comparisons the report's claims turn on (claims 2 and 6, and whether HAE
# with the Gaussian prior earns its FID), named before any paper-length run was judged: a sweep's
# ``extra_seeds`` train these rows only.
MORE_SEEDS_ROWS = (("sae", "sphere"), ("hae", "sphere"), ("vae", "gaussian"), ("wae", "gaussian"), ("hae", "gaussian"))

# Claim 3's mechanism without CelebA: the Gaussian prior in 64 dimensions (the paper's CelebA code
# size), where sample-based OT (SAE, HAE) should shrink the codes and SWAE and W2GAE should not.
LATENT64_ROWS = (("sae", "SAE"), ("hae", "HAE"), ("swae", "SWAE"), ("w2gae", "W2GAE"))
LATENT64_DIM = 64
SWEEPS = ("table", "ablation", "latent64")


def seeds(profile: str) -> list[int]:
    return sizes("comparison", profile).seeds


def table_config(profile: str, method: str, prior: str, seed: int, **overrides) -> ExperimentConfig:
    """One MNIST run of the comparison (the profile's MNIST: embedded digits, or all 70,000)."""
    return make_config(profile, method, prior, sizes("comparison", profile).dataset, seed=seed, **overrides)


def ablation_config(profile: str, solver: str, assignment: str, beta: float, seed: int, **overrides):
    return table_config(profile, SOLVER_MODEL[solver], "sphere", seed, beta=beta, targets=assignment == "targets",
                        **overrides)


@dataclass(frozen=True)
class Row:
    """Which row of which table a run is: (method, prior, label) of the comparison, or (solver,
    assignment) of the ablation (its β is the run's)."""
    method: str
    prior: str
    label: str = ""
    solver: str = ""
    assignment: str = ""


def row_of(cfg: ExperimentConfig) -> Row:
    """The row a run's config belongs to, whichever sweep trained it."""
    return Row(cfg.model, cfg.prior, LABELS.get((cfg.model, cfg.prior), cfg.model),
               MODEL_SOLVER.get(cfg.model, cfg.model), "targets" if cfg.targets else "sample")


def row_name(key: tuple) -> str:
    """The reader's name of a table row (method, prior) or an ablation row (solver, assignment, β)."""
    if len(key) == 2:
        prior = {"gaussian": "Gaussian"}.get(key[1], key[1])
        return f"{LABELS.get(key, key[0]).replace(' (spherical)', '')}, {prior}"
    solver, assignment, beta = key
    return f"{solver.capitalize()}, {assignment}, β = {beta:g}"


def configs(name: str, profile: str, seed_list=None, extra_seeds=()) -> list[tuple[Row, ExperimentConfig]]:
    """(row, config) of every run of the ``table``, the ``ablation`` or ``latent64`` (the
    Gaussian prior in 64-d): seed by seed, row by row (so a sweep cut short holds whole tables of
    its first seeds); then, for the table, the ``extra_seeds`` of the rows in :data:`MORE_SEEDS_ROWS`."""
    seed_list = seeds(profile) if seed_list is None else list(seed_list)
    if name == "table":
        cfgs = [table_config(profile, m, p, s) for s in seed_list for m, p, _ in TABLE_ROWS] + \
               [table_config(profile, m, p, s) for s in extra_seeds for m, p, _ in TABLE_ROWS
                if (m, p) in MORE_SEEDS_ROWS]
    elif extra_seeds:
        raise ValueError("extra seeds are for the table sweep only")
    elif name == "ablation":
        cfgs = [ablation_config(profile, so, a, b, s) for s in seed_list for so, a, b in ABLATION_ROWS]
    elif name == "latent64":
        cfgs = [table_config(profile, m, "gaussian", s, latent_dim=LATENT64_DIM)
                for s in seed_list for m, _ in LATENT64_ROWS]
    else:
        raise ValueError(f"sweep must be one of {SWEEPS}, got {name!r}")
    return [(row_of(c), c) for c in cfgs]


# ---------------------------------------------------------------------------------- manifests

MANIFEST = "manifest.json"


@dataclass
class Manifest:
    """``manifest.json`` of a sweep folder: what was asked (sweep, profile, seeds, overrides), the
    command and commit that started it (and the commits it was resumed at), the machine, the
    summed duration, its runs (folders relative to the sweep's), which are complete, which failed
    and why, which were copied from another sweep (``reused``), and the SLURM options if any."""
    sweep: str = ""
    profile: str = ""
    seeds: list[int] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    extra_seeds: list[int] = field(default_factory=list)
    command: str = ""
    commit: str = "?"
    machine: Machine = field(default_factory=Machine)
    duration_s: float = 0.0
    resumed: list[str] = field(default_factory=list)
    launcher: str = "local"
    slurm: dict | None = None
    runs: list[str] = field(default_factory=list)
    complete: list[str] | None = None        # None: written before manifests listed them (all complete)
    status: str = "complete"
    failed: dict[str, str] = field(default_factory=dict)
    reused: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        d = json.loads((Path(folder) / MANIFEST).read_text())
        return cls(**{**known_fields(cls, d), "machine": Machine.from_json(d.get("machine"))})

    def write(self, folder: Path) -> None:
        d = asdict(self)
        for k in ("extra_seeds", "slurm", "failed", "reused"):    # absent when empty, as before
            if not d[k]:
                d.pop(k)
        write_json(Path(folder) / MANIFEST, d)

    @property
    def asked(self) -> dict:
        """What identifies the sweep: a folder holds one sweep, asked for again only as it was."""
        return {"sweep": self.sweep, "profile": self.profile, "seeds": list(self.seeds),
                "overrides": list(self.overrides), "extra_seeds": list(self.extra_seeds)}

    @property
    def finished_runs(self) -> list[str]:
        return self.runs if self.complete is None else self.complete

    @property
    def minutes(self) -> float:
        return self.duration_s / 60 if self.duration_s == self.duration_s else math.nan
