"""Command line: ``python -m sae train …`` trains (or loads) one run and prints its folder;
``sweep`` trains a whole table into a folder with a manifest; ``runs`` lists (and prunes) the store.
Every choice it offers comes from the registries of models, priors and data sets."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
import sys
import time

from .engine.config import DATASETS, MODELS, PRIORS, PROFILES, make_config, set_values, to_dict
from .engine.profiles import DEFAULT, sizes
from .engine.runlock import RunLocked
from .engine.store import get_or_train, is_complete, list_runs, remove_stale, run_dir
from .engine.sweeps import MANIFEST, SWEEPS, configs
from .engine.train import TrainingError
from .utils import git_sha, machine, require_clean_for_stored, write_json
from .studies.fid_protocol import StoredFloor, real_floor
from .studies.launch import LAUNCHERS, LaunchError, SlurmOptions, status, sweep

EPILOG = f"""models:   {', '.join(MODELS)}
priors:   {', '.join(sorted(PRIORS))}
datasets: {'; '.join(f"{n} ({s.summary})" for n, s in DATASETS.items())}
profiles: {', '.join(PROFILES)}

example:
  python -m sae train --profile smoke --model sae --prior sphere --dataset mnist --seed 0 --set sinkhorn.eps=0.1
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sae", description="Sinkhorn AutoEncoders companion: train and "
                                "evaluate one run", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (or load, when complete) one run; prints its folder", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--profile", default=DEFAULT, choices=PROFILES)
    t.add_argument("--model", default="sae", choices=list(MODELS))
    t.add_argument("--prior", default="sphere", choices=sorted(PRIORS))
    t.add_argument("--dataset", default=None, choices=list(DATASETS),
                   help="default: the profile's MNIST (the embedded 5,000 digits; all 70,000 for paper)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting, e.g. sinkhorn.eps=10, train.epochs=3, data.root=/data/mnist")
    t.add_argument("--out", default=None, help="results root (default: results/ in the repository)")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--wait", action="store_true", help="if another process is training this run, wait for it "
                   "(default: stop with a message naming it)")
    t.add_argument("--dry-run", action="store_true", help="print the run's settings and folder; train nothing")
    w = sub.add_parser("sweep", help="train a whole table into a folder with a provenance manifest, here or as "
                       "SLURM jobs", description="Train every run of a table into --out. Started again with the "
                       "same arguments it skips complete runs and resumes cut ones, with either launcher.")
    w.add_argument("name", choices=SWEEPS)
    w.add_argument("--profile", default=DEFAULT, choices=PROFILES)
    w.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the profile's seeds")
    w.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    w.add_argument("--out", required=True)
    w.add_argument("--extra-seeds", type=int, nargs="+", default=[], help="more seeds for the table rows whose "
                   "comparisons the report's claims turn on (sae.engine.sweeps.MORE_SEEDS_ROWS)")
    w.add_argument("--jobs", type=int, default=1, help="runs trained at once here (--launcher local), each a "
                   "process with OMP_NUM_THREADS threads (1 if unset)")
    w.add_argument("--keep-checkpoints", action="store_true")
    w.add_argument("--reuse", action="append", default=[], metavar="FOLDER",
                   help="another sweep folder: its complete runs with the same settings and code are copied, "
                   "not retrained (e.g. the table's SAE and HAE rows for the ablation)")
    w.add_argument("--dry-run", action="store_true", help="list the runs the sweep would train and their state "
                   "in --out; submit and train nothing")
    w.add_argument("--launcher", default="local", help=f"where runs execute: {' or '.join(LAUNCHERS)} "
                   "(one SLURM job per run, through submitit)")
    w.add_argument("--status", action="store_true", help="show each run of --out: complete, queued, running, "
                   "failed (with its last lines), cut or not submitted; trains nothing")
    s_ = w.add_argument_group("slurm", "what each job asks for (with --launcher slurm)")
    s_.add_argument("--partition", default=None, help="default: the cluster's default partition")
    s_.add_argument("--gpus", type=int, default=SlurmOptions.gpus, help="GPUs per job")
    s_.add_argument("--cpus", type=int, default=SlurmOptions.cpus, help="CPU cores per job")
    s_.add_argument("--time", dest="time_min", type=int, default=SlurmOptions.time_min,
                    help="time limit per job in minutes; a job past it is requeued and resumes")
    s_.add_argument("--concurrent", type=int, default=SlurmOptions.concurrent, help="jobs running at once")
    s_.add_argument("--mem-gb", type=int, default=None, help="memory per job (default: the partition's)")
    s_.add_argument("--no-wait", action="store_true", help="return once submitted; follow with --status")
    r = sub.add_parser("runs", help="list the runs of the store: complete, partial (resumable) or stale "
                       "(made by other code)")
    r.add_argument("--out", "--root", dest="out", default=None,
                   help="results root, as train's --out (default: results/ in the repository)")
    r.add_argument("--remove-stale", action="store_true", help="delete the stale runs")
    fl = sub.add_parser("floor", help="what real digits score against the test digits (FID, precision, recall) "
                        "in the verdicts' features; written as JSON with its provenance")
    fl.add_argument("--dataset", default="mnist_full", choices=[n for n in DATASETS if n.startswith("mnist")])
    fl.add_argument("--out", required=True, help="the JSON file (under results/stored/ only from a clean tree)")
    args = p.parse_args(argv)
    if args.command == "floor":
        return _floor(args, argv)
    if args.command == "runs":
        states = list_runs(args.out)
        for st in states:
            done = "?" if st.epochs_done is None else st.epochs_done
            print(f"{st.state:9s} {done!s:>4} epochs  {st.path}" + (f"  ({st.why})" if st.why else ""))
        counts = {k: sum(s.state == k for s in states) for k in ("complete", "partial", "stale")}
        print(", ".join(f"{v} {k}" for k, v in counts.items()))
        if args.remove_stale:
            gone = remove_stale(args.out)
            print(f"removed {len(gone)} stale run folder(s)")
        return 0
    if args.command == "sweep":
        return _sweep(p, args, argv)
    dataset = args.dataset or sizes("comparison", args.profile).dataset
    # a data set read from a local folder is checked for it when the config is made, so the
    # folder given with --set data.root=… goes in first
    root = [a.split("=", 1)[1] for a in args.sets if a.split("=", 1)[0].strip() == "data.root"]
    try:
        cfg = set_values(make_config(args.profile, args.model, args.prior, dataset, seed=args.seed,
                                     **({"data": {"root": root[-1]}} if root else {})), args.sets)
    except ValueError as err:
        p.exit(2, f"error: {err}\n")
    if args.dry_run:
        print(json.dumps(to_dict(cfg), indent=1), file=sys.stderr)
        print(run_dir(cfg, args.out))
        return 0
    try:
        run = get_or_train(cfg, args.out, progress=not args.no_progress, wait=args.wait)
    except (TrainingError, FileNotFoundError, RunLocked) as err:   # diverged, a missing data folder, another trainer
        p.exit(3, f"error: {err}\n")
    summary = ", ".join(f"{k}={v:.4g}" for k, v in run.metrics.numbers().items())
    print(summary, file=sys.stderr)
    print(run_dir(cfg, args.out))
    return 0


