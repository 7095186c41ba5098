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


def _asserts_that_never_run(tree) -> list[int]:
    """Lines where a checking call (``assert_*``, which returns None) stands after the first
    operand of ``and``/``or``, or where ``assert`` tests a tuple (always true): checks that cannot fail."""
    def checks(node):
        f = node.func if isinstance(node, ast.Call) else None
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        return name.startswith("assert")
    bad = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.BoolOp) and any(checks(v) for v in n.values[:-1])]
    return bad + [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and isinstance(n.test, ast.Tuple)]


def test_no_check_in_the_suite_is_dead():
    """`assert_close(a, b) and assert_close(c, d)` never runs its second check (the first returns
    None); the suite has none, and the rule finds one that is planted."""
    planted = ast.parse("def t():\n    f(1) and g(2)\n    torch.testing.assert_close(x, y) and assert_close(z, w)\n"
                        "    assert (a == b, 'why')\n")
    assert _asserts_that_never_run(planted) == [3, 4]
    found = {f"{p.name}:{line}" for p in sorted((ROOT / "tests").glob("*.py"))
             for line in _asserts_that_never_run(ast.parse(p.read_text()))}
    assert not found, f"checks that never run: {sorted(found)}"


def test_the_suite_writes_only_to_temporary_folders():
    """conftest points runs, caches and figures away from the repository for the whole session."""
    from sae.utils import figures_root, repo_root, results_root

    for where in (results_root(), figures_root()):
        assert repo_root() not in where.parents and where != repo_root(), where


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


FACTORIES = {"rand", "randn", "zeros", "ones", "empty", "full", "arange", "tensor", "as_tensor", "randperm", "randint",
             "linspace", "eye", "rand_like"}
ON_THE_MODELS_DEVICE = ["ot", "models", "engine/train.py", "engine/metrics.py", "engine/fid.py"]


def _factories_without_a_device(path: Path) -> list[int]:
    """Lines of ``torch.<factory>(...)`` calls that name no device, unless the tensor moves at once
    (``.to(...)``), becomes a number (``.item()``, ``int(...)``, ...), or the line says why it stays
    on the CPU (a comment ``# cpu: <why>``)."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    bad = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FACTORIES
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
            continue
        if any(k.arg == "device" for k in node.keywords):
            continue
        up = parents.get(node)
        if isinstance(up, ast.Attribute) and up.attr in ("to", "item", "tolist", "numpy", "cuda"):
            continue
        if isinstance(up, ast.Call) and isinstance(up.func, ast.Name) and up.func.id in ("int", "float", "bool"):
            continue
        if "# cpu:" in lines[node.lineno - 1]:
            continue
        bad.append(node.lineno)
    return bad


def test_every_tensor_the_package_creates_takes_its_device_from_its_inputs():
    """A factory call without a device makes a CPU tensor; combined with a model's CUDA tensors it
    stops the run (as SAE.match_targets once did). Each one moves at once or says why it stays."""
    files = [p for part in ON_THE_MODELS_DEVICE for p in sorted((PKG / part).rglob("*.py") if (PKG / part).is_dir()
                                                                 else [PKG / part])]
    found = [f"{p.relative_to(ROOT)}:{line}" for p in files for line in _factories_without_a_device(p)]
    assert not found, f"tensors made on the CPU beside a model that may live elsewhere: {found}"
    planted = PKG.parent / "tests" / "_planted_factory.py"
    try:
        planted.write_text("import torch\n\ndef f(z):\n    return z - torch.rand(z.shape)\n")
        assert _factories_without_a_device(planted) == [4]
    finally:
        planted.unlink()


def _string_subscripts(tree) -> list[int]:
    """Lines that index with a string literal (``x["fid"]``, or a tuple/list holding one)."""
    def literal(e):
        return isinstance(e, ast.Constant) and isinstance(e.value, str)

    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Subscript)
            and (literal(n.slice) or isinstance(n.slice, (ast.Tuple, ast.List)) and any(map(literal, n.slice.elts)))]


def test_records_between_layers_are_attributes_not_string_keys():
    """Above the engine, studies return typed records and the report and plotting read their
    attributes: string-literal subscripts stay at most 100 (from 563; what is left indexes tables
    built for display or statistics, environment variables and files other programs write). The
    rule finds the subscripts it counts."""
    assert len(_string_subscripts(ast.parse('x["fid"]; y[("sae", "sphere")]; z[0]; w[k]'))) == 2
    files = sorted((PKG / "studies").glob("*.py")) + [PKG / "report.py", PKG / "plotting.py"]
    counts = {p.name: len(_string_subscripts(ast.parse(p.read_text()))) for p in files}
    assert sum(counts.values()) <= 100, f"{sum(counts.values())} string-literal subscripts: {counts}"
