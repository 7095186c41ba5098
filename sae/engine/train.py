"""Training one run: seeded, checkpointed every epoch, resumable, with a progress bar.

Determinism: every random draw of epoch e (batch order, dynamic binarisation, prior samples,
encoder noise) comes from a generator seeded by (seed, e), and the checkpoint holds the model and
optimiser after epoch e. So a run killed at any point and started again continues from its last
checkpoint and ends bitwise where an uninterrupted run ends (on the CPU).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..models import build_model
from ..ot import NonFiniteError
from ..utils import atomic_write, git_sha, machine, write_json
from . import data as data_mod
from . import metrics as M
from .config import ExperimentConfig, to_dict
from .fid import mnist_feature_net
from .runlock import LOCK, RunLock
from .version import code_version


FID_BOOTSTRAP = 30          # resamplings behind each FID's standard error
SAMPLES = "samples.npz"     # what every run keeps for a reader: prior samples and interpolations


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message names the settings to change."""


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"train.device={name!r} but CUDA is not available here")
    return torch.device(name)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(1_000_003 * seed + epoch)


def _save_checkpoint(path: Path, model, opt, epoch: int, curve: list, cfg) -> None:
    with atomic_write(path) as f:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "curve": curve,
                    "config": to_dict(cfg)}, f)


def train(cfg: ExperimentConfig, run_dir: Path, progress: bool = True, stop_after_epoch: int | None = None,
          evaluate_fn=None, wait: bool = False) -> dict:
    """Train (or resume) the run in ``run_dir``; return its metrics (also written to metrics.json).

    One process trains a run at a time (:class:`sae.engine.runlock.RunLock`): another one holding
    it makes this call wait (``wait``) or raise :class:`sae.engine.runlock.RunLocked` naming the
    holder. A run another process completed meanwhile is returned, not trained again.
    ``stop_after_epoch`` ends the process's work early, as a kill would (for the resume test).
    """
    run_dir = Path(run_dir)
    failed_fresh = False
    with RunLock(run_dir, wait=wait) as lock:
        if (run_dir / "metrics.json").exists():
            return json.loads((run_dir / "metrics.json").read_text())
        fresh = not any(p.name != LOCK for p in run_dir.iterdir())
        try:
            return _train(cfg, run_dir, progress, stop_after_epoch, evaluate_fn, lock)
        except BaseException as err:
            # Leave nothing half-written behind on an error (a kill cannot get here: its checkpoint
            # stays for the resume). A fresh run's files go, folder and all once the lock is
            # released; in an older run only the unfinished outputs go.
            if not isinstance(err, KeyboardInterrupt):
                if fresh:
                    for p in run_dir.iterdir():
                        if p.name != LOCK:
                            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
                    failed_fresh = True
                else:
                    (run_dir / "metrics.json").unlink(missing_ok=True)
            raise
        finally:
            if failed_fresh:
                lock.release()
                try:
                    run_dir.rmdir()              # only if no other process has put a lock there since
                except OSError:
                    pass


