"""The paper's comparisons as code: which runs make each table, and how rows are summarised.

UAI Table 1 and ICLR Table 2 (MNIST columns) share one list of (method, prior) rows; ICLR Table 1
(Sinkhorn vs Hungarian, sampled vs fixed targets) is a second list. Each row is trained for every
seed of the profile through the results store, so the report chapter reloads the same runs.
"""
from __future__ import annotations

import json
import math
import time
from importlib import resources

import numpy as np
import pandas as pd
import torch

from .config import make_config
from .experiments import get_or_train

# (method, prior, label): UAI Table 1 rows plus the ICLR Table 2 AE rows.
TABLE_ROWS = [
    ("ae", "gaussian", "AE"), ("vae", "gaussian", "VAE"), ("betavae", "gaussian", "β-VAE"),
    ("wae", "gaussian", "WAE"), ("swae", "gaussian", "SWAE"), ("w2gae", "gaussian", "W2GAE"),
    ("hae", "gaussian", "HAE"), ("sae", "gaussian", "SAE"),
    ("ae", "sphere", "AE (spherical)"), ("hvae", "sphere", "HVAE"), ("wae", "sphere", "WAE"),
    ("swae", "sphere", "SWAE"), ("hae", "sphere", "HAE"), ("sae", "sphere", "SAE"),
]
# ICLR Table 1: (solver, assignment, beta) on the sphere.
ABLATION_ROWS = [(s, a, b) for s in ("hungarian", "sinkhorn") for a in ("sample", "targets") for b in (10.0, 100.0)]

SEEDS = {"smoke": [0], "quick": [0, 1], "paper": [0, 1, 2, 3, 4]}
# SAE's (ε values, L values) per profile for the sensitivity study, both priors, seed 0.
SENSITIVITY_GRID = {"smoke": ([0.1, 10.0], [10]), "quick": ([0.01, 0.1, 1.0, 10.0], [50]),
                    "paper": ([0.001, 0.01, 0.1, 1.0, 10.0], [10, 50, 200])}
METRICS = ("latent_mmd_x1000", "reconstruction_error", "fid")


def paper_numbers() -> dict:
    """The paper's numbers, with provenance (sae/paper/numbers.json)."""
    return json.loads(resources.files("sae").joinpath("paper/numbers.json").read_text())


def table_config(profile: str, method: str, prior: str, seed: int, **overrides):
    return make_config(profile, method, prior, "mnist", seed=seed, **overrides)


def ablation_config(profile: str, solver: str, assignment: str, beta: float, seed: int, **overrides):
    return make_config(profile, "hae" if solver == "hungarian" else "sae", "sphere", "mnist", seed=seed, beta=beta,
                       targets=assignment == "targets", **overrides)


def _row(metrics: dict, path, seed: int, beta: float, **labels) -> dict:
    """One line of a results table (a run trained here or one of a stored sweep)."""
    return {**labels, "seed": seed, "beta": beta, **{k: metrics.get(k, math.nan) for k in METRICS},
            "fid_n_real": metrics.get("fid_n_real"), "fid_n_fake": metrics.get("fid_n_fake"),
            "code_variance": metrics.get("code_variance_mean"), "train_s": metrics["provenance"]["train_seconds"],
            "path": str(path)}


def run_table(profile: str, rows=TABLE_ROWS, seeds=None, progress: bool = False, **overrides) -> pd.DataFrame:
    """Train (or load) every row × seed; one line per run."""
    out = []
    for method, prior, label in rows:
        for seed in seeds if seeds is not None else SEEDS[profile]:
            run = get_or_train(table_config(profile, method, prior, seed, **overrides), progress=progress)
            out.append(_row(run.metrics, run.path, seed, run.cfg.beta, method=method, prior=prior, label=label))
    return pd.DataFrame(out)


def run_ablation(profile: str, rows=ABLATION_ROWS, seeds=None, progress: bool = False, **overrides) -> pd.DataFrame:
    out = []
    for solver, assignment, beta in rows:
        for seed in seeds if seeds is not None else SEEDS[profile]:
            run = get_or_train(ablation_config(profile, solver, assignment, beta, seed, **overrides), progress=progress)
            out.append(_row(run.metrics, run.path, seed, run.cfg.beta, solver=solver, assignment=assignment))
    return pd.DataFrame(out)


def run_sensitivity(profile: str, progress: bool = False) -> pd.DataFrame:
    """SAE on both priors across ε and L (seed 0); a run that fails is a row with its error."""
    from .train import TrainingError

    rows = []
    eps_list, L_list = SENSITIVITY_GRID[profile]
    for prior in ("sphere", "gaussian"):
        for eps in eps_list:
            for L in L_list:
                cfg = table_config(profile, "sae", prior, 0, sinkhorn={"eps": eps, "max_iter": L})
                row = {"prior": prior, "eps": eps, "L": L}
                try:
                    m = get_or_train(cfg, progress=progress).metrics
                    row.update({"FID": m["fid"], "RE": m["reconstruction_error"], "MMD×1000": m["latent_mmd_x1000"],
                                "code variance": m["code_variance_mean"], "status": "ok"})
                except TrainingError as err:
                    row["status"] = f"failed: {err}"
                rows.append(row)
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and spread (sample std; 0 with one seed) of each metric per row."""
    g = runs.groupby(keys, sort=False)
    out = g[list(METRICS)].mean()
    spread = g[list(METRICS)].std(ddof=1).fillna(0.0)
    for k in METRICS:
        out[k + "_sd"] = spread[k]
    if "beta" not in keys:
        out["beta"] = g["beta"].first()
    out["seeds"] = g["seed"].count()
    out["train_s"] = g["train_s"].mean()
    return out.reset_index()


def format_table(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Human-readable 'mean ± sd' cells."""
    shown = summary[keys + ["beta"]].copy()
    names = {"latent_mmd_x1000": "MMD×1000", "reconstruction_error": "RE", "fid": "FID"}
    for k, name in names.items():
        shown[name] = [f"{m:.3g} ± {s:.2g}" for m, s in zip(summary[k], summary[k + "_sd"])]
    shown["seeds"] = summary["seeds"]
    return shown


