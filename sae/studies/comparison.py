"""The paper's comparisons as results: a record per run, tables of them, stored sweeps, and how
rows are summarised beside the paper's numbers.

Which runs make each table (UAI Table 1 and ICLR Table 2's MNIST columns, ICLR Table 1's
ablation, the 64-d Gaussian study) is :mod:`sae.engine.sweeps`; each row is trained for every seed
of the profile through the results store, so the report chapter reloads the same runs.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau

from ..engine.data import load
from ..engine.metrics import mmd_bandwidth
from ..engine.profiles import sizes
from ..engine.store import Run, get_or_train, kept_samples, load_config, load_curve, load_metrics
from ..engine.sweeps import MANIFEST, TABLE_ROWS, Manifest, configs, row_name, row_of, seeds, table_config
from ..engine.train import TrainingError
from ..models.priors import UniformSphere, make_prior
from ..ot import exact_ot, sinkhorn_divergence
from ..utils import repo_root
from . import tables
from .numbers import PaperNumbers, paper_numbers

METRICS = ("latent_mmd_x1000", "reconstruction_error", "fid")


def threads_label(counts, default: str = "?") -> str:
    """Thread counts as one label, e.g. "1/2" for a sweep resumed with more threads; ``default``
    when none is known."""
    return "/".join(str(t) for t in sorted({int(t) for t in counts if t is not None and t == t})) or default


@dataclass(frozen=True)
class RunRecord:
    """One line of a results table: a run trained here or one of a stored sweep, typed. The
    tables the chapters show and the statistics are built from these (:func:`frame`)."""
    method: str
    prior: str
    label: str
    solver: str
    assignment: str
    seed: int
    beta: float
    dataset: str
    epochs: int
    latent_dim: int
    latent_mmd_x1000: float
    reconstruction_error: float
    fid: float
    fid_se: float
    n_test: int | None
    precision: float
    recall: float
    mmd_by_bandwidth: dict
    mmd_v_floor: float
    fid_n_real: int | None
    fid_n_fake: int | None
    code_variance: float
    train_s: float
    threads: int | None
    s_per_epoch: float
    s_outside_epochs: float
    path: str

    @classmethod
    def of(cls, run: Run) -> "RunRecord":
        cfg, m, prov = run.cfg, run.metrics, run.metrics.provenance
        seconds = [c.seconds for c in run.curve if c.seconds == c.seconds]
        outside = prov.wall_seconds_this_process - prov.train_seconds
        return cls(**asdict(row_of(cfg)), seed=cfg.seed, beta=cfg.beta, dataset=cfg.data.name, epochs=cfg.train.epochs,
                   latent_dim=cfg.latent_dim, latent_mmd_x1000=m.latent_mmd_x1000,
                   reconstruction_error=m.reconstruction_error, fid=m.fid, fid_se=m.fid_se, n_test=m.n_test,
                   precision=m.precision, recall=m.recall, mmd_by_bandwidth=m.latent_mmd_x1000_by_bandwidth,
                   mmd_v_floor=mmd_v_floor_x1000(cfg.prior, cfg.latent_dim, m.n_test) if m.n_test else math.nan,
                   fid_n_real=m.fid_n_real, fid_n_fake=m.fid_n_fake, code_variance=m.code_variance_mean,
                   train_s=prov.train_seconds, threads=prov.machine.torch_threads,
                   # the median seconds of its epochs, and of its process outside them (data,
                   # evaluation, FID): what the cluster chapter scales
                   s_per_epoch=float(np.median(seconds)) if seconds else math.nan,
                   s_outside_epochs=max(0.0, outside) if outside == outside else math.nan, path=str(run.path))


def frame(records: list[RunRecord]) -> pd.DataFrame:
    """Records as a table for statistics and display (the latent MMD at each kernel bandwidth as
    ``mmd_bw_<factor>`` columns)."""
    rows = []
    for r in records:
        d = asdict(r)
        d.update({f"mmd_bw_{f}": v for f, v in d.pop("mmd_by_bandwidth").items()})
        rows.append(d)
    empty = [f.name for f in fields(RunRecord) if f.name != "mmd_by_bandwidth"]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=empty)


def mmd_v_floor_x1000(prior: str, dim: int, n: int, draws: int = 4000) -> float:
    r"""The expected *biased* latent MMD²×1000 between two independent n-point samples of the
    prior, with the kernel of :func:`sae.engine.metrics.latent_mmd_x1000`: 1000 · 2(1 − E k)/n,
    E k the kernel's mean between independent prior draws (Monte Carlo over ``draws`` points).

    Our runs store the unbiased MMD², whose value for a perfect match is 0 on average (its "floor"
    is only noise). The ICLR caption's "empirical lower bound on 10K points is 0.2" fits the biased
    V-statistic instead, whose mean is 2(k(0) − E k)/n: 0.2×10⁻³ at n = 10,000 for a kernel
    narrow enough that E k ≈ 0 (the paper's kernel is not stated). A run's biased value is its
    unbiased one plus (2 − k̄_codes − k̄_prior)/n; for codes near the prior k̄_codes = E k up to
    the MMD itself, so adding this floor puts our numbers on the paper's scale to within ~MMD/n
    (10⁻⁷ at n = 10,000)."""
    return 1000 * 2 * (1 - _prior_mean_kernel(prior, dim, draws)) / n


@functools.lru_cache(maxsize=None)
def _prior_mean_kernel(prior: str, dim: int, draws: int) -> float:
    """E k between independent draws of the prior (Monte Carlo), once per prior and dimension."""
    p = make_prior(prior, dim)
    z = p.sample(draws, torch.Generator().manual_seed(0), dtype=torch.float64)
    k = torch.exp(-torch.cdist(z, z) ** 2 / (2 * mmd_bandwidth(p)))
    return ((k.sum() - k.diagonal().sum()) / (draws * (draws - 1))).item()


def _run_all(name: str, profile: str, seed_list, progress: bool) -> pd.DataFrame:
    return frame([RunRecord.of(get_or_train(cfg, progress=progress)) for _, cfg in configs(name, profile, seed_list)])


def run_table(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """Train (or load) every row × seed of the comparison table; one line per run."""
    return _run_all("table", profile, seeds, progress)


def run_ablation(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """Train (or load) every row × seed of ICLR Table 1; one line per run."""
    return _run_all("ablation", profile, seeds, progress)


@dataclass(frozen=True)
class SensitivityRun:
    """SAE at one (prior, ε, L) of the sensitivity grid (seed 0): its metrics, or why it failed."""
    prior: str
    eps: float
    L: int
    fid: float = math.nan
    re: float = math.nan
    mmd_x1000: float = math.nan
    code_variance: float = math.nan
    status: str = "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Sensitivity:
    """The ε/L grid of SAE on both priors (claim 8 reads it)."""
    runs: list[SensitivityRun]

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.runs]).rename(
            columns={"fid": "FID", "re": "RE", "mmd_x1000": "MMD×1000", "code_variance": "code variance"})

    def best_fid(self, prior: str) -> dict[float, float]:
        """Per ε, the lowest FID over L of the runs on ``prior`` that trained."""
        out: dict[float, float] = {}
        for r in self.runs:
            if r.ok and r.prior == prior:
                out[r.eps] = min(out.get(r.eps, math.inf), r.fid)
        return dict(sorted(out.items()))

    def failed(self, prior: str | None = None) -> list[SensitivityRun]:
        return [r for r in self.runs if not r.ok and prior in (None, r.prior)]


def run_sensitivity(profile: str, progress: bool = False) -> Sensitivity:
    """SAE on both priors across ε and L (seed 0); a run that fails is a row with its error."""
    rows = []
    grid = sizes("comparison", profile)
    for prior in ("sphere", "gaussian"):
        for eps in grid.sensitivity_eps:
            for L in grid.sensitivity_L:
                cfg = table_config(profile, "sae", prior, 0, sinkhorn={"eps": eps, "max_iter": L})
                try:
                    m = get_or_train(cfg, progress=progress).metrics
                    rows.append(SensitivityRun(prior, eps, L, m.fid, m.reconstruction_error, m.latent_mmd_x1000,
                                               m.code_variance_mean))
                except TrainingError as err:
                    rows.append(SensitivityRun(prior, eps, L, status=f"failed: {err}"))
    return Sensitivity(rows)


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

@torch.no_grad()
def samples_and_interpolations(model, x_test: torch.Tensor, n_samples: int = 10, n_steps: int = 10, seed: int = 0):
    """Prior samples, and an interpolation between the codes of two test digits.

    Interpolations are the prior's own: geodesics on the sphere, straight lines otherwise.
    """
    model.eval()
    g = torch.Generator().manual_seed(seed)
    samples = model.decode(model.prior.sample(n_samples, g))
    za, zb = model.embed(x_test[:1]), model.embed(x_test[3:4])
    t = torch.linspace(0, 1, n_steps)
    path = model.prior.interpolate(za[0], zb[0], t)
    return samples, model.decode(path)


LATENT_LOSSES = {"sae": lambda z, zp: sinkhorn_divergence(z, zp, eps=0.1, max_iter=50).value,   # ε, L of ICLR §6
                 "hae": exact_ot}


def step_time(method: str, batch_sizes, latent_dim: int = 10, steps: int = 3, seed: int = 0) -> pd.DataFrame:
    """Seconds per latent-loss forward+backward of SAE (Sinkhorn, L = 50) and HAE (exact OT)."""
    loss_fn = LATENT_LOSSES[method]
    prior = UniformSphere(latent_dim)
    rows = []
    for B in batch_sizes:
        g = torch.Generator().manual_seed(seed)
        z0, zp = prior.sample(B, g), prior.sample(B, g)
        times = []
        for _ in range(steps + 1):
            z = z0.clone().requires_grad_()
            t0 = time.perf_counter()
            loss_fn(z, zp).backward()
            times.append(time.perf_counter() - t0)
        rows.append({"method": method, "batch": B, "seconds": float(np.median(times[1:]))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ stored sweeps

def load_sweep(folder) -> tuple[Manifest, list[RunRecord]]:
    """A stored sweep: its manifest and a record of each of its complete runs."""
    manifest = Manifest.read(folder)
    return manifest, [RunRecord.of(Run(load_config(p), p, load_metrics(p), load_curve(p)))
                      for p in (Path(folder) / rel for rel in manifest.finished_runs)]


@dataclass
class StoredSweep:
    """A sweep kept under results/stored/: its folder name, manifest and a record per complete run
    (``runs``: the same as a table, for statistics and display)."""
    name: str
    manifest: Manifest
    records: list[RunRecord]

    @functools.cached_property
    def runs(self) -> pd.DataFrame:
        return frame(self.records)

    @property
    def epochs(self) -> int:
        return max(r.epochs for r in self.records)

    @property
    def dataset(self) -> str:
        return self.records[0].dataset

    def seeds_per(self, key) -> dict:
        """How many seeds each row has (``key``: a record's row, e.g. ``lambda r: r.method``)."""
        out: dict = {}
        for r in self.records:
            out[key(r)] = out.get(key(r), 0) + 1
        return out

    def every_row_has(self, key, rows, n: int = 2) -> bool:
        """Whether each of ``rows`` (values of ``key``) has at least ``n`` seeds: two give a claim
        on this sweep its t intervals."""
        seeds = self.seeds_per(key)
        return all(seeds.get(row, 0) >= n for row in rows)

    @property
    def missing_rows(self) -> list[tuple[str, str]]:
        """(method, prior) rows of the table with no complete run yet (a sweep still running)."""
        have = {(r.method, r.prior) for r in self.records}
        return [(m, p) for m, p, _ in TABLE_ROWS if (m, p) not in have] if self.manifest.sweep == "table" else []

    @property
    def description(self) -> str:
        """One line of provenance: command, commit (and the commits it was resumed at), machine,
        torch threads of its runs, duration, runs, FID sample sizes."""
        m, r = self.manifest, self.records
        state = "" if m.status == "complete" else f" (partial: {len(r)} of {len(m.runs)} runs)"
        resumed = f" (resumed at {', '.join(c[:10] for c in m.resumed)})" if m.resumed else ""
        threads = threads_label([x.threads for x in r], str(m.machine.torch_threads or "?"))
        return (f"{self.name}: `{m.command}` at commit {m.commit[:10]}{resumed}, {m.machine.cpu_count} "
                f"CPUs, {threads} thread(s), {m.minutes:.0f} min{state}; "
                f"{len(r)} runs, {r[0].fid_n_real} real vs {r[0].fid_n_fake} generated digits for FID")


def stored_sweeps(kind: str = "table", dataset: str | None = None, root: Path | None = None) -> list[StoredSweep]:
    """Every stored sweep of this kind (and data set, if given) under results/stored/ with at least
    one complete run, in folder order."""
    out = []
    root = Path(root) if root is not None else repo_root() / "results" / "stored"
    for man in sorted(root.glob(f"*/{MANIFEST}")):
        if Manifest.read(man.parent).sweep != kind:
            continue
        st = StoredSweep(man.parent.name, *load_sweep(man.parent))
        if st.records and (dataset is None or st.dataset == dataset):
            out.append(st)
    return out


def longest_sweep(kind: str, dataset: str, root: Path | None = None) -> StoredSweep | None:
    """The stored sweep of this kind on this data set trained longest (most epochs), or None."""
    found = stored_sweeps(kind, dataset, root)
    return max(found, key=lambda s: s.epochs) if found else None


def stored_sweep(kind: str, dataset: str, root: Path | None = None) -> StoredSweep | None:
    """The stored sweep of this kind on this data set with the most complete runs, or None."""
    found = stored_sweeps(kind, dataset, root)
    return max(found, key=lambda s: len(s.records)) if found else None


# ---------------------------------------------------------------------------- FID against epochs

def fid_curves(runs: "list[RunRecord] | pd.DataFrame") -> pd.DataFrame:
    """FID against epochs: one line per FID a run took during training (every ``train.fid_every``
    epochs, from the same seeded prior draws, so epochs compare like with like), with its bootstrap
    standard error; ``runs``: records, or a table of them (:func:`run_table`, ``StoredSweep.runs``)."""
    records = runs.itertuples() if isinstance(runs, pd.DataFrame) else runs
    rows = [{"label": r.label, "prior": r.prior, "method": r.method, "seed": r.seed, "epoch": c.epoch, "fid": c.fid,
             "fid_se": c.fid_se} for r in records for c in load_curve(r.path) if c.fid == c.fid]
    return pd.DataFrame(rows, columns=["label", "prior", "method", "seed", "epoch", "fid", "fid_se"])


SETTLED_TAU = 0.9     # an ordering "has settled" when the one before last agrees this well with the last
MIN_ORDER_ROWS = 8    # fewer rows with runs (a sweep still running): too few for an ordering to mean much


@dataclass(frozen=True)
class EpochOrder:
    """The rows' mean-FID ordering at one recorded epoch: how many rows had a FID, Kendall's τ
    against the last epoch's ordering and against the paper's (UAI Table 1 rows)."""
    epoch: int
    rows: int
    tau_last: float
    tau_paper: float


@dataclass
class Ordering:
    """Has the ordering of the models settled? One :class:`EpochOrder` per recorded epoch."""
    epochs: list[EpochOrder]

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(e) for e in self.epochs], columns=["epoch", "rows", "tau_last", "tau_paper"]).rename(
            columns={"tau_last": "τ vs last epoch", "tau_paper": "τ vs paper (UAI rows)"})

    def enough_rows(self) -> bool:
        """At least MIN_ORDER_ROWS rows at the last epoch: an ordering to speak of (a sweep still
        running has fewer, and shows its sentence only)."""
        return bool(self.epochs) and self.epochs[-1].rows >= MIN_ORDER_ROWS

    def settled(self) -> str:
        """A sentence on whether the ordering has settled: the τ of the one-before-last recorded
        epoch against the last (≥ SETTLED_TAU: settled), and how τ against the paper moved."""
        if len(self.epochs) < 2:
            return "FID was recorded at one epoch only: whether the ordering settled cannot be told."
        if not self.enough_rows():
            return (f"Only {self.epochs[-1].rows} rows have complete runs so far (a sweep still running): too few "
                    f"(under {MIN_ORDER_ROWS}) to say whether the ordering settled.")
        prev, last = self.epochs[-2], self.epochs[-1]
        word = "has settled" if prev.tau_last >= SETTLED_TAU else "has not settled"
        trail = " → ".join(f"{e.tau_paper:.2f}" for e in self.epochs)
        return (f"The ordering {word}: at epoch {prev.epoch} it agrees with epoch {last.epoch}'s at "
                f"τ = {prev.tau_last:.2f} (settled means ≥ {SETTLED_TAU}); τ against the paper over epochs "
                f"{', '.join(str(e.epoch) for e in self.epochs)}: {trail}.")


