"""The *code version*: which code trained a run, as 10 hex digits.

It hashes the source files that decide a run's numbers (:data:`CODE_PARTS`: the solver, the
models, the engine but for the store, the profile table and this file). The store names run
folders with it and :func:`sae.engine.train.train` records it in every run's provenance, so both
always agree with the code that actually ran.

What is hashed is each file's syntax tree without its docstrings, so that editing documentation,
comments or layout does not make every stored run stale; any change to what the code does does.
(The tree's printed form can change between Python versions: a run is then trained anew.)
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
# What decides a run's numbers: the solver, the models, and the engine but for the store itself,
# the profile table (a profile's sizes reach the run through its config, which is hashed anyway)
# and this file.
CODE_PARTS = ("ot", "models", "engine")
NOT_CODE = ("engine/store.py", "engine/profiles.py", "engine/version.py")


def code_version(package: Path | None = None) -> str:
    """10 hex digits of SHA-256 over the training and evaluation source files (path and code)."""
    package = Path(package) if package is not None else PACKAGE
    h = hashlib.sha256()
    for part in CODE_PARTS:
        for f in sorted((package / part).rglob("*.py")):
            rel = f.relative_to(package).as_posix()
            if rel not in NOT_CODE:
                h.update(rel.encode() + b"\0" + _code(f.read_text()).encode() + b"\0")
    return h.hexdigest()[:10]


def _code(source: str) -> str:
    """The source's syntax tree with every docstring removed, printed (comments and layout are
    not part of a tree)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@functools.lru_cache(maxsize=1)
def current_version() -> str:
    """The code version of the package this process imported (computed once)."""
    return code_version()