# ------------------------------------------------------------------------- samples, interpolations

def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Geodesic interpolation on the sphere between unit vectors a and b (ICLR §6.3)."""
    omega = torch.arccos((a * b).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    t = t.view(-1, 1)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def samples_and_interpolations(model, x_test: torch.Tensor, n_samples: int = 10, n_steps: int = 10, seed: int = 0):
    """Prior samples, and an interpolation between the codes of two test digits.

    Interpolations follow geodesics for the sphere, straight lines otherwise (simplex: straight
    lines stay on it).
    """
    model.eval()
    g = torch.Generator().manual_seed(seed)
    samples = model.decode(model.prior.sample(n_samples, g))
    za, zb = model.embed(x_test[:1]), model.embed(x_test[3:4])
    t = torch.linspace(0, 1, n_steps)
    path = slerp(za[0], zb[0], t) if model.prior.name == "sphere" else za + t.view(-1, 1) * (zb - za)
    return samples, model.decode(path)


def step_time(method: str, batch_sizes, latent_dim: int = 10, steps: int = 3, seed: int = 0, eps: float = 0.1,
              max_iter: int = 50) -> pd.DataFrame:
    """Seconds per latent-loss forward+backward of SAE (Sinkhorn, L iterations) and HAE (exact OT)."""
    from .divergences import exact_ot, sinkhorn_divergence
    from .priors import UniformSphere

    prior = UniformSphere(latent_dim)
    rows = []
    for B in batch_sizes:
        g = torch.Generator().manual_seed(seed)
        z0, zp = prior.sample(B, g), prior.sample(B, g)
        times = []
        for _ in range(steps + 1):
            z = z0.clone().requires_grad_()
            t0 = time.perf_counter()
            loss = (sinkhorn_divergence(z, zp, eps=eps, max_iter=max_iter) if method == "sae" else exact_ot(z, zp))
            loss.backward()
            times.append(time.perf_counter() - t0)
        rows.append({"method": method, "batch": B, "seconds": float(np.median(times[1:]))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ stored sweeps

def run_sweep(name: str, profile: str, seeds, out, overrides: list[str], command: str, keep_checkpoints: bool = False,
              progress: bool = True) -> dict:
    """Train a whole table into ``out`` and write ``out/manifest.json`` (command, commit, machine, duration).

    Used for results larger than CI can afford; such a folder is committed under results/stored/
    without its checkpoints (metrics, configs and curves only).
    """
    import shutil
    from pathlib import Path

    from .config import set_values
    from .experiments import run_dir
    from .train import write_json
    from .utils import git_sha, machine

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if name == "table":
        cfgs = [table_config(profile, m, p, s) for m, p, _ in TABLE_ROWS for s in seeds]
    elif name == "ablation":
        cfgs = [ablation_config(profile, so, a, b, s) for so, a, b in ABLATION_ROWS for s in seeds]
    else:
        raise ValueError(f"sweep must be 'table' or 'ablation', got {name!r}")
    cfgs = [set_values(c, overrides) for c in cfgs]
    started = time.time()
    for k, cfg in enumerate(cfgs):
        run = get_or_train(cfg, out, progress=progress)
        if not keep_checkpoints:
            (run.path / "checkpoint.pt").unlink(missing_ok=True)
            (run.path / "checkpoint.pt.done").write_text("checkpoint removed to keep the stored result small\n")
    manifest = {"sweep": name, "profile": profile, "seeds": list(seeds), "overrides": overrides, "command": command,
                "commit": git_sha(), "machine": machine(), "duration_s": round(time.time() - started, 1),
                "runs": [str(run_dir(c, out).relative_to(out)) for c in cfgs]}
    write_json(out / "manifest.json", manifest)
    return manifest


def load_sweep(folder) -> tuple[dict, pd.DataFrame]:
    """A stored sweep: its manifest and one row per run (same columns as run_table)."""
    from pathlib import Path

    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    labels = {(m, p): lab for m, p, lab in TABLE_ROWS}
    rows = []
    for rel in manifest["runs"]:
        cfg = json.loads((folder / rel / "config.json").read_text())
        metrics = json.loads((folder / rel / "metrics.json").read_text())
        rows.append(_row(metrics, folder / rel, cfg["seed"], cfg["beta"], method=cfg["model"], prior=cfg["prior"],
                         label=labels.get((cfg["model"], cfg["prior"]), cfg["model"]),
                         solver="hungarian" if cfg["model"] == "hae" else "sinkhorn",
                         assignment="targets" if cfg.get("targets") else "sample"))
    return manifest, pd.DataFrame(rows)