def ordering_by_epoch(curves: pd.DataFrame, numbers: PaperNumbers | None = None) -> Ordering:
    """Per epoch at which FIDs were taken (``curves``: :func:`fid_curves`): Kendall's τ of the rows'
    mean FIDs against the last epoch's, and against the paper's UAI Table 1 order (its twelve rows;
    the AE rows are not in it)."""
    paper = (numbers or paper_numbers()).uai_fid()
    mean = curves.groupby(["method", "prior", "epoch"]).fid.mean().unstack("epoch")
    last = mean[mean.columns.max()]
    in_paper = [k for k in mean.index if k in paper]
    out = []
    for epoch in mean.columns:
        col = mean[epoch].dropna()
        keys = [k for k in in_paper if k in col.index]
        out.append(EpochOrder(int(epoch), len(col), _tau(col, last[col.index]), _tau(col[keys], [paper[k] for k in keys])))
    return Ordering(out)


def _tau(a, b) -> float:
    """Kendall's τ, NaN for fewer than three pairs (no ordering to speak of)."""
    return float(kendalltau(a, b)[0]) if len(a) >= 3 else math.nan


# The comparison's settings as the paper gives them (ICLR §6; UAI via a secondary source, see
# book/paper_setup.md); None where neither version says.
PAPER_SETUP = {"training digits": 60_000, "test digits": 10_000, "epochs": None, "batch": 128,
               "hidden layers": None, "latent dimension": 10, "seeds": None, "FID samples (generated / real)": None}


