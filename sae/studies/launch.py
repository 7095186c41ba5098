"""Where a sweep's runs execute: one process here (``local``), or one SLURM job per run (``slurm``).

    python -m sae sweep table --profile paper --out results/stored/T                     # local
    python -m sae sweep table --profile paper --out results/stored/T --launcher slurm \\
        --partition gpu --gpus 1 --time 240 --concurrent 20                              # cluster
    python -m sae sweep table --profile paper --out results/stored/T --status            # either

Both launchers put each run in the folder its identity names (:func:`sae.engine.store.run_dir`:
configuration hash and code version) under ``out``, so a sweep started again, with either
launcher, skips the complete runs and resumes a cut one from its last epoch. On SLURM the runs of
one submission are one job array (submitit), at most ``concurrent`` running at once; a job that is
preempted or reaches its time limit is requeued and resumes from its checkpoint. ``jobs.json``
remembers which job trains which run; ``--status`` reads it with ``squeue`` and the jobs' own
output, so it needs no accounting database.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..engine.config import from_dict, set_values, to_dict
from ..engine.profiles import sizes
from ..engine.runlock import RunLock
from ..engine.store import (CHECKPOINT_REMOVED, UNREADABLE, Machine, epochs_done, get_or_train, is_complete,
                            keep_half_weights, run_dir)
from ..engine.sweeps import MANIFEST, Manifest, configs, table_config
from ..utils import git_sha, machine, repo_root, require_clean_for_stored, write_json
from .comparison import load_sweep, threads_label

LAUNCHERS = ("local", "slurm")
JOBS = "jobs.json"
QUEUED = ("PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED")
RUNNING = ("RUNNING", "COMPLETING", "STAGE_OUT")


class LaunchError(RuntimeError):
    """A sweep cannot be submitted as asked; the message names the setting to change."""


@dataclass(frozen=True)
class SlurmOptions:
    """What each job asks SLURM for. ``partition`` None: the cluster's default partition."""
    partition: str | None = None
    gpus: int = 0                 # GPUs per job (one run per job)
    cpus: int = 2                 # CPU cores per job (torch uses as many threads)
    time_min: int = 240           # time limit per job, minutes (a job past it is requeued and resumes)
    concurrent: int = 8           # jobs of the array running at once
    mem_gb: int | None = None     # memory per job; None: the partition's default

    def check(self) -> "SlurmOptions":
        flags = {"gpus": ("--gpus", 0), "cpus": ("--cpus", 1), "time_min": ("--time", 1), "concurrent": ("--concurrent", 1)}
        for name, (flag, low) in flags.items():
            v = getattr(self, name)
            if not isinstance(v, int) or v < low:
                raise LaunchError(f"{flag} must be an integer >= {low}, got {v!r}")
        if self.mem_gb is not None and not (isinstance(self.mem_gb, int) and self.mem_gb >= 1):
            raise LaunchError(f"--mem-gb must be an integer >= 1, got {self.mem_gb!r}")
        return self


def sweep(name: str, profile: str, seed_list, out, overrides: list[str], command: str, launcher: str = "local",
          slurm: SlurmOptions | None = None, keep_checkpoints: bool = False, wait: bool = True,
          progress: bool = True, reuse=(), jobs: int = 1, extra_seeds=()) -> Manifest:
    """Run (``local``, ``jobs`` processes at once) or submit (``slurm``) every run of sweep
    ``name``; return the manifest.

    With ``slurm`` and ``wait`` the call returns when no job of the sweep is queued or running;
    without ``wait`` it returns after submitting (``--status`` follows the jobs, a later call with
    the same arguments gathers them).
    """
    if launcher not in LAUNCHERS:
        raise LaunchError(f"--launcher must be one of {LAUNCHERS}, got {launcher!r}")
    if reuse and launcher != "local":
        raise LaunchError("--reuse works with --launcher local only (copy the runs into --out first on a cluster)")
    if not (isinstance(jobs, int) and jobs >= 1):
        raise LaunchError(f"--jobs must be an integer >= 1, got {jobs!r}")
    if jobs > 1 and launcher != "local":
        raise LaunchError("--jobs is for --launcher local (SLURM runs one job per run; see --concurrent)")
    if launcher == "local":
        return run_local(name, profile, seed_list, out, overrides, command, keep_checkpoints, progress, reuse, jobs,
                         extra_seeds)
    return submit_slurm(name, profile, seed_list, out, overrides, command, slurm or SlurmOptions(), keep_checkpoints,
                        wait, extra_seeds)


