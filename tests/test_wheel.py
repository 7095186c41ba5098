"""The wheel builds and works outside the repository, package data included."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import pathlib, sys, torch, sae
from sae.studies.numbers import paper_numbers
assert pathlib.Path(sae.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]).resolve()), sae.__file__
x = torch.randn(32, 3, requires_grad=True)
sae.SinkhornLoss(eps=0.1, max_iter=20)(x, torch.randn(32, 3)).backward()
assert x.grad is not None
assert len(paper_numbers().uai_table1) == 12          # package data: the paper's numbers
assert sae.repo_root() == pathlib.Path.cwd().resolve()               # outside a checkout: the working directory
print("ok", sae.__version__)
"""


@pytest.mark.slow
def test_wheel_builds_and_works_outside_the_repository(tmp_path):
    wheels = tmp_path / "wheels"
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                          "--wheel-dir", str(wheels), str(ROOT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = wheels.glob("sae-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sae/studies/paper/numbers.json" in names and "sae/ot/solver.py" in names
    assert not any(n.startswith(("tests/", "book/", "results/")) for n in names)
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                          str(wheel)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", CHECK, str(target)], cwd=elsewhere, capture_output=True, text=True,
                         env=env)
    assert res.returncode == 0 and res.stdout.startswith("ok"), res.stdout + res.stderr[-3000:]
    res = subprocess.run([sys.executable, "-m", "sae", "--help"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "models:" in res.stdout, res.stderr[-2000:]