def deviations(profile: str) -> pd.DataFrame:
    """This profile's comparison settings beside the paper's, read from the runs' own config."""
    cfg = table_config(profile, "sae", "sphere", 0)
    data = load(cfg.data)
    ours = {"training digits": len(data.x_train), "test digits": len(data.x_test), "epochs": cfg.train.epochs,
            "batch": cfg.train.batch_size, "hidden layers": " × ".join(map(str, cfg.hidden)),
            "latent dimension": cfg.latent_dim, "seeds": len(seeds(profile)),
            "FID samples (generated / real)": f"{len(data.x_test)} / {len(data.x_test)}"}
    rows = [{"setting": k, "paper": "not given" if PAPER_SETUP[k] is None else PAPER_SETUP[k], f"ours ({profile})": v,
             "": "paper silent: our choice" if PAPER_SETUP[k] is None else
             "same" if str(PAPER_SETUP[k]) == str(v) else "differs"} for k, v in ours.items()]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------- what the chapters show

def describe_setup(profile: str) -> str:
    """One line: the data, epochs, batch, widths and seeds of this profile's comparison runs."""
    cfg = table_config(profile, "sae", "sphere", 0)
    return (f"profile={profile}: {cfg.data.name}, {cfg.data.n_train or 'all'} train / {cfg.data.n_test or 'all'} test "
            f"digits, {cfg.train.epochs} epochs, batch {cfg.train.batch_size}, hidden {cfg.hidden}, seeds {seeds(profile)}")