# ----------------------------------------------------------------------------------- local side

def run_local(name: str, profile: str, seed_list, out, overrides: list[str], command: str,
              keep_checkpoints: bool = False, progress: bool = True, reuse=(), jobs: int = 1,
              extra_seeds=()) -> Manifest:
    """Train every run of the sweep here, ``jobs`` processes at once, updating ``out/manifest.json``
    after each (``"status": "partial"`` until all are complete). Started again with the same
    arguments it skips the complete runs and resumes the cut ones; results for results/stored/ are
    committed without their checkpoints (metrics, configs, curves and samples; seed 0 keeps its
    weights in half precision). A run that fails is recorded under ``failed`` and the others go on.
    With ``jobs`` > 1 each process uses ``OMP_NUM_THREADS`` threads (1 if unset) and a line per
    finished run shows the progress.

    ``reuse``: other sweep folders. A run that one of them holds complete, with the same settings
    and code version (the same folder name), is copied instead of trained again; the manifest lists
    it under ``reused`` with its source (its metrics keep the commit that trained it).
    """
    cfgs = [set_values(c, overrides) for _, c in configs(name, profile, seed_list, extra_seeds)]
    commit = git_sha()                    # the code that runs is the code at the start
    require_clean_for_stored(out, commit)
    out = Path(out).resolve()
    reuse = [Path(r).resolve() for r in reuse]
    for r in reuse:
        if not (r / MANIFEST).exists():
            raise LaunchError(f"--reuse {r} holds no sweep (no manifest.json)")
    out.mkdir(parents=True, exist_ok=True)
    manifest = _start_manifest(out, name, profile, seed_list, overrides, command, commit, cfgs, "local", None,
                               extra_seeds)
    manifest.failed = {}
    for cfg in cfgs:
        rel = _rel(cfg, out)
        source = next((r for r in reuse if is_complete(r / rel)), None)
        if source is not None and not is_complete(out / rel):
            _copy_run(source / rel, out / rel)
            manifest.reused[rel] = source.name
    todo = [c for c in cfgs if not is_complete(run_dir(c, out))]
    t0, done = time.time(), 0

    def finished(cfg, error: BaseException | None) -> None:
        nonlocal done, t0
        done += 1
        if error is not None:
            manifest.failed[_rel(cfg, out)] = f"{type(error).__name__}: {error}"[:500]
        manifest.duration_s = round(manifest.duration_s + time.time() - t0, 1)
        t0 = time.time()
        _finish_manifest(out, manifest)
        if jobs > 1 or error is not None:
            print(f"[{done}/{len(todo)}] {'FAILED' if error else 'complete'} {_rel(cfg, out)}"
                  + (f": {error}" if error else ""), flush=True)

    job = TrainJob()
    if jobs == 1:
        for cfg in todo:
            try:
                job(to_dict(cfg), str(out), keep_checkpoints, progress=progress)
                finished(cfg, None)
            except Exception as err:       # a diverged run, a run another process holds, ...: the rest go on
                finished(cfg, err)
    else:
        threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_worker_threads,
                                 initargs=(threads,)) as pool:
            running = {pool.submit(job, to_dict(c), str(out), keep_checkpoints, False): c for c in todo}
            for fut in as_completed(running):
                finished(running[fut], fut.exception())
    return _finish_manifest(out, manifest)


