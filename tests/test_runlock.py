"""Runs that survive clusters: one trainer per run, stale locks taken over, unreadable checkpoints
restarted with one line instead of a traceback."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from sae.engine import config as C
from sae.engine.runlock import LOCK, RunLock, RunLocked
from sae.engine.store import UNREADABLE, list_runs, run_dir
from sae.engine.train import train


def _swissroll(epochs: int, seed: int = 0):
    return C.make_config("smoke", "ae", "gaussian", "swissroll", seed=seed, latent_dim=2, hidden=(8,),
                         data={"n_train": 256, "n_test": 64}, train={"epochs": epochs, "batch_size": 64})


TRAIN = [sys.executable, "-m", "sae", "train", "--profile", "smoke", "--model", "ae", "--prior", "gaussian",
         "--dataset", "swissroll", "--set", "latent_dim=2", "--set", "hidden=[8]", "--set", "data.n_train=2048",
         "--set", "data.n_test=64", "--set", "train.batch_size=64", "--no-progress"]


def test_a_held_run_stops_a_second_trainer_with_a_message_naming_the_holder(tmp_path):
    """Two processes asked for the same run at once: the second stops (exit 3) naming host and pid,
    or with --wait waits and returns the first one's run; the first one's run is intact."""
    cmd = TRAIN + ["--set", "train.epochs=300", "--out", str(tmp_path)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "runs"
    deadline = time.time() + 60
    while not (runs.is_dir() and any((p / "checkpoint.pt").exists() for p in runs.iterdir())):
        assert first.poll() is None and time.time() < deadline, first.communicate()
        time.sleep(0.2)
    waiting = subprocess.Popen(cmd + ["--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert first.poll() is None, "the first trainer ended too soon for this test"
    assert second.returncode == 3
    assert f"host {socket.gethostname()}, pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    w_out, w_err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and "waiting for" in w_err and w_out == out
    folder = runs / out.strip().split("/")[-1]
    assert (folder / "metrics.json").exists() and not (folder / LOCK).exists()
    assert len(json.loads((folder / "curve.json").read_text())) == 300


def test_a_stale_lock_of_a_dead_process_is_taken_over_and_said(tmp_path, capsys):
    cfg = _swissroll(2)
    path = run_dir(cfg, tmp_path)
    path.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (path / LOCK).write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "since": "earlier"}))
    train(cfg, path, progress=False)
    assert "took over the stale lock" in capsys.readouterr().err
    assert (path / "metrics.json").exists() and not (path / LOCK).exists()


def test_a_live_lock_is_never_broken_and_a_failed_fresh_run_leaves_nothing(tmp_path):
    path = tmp_path / "run"
    with RunLock(path):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            RunLock(path).acquire()
        # another host's lock with a recent heartbeat is live too
    (path / LOCK).write_text(json.dumps({"host": "elsewhere", "pid": 1, "since": "now"}))
    with pytest.raises(RunLocked, match="host elsewhere"):
        RunLock(path).acquire()
    os.utime(path / LOCK, (time.time() - 7200, time.time() - 7200))       # no heartbeat for 2 h: stale
    with RunLock(path, announce=lambda m: None) as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    cfg = C.set_values(_swissroll(2), ["train.batch_size=100000"])     # fails before the first epoch
    fresh = run_dir(cfg, tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        train(cfg, fresh, progress=False)
    assert not fresh.exists()


def test_a_truncated_checkpoint_gives_one_line_and_the_run_restarts(tmp_path):
    cfg = _swissroll(3)
    path = run_dir(cfg, tmp_path)
    train(cfg, path, progress=False, stop_after_epoch=2)
    ckpt = path / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])       # a node lost mid-write
    state = {s.path: s for s in list_runs(tmp_path)}[path]
    assert state.state == "partial" and state.why == UNREADABLE
    res = subprocess.run(TRAIN + ["--set", "train.epochs=3", "--set", "data.n_train=256", "--set", "hidden=[8]",
                                  "--out", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if "unreadable" in ln]
    assert len(lines) == 1 and str(ckpt) in lines[0] and "restarts from epoch 0" in lines[0]
    assert "Traceback" not in res.stderr and (path / "checkpoint.pt.unreadable").exists()
    assert len(json.loads((path / "curve.json").read_text())) == 3