def paper_side_by_side(summary: pd.DataFrame, numbers: PaperNumbers | None = None) -> pd.DataFrame:
    """Our means beside the paper's UAI Table 1 FID and ICLR Table 2 columns, row by row (``row``:
    the reader's name of the row, e.g. "WAE, sphere")."""
    numbers = numbers or paper_numbers()
    uai = pd.DataFrame([{"method": r.method, "prior": r.prior, "UAI FID (paper)": r.mnist_fid}
                        for r in numbers.uai_table1])
    iclr = pd.DataFrame([{"method": r.method, "prior": r.prior, "ICLR MMD×1000": r.mnist_mmd, "ICLR RE": r.mnist_re,
                          "ICLR FID": r.mnist_fid} for r in numbers.iclr_table2])
    ours = summary[["label", "method", "prior", "fid", "fid_sd", "reconstruction_error", "latent_mmd_x1000"]].rename(
        columns={"fid": "FID (ours)", "fid_sd": "FID sd", "reconstruction_error": "RE (ours)",
                 "latent_mmd_x1000": "MMD×1000 (ours)"})
    out = ours.merge(uai, how="left").merge(iclr, how="left")
    out.insert(0, "row", [row_name(k) for k in zip(out["method"], out["prior"])])
    return out


def ablation_side_by_side(summary: pd.DataFrame, numbers: PaperNumbers | None = None) -> pd.DataFrame:
    """ICLR Table 1: our means ± sd beside the paper's MMD, RE and FID."""
    paper = pd.DataFrame([{"solver": r.solver, "assignment": r.assignment, "beta": r.beta, "paper MMD×1000": r.mnist_mmd,
                           "paper RE": r.mnist_re, "paper FID": r.mnist_fid}
                          for r in (numbers or paper_numbers()).iclr_table1])
    return format_table(summary, ["solver", "assignment"]).merge(paper, on=["solver", "assignment", "beta"])


