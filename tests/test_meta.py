"""Whole-project checks: every module imports, public surfaces are exactly __all__, layering holds."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import models
import properties
import sandbox
import verifiers

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [sandbox, properties, verifiers, models]
MODULES = sorted(
    info.name
    for package in PACKAGES
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports_and_declares_all(name):
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), (list, tuple)), f"{name} has no __all__"
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ lists {public} which does not exist"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_package_all_is_exactly_the_public_surface(package):
    init = ast.parse(Path(package.__file__).read_text())
    exported = set(package.__all__)
    for name in exported:
        assert getattr(package, name) is not None
    defined = {
        alias.asname or alias.name
        for node in init.body if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package.__name__)
        for alias in node.names
    }
    if package is not sandbox:  # sandbox resolves its names lazily
        assert defined == exported


# properties imports nothing of the project; verifiers only properties; nothing imports sandbox back.
ALLOWED = {"properties": set(), "verifiers": {"properties"}, "models": set(),
           "sandbox": {"properties", "verifiers", "models"}}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package):
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in ALLOWED and top != package:
                    assert top in ALLOWED[package], f"{path.relative_to(ROOT)} imports {name}"


def test_registered_verifiers_keep_the_contract():
    """Conformance: never raises, returns Evidence, same input gives the same level."""
    from properties import Kind, Obligation
    from verifiers import Context, Evidence

    context = Context(before={"x.py": "def f(:"}, after={"x.py": "\x00garbage"})
    for name in verifiers.available():
        verifier = verifiers.get(name)
        assert verifier is not None and verifier.name == name
        for kind in Kind:
            obligation = Obligation("x.f", kind, "x.py", "conformance", (name,), "def f(:", "]]]")
            first = verifier.check(obligation, context)
            assert isinstance(first, Evidence) and first.verifier == name
            assert verifier.check(obligation, context).level is first.level
