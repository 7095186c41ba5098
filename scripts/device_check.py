"""The GPU checks as one prepared call (run by scripts/device-check.sh; see the README, "On a GPU machine").

Four parts, each writing one JSON file under ``--out`` with the device's name, the commit, the
settings and the seconds it took; a part that fails writes its error instead and the next one runs:

1. ``tests.json``: the test suite's device-facing files, on the device (tests marked for CUDA run).
2. ``bench.json``: :func:`sae.studies.bench.run_benchmark` on the device against POT and GeomLoss,
   float32, TF32 off (stated in the file), n up to 20,000.
3. ``epochs.json``: one training epoch of every comparison-table model at the paper profile
   (full MNIST, batch 128), timed.
4. ``runs.json`` and ``runs.tar.gz``: as many 100-epoch table runs as fit in the time left, trained
   as parallel processes on the one device; complete runs come back (configs, metrics, curves,
   samples; no checkpoints), cut ones are listed.

``--size smoke --device cpu`` runs the same parts at toy sizes on the CPU (the test suite does).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sae.engine.sweeps import TABLE_ROWS  # noqa: E402
from sae.studies import bench  # noqa: E402
from sae.utils import git_sha, machine, write_json  # noqa: E402

TEST_FILES = ["tests/test_sinkhorn_properties.py", "tests/test_sinkhorn_grad.py", "tests/test_sinkhorn_vs_pot.py",
              "tests/test_engine.py", "tests/test_stats.py"]
SIZES = {"full": {"bench": [1024, 4096, 10_000, 20_000], "repeat": 3, "profile": "paper", "epochs": 100,
                  "test_args": ["-m", "not slow"]},
         "smoke": {"bench": [64, 128], "repeat": 1, "profile": "smoke", "epochs": 2,
                   "test_args": ["-k", "equivalence_needs_a_narrow_interval or one_seed"]}}


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else machine()["cpu"]


def part(folder: Path, name: str, where: str, fn, **settings) -> dict:
    """Run one part; write ``folder/<name>.json`` with its result or its error, and provenance."""
    t0 = time.time()
    record = {"part": name, "device": where, "device_name": _device_name(where), "commit": git_sha(),
              "machine": machine(), "torch": torch.__version__,
              "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}}
    try:
        record["result"] = fn(**settings)
        record["ok"] = True
    except Exception as err:          # one failing part must not cost the others their lease
        record["ok"], record["error"] = False, "".join(traceback.format_exception(err))[-4000:]
    record["seconds"] = round(time.time() - t0, 1)
    write_json(folder / f"{name}.json", record)
    print(f"{name}: {'ok' if record['ok'] else 'FAILED'} in {record['seconds']} s", flush=True)
    return record


def run_tests(files: list[str], args: list[str], timeout_s: float) -> dict:
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files, *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    tail = (res.stdout + res.stderr)[-3000:]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", tail)}
    return {"returncode": res.returncode, "counts": counts, "tail": tail}


def run_bench(sizes: list[int], repeat: int, device: str) -> dict:
    if device == "cuda":            # float32 as the library computes, not TF32's 10-bit mantissa
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    result = bench.run_benchmark(sizes, repeat=repeat, device=device, memory=False)
    return {**asdict(result), "tf32": False}


def run_epochs(profile: str, device: str) -> dict:
    models = tuple(dict.fromkeys((m, p) for m, p, _ in TABLE_ROWS))
    return [asdict(r) for r in bench.training_epochs(models=models, rounds=1, profile=profile, device=device)]


def run_sweep(out: Path, profile: str, epochs: int, device: str, jobs: int, deadline_s: float) -> dict:
    """Start ``jobs`` table runs at a time (seed 0 first), stop at the deadline, pack the complete ones."""
    folder = out / "runs"
    cmd = [sys.executable, "-m", "sae", "sweep", "table", "--profile", profile, "--seeds", "0", "1", "2",
           "--set", f"train.epochs={epochs}", "--set", f"train.device={device}", "--out", str(folder),
           "--jobs", str(jobs)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=max(1.0, deadline_s))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 15)
        output, _ = proc.communicate()
    complete = sorted(p.parent for p in folder.glob("runs/*/metrics.json"))
    with tarfile.open(out / "runs.tar.gz", "w:gz") as tar:
        for run in complete:
            for f in run.iterdir():
                if f.name in ("config.json", "metrics.json", "curve.json", "samples.npz"):
                    tar.add(f, arcname=f"{run.name}/{f.name}")
        if (folder / "manifest.json").exists():
            tar.add(folder / "manifest.json", arcname="manifest.json")
    cut = sorted(p.name for p in folder.glob("runs/*") if p.is_dir() and p not in complete)
    return {"command": " ".join(cmd[1:]), "complete": [p.name for p in complete], "cut": cut,
            "output_tail": output[-2000:]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--size", default="full", choices=sorted(SIZES))
    p.add_argument("--out", required=True)
    p.add_argument("--budget-s", type=float, default=480.0, help="all four parts within this many seconds")
    p.add_argument("--jobs", type=int, default=4, help="training processes at once on the device (part 4)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.exit(2, "error: --device cuda but torch sees no CUDA device here (DEVICE=cpu for a dry run)\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size, start = SIZES[args.size], time.time()
    left = lambda: args.budget_s - (time.time() - start)
    part(out, "tests", args.device, run_tests, files=TEST_FILES, args=size["test_args"], timeout_s=0.4 * left())
    part(out, "bench", args.device, run_bench, sizes=size["bench"], repeat=size["repeat"], device=args.device)
    part(out, "epochs", args.device, run_epochs, profile=size["profile"], device=args.device)
    part(out, "runs", args.device, run_sweep, out=out, profile=size["profile"], epochs=size["epochs"],
         device=args.device, jobs=args.jobs if args.device == "cuda" else 1, deadline_s=left() - 20)
    print(f"device check done in {time.time() - start:.0f} s; JSON in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
