"""Sinkhorn benchmark: ours against POT's ``sinkhorn_log`` (and GeomLoss) on the same problems.

Speed is measured here, never asserted in tests. Every library runs the same number of
iterations (no early stop) on the same float32 cost matrix, under the default allocator and thread
settings, the libraries alternating run by run; we report the median wall time of several repeats,
optionally the peak memory (in a separate process), and how far each library's cost is from ours.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..engine.config import make_config
from ..engine.profiles import DEFAULT
from ..engine.store import load_curve
from ..engine.sweeps import table_config
from ..engine.train import train
from ..models import MODELS, build_model
from ..ot import sinkhorn
from ..utils import git_sha, machine, repo_root, write_json


@dataclass
class BenchCase:
    library: str          # "sae" | "pot" | "geomloss"
    mode: str             # "forward" | "forward+backward (unrolled)" | "forward+backward (envelope)" …
    n: int
    d: int
    eps_rel: float
    n_iter: int
    device: str
    ms: float | None = None             # median wall time
    ms_spread: tuple[float, float] | None = None   # (min, max) over repeats
    peak_mb: float | None = None        # peak memory above the baseline
    value: float | None = None          # the cost the library returns (sharp, or regularised for GeomLoss)
    rel_diff_vs_sae: float | None = None
    note: str = ""


@dataclass
class TrainingStep:
    """Median wall time of one optimiser step of a model (and its ratio to the first model's, AE)."""
    model: str
    prior: str
    batch: int
    L: int
    hidden: list[int]
    ms: float
    over_ae: float


@dataclass
class TrainingEpoch:
    """Median seconds of one training epoch through the engine (and the ratio to the first model's)."""
    model: str
    prior: str
    data: str
    batch: int
    L: int
    s: float
    s_spread: list[float]
    rounds: int
    over_ae: float


@dataclass
class BenchResult:
    """A benchmark run: the problem, where and how it ran (machine, device, settings), the commit and
    command that made it, its duration, a :class:`BenchCase` per (size, library, mode), and the
    training-step and training-epoch timings when they were taken."""
    problem: str
    commit: str
    machine: dict
    device: str
    device_name: str
    duration_s: float
    command: str
    rows: list[BenchCase]
    settings: dict = field(default_factory=dict)     # empty: made before the alternating protocol
    training_steps: list[TrainingStep] = field(default_factory=list)
    training_epochs: list[TrainingEpoch] = field(default_factory=list)
    benchmark: str = "sinkhorn"

    @classmethod
    def from_json(cls, d: dict) -> "BenchResult":
        d = dict(d)
        return cls(**{**d, "rows": [BenchCase(**r) for r in d.pop("rows")],
                      "training_steps": [TrainingStep(**r) for r in d.pop("training_steps", [])],
                      "training_epochs": [TrainingEpoch(**r) for r in d.pop("training_epochs", [])]})


def problem(n: int, d: int = 64, seed: int = 0, device: str = "cpu", dtype=torch.float32):
    """Two Gaussian clouds, shifted apart, and their squared-Euclidean cost matrix."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, d, generator=g, dtype=torch.float64) + 0.5
    C = torch.cdist(x, y).square().to(device=device, dtype=dtype)
    a = torch.full((n,), 1.0 / n, device=device, dtype=dtype)
    return C, a, a.clone()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise OSError(key)


def _timed(fn: Callable[[], float], device: str) -> tuple[float, float]:
    _sync(device)
    t0 = time.perf_counter()
    value = fn()
    _sync(device)
    return (time.perf_counter() - t0) * 1e3, value


def peak_memory_mb(n: int, d: int, eps_rel: float, n_iter: int, library: str, mode: str, device: str) -> float | None:
    """Peak memory of one call of a case above what the process held before it, in MB.

    On CUDA: the caching allocator's peak, in this process. On the CPU: the peak resident set of a
    fresh process (``python -m sae.studies.bench --peak …``), so that neither the allocations of the
    other cases nor any allocator setting of this one colour it. ``None`` where it cannot be read.
    """
    if device.startswith("cuda"):
        C, a, b = problem(n, d, device=device)
        fn = dict(((lib, m), f) for lib, m, f in _cases(C, a, b, eps_rel * C.median().item(), n_iter, True))[
            (library, mode)]
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    args = json.dumps({"n": n, "d": d, "eps_rel": eps_rel, "n_iter": n_iter, "library": library, "mode": mode})
    res = subprocess.run([sys.executable, "-m", "sae.studies.bench", "--peak", args], capture_output=True, text=True)
    try:
        return float(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _peak_here(n: int, d: int, eps_rel: float, n_iter: int, library: str, mode: str) -> float:
    """In a fresh process: reset the peak resident set, run the case once, return the rise in MB."""
    C, a, b = problem(n, d)
    cases = {(lib, m): f for lib, m, f in _cases(C, a, b, eps_rel * C.median().item(), n_iter, True)}
    fn = cases[(library, mode)]
    Path("/proc/self/clear_refs").write_text("5")          # Linux: reset VmHWM to the current RSS
    base = _status_kb("VmRSS")
    fn()
    return max(0.0, (_status_kb("VmHWM") - base) / 1024)


def _cases(C, a, b, eps, n_iter, unrolled_ok: bool):
    """(library, mode, fn) triples; each fn returns the library's cost as a float."""
    import ot

    def ours_fwd():
        with torch.no_grad():
            return sinkhorn(C, a, b, eps=eps, max_iter=n_iter).cost.item()

    def ours_unrolled():
        Cg = C.detach().requires_grad_()
        r = sinkhorn(Cg, a, b, eps=eps, max_iter=n_iter)
        r.cost.backward()
        return r.cost.item()

    def ours_envelope():
        Cg = C.detach().requires_grad_()
        r = sinkhorn(Cg, a, b, eps=eps, max_iter=n_iter, grad="envelope")
        r.value.backward()
        return r.cost.item()

    def pot_fwd():
        with torch.no_grad():
            return ot.sinkhorn2(a, b, C, eps, method="sinkhorn_log", numItermax=n_iter, stopThr=0.0).item()

    def pot_unrolled():
        Cg = C.detach().requires_grad_()
        v = ot.sinkhorn2(a, b, Cg, eps, method="sinkhorn_log", numItermax=n_iter, stopThr=0.0)
        v.backward()
        return v.item()

    def pot_envelope():
        Cg = C.detach().requires_grad_()
        res = ot.solve(Cg, a, b, reg=eps, method="sinkhorn_log", max_iter=n_iter, tol=0.0, grad="envelope")
        res.value.backward()
        return res.value_linear.item()

    out = [("sae", "forward", ours_fwd), ("pot", "forward", pot_fwd),
           ("sae", "forward+backward (envelope)", ours_envelope),
           ("pot", "forward+backward (envelope)", pot_envelope),
           ("sae", "forward+backward (unrolled)", ours_unrolled)]
    if unrolled_ok:
        out.append(("pot", "forward+backward (unrolled)", pot_unrolled))
    try:
        from geomloss._legacy.sinkhorn_divergence import sinkhorn_loop
        from geomloss._legacy.sinkhorn_samples import softmin_tensorized
    except ImportError:
        return out

    def geomloss_fwd():
        # GeomLoss's own loop with a constant ε list: exactly n_iter symmetric (averaged) updates.
        with torch.no_grad():
            la, lb = a.log()[None], b.log()[None]
            Cb = C[None]
            _, _, g_ab, f_ba = sinkhorn_loop(softmin_tensorized, la, lb, None, None, Cb, Cb.transpose(1, 2),
                                             [eps] * n_iter, None, debias=False, last_extrapolation=False)
            return ((a * f_ba[0]).sum() + (b * g_ab[0]).sum()).item()

    out.append(("geomloss", "forward (regularised value)", geomloss_fwd))
    return out


def run_benchmark(sizes=(256, 1024, 4096), d: int = 64, eps_rel: float = 0.1, n_iter: int = 100,
                  repeat: int = 5, device: str | None = None, unrolled_max_n: int = 1024, memory: bool = False,
                  log: Callable[[str], None] | None = print) -> BenchResult:
    """Time every case at every size; return a JSON-ready dict with the machine, settings and commit.

    Fair by construction: every library runs under the allocator and thread settings this process
    has (the user's defaults; the JSON records them), each case is warmed up once, and then the
    cases *alternate* run by run (round r times case 1, case 2, … in an order rotated every round),
    so that a slow phase of a shared machine hits every library alike. Medians are reported with
    the (min, max) spread. ``memory`` adds each case's peak memory, measured in a separate process
    (:func:`peak_memory_mb`). ``unrolled_max_n`` skips POT's unrolled backward above that size: it
    stores every iteration's (n, n) matrices (several GB at n = 1024 already).
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    started, commit = time.time(), git_sha()       # the code that runs is the code at the start
    rows = []
    for n in sizes:
        C, a, b = problem(n, d, device=device)
        eps = eps_rel * C.median().item()
        cases = [(BenchCase(lib, mode, n, d, eps_rel, n_iter, device), fn)
                 for lib, mode, fn in _cases(C, a, b, eps, n_iter, unrolled_ok=n <= unrolled_max_n)]
        times: dict[int, list[float]] = {k: [] for k in range(len(cases))}
        for k, (case, fn) in enumerate(cases):                 # warm-up, and the value each returns
            try:
                case.value = _timed(fn, device)[1]
            except (RuntimeError, MemoryError) as err:         # e.g. out of memory at the largest size
                case.note = f"failed: {type(err).__name__}: {str(err)[:120]}"
        alive = [k for k, (case, _) in enumerate(cases) if not case.note]
        for r in range(repeat):
            for k in alive[r % len(alive):] + alive[:r % len(alive)] if alive else []:
                times[k].append(_timed(cases[k][1], device)[0])
        ref = next((c.value for c, _ in cases if (c.library, c.mode) == ("sae", "forward")), None)
        for k, (case, _) in enumerate(cases):
            if times[k]:
                t = sorted(times[k])
                case.ms, case.ms_spread = t[len(t) // 2], (t[0], t[-1])
            if memory and not case.note:
                case.peak_mb = peak_memory_mb(n, d, eps_rel, n_iter, case.library, case.mode, device)
            if case.value is not None and ref:
                case.rel_diff_vs_sae = abs(case.value - ref) / abs(ref)
            if case.library == "geomloss":
                case.note = "regularised value (GeomLoss has no sharp cost); symmetric updates"
            rows.append(case)
            if log:
                log(f"n={n:5d} {case.library:9s} {case.mode:30s} "
                    f"{case.ms if case.ms is not None else float('nan'):9.1f} ms")
    settings = {"torch_threads": torch.get_num_threads(),
                "allocator_env": {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "OMP_", "MKL_"))},
                "order": "alternating, rotated every round", "repeat": repeat, "warmup": 1}
    here = machine()
    return BenchResult(f"two Gaussian clouds in d={d}, squared Euclidean cost, float32, eps = {eps_rel} x median(C), "
                       f"{n_iter} iterations, no early stop", commit, here, device,
                       torch.cuda.get_device_name(0) if device.startswith("cuda") else here.get("cpu", "?"),
                       round(time.time() - started, 1), "make bench", rows, settings)


def describe(result: BenchResult) -> str:
    """One line of provenance for a stored benchmark."""
    st = result.settings
    env = st.get("allocator_env")
    how = ("settings not recorded (made before the alternating, default-settings protocol)" if not st else
           f"{st.get('torch_threads')} torch threads, allocator {'defaults' if not env else env}, {st.get('order')}")
    return f"{result.device_name}: `{result.command}` at commit {result.commit[:10]}, {result.duration_s} s; {how}"


@dataclass(frozen=True)
class Speedup:
    """At one problem size: POT's forward time over ours, and our envelope forward+backward over our forward."""
    n: int
    pot_over_sae_forward: float
    envelope_fb_over_forward: float


def speedups(result: BenchResult) -> list[Speedup]:
    """Per size: POT forward / ours forward, and our envelope forward+backward / our forward."""
    ms = {(r.n, r.library, r.mode): r.ms for r in result.rows}
    out = []
    for n in sorted({r.n for r in result.rows}):
        ours, pot = ms.get((n, "sae", "forward")), ms.get((n, "pot", "forward"))
        env = ms.get((n, "sae", "forward+backward (envelope)"))
        out.append(Speedup(n, pot / ours if ours and pot else math.nan, env / ours if ours and env else math.nan))
    return out


def table(result: BenchResult) -> str:
    """A plain-text table of a benchmark result."""
    dash = "—"
    lines = [f"{'n':>5} {'library':9} {'mode':30} {'median ms':>10} {'peak MB':>8} {'rel. diff':>9}"]
    for r in result.rows:
        ms = f"{r.ms:10.1f}" if r.ms is not None else f"{dash:>10}"
        mb = f"{r.peak_mb:8.0f}" if r.peak_mb is not None else f"{dash:>8}"
        rd = f"{r.rel_diff_vs_sae:9.1e}" if r.rel_diff_vs_sae is not None else f"{dash:>9}"
        lines.append(f"{r.n:5d} {r.library:9} {r.mode:30} {ms} {mb} {rd}  {r.note}")
    for r in result.training_steps:
        lines.append(f"training step {r.model:6s} ({r.prior}, batch {r.batch}, L {r.L}): {r.ms:.1f} ms, "
                     f"{r.over_ae:.2f}x AE")
    for r in result.training_epochs:
        lines.append(f"training epoch {r.model:6s} ({r.prior}, {r.data}, batch {r.batch}, L {r.L}): {r.s:.2f} s, "
                     f"{r.over_ae:.2f}x AE")
    return "\n".join(lines)


def save(result: BenchResult, path: Path) -> Path:
    """Write the result as JSON atomically."""
    write_json(path, asdict(result))
    return Path(path)


def load_stored(folder: Path | None = None) -> list[BenchResult]:
    """Benchmark results kept in ``results/stored/bench-*.json`` (each names its machine and commit)."""
    folder = Path(folder) if folder is not None else repo_root() / "results" / "stored"
    return [BenchResult.from_json(json.loads(p.read_text())) for p in sorted(folder.glob("bench-*.json"))]



# ------------------------------------------------------------------ one training step per model

def training_steps(models=("ae", "wae", "hae", "sae"), batch: int = 128, repeat: int = 20,
                   device: str | None = None, log: Callable[[str], None] | None = print) -> list[TrainingStep]:
    """Wall time of one optimiser step (forward, backward, Adam) at the paper's MNIST settings:
    784-512-512-10 MLP, batch 128, L = 50 Sinkhorn iterations for SAE, sphere prior (Gaussian for
    models that need it). The models alternate step by step; medians over ``repeat`` steps."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    g = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.rand(batch, 1, 28, 28, generator=g)).to(device)
    setups = []
    for name in models:
        prior = "sphere" if MODELS[name].priors is None or "sphere" in MODELS[name].priors else MODELS[name].priors[0]
        cfg = make_config(DEFAULT, name, prior, "mnist", seed=0, hidden=(512, 512), latent_dim=10,
                          train={"batch_size": batch})
        torch.manual_seed(0)
        model = build_model(cfg, (1, 28, 28), "bce").to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
        setups.append((name, prior, cfg, model, opt))

    def step(model, opt):
        out = model(x, model.prior.sample(batch, g).to(device), g)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()

    times = {s[0]: [] for s in setups}
    for name, _, _, model, opt in setups:           # warm-up
        step(model, opt)
    for _ in range(repeat):
        for name, _, _, model, opt in setups:
            t, _ = _timed(lambda: step(model, opt) or 0.0, device)
            times[name].append(t)
    rows = []
    base = float(np.median(times[models[0]]))
    for name, prior, cfg, _, _ in setups:
        ms = float(np.median(times[name]))
        rows.append(TrainingStep(name, prior, batch, cfg.sinkhorn.max_iter, list(cfg.hidden), ms, ms / base))
        if log:
            log(f"train step {name:6s} ({prior}): {ms:7.1f} ms ({ms / base:.2f}x {models[0]})")
    return rows


def training_epochs(models=(("ae", "sphere"), ("sae", "sphere")), rounds: int = 3, profile: str = "paper",
                    device: str | None = None, log: Callable[[str], None] | None = print) -> list[TrainingEpoch]:
    """Seconds of one whole training epoch through the engine (:func:`sae.engine.train.train`:
    batches, binarisation, prior draws, the step, the optimiser, the progress bookkeeping) on the
    ``profile``'s comparison data and settings (``paper``: full MNIST, batch 128, L = 50), the
    measure the paper-scale sweeps pay. Models alternate round by round; medians over ``rounds``.
    Evaluation and FID are left out (they are the same for every model)."""
    times = {m: [] for m in models}
    for _ in range(rounds):
        for method, prior in models:
            overrides = {"train": {"epochs": 1, "fid_every": 0, **({"device": device} if device else {})}}
            cfg = table_config(profile, method, prior, 0, **overrides)
            with tempfile.TemporaryDirectory() as d:
                train(cfg, Path(d) / "run", progress=False, evaluate_fn=lambda *_: {})
                times[(method, prior)].append(load_curve(Path(d) / "run")[0].seconds)
    base = float(np.median(times[models[0]]))
    rows = []
    for (method, prior), ts in times.items():
        s = float(np.median(ts))
        rows.append(TrainingEpoch(method, prior, cfg.data.name, cfg.train.batch_size, cfg.sinkhorn.max_iter, s,
                                  [min(ts), max(ts)], rounds, s / base))
        if log:
            log(f"train epoch {method:6s} ({prior}, {cfg.data.name}): {s:6.2f} s ({s / base:.2f}x {models[0][0]})")
    return rows


if __name__ == "__main__":     # the separate process of peak_memory_mb
    if len(sys.argv) == 3 and sys.argv[1] == "--peak":
        print(_peak_here(**json.loads(sys.argv[2])))