def _load_checkpoint(path: Path, device) -> dict | None:
    """The checkpoint in ``path``, or None when it is unreadable (truncated by a lost node or a
    full disk): it is then moved aside and one line says the run restarts from scratch."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:            # torch raises RuntimeError, EOFError, pickle errors, ...
        bad = path.with_name(path.name + ".unreadable")
        os.replace(path, bad)
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        print(f"warning: {path} is unreadable ({reason}); moved to {bad.name}, the run restarts from epoch 0",
              file=sys.stderr)
        return None


def _train(cfg, run_dir, progress, stop_after_epoch, evaluate_fn, lock) -> dict:
    t_start, commit = time.time(), git_sha()          # the commit of the code that runs: taken at the start
    device = pick_device(cfg.train.device)
    data = data_mod.load(cfg.data)
    if len(data.x_train) < cfg.train.batch_size:
        raise ValueError(f"train.batch_size={cfg.train.batch_size} exceeds the {len(data.x_train)} training examples")
    torch.manual_seed(cfg.seed)                                   # weight initialisation
    model = build_model(cfg, data.shape, data.recon, len(data.x_train)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    ckpt_path = run_dir / "checkpoint.pt"
    start, curve = 0, []
    ckpt = _load_checkpoint(ckpt_path, device) if ckpt_path.exists() else None
    if ckpt is not None:
        if ckpt["config"] != to_dict(cfg):
            raise ValueError(f"{ckpt_path} belongs to a different configuration; remove it or change --out")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start, curve = ckpt["epoch"], ckpt["curve"]
    write_json(run_dir / "config.json", to_dict(cfg))
    n, B = len(data.x_train), cfg.train.batch_size
    steps = n // B
    bar = tqdm(total=cfg.train.epochs * steps, initial=start * steps, disable=not progress,
               desc=f"{cfg.model}/{cfg.prior}", unit="step", leave=False)
    for epoch in range(start, cfg.train.epochs):
        model.train()
        g = epoch_generator(cfg.seed, epoch)
        sums = {"loss": 0.0, "rec": 0.0, "penalty": 0.0}
        t0 = time.time()
        for step, idx in enumerate(data_mod.batches(n, B, g)):
            x = data.x_train[idx]
            if data.recon == "bce":
                x = torch.bernoulli(x, generator=g)               # dynamic binarisation (ICLR §6)
            z_prior = model.target_bank[idx] if cfg.targets else model.prior.sample(B, g)
            try:
                out = model(x.to(device), z_prior.to(device), g)
                loss = out["loss"]
            except NonFiniteError:          # the OT solvers refuse non-finite codes: the loss diverged
                loss = torch.tensor(float("nan"))      # cpu: only tested for finiteness
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"loss became {loss.item()} at epoch {epoch} step {step} (model={cfg.model}, "
                    f"prior={cfg.prior}, beta={cfg.beta}, sinkhorn.eps={cfg.sinkhorn.eps}, train.lr={cfg.train.lr}); "
                    "try a larger sinkhorn.eps or a smaller train.lr")
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            if cfg.targets:
                model.reassign_targets(idx.to(device), out["z"], g)
            for k in sums:
                sums[k] += out[k].item()
            bar.update(1)
            if progress:       # shown at the bar's own pace: refreshing every step cost ~10 ms a step in a log
                bar.set_postfix(loss=f"{out['loss'].item():.3g}", rec=f"{out['rec'].item():.3g}",
                                pen=f"{out['penalty'].item():.3g}", refresh=False)
        curve.append({"epoch": epoch + 1, **{k: v / steps for k, v in sums.items()},
                      "seconds": round(time.time() - t0, 3)})
        every = cfg.train.fid_every
        if every and (epoch + 1) % every == 0 and epoch + 1 < cfg.train.epochs and model.generative:
            f = model_fid(model, data, cfg, n_boot=FID_BOOTSTRAP)   # the last epoch's comes with the evaluation
            if f is not None:
                curve[-1].update(fid=f["fid"], fid_se=f["se"])
        _save_checkpoint(run_dir / "checkpoint.pt", model, opt, epoch + 1, curve, cfg)
        lock.heartbeat()
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch and epoch + 1 < cfg.train.epochs:
            bar.close()
            return {"stopped_after_epoch": epoch + 1}
    bar.close()
    metrics = (evaluate_fn or evaluate)(model, data, cfg)
    if cfg.train.fid_every and "fid" in metrics:
        curve[-1].update(fid=metrics["fid"], fid_se=metrics["fid_se"])
    write_json(run_dir / "curve.json", curve)
    keep_samples(model, data, cfg, run_dir / SAMPLES)
    metrics["provenance"] = {"commit": commit, "code_version": code_version(cfg),
                             "machine": machine(), "device": str(device),
                             "train_seconds": round(sum(c["seconds"] for c in curve), 2),
                             "wall_seconds_this_process": round(time.time() - t_start, 2),
                             "data": data.source}
    write_json(run_dir / "metrics.json", metrics)     # last, atomically: its presence marks the run complete
    return metrics


def evaluate(model, data, cfg) -> dict:
    """The paper's metrics on the test set; FID only for generative models on labelled 28×28 digits
    (the in-house classifier's features)."""
    codes = M.embed(model, data.x_test)
    out = {"reconstruction_error": M.reconstruction_error(model, data.x_test),
           "reconstruction_kind": "summed BCE per image (binarised)" if data.recon == "bce" else "summed squared error",
           "latent_mmd_x1000_by_bandwidth": (scan := M.latent_mmd_x1000_scan(codes, model.prior, seed=cfg.seed)),
           "latent_mmd_x1000": scan["1"],
           "latent_ot": M.latent_ot(codes, model.prior, seed=cfg.seed),
           "code_variance_mean": codes.var(0).mean().item(),
           "n_test": len(data.x_test), **model.extra_metrics(data, codes)}
    f = model_fid(model, data, cfg, n_boot=FID_BOOTSTRAP, precision_recall=True)
    if f is not None:
        out.update({"fid": f["fid"], "fid_se": f["se"], "fid_n_real": f["n_real"], "fid_n_fake": f["n_fake"],
                    "fid_network": f["network"], "fid_network_test_accuracy": f["network_test_accuracy"],
                    "precision": f["precision"], "recall": f["recall"], "pr_k": f["pr_k"]})
    return out


def model_fid(model, data, cfg, n_boot: int = 0, precision_recall: bool = False) -> dict | None:
    """FID of ``model``'s prior samples (as many as test digits, Bernoulli means) against the test
    digits; None where FID is not defined (a non-generative model, or not labelled 28×28 digits).
    The samples depend on the seed only, so FIDs after different epochs compare like with like."""
    if not (data.shape == (1, 28, 28) and data.y_train is not None and model.generative):
        return None
    # One reference feature network per data source, trained on its full training split
    # whatever this run's profile (the smoke profile's 256 digits would make a poor one).
    net, info = mnist_feature_net(data_mod.load(replace(cfg.data, n_train=None, n_test=None)))
    was_training = model.training
    with torch.no_grad():
        model.eval()
        dev = next(model.parameters()).device
        g = torch.Generator().manual_seed(cfg.seed + 7)
        fake = torch.cat([model.decode(model.prior.sample(500, g).to(dev)).cpu()
                          for _ in range(math.ceil(len(data.x_test) / 500))])[:len(data.x_test)]
    model.train(was_training)
    f = M.fid(net, data.x_test, fake, n_boot=n_boot, seed=cfg.seed, pr_k=M.PR_K if precision_recall else None)
    return {**f, "network": info["network"], "network_test_accuracy": info["test_accuracy"]}


def keep_samples(model, data, cfg, path: Path, n_samples: int = 64, n_paths: int = 8, n_steps: int = 10) -> None:
    """Write what a reader needs to see the run without its weights (kilobytes, compressed):
    ``samples`` (n_samples decoded prior draws), ``interpolations`` (n_paths rows of n_steps
    decodings along the prior's path between the codes of two test examples) and the
    ``originals`` (n_paths, 2) they start and end at. Images in [0, 1] are kept as uint8
    (×255, rounded), other outputs as float16. All draws are seeded by the run's seed."""
    g = torch.Generator().manual_seed(cfg.seed + 11)
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    with torch.no_grad():
        samples = model.decode(model.prior.sample(n_samples, g).to(dev)).cpu()
        pick = torch.randperm(len(data.x_test), generator=g)[:2 * n_paths].view(n_paths, 2)   # cpu: indexes CPU data
        ends = model.embed(data.x_test[pick.flatten()].to(dev)).view(n_paths, 2, -1)
        t = torch.linspace(0, 1, n_steps, device=dev)
        paths = torch.stack([model.decode(model.prior.interpolate(a, b, t)) for a, b in ends]).cpu()
    model.train(was_training)
    images = data.x_test.dim() == 4 and bool(data.x_test.min() >= 0) and bool(data.x_test.max() <= 1)
    pack = (lambda t: (t.clamp(0, 1) * 255).round().to(torch.uint8).numpy()) if images else \
        (lambda t: t.to(torch.float16).numpy())
    with atomic_write(path) as f:
        np.savez_compressed(f, samples=pack(samples), interpolations=pack(paths), originals=pick.numpy(),
                            scale=np.float32(255.0 if images else 1.0))