def _worker_threads(threads: int) -> None:
    """A sweep process's torch threads (set before it trains anything)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


def _copy_run(src: Path, dst: Path) -> None:
    """Copy a complete run folder (metrics.json last, into a temporary folder renamed at the end, so
    that a copy cut short is never mistaken for a complete run)."""
    tmp = dst.with_name(dst.name + ".copying")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("metrics.json"))
    shutil.copy2(src / "metrics.json", tmp / "metrics.json")
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


# ------------------------------------------------------------------------------------- the job

class TrainJob:
    """What one SLURM job runs: train (or resume) one run into ``out``; its relative folder back.

    submitit calls :meth:`checkpoint` when the job is preempted or reaches its time limit; the
    job is then requeued with the same arguments and resumes from the run's last epoch.
    """

    def __call__(self, cfg: dict, out: str, keep_checkpoints: bool = False, progress: bool = False) -> str:
        if os.environ.get("SLURM_CPUS_PER_TASK"):
            torch.set_num_threads(int(os.environ["SLURM_CPUS_PER_TASK"]))
        run = get_or_train(from_dict(cfg), Path(out), progress=progress)
        if not keep_checkpoints and (run.path / "checkpoint.pt").exists():
            if run.cfg.seed == 0:
                keep_half_weights(run.path)
            (run.path / CHECKPOINT_REMOVED).write_text("checkpoint removed to keep the stored result small\n")
            (run.path / "checkpoint.pt").unlink()
        return str(run.path.relative_to(out))

    def checkpoint(self, *args, **kwargs):
        import submitit
        return submitit.helpers.DelayedSubmission(TrainJob(), *args, **kwargs)


# ------------------------------------------------------------------------------------ SLURM side

def _slurm_command(*args: str) -> str:
    try:
        res = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise LaunchError(f"--launcher slurm needs SLURM's `{args[0]}` on PATH and none was found; install the "
                          "SLURM client tools, or use --launcher local") from None
    if res.returncode != 0:
        raise LaunchError(f"`{' '.join(args)}` failed: {(res.stderr or res.stdout).strip()[:500]}")
    return res.stdout


def partitions() -> list[str]:
    """The partitions this cluster's controller knows (``sinfo``)."""
    return sorted({p.strip().rstrip("*") for p in _slurm_command("sinfo", "-h", "-o", "%P").split()})


def _queue(job_ids: list[str]) -> dict[str, str]:
    """{job id: state} of the given jobs still known to ``squeue`` (queued, running, completing)."""
    if not job_ids:
        return {}
    text = _slurm_command("squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(sorted({j.split("_")[0]
                                                                                      for j in job_ids})))
    states = dict(line.split() for line in text.splitlines() if line.strip())
    return {j: states[j] for j in job_ids if j in states}


def _job_folder(out: Path) -> Path:
    return out / "slurm"


def _executor(out: Path, name: str, opt: SlurmOptions):
    import submitit          # needed for --launcher slurm only (pip install submitit)

    ex = submitit.SlurmExecutor(folder=_job_folder(out) / "%j", max_num_timeout=20)
    optional = {"partition": opt.partition, "gpus_per_node": opt.gpus, "mem": opt.mem_gb and f"{opt.mem_gb}GB"}
    ex.update_parameters(job_name=f"sae-{name}", time=opt.time_min, cpus_per_task=opt.cpus, ntasks_per_node=1,
                         array_parallelism=opt.concurrent, setup=[f"export OMP_NUM_THREADS={opt.cpus}"],
                         **{k: v for k, v in optional.items() if v})
    return ex