def solver_gap(summary: pd.DataFrame) -> pd.DataFrame:
    """FID per (assignment, β) for each solver and their difference (ICLR Table 1's question)."""
    gap = summary.pivot_table(index=["assignment", "beta"], columns="solver", values="fid")
    gap["Sinkhorn − Hungarian"] = gap["sinkhorn"] - gap["hungarian"]
    return gap


def _short(row) -> str:
    return f"{row.label} ({row.prior[0].upper()})"


def model_gallery(profile: str, seed: int = 0) -> tuple[dict, dict]:
    """Prior samples and an interpolation between two test digits, per row of the table (seed 0
    runs, reloaded): ({label: images}, {label: images})."""
    samples, paths = {}, {}
    for row, cfg in configs("table", profile, [seed]):
        run = get_or_train(cfg, progress=False)
        samples[_short(row)], paths[_short(row)] = samples_and_interpolations(run.model(), load(cfg.data).x_test)
    return samples, paths


def stored_gallery(stored: "StoredSweep", seed: int = 0) -> tuple[dict, dict]:
    """The samples and interpolations a stored sweep's runs kept (``samples.npz``: no model is
    rebuilt or retrained), per row of seed ``seed`` with them: ({label: images}, {label: images}),
    ten of each, in table order; empty for sweeps made before runs kept samples."""
    samples, paths = {}, {}
    order = {(m, p): i for i, (m, p, _) in enumerate(TABLE_ROWS)}
    for r in sorted((r for r in stored.records if r.seed == seed), key=lambda r: order.get((r.method, r.prior), 99)):
        kept = kept_samples(r.path)
        if kept is not None:
            samples[_short(r)] = torch.as_tensor(kept.samples[:10])
            paths[_short(r)] = torch.as_tensor(kept.interpolations[0])
    return samples, paths


