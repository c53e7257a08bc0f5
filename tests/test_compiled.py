"""The mypyc build: compiled modules are the ones running when the build says so, and the
build falls back to pure Python (removing stale extension modules) when it cannot compile."""

from __future__ import annotations

import importlib.util
import json
import os
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest
from setuptools import Distribution, Extension

from guetteur.compiled import (
    COMPILED_MODULES,
    build_record,
    compiled_modules,
    is_compiled,
    source_digest,
    source_path,
)

ROOT = Path(__file__).resolve().parents[1]
EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")


def load_setup() -> ModuleType:
    """The repository's setup.py as a module (its `setup()` call runs only as a script)."""
    spec = importlib.util.spec_from_file_location("guetteur_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_tree(tmp_path: Path) -> Path:
    """A src/ folder holding compiled.py and a stale extension module next to every source."""
    src = tmp_path / "src"
    (src / "guetteur").mkdir(parents=True)
    (src / "guetteur" / "compiled.py").write_text((ROOT / "src/guetteur/compiled.py").read_text())
    for module in COMPILED_MODULES:
        source = source_path(module, src)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
        source.with_suffix(EXT_SUFFIX).write_bytes(b"stale")
    (src / f"guetteur__mypyc{EXT_SUFFIX}").write_bytes(b"stale")
    return src


def test_compiled_modules_run_when_the_build_compiled_them() -> None:
    """What the build record says is what runs: every module it compiled is loaded from its
    extension module, built from the source now on disk (a stale one would shadow edits);
    a pure build runs every module from source. CI (GUETTEUR_REQUIRE_COMPILED=1) requires
    the compiled build."""
    record = build_record()
    if os.environ.get("GUETTEUR_REQUIRE_COMPILED") == "1":
        assert record["compiled"], f"the build did not compile: {record['reason']}"
    if not record["compiled"]:
        assert compiled_modules() == []
        return
    assert sorted(record["modules"]) == sorted(COMPILED_MODULES)
    root = Path(importlib.util.find_spec("guetteur").origin).parents[1]  # type: ignore[arg-type, union-attr]
    for module, digest in record["modules"].items():
        assert is_compiled(module), f"{module} runs from source although the build compiled it"
        assert source_digest(source_path(module, root)) == digest, (
            f"{module}: the source changed since the build; run ./scripts/setup.sh again")


def test_pure_python_setting_skips_compilation_and_removes_stale_modules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = load_setup()
    src = fake_tree(tmp_path)
    monkeypatch.setenv("GUETTEUR_PURE_PYTHON", "1")
    assert setup.ext_modules(["setup.py", "editable_wheel"], src) == []
    assert list(src.rglob(f"*{EXT_SUFFIX}")) == []
    record = json.loads((src / "guetteur" / "compiled_build.json").read_text())
    assert record == {"compiled": False, "reason": "GUETTEUR_PURE_PYTHON is set"}


def test_missing_c_compiler_falls_back_to_pure_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = load_setup()
    src = fake_tree(tmp_path)
    monkeypatch.delenv("GUETTEUR_PURE_PYTHON", raising=False)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert setup.ext_modules(["setup.py", "bdist_wheel"], src) == []
    record = json.loads((src / "guetteur" / "compiled_build.json").read_text())
    assert not record["compiled"] and record["reason"].startswith("no working C compiler")
    assert list(src.rglob(f"*{EXT_SUFFIX}")) == []


def test_metadata_steps_neither_compile_nor_touch_the_tree(tmp_path: Path) -> None:
    """pip runs setup.py for metadata too: only build commands compile."""
    setup = load_setup()
    src = fake_tree(tmp_path)
    assert setup.ext_modules(["setup.py", "egg_info"], src) == []
    assert len(list(src.rglob(f"*{EXT_SUFFIX}"))) == len(COMPILED_MODULES) + 1
    assert not (src / "guetteur" / "compiled_build.json").exists()


def test_failed_compilation_installs_pure_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A C compiler that rejects the generated code does not fail the install: the build
    goes on without extension modules and records why."""
    setup = load_setup()
    src = fake_tree(tmp_path)
    broken = tmp_path / "broken.c"
    broken.write_text("this is not C\n")
    monkeypatch.chdir(tmp_path)
    dist = Distribution({"name": "guetteur", "package_dir": {"": "src"}, "packages": ["guetteur"],
                         "ext_modules": [Extension("guetteur.broken", [str(broken)])]})

    class BuildExt(setup.OptionalBuildExt):  # type: ignore[misc, name-defined]
        pass

    BuildExt.src = src
    command = BuildExt(dist)
    command.build_temp = str(tmp_path / "build")
    command.ensure_finalized()
    command.inplace = True  # what an editable install does
    command.run()
    assert list(src.rglob(f"*{EXT_SUFFIX}")) == []
    record = json.loads((src / "guetteur" / "compiled_build.json").read_text())
    assert not record["compiled"] and record["reason"].startswith("compiling failed")