def submit_slurm(name: str, profile: str, seed_list, out, overrides: list[str], command: str, opt: SlurmOptions,
                 keep_checkpoints: bool = False, wait: bool = True, extra_seeds=(), poll_s: float = 5.0) -> Manifest:
    """Submit every run of the sweep that is neither complete nor already queued/running, as one
    job array; record the jobs in ``out/jobs.json``; with ``wait``, follow them to the end and write
    the manifest (status partial while any run is incomplete)."""
    opt.check()
    cfgs = [set_values(c, overrides) for _, c in configs(name, profile, seed_list, extra_seeds)]
    commit = git_sha()
    require_clean_for_stored(out, commit)
    if shutil.which("sbatch") is None:
        raise LaunchError("--launcher slurm needs SLURM's `sbatch` on PATH and none was found; install the SLURM "
                          "client tools, or use --launcher local")
    if opt.partition is not None and opt.partition not in (known := partitions()):
        raise LaunchError(f"--partition {opt.partition!r} does not exist on this cluster; its partitions are "
                          f"{', '.join(known) or 'none'}")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest = _start_manifest(out, name, profile, seed_list, overrides, command, commit, cfgs, "slurm", opt,
                               extra_seeds)
    jobs = _read_jobs(out)
    live = _queue([j.job_id for j in jobs.values()])
    todo = [c for c in cfgs if not is_complete(run_dir(c, out))
            and getattr(jobs.get(_rel(c, out)), "job_id", None) not in live]
    t0 = time.time()
    if todo:
        ex = _executor(out, name, opt)
        submitted = ex.map_array(TrainJob(), [to_dict(c) for c in todo], [str(out)] * len(todo),
                                 [keep_checkpoints] * len(todo))
        for c, job in zip(todo, submitted):
            jobs[_rel(c, out)] = Job(str(job.job_id), time.strftime("%Y-%m-%dT%H:%M:%S"), commit)
        write_json(out / JOBS, {rel: asdict(j) for rel, j in jobs.items()})
    if wait:
        while _queue([j.job_id for j in jobs.values()]):
            time.sleep(poll_s)
        manifest.duration_s = round(manifest.duration_s + time.time() - t0, 1)
    return _finish_manifest(out, manifest)


def _rel(cfg, out: Path) -> str:
    return str(run_dir(cfg, out).relative_to(out))


@dataclass(frozen=True)
class Job:
    """A SLURM job that trains one run of a sweep (``jobs.json`` maps run folders to these)."""
    job_id: str
    submitted: str = ""
    commit: str = ""


def _read_jobs(out: Path) -> dict[str, Job]:
    return {rel: Job(**j) for rel, j in json.loads((out / JOBS).read_text()).items()} if (out / JOBS).exists() else {}


def _start_manifest(out, name, profile, seed_list, overrides, command, commit, cfgs, launcher, opt,
                    extra_seeds=()) -> Manifest:
    previous = Manifest.read(out) if (out / MANIFEST).exists() else None
    mine = Manifest(name, profile, list(seed_list), list(overrides), list(extra_seeds), command, commit,
                    Machine.from_json(machine()))
    if previous and previous.asked != mine.asked:
        raise ValueError(f"{out} holds another sweep ({', '.join(f'{k}={v}' for k, v in previous.asked.items())}); "
                         "give a new --out")
    manifest = previous or mine
    if previous and commit != previous.commit and commit not in previous.resumed:
        manifest.resumed.append(commit)
    manifest.launcher = launcher
    if opt is not None:
        manifest.slurm = asdict(opt)
    manifest.runs = [_rel(c, out) for c in cfgs]
    return manifest


def _finish_manifest(out: Path, manifest: Manifest) -> Manifest:
    manifest.complete = [r for r in manifest.runs if is_complete(out / r)]
    manifest.status = "complete" if len(manifest.complete) == len(manifest.runs) else "partial"
    manifest.write(out)
    return manifest


# ----------------------------------------------------------------------------------- --status

@dataclass
class RunStatus:
    run: str
    state: str                 # complete | queued | running | training | failed | not submitted | cut
    job_id: str | None = None
    detail: str = ""           # a failure's last lines, or SLURM's state word