def build_role(profile: str, stored: "StoredSweep | None") -> str:
    """A sentence on what this build's rerun is worth beside the stored sweep: the evidence itself
    when it trains on as much data for at least as many epochs, otherwise a live check of the code."""
    cfg = table_config(profile, "sae", "sphere", 0)
    if stored is None:
        return f"No stored sweep of this table exists: this build ({describe_setup(profile)}) is the only evidence."
    epochs = stored.epochs
    if cfg.data.name == "mnist_full" and cfg.data.n_train is None and cfg.train.epochs >= epochs:
        return (f"This build trains on all of full MNIST for {cfg.train.epochs} epochs, at least the stored sweep's "
                f"{epochs}: **this build is the evidence**; the stored sweep above is the record of its commit.")
    return (f"This build ({cfg.data.n_train or 'all'} training digits, {cfg.train.epochs} epochs) is smaller than "
            f"the stored sweep ({epochs} epochs on full MNIST): it is a **live check** that the code at this commit "
            f"still behaves as the stored runs say, not evidence of its own.")


def table_with_intervals(runs: pd.DataFrame, numbers: PaperNumbers | None = None) -> pd.DataFrame:
    """The comparison table as a reader sees it: per row, FID, RE and MMD×1000 as 'mean [95% t
    interval]' over the seeds, rounded to their noise, beside the paper's UAI FID."""
    paper = (numbers or paper_numbers()).uai_fid()
    order = {(m, p): i for i, (m, p, _) in enumerate(TABLE_ROWS)}
    runs = runs.assign(_order=[order.get((r.method, r.prior), 99) for r in runs.itertuples()]).sort_values("_order")
    return tables.interval_table(runs, ["method", "prior"], name=row_name, paper=("paper FID (UAI)", paper))


