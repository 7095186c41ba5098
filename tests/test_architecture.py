"""The package's shape, checked from its source: layers import only downward, nothing hides an
import inside a function, the engine never branches on a model's, prior's or data set's name, and
one file holds every profile's sizes."""
import ast
import json
import re
from pathlib import Path

import pytest

import sae
from sae.engine.config import DATASETS, MODELS, PRIORS

PKG = Path(sae.__file__).resolve().parent
ROOT = PKG.parent
# Lower layers first; a module may import its own layer or any layer before it.
LAYERS = ["utils", "ot", "models", "engine", "studies", "report", "plotting", "__main__"]
PLOTTING_MAY_USE = {"utils", "engine.profiles"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def layer(mod: str) -> int:
    return LAYERS.index(mod.split(".")[0]) if mod else -1


def sae_imports(path: Path):
    """(imported sae module, line, inside a function?) for every import of the file."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[:len(package) - (child.level - 1)] if child.level > 1 else package
                    target = ".".join(base + ([child.module] if child.module else []))
                    names = [target + "." + a.name if not child.module else target for a in child.names]
                    out.extend((n.strip("."), child.lineno, inner) for n in names)
                elif child.module and child.module.split(".")[0] == "sae":
                    out.append((child.module[4:], child.lineno, inner))
            elif isinstance(child, ast.Import):
                out.extend((a.name[4:], child.lineno, inner) for a in child.names if a.name.split(".")[0] == "sae")
            visit(child, inner)

    visit(tree, False)
    return out


FILES = sorted(PKG.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_go_only_downward_and_never_hide_in_functions(path):
    me = module_name(path)
    for target, line, in_function in sae_imports(path):
        where = f"{path.relative_to(ROOT)}:{line} imports sae.{target}"
        assert not in_function, f"{where} inside a function (an import hidden from the layer check)"
        if me.split(".")[0] == "plotting":
            assert any(target == m or target.startswith(m + ".") for m in PLOTTING_MAY_USE), where
        if me in ("", "__init__"):          # the package's front door re-exports from any layer
            continue
        assert layer(target) <= layer(me), f"{where}: a lower layer imports a higher one"


def test_the_import_graph_has_no_cycle():
    graph = {module_name(p): {t for t, _, _ in sae_imports(p)} for p in FILES}
    modules = set(graph)
    resolve = lambda t: t if t in modules else next((m for m in modules if t.startswith(m + ".")), None)
    edges = {m: {r for t in ts if (r := resolve(t)) and r != m and not m.startswith(r + ".") and r != ""}
             for m, ts in graph.items()}
    state = {}

    def dfs(m, stack):
        state[m] = "open"
        for n in edges.get(m, ()):
            if state.get(n) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack + [m, n]))
            if n not in state:
                dfs(n, stack + [m])
        state[m] = "done"

    for m in sorted(edges):
        if m not in state and m:
            dfs(m, [])


NAME_ATTRS = {"model", "prior", "name"}


@pytest.mark.parametrize("path", sorted((PKG / "engine").glob("*.py")), ids=lambda p: p.name)
def test_the_engine_never_branches_on_a_name(path):
    """No comparison of a model, prior or data-set name with a string literal in the engine."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = any(isinstance(s, ast.Attribute) and s.attr in NAME_ATTRS for s in sides)
            literal = any(isinstance(s, ast.Constant) and isinstance(s.value, str)
                          or isinstance(s, (ast.Tuple, ast.List, ast.Set)) and s.elts
                          and all(isinstance(e, ast.Constant) for e in s.elts) for s in sides)
            assert not (named and literal), f"{path.name}:{node.lineno} branches on a name"


def test_one_file_spells_the_profiles():
    """Only sae/engine/profiles.py names a profile; chapters name one only in their parameters cell."""
    # "paper" is also a column name here: it counts as a profile where compared or used as a key
    pattern = re.compile(r"""["'](smoke|quick)["']|(==|!=|\bin)\s*["']paper["']|\[\s*["']paper["']\s*\]""")
    for path in FILES:
        if path.name != "profiles.py":
            hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
            assert not hits, f"{path.relative_to(ROOT)} names a profile on lines {hits}"
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code" and "parameters" not in cell["metadata"].get("tags", []):
                assert not pattern.search("".join(cell["source"])), f"{nb.name} names a profile outside parameters"


def test_chapter_cells_are_thin():
    """Chapters call the package and show results: no code cell over 8 lines (logic lives in sae/)."""
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] == "code":
                n = len("".join(cell["source"]).strip().splitlines())
                assert n <= 8, f"{nb.name} cell {i} has {n} lines"


def test_registries_drive_the_cli_and_validation():
    from sae.__main__ import main

    with pytest.raises(SystemExit):
        main(["train", "--model", "no_such_model"])
    for name, cls in MODELS.items():
        assert cls.name == name and cls.default_beta >= 0
        assert cls.priors is None or set(cls.priors) <= set(PRIORS)
        assert cls.datasets is None or set(cls.datasets) <= set(DATASETS)
    assert {"mnist", "mnist_full", "mnist_idx", "celeba", "swissroll", "mnist_canvas"} <= set(DATASETS)


def test_no_unsafe_unpickling():
    for path in FILES:
        assert "weights_only=False" not in path.read_text(), path


@pytest.fixture
def restored_models():
    """The model registry as it was before the test, whatever the test registers."""
    saved = dict(MODELS)
    yield MODELS
    MODELS.clear()
    MODELS.update(saved)


def test_the_readme_extension_example_is_one_class(restored_models):
    """The README's "Extending" example, run as written: one registered class makes a model the
    config, training and the command line accept."""
    import torch

    from sae.__main__ import main
    from sae.engine.config import make_config
    from sae.models import build_model

    readme = (ROOT / "README.md").read_text()
    code = readme.split("## Extending", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    assert "wae_rbf" in restored_models
    cfg = make_config("smoke", "wae_rbf", "sphere", hidden=(16,))
    assert cfg.beta == 100.0
    model = build_model(cfg, (1, 28, 28), "bce")
    out = model(torch.rand(16, 1, 28, 28), model.prior.sample(16))
    assert torch.isfinite(out["loss"]) and out["penalty"].item() != 0
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--model", "wae_rbf", "--help"])
    assert exit_.value.code == 0
