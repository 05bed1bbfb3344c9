"""The map of ``helpers`` (its package docstring, and README's table) names every module, and only modules."""

from __future__ import annotations

import re
from pathlib import Path

import helpers

ROOT = Path(__file__).resolve().parent.parent
MODULES = {
    ".".join(path.relative_to(ROOT / "helpers").with_suffix("").parts)
    for path in (ROOT / "helpers").rglob("*.py")
    if path.name != "__init__.py"
}


def test_the_package_docstring_maps_every_module_once():
    assert helpers.__doc__ is not None
    rows = re.findall(r"^    ([a-z_.]+)\s{2,}\S", helpers.__doc__, flags=re.MULTILINE)
    assert sorted(rows) == sorted(set(rows)), "a module is mapped twice"
    assert set(rows) == MODULES


def test_the_readme_table_names_every_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| `helpers/`, by role |") :].split("\n\n", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", table))
    assert {module.rpartition(".")[2] for module in MODULES} <= named
