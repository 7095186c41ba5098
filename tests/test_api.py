"""The library's public surface: one docstring convention, running examples, an API chapter."""
import dataclasses
import doctest
import importlib
import inspect
import re
from pathlib import Path

import pytest
import torch

import sae

ROOT = Path(sae.__file__).resolve().parent.parent
# the names whose subject is optimal transport: each cites where its method comes from
OT_NAMES = {"cost_matrix", "sinkhorn", "round_plan", "sinkhorn_cost", "sinkhorn_divergence", "SinkhornLoss",
            "exact_ot", "exact_plan"}
PUBLIC = [n for n in sae.__all__ if n != "__version__"]


def _sections(doc: str) -> set[str]:
    return set(re.findall(r"^\s*([A-Z][A-Za-z ]+):\s*$", doc, re.M))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_follows_the_docstring_convention(name):
    """Google style, read by napoleon: what it takes (with shapes), returns and raises; the OT
    functions also cite their method and carry an example."""
    obj = getattr(sae, name)
    doc = inspect.getdoc(obj) or ""
    assert len(doc.splitlines()) >= 3, f"{name}: no real docstring"
    sections = _sections(doc)
    if inspect.isclass(obj) and issubclass(obj, Warning):
        return
    if dataclasses.is_dataclass(obj):            # a result: every field named under Attributes
        assert "Attributes" in sections, f"{name}: a result class lists its attributes"
        for f in dataclasses.fields(obj):
            assert f.name.startswith("_") or re.search(rf"\b{f.name}\b", doc), f"{name}: {f.name} undocumented"
        return
    target = obj.__init__ if inspect.isclass(obj) else obj
    takes = [p for p in inspect.signature(target).parameters if p not in ("self", "args", "kwargs")]
    if takes:
        assert "Args" in sections, f"{name}: no Args section"
        for p in takes:
            assert re.search(rf"\b{p}\b", doc), f"{name}: argument {p!r} is not documented"
    assert "Returns" in sections, f"{name}: no Returns section"
    if name in OT_NAMES:
        assert {"Raises", "References", "Example"} <= sections, f"{name}: {sections}"


@pytest.mark.parametrize("module", ["sae.ot.solver", "sae.ot.costs", "sae.ot.divergences", "sae.engine.profiles"])
def test_docstring_examples_are_doctests(module):
    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0, (module, res)


def test_api_chapter_documents_every_public_name_and_its_example_runs():
    page = (ROOT / "book" / "api.md").read_text()
    documented = set(re.findall(r"\.\. auto(?:function|class):: sae\.(\w+)", page))
    assert documented == set(PUBLIC), set(PUBLIC) ^ documented
    assert "book/api" in (ROOT / "_toc.yml").read_text()
    code = page.split("```python", 1)[1].split("```", 1)[0].replace("print(", "(")
    namespace = {}
    exec(compile(code, "book/api.md", "exec"), namespace)
    assert namespace["z"].grad is not None and namespace["r"].converged is True
