"""Every command the README shows runs as written.

Commands that would train (`python -m sae train/sweep`) run with `--dry-run` appended: their
arguments are parsed, their settings built and their run folders named, but nothing is trained.
`make` targets run as `make -n` (the recipe is printed, not run); papermill lines name a chapter
that has the `profile` parameter they set. A placeholder `/path/to/NAME` becomes an existing,
empty folder (the dry run checks the folder exists; only training reads it)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


COMMANDS = readme_commands()


def test_the_readme_shows_the_commands_we_test():
    kinds = {c.split()[0] for c in COMMANDS}
    assert {"make", ".venv/bin/python", ".venv/bin/papermill"} <= kinds, kinds
    assert sum("-m sae" in c for c in COMMANDS) >= 8


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_as_written(command, tmp_path):
    argv = shlex.split(command)
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           **{k: os.environ[k] for k in ("SAE_RESULTS", "SAE_FIGURES") if k in os.environ}}
    while re.fullmatch(r"[A-Z_]+=\S*", argv[0]):                  # VAR=value before the command
        name, value = argv.pop(0).split("=", 1)
        env[name] = value
    for i, a in enumerate(argv):
        if "/path/to/" in a:
            folder = tmp_path / a.split("/path/to/", 1)[1]
            folder.mkdir(parents=True, exist_ok=True)
            argv[i] = a.split("/path/to/", 1)[0] + str(folder)
    if argv[0] == "make":
        res = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        return
    if argv[0] == "bash":          # scripts run end to end by their own tests (tests/test_device_check.py)
        assert (ROOT / argv[1]).exists() and argv[1] in (ROOT / "tests" / "test_device_check.py").read_text()
        return
    if argv[0].endswith("papermill"):
        nb = nbformat.read(ROOT / argv[1], as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        names = [argv[i + 1] for i, a in enumerate(argv) if a == "-p"]
        assert names and all(re.search(rf"^{n}\s*=", params.source, re.M) for n in names), names
        return
    assert argv[:3] == [".venv/bin/python", "-m", "sae"], command
    args = argv[3:]
    if args and args[0] in ("train", "sweep") and "--status" not in args and "--dry-run" not in args:
        args.append("--dry-run")
    res = subprocess.run([sys.executable, "-m", "sae", *args], cwd=ROOT, capture_output=True, text=True, env=env)
    if "--status" in args and res.returncode == 2:          # a sweep folder that does not exist yet
        assert "holds no sweep" in res.stderr, res.stderr
        return
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
