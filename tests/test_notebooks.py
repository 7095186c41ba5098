"""Every chapter runs on the smoke profile, and a broken chapter fails the build."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
BIN = Path(sys.executable).parent


def _params_cell(nb):
    return next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_contract(path):
    """A `parameters` cell whose first entry is `profile`; committed without outputs."""
    nb = nbformat.read(path, as_version=4)
    first = [ln for ln in _params_cell(nb).source.splitlines() if ln.strip() and not ln.startswith("#")][0]
    assert first.replace(" ", "").startswith("profile="), first
    assert nb.metadata.kernelspec.name == "python3" and nb.metadata.kernelspec.language == "python"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: commit chapters without outputs"


# The chapters whose runs the report reloads (03-07) and the report run on one worker, in order;
# the others train nothing another chapter reads and go to whichever worker is free.
ON_THEIR_OWN = {"01_sinkhorn", "02_min_min", "09_cluster"}
RUNS = [pytest.param(p, id=p.stem, marks=() if p.stem in ON_THEIR_OWN else pytest.mark.xdist_group("chapters"))
        for p in CHAPTERS]


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNS)
def test_chapter_runs_on_smoke_profile(path, tmp_path):
    import papermill as pm

    quick = {p: p.stat().st_mtime_ns for p in (ROOT / "figures" / "quick").glob("*")}
    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters={"profile": "smoke"}, cwd=str(ROOT / "book"),
                        kernel_name="python3", progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "smoke"' in injected[0].source
    # a smoke run writes figures/smoke/ and leaves the quick build's figures as they were
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "figures" / "quick").glob("*")} == quick


def test_profile_comes_from_the_environment(monkeypatch):
    import sae

    monkeypatch.setenv("SAE_PROFILE", "paper")
    assert sae.default_profile() == "paper"
    monkeypatch.setenv("SAE_PROFILE", "huge")
    with pytest.raises(ValueError, match="SAE_PROFILE"):
        sae.default_profile()


@pytest.mark.slow
def test_broken_chapter_fails_the_book_build(tmp_path):
    """The book build (as `make book` runs it) fails on a chapter whose cell raises."""
    book = tmp_path / "book"
    shutil.copytree(ROOT / "_mathjax", book / "_mathjax") if (ROOT / "_mathjax").exists() else None
    shutil.copytree(ROOT / "book" / "style", book / "book" / "style")     # _config.yml's static paths
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, book / name) if book.exists() else (book.mkdir(), shutil.copy(ROOT / name, book / name))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: broken\n")
    (book / "intro.md").write_text("# Intro\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Broken"), nbformat.v4.new_code_cell("raise RuntimeError('boom')")]
    nbformat.write(nb, book / "broken.ipynb")
    cmd = [str(BIN / "jupyter-book"), "build", str(book), "--all", "-W", "-n", "--keep-going"]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "SAE_PROFILE": "smoke"})
    assert res.returncode != 0
    assert "boom" in res.stdout + res.stderr
    # and the same book without the failing cell builds: the failure was the cell
    nb.cells = nb.cells[:1] + [nbformat.v4.new_code_cell("print('fine')")]
    nbformat.write(nb, book / "broken.ipynb")
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "SAE_PROFILE": "smoke"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
