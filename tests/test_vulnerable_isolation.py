"""Nothing hardened imports ``helpers.vulnerable``: the broken apps are reached only from notebooks and tests."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"
HARDENED = sorted(p for p in HELPERS.rglob("*.py") if "vulnerable" not in p.relative_to(HELPERS).parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """Every module an ``import`` anywhere in ``path`` names (in functions too), relative ones made absolute,
    plus every string passed to ``importlib.import_module`` or ``__import__``."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # from helpers import vulnerable
        elif isinstance(node, ast.Call) and any(
            isinstance(node.func, kind) and getattr(node.func, attr, None) in ("import_module", "__import__")
            for kind, attr in ((ast.Attribute, "attr"), (ast.Name, "id"))
        ):
            names.update(arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return names


def test_the_walk_sees_every_hardened_module_and_resolves_relative_imports():
    assert len(HARDENED) > 30 and HELPERS / "web.py" in HARDENED
    assert {"helpers.web_common", "helpers.tokens"} <= imported_names(HELPERS / "web.py")
    assert "helpers.web_common" in imported_names(HELPERS / "vulnerable" / "cookies.py")


def test_no_hardened_module_imports_the_vulnerable_package():
    offenders = {
        module_name(path): sorted(name for name in imported_names(path) if name.startswith("helpers.vulnerable"))
        for path in HARDENED
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_importing_every_hardened_module_leaves_the_vulnerable_package_unloaded():
    modules = [module_name(path) for path in HARDENED]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('helpers'))))"
    )
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(output.stdout))
    assert set(modules) <= loaded
    assert not {name for name in loaded if name.startswith("helpers.vulnerable")}
