"""The *code version* of a run: which code trained it, as 10 hex digits.

A run's identity is its settings (the config hash) and the code it executes, nothing more. The
code version hashes the source that decides a run's numbers (:data:`CODE_PARTS`: the solver, the
models, the engine but for the store, the lock, the profile table, the sweeps and this file), **less the
registered entries the run does not use**:

- A registered entry is a class under ``@register`` (a model in ``models/autoencoders.py``, a
  prior in ``models/priors.py``) or a ``register("name", ...)(loader)`` statement (a data set in
  ``engine/data.py``), keyed by its name.
- A run uses the entries its config names (``model``, ``prior``, ``data.name``) and whatever
  those refer to: SAE's class refers to ``Autoencoder``, its base, so an edit to the base
  changes every model's runs, and an edit to SAE changes SAE's runs (and its subclasses') only.
- A top-level definition that only unused entries refer to (a new data set's loader, a helper or
  an import only a new baseline needs) goes with them; one nothing in its file refers to (a public
  function, a constant) always counts. An import of a module from itself (as in
  the README's extension example) binds nothing new and is left out.

So adding a baseline, a prior or a data set leaves every existing run's identity unchanged.
What is hashed is each kept statement's syntax tree without docstrings: editing documentation,
comments or layout makes no run stale. (The tree's printed form can change between Python
versions: a run is then trained anew.) The store names run folders with it and
:func:`sae.engine.train.train` records it in every run's provenance, so both always agree with the
code that actually ran.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
CODE_PARTS = ("ot", "models", "engine")
# Engine files that decide no run's numbers: where runs are kept and locked, the profile table and
# the sweeps' rows (both reach a run through its config, which is hashed anyway) and this file.
NOT_CODE = ("engine/store.py", "engine/runlock.py", "engine/profiles.py", "engine/sweeps.py", "engine/version.py")


def run_keys(cfg) -> frozenset[str]:
    """The registered names a run uses: its model, its prior and its data set."""
    return frozenset((cfg.model, cfg.prior, cfg.data.name))


def code_version(cfg, package: Path | None = None) -> str:
    """10 hex digits of SHA-256 over the code the run of ``cfg`` executes (module docstring)."""
    return _version(run_keys(cfg), str(Path(package) if package is not None else PACKAGE))


def _version(keys: frozenset[str], package: str) -> str:
    root = Path(package)
    h = hashlib.sha256()
    for part in CODE_PARTS:
        for f in sorted((root / part).rglob("*.py")):
            rel = f.relative_to(root).as_posix()
            if rel not in NOT_CODE:
                h.update(rel.encode() + b"\0" + _kept_code(f.read_text(), rel, keys).encode() + b"\0")
    return h.hexdigest()[:10]


@functools.lru_cache(maxsize=64)
def current_version(keys: frozenset[str]) -> str:
    """The code version, for the run keys ``keys``, of the package this process imported."""
    return _version(keys, str(PACKAGE))


# ---------------------------------------------------------------- which statements a run executes
def _kept_code(source: str, rel: str, keys: frozenset[str]) -> str:
    """The statements of one file that a run with ``keys`` executes, printed: its own registered
    entries, every statement that is no entry and that nothing else in the file refers to (the
    file's public functions, its constants, side effects), and whatever those refer to."""
    f = _parsed(source, rel)
    kept = {i for i, k in enumerate(f.entry) if k in keys or (k is None and not f.used_by[i])}
    todo = list(kept)
    while todo:
        j = todo.pop()
        for i, names in enumerate(f.defines):
            if i not in kept and names & f.refers[j]:
                kept.add(i)
                todo.append(i)
    return "\n".join(d for i, d in enumerate(f.dumps) if i in kept)


@dataclass(frozen=True)
class _File:
    """One source file's top-level statements as the keep rule needs them, parsed once per text
    (a process computes the code version of many key sets from the same files)."""
    entry: list        # the registered name of each statement, or None
    defines: list      # the names each statement binds
    refers: list       # the names each statement reads
    used_by: list      # the other statements that read what each one binds
    dumps: list        # each statement's printed syntax tree


@functools.lru_cache(maxsize=256)
def _parsed(source: str, rel: str) -> _File:
    stmts = [s for s in _statements(source) if not _imports_itself(s, rel)]
    defines = [_defined(s) for s in stmts]
    refers = [_referred(s) for s in stmts]
    used_by = [{j for j, r in enumerate(refers) if j != i and names & r} for i, names in enumerate(defines)]
    return _File([_entry_key(s) for s in stmts], defines, refers, used_by, [ast.dump(s) for s in stmts])


def _statements(source: str) -> list[ast.stmt]:
    """Top-level statements with every docstring removed (comments and layout are not in a tree)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree.body


def _entry_key(s: ast.stmt) -> str | None:
    """The name a registered entry files itself under, or None for any other statement."""
    if isinstance(s, ast.ClassDef) and any(isinstance(d, ast.Name) and d.id == "register" for d in s.decorator_list):
        for item in s.body:
            if (isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "name" for t in item.targets)
                    and isinstance(item.value, ast.Constant)):
                return str(item.value.value)
    if (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Call)
            and isinstance(s.value.func.func, ast.Name) and s.value.func.func.id == "register"
            and s.value.func.args and isinstance(s.value.func.args[0], ast.Constant)):
        return str(s.value.func.args[0].value)
    return None


def _defined(s: ast.stmt) -> set[str]:
    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {s.name}
    if isinstance(s, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in s.names}
    if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _referred(s: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(s) if isinstance(n, ast.Name)}


def _imports_itself(s: ast.stmt, rel: str) -> bool:
    """``from sae.models.autoencoders import ...`` (or ``from .autoencoders import ...``) inside that file."""
    if not isinstance(s, ast.ImportFrom) or not s.module:
        return False
    here = rel[:-3].replace("/", ".")                       # models/autoencoders.py -> models.autoencoders
    if s.level == 0:
        return s.module == f"sae.{here}"
    return s.level == 1 and f"{here.rsplit('.', 1)[0]}.{s.module}" == here
