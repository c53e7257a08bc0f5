"""Every third-party module the product imports comes with a plain install (`pip install .`,
which the README's first command does), not only with the test tools: the distribution that
provides it must be one of `[project] dependencies` or one of theirs. `google.rpc` once came
only through the OpenTelemetry exporter, a test tool, and the API did not start on a fresh
machine. Imports guarded by `except ImportError` are optional and left out."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "guetteur"


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _runtime_closure() -> set[str]:
    """The project's runtime dependencies and theirs, extras left out (normalised names)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [_name(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_name(r) for r in requires if "extra ==" not in r and "extra==" not in r)
    return seen


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a `try` whose handlers catch ImportError (or ModuleNotFoundError)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                names = ast.unparse(handler.type) if handler.type is not None else ""
                if "ImportError" in names or "ModuleNotFoundError" in names:
                    return True
    return False


def _imported_modules() -> dict[str, Path]:
    """Absolute third-party modules imported by the product -> one file importing it."""
    found: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "guetteur" or top in sys.stdlib_module_names or _optional(node, parents):
                    continue
                found.setdefault(name, path)
    return found


def _files_of_distributions() -> dict[Path, str]:
    """Every installed file -> its distribution (normalised name)."""
    owner: dict[Path, str] = {}
    for dist in metadata.distributions():
        for file in dist.files or ():
            if file.suffix in (".py", ".so", ".pyd"):
                owner[Path(str(dist.locate_file(file))).resolve()] = _name(dist.metadata["Name"])
    return owner


def _distribution_of(module: str, owner: dict[Path, str]) -> str | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return owner.get(Path(spec.origin).resolve())


def test_every_imported_module_comes_with_a_plain_install() -> None:
    closure = _runtime_closure()
    modules = _imported_modules()
    assert "fastapi" in modules and "google.rpc.status_pb2" in modules  # the walk sees real imports
    owner = _files_of_distributions()
    missing = {}
    for module, where in sorted(modules.items()):
        dist = _distribution_of(module, owner)
        assert dist is not None, f"{module} (imported in {where.relative_to(ROOT)}) is not installed"
        if dist not in closure:
            missing[module] = (dist, str(where.relative_to(ROOT)))
    assert not missing, f"provided only by test tools or not declared (module: distribution, importer): {missing}"
