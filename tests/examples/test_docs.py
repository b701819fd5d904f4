"""The Python the docs show imports public names only, and every name it imports exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _imports(page: Path):
    for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        try:
            tree = ast.parse(block)
        except SyntaxError:  # a signature in the generated reference: its import lines only
            tree = ast.parse("\n".join(ln for ln in block.splitlines() if ln.startswith(("from ", "import "))))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                yield node.module, [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                yield from ((a.name, []) for a in node.names)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_doc_imports_are_public_and_exist(page):
    for module, names in _imports(page):
        if not module.startswith("hwsim"):
            continue
        assert not any(part.startswith("_") for part in module.split(".")), f"{page.name}: imports {module}"
        if module == "hwsim.torch":
            pytest.importorskip("torch")
        mod = importlib.import_module(module)
        for name in names:
            assert not name.startswith("_") and hasattr(mod, name), f"{page.name}: from {module} import {name}"