def status(out, tail_lines: int = 8) -> list[RunStatus]:
    """Every run of the sweep in ``out``: complete, queued, running, training (a live local
    process holds its lock: which one), failed (with the last lines of the job's error output),
    cut (ended without a result: killed, or out of time and not requeued) or not submitted."""
    out = Path(out).resolve()
    if not (out / MANIFEST).exists():
        raise FileNotFoundError(f"{out} holds no sweep (no manifest.json); start one with `python -m sae sweep`")
    manifest = Manifest.read(out)
    jobs = _read_jobs(out)
    live = _queue([j.job_id for j in jobs.values()]) if jobs and shutil.which("squeue") else {}
    rows = []
    for rel in manifest.runs:
        job = getattr(jobs.get(rel), "job_id", None)
        unreadable = (out / rel / "checkpoint.pt").exists() and epochs_done(out / rel) is None
        if is_complete(out / rel):
            rows.append(RunStatus(rel, "complete", job))
        elif rel in manifest.failed:
            rows.append(RunStatus(rel, "failed", job, manifest.failed[rel]))
        elif unreadable and job not in live:
            rows.append(RunStatus(rel, "cut", job, UNREADABLE))
        elif job in live:
            rows.append(RunStatus(rel, "queued" if live[job] in QUEUED else "running", job, live[job]))
        elif (holder := RunLock(out / rel).live_holder()) is not None:     # a local process trains it
            rows.append(RunStatus(rel, "training", job, holder))
        elif job is None:
            rows.append(RunStatus(rel, "not submitted"))
        else:
            rows.append(_ended(out, rel, job, tail_lines))
    return rows


def _ended(out: Path, rel: str, job_id: str, tail_lines: int) -> RunStatus:
    """A job that left the queue without completing its run: failed (its error output holds a
    Python traceback, which submitit writes there) or cut (killed, out of memory, out of time)."""
    folder = _job_folder(out) / job_id
    err = sorted(folder.glob("*.err")) if folder.is_dir() else []
    lines = err[0].read_text(errors="replace").strip().splitlines() if err else []
    tail = "\n".join(lines[-tail_lines:])
    if any("Traceback" in line for line in lines):
        return RunStatus(rel, "failed", job_id, tail)
    return RunStatus(rel, "cut", job_id, tail or "no output: the job was killed or never started")


# ------------------------------------------------------------------------------ the cluster chapter

def plan(profile: str, seed_list=None) -> pd.DataFrame:
    """Every run of the table and ablation sweeps at ``profile``, as a launcher would submit them:
    one line per run (sweep, run folder, model, prior, seed, epochs, batch, dataset)."""
    rows = []
    for name in ("table", "ablation"):
        for row, cfg in configs(name, profile, seed_list):
            rows.append({"sweep": name, "run": run_dir(cfg, Path(".")).as_posix(), "model": cfg.model,
                         "prior": cfg.prior, "seed": cfg.seed, "epochs": cfg.train.epochs,
                         "batch": cfg.train.batch_size, "dataset": cfg.data.name,
                         **({"label": row.label} if name == "table" else
                            {"solver": row.solver, "assignment": row.assignment})})
    return pd.DataFrame(rows)


def cluster_commands(profile: str, out: str, seeds: list[int] | None = None) -> str:
    """The commands that run the profile's table as SLURM jobs, follow them, and gather them."""
    seeds = seeds if seeds is not None else sizes("comparison", profile).seeds
    common = f"--profile {profile} --seeds {' '.join(map(str, seeds))} --out {out}"
    return "\n".join([
        f"python -m sae sweep table {common} --launcher slurm --partition gpu --gpus 1 --cpus 4 "
        "--time 240 --concurrent 20 --no-wait",
        f"python -m sae sweep table --out {out} --status        # queued / running / complete / failed / cut",
        f"python -m sae sweep table {common} --launcher slurm   # again: submits only what is not complete, "
        "then waits and writes the manifest",
    ])


@dataclass(frozen=True)
class Cost:
    """One (sweep, model, prior) of the paper profile: how many runs it needs, how many runs measured
    its speed and at how many torch threads, the median seconds per epoch and outside the epochs
    (evaluation, FID), and the estimated hours per run and for all its runs (NaN: not measured)."""
    sweep: str
    model: str
    prior: str
    runs: int
    runs_measured: int | None
    threads: int | None
    s_per_epoch: float
    s_outside: float
    h_per_run: float
    h_all: float