def ablation_with_intervals(runs: pd.DataFrame, numbers: PaperNumbers | None = None) -> pd.DataFrame:
    """ICLR Table 1 as a reader sees it: per variant, the metrics with 95% t intervals beside the paper's FID."""
    paper = (numbers or paper_numbers()).ablation_fid()
    return tables.interval_table(runs, ["solver", "assignment", "beta"], name=row_name, paper=("paper FID (ICLR)", paper))


def sample_quality(runs: pd.DataFrame) -> pd.DataFrame:
    """Per row: mean FID, precision and recall over its seeds (the runs that recorded them), the
    second view of sample quality beside FID: precision is fidelity (share of samples on the real
    digits' manifold), recall diversity (share of real digits on the samples' manifold)."""
    have = runs.dropna(subset=["precision", "recall"])
    out = have.groupby(["label", "prior"], sort=False)[["fid", "precision", "recall"]].mean()
    out["seeds"] = have.groupby(["label", "prior"], sort=False)["seed"].count()
    return out.reset_index()


def step_times(profile: str) -> pd.DataFrame:
    """Seconds per latent-loss forward+backward of SAE and HAE at this profile's batch sizes, wide,
    with their ratio."""
    batches = sizes("comparison", profile).step_batches
    times = pd.concat([step_time(m, batches) for m in LATENT_LOSSES])
    wide = times.pivot(index="batch", columns="method", values="seconds")
    wide["HAE / SAE"] = wide["hae"] / wide["sae"]
    return wide


def with_code_variance(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The summary with each row's mean code variance (claim 4 reads it)."""
    var = runs.groupby(["method", "prior"])["code_variance"].mean().rename("code_variance").reset_index()
    return summary.merge(var)