def _floor(args, argv) -> int:
    t0, commit = time.time(), git_sha()
    require_clean_for_stored(args.out, commit)
    rows = real_floor(args.dataset)
    record = StoredFloor(rows, "python -m sae " + " ".join(sys.argv[1:] if argv is None else argv), commit, machine(),
                         round(time.time() - t0, 1))
    write_json(args.out, asdict(record))
    for r in rows:
        print(f"{r.against}: FID {r.fid:.2f} ± {r.fid_se:.2f}, precision {r.precision:.3f}, recall {r.recall:.3f}",
              file=sys.stderr)
    print(args.out)
    return 0


def _sweep(p, args, argv) -> int:
    if args.status:
        try:
            rows = status(args.out)
        except (FileNotFoundError, LaunchError) as err:
            p.exit(2, f"error: {err}\n")
        for r in rows:
            print(f"{r.state:13s} {r.job_id or '-':>10}  {r.run}")
            if r.state in ("failed", "cut") and r.detail:
                print("    " + r.detail.replace("\n", "\n    "))
        counts = {k: sum(r.state == k for r in rows) for k in dict.fromkeys(r.state for r in rows)}
        print(", ".join(f"{v} {k}" for k, v in counts.items()))
        return 3 if counts.get("failed") or counts.get("cut") else 0
    seeds = args.seeds if args.seeds is not None else sizes("comparison", args.profile).seeds
    if args.dry_run:
        try:
            cfgs = [set_values(c, args.sets) for _, c in configs(args.name, args.profile, seeds, args.extra_seeds)]
        except ValueError as err:
            p.exit(2, f"error: {err}\n")
        for c in cfgs:
            state = "complete" if is_complete(run_dir(c, args.out)) else "to train"
            print(f"{state:9s} {run_dir(c, args.out)}")
        print(f"{len(cfgs)} runs ({args.name}, profile {args.profile}, seeds {seeds}); launcher {args.launcher}")
        return 0
    command = "python -m sae " + " ".join(sys.argv[1:] if argv is None else argv)
    opt = SlurmOptions(args.partition, args.gpus, args.cpus, args.time_min, args.concurrent, args.mem_gb)
    try:
        m = sweep(args.name, args.profile, seeds, args.out, args.sets, command, args.launcher, opt,
                  args.keep_checkpoints, wait=not args.no_wait, reuse=args.reuse, jobs=args.jobs,
                  extra_seeds=args.extra_seeds)
    except (LaunchError, ValueError) as err:
        p.exit(2, f"error: {err}\n")
    for rel, why in m.failed.items():
        print(f"failed: {rel}: {why}", file=sys.stderr)
    print(f"{len(m.complete)} of {len(m.runs)} runs complete ({m.status}) in {m.duration_s} s; "
          f"manifest: {args.out}/{MANIFEST}" + ("; follow with --status" if args.no_wait else ""))
    return 0 if m.status == "complete" or args.no_wait else 3


if __name__ == "__main__":
    sys.exit(main())
