"""One trainer per run: a lock file in the run folder.

``<run>/.lock`` is created exclusively (``O_CREAT | O_EXCL``) and holds who trains the run: host,
pid, SLURM job, since when. A second process asking for the same run either waits for it
(``wait=True``) or stops with :class:`RunLocked`, whose message names the holder. The holder
touches the file after every epoch (its heartbeat).

A lock is *stale*, and taken over with a message saying so, when its holder is gone:
- same host, and no process with that pid;
- the same SLURM job (a requeued job takes over from its own earlier incarnation);
- another host, and no heartbeat for :data:`STALE_AFTER_S` seconds (``SAE_LOCK_STALE_S``).
A stale lock is first renamed aside, atomically, so that of two processes finding it stale only
one takes it over.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK = ".lock"
STALE_AFTER_S = 3600.0


class RunLocked(RuntimeError):
    """Another live process trains this run; the message names it (host, pid, since when)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # alive, owned by someone else
        return True
    return True


def _holder_text(info: dict) -> str:
    job = f", SLURM job {info['slurm_job']}" if info.get("slurm_job") else ""
    return f"host {info.get('host', '?')}, pid {info.get('pid', '?')}{job}, since {info.get('since', '?')}"


class RunLock:
    """``with RunLock(run_dir):`` holds the run for this process (creating the folder if needed)."""

    def __init__(self, run_dir: Path, wait: bool = False, poll_s: float = 2.0, announce=None):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self.wait, self.poll_s = wait, poll_s
        self.announce = announce or (lambda msg: print(msg, file=sys.stderr))
        self.held = False

    def _me(self) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid(), "slurm_job": os.environ.get("SLURM_JOB_ID"),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S"), "argv": " ".join(sys.argv)[:300]}

    def _try_create(self) -> bool:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(self._me(), f)
        return True

    def holder(self) -> dict | None:
        """Who holds the lock now (None when nobody does); an unreadable lock reads as {}."""
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def live_holder(self) -> str | None:
        """Who trains this run now, in words (host, pid, SLURM job, since when), or None when no live
        process holds it (no lock, or a stale one)."""
        info = self.holder()
        return _holder_text(info) if info and self._stale_reason(info) is None else None

    def _stale_reason(self, info: dict) -> str | None:
        if info.get("slurm_job") and info["slurm_job"] == os.environ.get("SLURM_JOB_ID"):
            return "an earlier run of the same SLURM job"
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
            return None if _pid_alive(info["pid"]) else "no such process any more"
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        limit = float(os.environ.get("SAE_LOCK_STALE_S", STALE_AFTER_S))
        return f"no heartbeat for {age:.0f} s (limit {limit:.0f} s)" if age > limit else None

    def acquire(self) -> "RunLock":
        told = False
        while True:
            try:
                if self._try_create():
                    self.held = True
                    return self
            except FileNotFoundError:          # the folder vanished between mkdir and open: try again
                continue
            info = self.holder()
            if info is None:                    # released meanwhile
                continue
            why = self._stale_reason(info)
            if why is not None:
                aside = self.path.with_name(f"{LOCK}.stale-{os.getpid()}")
                try:
                    os.replace(self.path, aside)    # only one of several contenders succeeds
                except FileNotFoundError:
                    continue
                try:
                    taken = json.loads(aside.read_text())
                except (OSError, ValueError):
                    taken = {}
                if taken and taken != info:         # a fresh lock slipped in between: put it back
                    try:
                        os.link(aside, self.path)
                    except FileExistsError:
                        pass
                    aside.unlink(missing_ok=True)
                    continue
                aside.unlink(missing_ok=True)
                self.announce(f"{self.run_dir.name}: took over the stale lock of {_holder_text(info)} ({why})")
                continue
            if not self.wait:
                raise RunLocked(f"{self.run_dir} is being trained by {_holder_text(info)}; "
                                "wait for it (--wait) or use another --out")
            if not told:
                self.announce(f"{self.run_dir.name}: waiting for {_holder_text(info)} to finish")
                told = True
            time.sleep(self.poll_s)

    def heartbeat(self) -> None:
        if self.held:
            os.utime(self.path)

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
