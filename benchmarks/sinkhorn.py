"""`make bench`: time sae.sinkhorn against POT (and GeomLoss) and write JSON.

    python benchmarks/sinkhorn.py [--sizes 256 1024 4096] [--repeat 5] [--device cuda] [--no-memory] [--no-steps] [--no-epochs] [--out FILE]

Every library runs under the default allocator and thread settings of this process, alternating
run by run. The JSON names the machine, settings, commit, command and duration; to keep it, run
from a clean, committed tree and copy it to results/stored/bench-<device>.json.
"""
from __future__ import annotations

import argparse
import sys

import torch

from sae.studies import bench
from sae.utils import git_sha, require_clean_for_stored, results_root


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--eps-rel", type=float, default=0.1)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs (one process per case)")
    p.add_argument("--no-steps", action="store_true", help="skip the training-step timings (AE, WAE, HAE, SAE)")
    p.add_argument("--no-epochs", action="store_true",
                   help="skip the whole-epoch timings (AE and SAE on the paper profile's full MNIST)")
    p.add_argument("--out", default=None, help="JSON path (default results/bench/sinkhorn-<device>.json)")
    args = p.parse_args(argv)
    if args.out:
        require_clean_for_stored(args.out, git_sha())
    result = bench.run_benchmark(args.sizes, d=args.d, eps_rel=args.eps_rel, n_iter=args.iters,
                                 repeat=args.repeat, device=args.device, memory=not args.no_memory)
    if not args.no_steps:
        result.training_steps = bench.training_steps(device=args.device)
    if not args.no_epochs:
        result.training_epochs = bench.training_epochs(device=args.device)
    result.command = "python benchmarks/sinkhorn.py " + " ".join(sys.argv[1:] if argv is None else argv)
    out = args.out or results_root() / "bench" / f"sinkhorn-{result.device}.json"
    bench.save(result, out)
    print()
    print(bench.table(result))
    print()
    for s in bench.speedups(result):
        print(f"n={s.n:5d}: POT forward / ours = {s.pot_over_sae_forward:.2f}x; "
              f"our envelope fwd+bwd / our forward = {s.envelope_fb_over_forward:.2f}")
    print(f"\nwrote {out} ({result.duration_s} s, torch {torch.__version__}, commit {result.commit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