@dataclass
class CostEstimate:
    rows: list[Cost]
    source: str                  # which stored sweeps were measured, and the scaling

    @property
    def total_hours(self) -> float:
        return float(np.nansum([r.h_all for r in self.rows]))

    @property
    def table(self) -> pd.DataFrame:
        """One line per row and a total, named for a reader."""
        total = {"sweep": "all", "model": "", "prior": "", "runs": sum(r.runs for r in self.rows),
                 "h_per_run": float(np.nanmax([r.h_per_run for r in self.rows])), "h_all": self.total_hours}
        out = pd.DataFrame([asdict(r) for r in self.rows] + [total]).rename(columns={
            "s_per_epoch": "s/epoch", "s_outside": "s outside epochs", "h_per_run": "h per run",
            "h_all": "h, all runs"})
        return out.astype({"runs_measured": "Int64", "threads": "Int64"})


def cost_estimate(epochs: int | None = None, seeds: int | None = None,
                  stored: Path | None = None) -> CostEstimate | None:
    """CPU time of the ``paper`` profile's sweeps, scaled from the measured seconds per epoch of the
    stored full-MNIST sweeps (median over each model's runs); None when none is stored.

    One :class:`Cost` per (sweep, model, prior): runs, measured seconds per epoch (and outside the
    epochs), estimated hours per run and for all its runs at ``epochs`` × ``seeds`` (default: the
    paper profile's). A model is measured wherever it was run, from its runs with the fewest torch
    threads (each run records its own; a sweep resumed with another thread count holds both), and
    ``threads`` says how many that was.
    """
    paper_seeds = sizes("comparison", "paper").seeds
    epochs = epochs or table_config("paper", "sae", "sphere", 0).train.epochs
    seeds = seeds or len(paper_seeds)
    measured: dict[tuple[str, str], list] = {}
    sources = []
    stored = Path(stored) if stored is not None else repo_root() / "results" / "stored"
    for man in sorted(stored.glob(f"*/{MANIFEST}")):
        manifest, records = load_sweep(man.parent)
        # runs made before each run recorded its thread count ran with the manifest's
        runs = [replace(r, threads=r.threads or manifest.machine.torch_threads) for r in records
                if r.dataset == "mnist_full"]
        if not runs:
            continue
        for r in runs:
            measured.setdefault((r.method, r.prior), []).append(r)
        sources.append(f"{man.parent.name} ({len(runs)} runs, {manifest.machine.cpu_count} CPUs, "
                       f"{threads_label(r.threads for r in runs)} thread(s) per run, commit {manifest.commit[:10]})")
    if not measured:
        return None
    need: dict[tuple[str, str, str], int] = {}
    for name in ("table", "ablation"):
        for _, cfg in configs(name, "paper"):
            need[(name, cfg.model, cfg.prior)] = need.get((name, cfg.model, cfg.prior), 0) + 1
    rows = []
    for (sweep, model, prior), n in need.items():
        n = n * seeds // len(paper_seeds)
        have = measured.get((model, prior), [])          # a model costs the same in either sweep
        fewest = min((r.threads for r in have if r.threads is not None), default=None)
        use = [r for r in have if r.threads == fewest]
        per_epoch = float(np.median([r.s_per_epoch for r in use])) if use else math.nan
        outside = float(np.median([r.s_outside_epochs for r in use])) if use else math.nan
        h = (per_epoch * epochs + outside) / 3600
        rows.append(Cost(sweep, model, prior, n, len(use) or None, fewest if use else None, per_epoch, outside, h, h * n))
    return CostEstimate(rows, f"measured in {'; '.join(sources)}; scaled to {epochs} epochs x {seeds} seeds "
                              "(rows with no measurement are left blank)")


CLUSTER_RECORD = "cluster-test-one-node.json"


def stored_cluster_test(stored: Path | None = None) -> dict | None:
    """The stored record of ``make cluster-test`` (results/stored/cluster-test-one-node.json), or None."""
    path = (Path(stored) if stored is not None else repo_root() / "results" / "stored") / CLUSTER_RECORD
    return json.loads(path.read_text()) if path.exists() else None
