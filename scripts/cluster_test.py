"""`make cluster-test`: a smoke sweep through submitit on the one-node SLURM that
scripts/slurm-one-node.sh started, checked against SLURM's own record and a local run.

1. The smoke table (one seed) as a SLURM job array: every job must be COMPLETED in SLURM's
   job-completion log, every run complete, and `--status` must say so.
2. The same sweep run locally: every metric must agree with the cluster's.
3. Submitted again, nothing is resubmitted (the runs are complete).
4. Bad input: a partition that does not exist, and a sweep whose SAE runs fail
   (sinkhorn.eps = 1e-300 makes their loss NaN) while the other models complete: `--status` names
   the failures with their last lines (the message names the setting) and the failed runs leave
   no folder behind.

Exit status 0 when all hold; every step prints what it checked. With ``--record FILE`` the
timings are written there as JSON with their provenance (command, commit, machine, SLURM
version): the book's cluster chapter reads results/stored/cluster-test-one-node.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sae.utils import git_sha, machine, require_clean_for_stored

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--set", "train.epochs=1", "--set", "hidden=16", "--set", "data.n_train=128", "--set", "data.n_test=64",
         "--set", "train.batch_size=32"]
SKIP = {"provenance", "fid_network", "reconstruction_kind"}
# jobs at once (each one thread); 1 leaves a core to a sweep running beside the test
CONCURRENT = os.environ.get("SAE_CLUSTER_CONCURRENT", "2")


def sae(*args: str, env=None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sae", *args]
    print("$", " ".join(cmd[1:]), flush=True)
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    print(res.stdout.strip()[-3000:], res.stderr.strip()[-1500:], sep="\n", flush=True)
    if check and res.returncode != 0:
        raise SystemExit(f"cluster-test: `{' '.join(args)}` exited with {res.returncode}")
    return res


def jobcomp_states() -> dict[str, str]:
    """{job id: JobState} from SLURM's job-completion log (array tasks as <array id>_<index>)."""
    log = Path(os.environ.get("SAE_SLURM_DIR", "/tmp/sae-slurm")) / "log" / "jobcomp.log"
    states = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        f = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in f:
            continue
        key = f"{f['ArrayJobId']}_{f['ArrayTaskId']}" if f.get("ArrayJobId") not in (None, "", f["JobId"]) or (
            f.get("ArrayTaskId") not in (None, "", "4294967294")) else f["JobId"]
        states[key] = states[f["JobId"]] = f["JobState"]
    return states


