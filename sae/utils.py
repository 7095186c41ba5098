"""Small shared helpers at the bottom of the package: repository paths and provenance."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import subprocess
from pathlib import Path


def repo_root() -> Path:
    """The repository root (where ``_config.yml`` lives), whatever the working directory.

    Outside a checkout (the package installed from a wheel) it is ``$SAE_ROOT`` or the working
    directory: where ``results/`` and ``figures/`` are written.

    Returns:
        pathlib.Path: an absolute path.
    """
    here = Path(__file__).resolve().parent.parent
    if (here / "_config.yml").exists():
        return here
    return Path(os.environ.get("SAE_ROOT", Path.cwd())).resolve()


def results_root() -> Path:
    """Where runs, caches and benchmark output are written: ``$SAE_RESULTS`` or ``results/`` in
    :func:`repo_root` (the test suite points it at a temporary folder). Stored results are always
    read from the repository's ``results/stored``.

    Returns:
        pathlib.Path: an absolute path.
    """
    return Path(os.environ["SAE_RESULTS"]).resolve() if os.environ.get("SAE_RESULTS") else repo_root() / "results"


def figures_root() -> Path:
    """Where the chapters write their figures: ``$SAE_FIGURES`` or ``figures/`` in :func:`repo_root`.

    Returns:
        pathlib.Path: an absolute path.
    """
    return Path(os.environ["SAE_FIGURES"]).resolve() if os.environ.get("SAE_FIGURES") else repo_root() / "figures"


@functools.lru_cache(maxsize=1)
def git_sha() -> str:
    """The commit the code runs at, with ``-dirty`` when the tree has changes; ``unknown`` outside git.

    Asked once per process: a process runs the code it imported, so a commit made while a long
    sweep runs must not be credited with that sweep's later runs. Long-running entry points (the
    sweeps, training, the benchmark) ask at their start."""
    try:
        root = repo_root()
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def require_clean_for_stored(out, commit: str) -> None:
    """Refuse to write a result under results/stored/ from a tree with uncommitted changes: a stored
    result must name a commit that reproduces it."""
    stored = (repo_root() / "results" / "stored").resolve()
    target = Path(out).resolve()
    if (target == stored or stored in target.parents) and (commit.endswith("-dirty") or commit == "unknown"):
        raise SystemExit(f"refusing to write {out}: the tree has uncommitted changes (commit {commit}); "
                         "commit first, so that the stored result names the code that made it")


def machine() -> dict:
    """A description of the machine a number was measured on."""
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def registrar(table: dict, kind: str):
    """A class decorator that files a class in ``table`` under its ``name`` attribute, refusing a
    name twice (the registries of models and priors)."""
    def register(cls):
        if cls.name in table:
            raise ValueError(f"{kind} {cls.name!r} is registered twice")
        table[cls.name] = cls
        return cls
    return register


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """``with atomic_write(path) as f:`` writes a temporary file beside ``path`` (named for this
    process, so concurrent writers never share one) and renames it over ``path`` when the block
    ends; on an error the temporary file goes and ``path`` is untouched. Readers see the old file
    or the new one, never half of one. The folder is created if needed.

    Args:
        path (str or pathlib.Path): the file to write.
        mode (str): ``"wb"`` (binary) or ``"w"`` (text).

    Yields:
        file: the open temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path``, atomically (:func:`atomic_write`).

    Args:
        path (str or pathlib.Path): the file to write.
        obj: anything :func:`json.dumps` takes.
    """
    with atomic_write(path, "w") as f:
        f.write(json.dumps(obj, indent=1))