def numbers(metrics: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        if k in SKIP:
            continue
        if isinstance(v, dict):
            out.update(numbers(v, prefix + k + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[prefix + k] = float(v)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", default=None, help="write the timings and provenance to this JSON file")
    args = p.parse_args(argv)
    if args.record:
        require_clean_for_stored(args.record, git_sha())
    if not os.environ.get("SLURM_CONF") and not Path("/etc/slurm/slurm.conf").exists():
        raise SystemExit("cluster-test: no SLURM configured; run `scripts/slurm-one-node.sh start` first "
                         "(make cluster-test does)")
    work = Path(tempfile.mkdtemp(prefix="sae-cluster-"))
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0, load_at_start = time.time(), round(os.getloadavg()[0], 2)
    steps = {}
    try:
        # 1. the smoke table as a job array
        slurm_out, local_out = work / "slurm", work / "local"
        t = time.time()
        sae("sweep", "table", "--profile", "smoke", "--seeds", "0", *SMALL, "--out", str(slurm_out),
            "--launcher", "slurm", "--cpus", "1", "--concurrent", CONCURRENT, "--time", "10")
        jobs = json.loads((slurm_out / "jobs.json").read_text())
        manifest = json.loads((slurm_out / "manifest.json").read_text())
        states = jobcomp_states()
        missing = {r: j["job_id"] for r, j in jobs.items() if states.get(j["job_id"]) != "COMPLETED"}
        assert not missing, f"jobs not COMPLETED in SLURM's job-completion log: {missing}"
        assert manifest["status"] == "complete" and len(jobs) == len(manifest["runs"]), manifest
        print(f"ok: {len(jobs)} jobs COMPLETED according to SLURM's job-completion log", flush=True)
        st = sae("sweep", "table", "--out", str(slurm_out), "--status")
        assert f"{len(jobs)} complete" in st.stdout, st.stdout
        steps["smoke table as a SLURM job array"] = round(time.time() - t, 1)
        t = time.time()

        # 2. the same sweep, locally: the same numbers
        sae("sweep", "table", "--profile", "smoke", "--seeds", "0", *SMALL, "--out", str(local_out), env=one_thread)
        worst = 0.0
        for rel in manifest["runs"]:
            a = numbers(json.loads((slurm_out / rel / "metrics.json").read_text()))
            b = numbers(json.loads((local_out / rel / "metrics.json").read_text()))
            assert a.keys() == b.keys(), (rel, a.keys() ^ b.keys())
            for k in a:
                if "seconds" in k:
                    continue
                rel_err = abs(a[k] - b[k]) / max(abs(b[k]), 1e-12)
                assert math.isclose(a[k], b[k], rel_tol=1e-5, abs_tol=1e-9), f"{rel} {k}: slurm {a[k]} local {b[k]}"
                worst = max(worst, rel_err)
        print(f"ok: {len(manifest['runs'])} runs agree with the local run (largest relative difference {worst:.1e})")
        steps["the same sweep in one local process"] = round(time.time() - t, 1)

        # 3. resubmitted: nothing to do
        sae("sweep", "table", "--profile", "smoke", "--seeds", "0", *SMALL, "--out", str(slurm_out),
            "--launcher", "slurm", "--cpus", "1")
        assert json.loads((slurm_out / "jobs.json").read_text()) == jobs, "complete runs were resubmitted"
        print("ok: a resubmitted complete sweep submits nothing")

        # 4. bad input
        bad = sae("sweep", "table", "--profile", "smoke", "--seeds", "0", *SMALL, "--out", str(work / "bad"),
                  "--launcher", "slurm", "--partition", "no_such_partition", check=False)
        assert bad.returncode == 2 and "--partition 'no_such_partition' does not exist" in bad.stderr, bad.stderr
        fail_out = work / "failing"
        res = sae("sweep", "table", "--profile", "smoke", "--seeds", "0", *SMALL, "--set", "sinkhorn.eps=1e-300",
                  "--out", str(fail_out), "--launcher", "slurm", "--cpus", "1", "--concurrent", CONCURRENT, "--time", "10",
                  check=False)
        assert res.returncode == 3 and "partial" in res.stdout, res.stdout
        st = sae("sweep", "table", "--out", str(fail_out), "--status", check=False)
        assert st.returncode == 3 and "loss became nan" in st.stdout and "sinkhorn.eps=1e-300" in st.stdout, st.stdout
        fm = json.loads((fail_out / "manifest.json").read_text())
        sae_runs = [r for r in fm["runs"] if r.startswith("runs/sae-")]
        assert sae_runs and set(fm["complete"]) == set(fm["runs"]) - set(sae_runs), fm["complete"]
        assert st.stdout.count("\nfailed ") + st.stdout.startswith("failed ") == len(sae_runs), st.stdout
        leftovers = [r for r in sae_runs if (fail_out / r).exists()]
        assert not leftovers, f"failed runs left folders behind: {leftovers}"
        print(f"ok: {len(sae_runs)} failing jobs reported with their error, "
              f"{len(fm['complete'])} others complete, nothing half-written")
    except BaseException:
        for out in sorted(p for p in work.iterdir() if (p / "manifest.json").exists()):
            print(f"--- state of {out.name} when the check failed:", flush=True)
            sae("sweep", "table", "--out", str(out), "--status", check=False)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"cluster-test passed in {time.time() - t0:.0f} s")
    if args.record:
        slurm_version = subprocess.run(["sinfo", "-V"], capture_output=True, text=True).stdout.strip()
        record = {"check": "make cluster-test", "command": "python scripts/cluster_test.py " + " ".join(
                      sys.argv[1:] if argv is None else argv),
                  "commit": git_sha(), "machine": machine(), "slurm": slurm_version,
                  "jobs_per_sweep": len(jobs), "concurrent_jobs": int(CONCURRENT), "cpus_per_job": 1,
                  "steps_s": steps, "duration_s": round(time.time() - t0, 1),
                  # other work on the machine while the check ran (e.g. a sweep in the background)
                  "load_average_1min_at_start": load_at_start}
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(record, indent=1))
        print(f"wrote {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
