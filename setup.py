"""Build hook: compiles the hot, typed modules with mypyc, or keeps pure Python.

`pip install -e .` and `pip install .` run this file. The modules listed in
`src/guetteur/compiled.py` (`COMPILED_MODULES`) are compiled to C extension modules with
mypyc (pinned in pyproject.toml's [build-system]); editable installs build them in place
next to their sources. The build falls back to pure Python, with one message saying why,
when GUETTEUR_PURE_PYTHON=1 is set, when mypyc cannot be imported, when no C compiler or
no Python headers are found, or when compiling fails. Either way it writes
`guetteur/compiled_build.json`, which says what it did (see `guetteur.compiled`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
PURE_ENV = "GUETTEUR_PURE_PYTHON"
RECORD_NAME = "compiled_build.json"


def compiled_module_names(src: Path = SRC) -> list[str]:
    """`COMPILED_MODULES` read from src/guetteur/compiled.py without importing Guetteur."""
    tree = ast.parse((src / "guetteur" / "compiled.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMPILED_MODULES":
            assert node.value is not None
            return list(ast.literal_eval(node.value))
    raise SystemExit("src/guetteur/compiled.py: COMPILED_MODULES not found")


def source_of(module: str, src: Path = SRC) -> Path:
    return src.joinpath(*module.split(".")).with_suffix(".py")


def say(message: str) -> None:
    # pip shows a build's stderr only with -v or on failure; the record file keeps it too
    print(f"guetteur build: {message}", file=sys.stderr)


def write_record(package_dir: Path, compiled: bool, reason: str, modules: list[str], src: Path = SRC) -> None:
    record: dict[str, Any] = {"compiled": compiled, "reason": reason}
    if compiled:
        record["modules"] = {m: hashlib.sha256(source_of(m, src).read_bytes()).hexdigest() for m in modules}
    package_dir.mkdir(parents=True, exist_ok=True)
    (package_dir / RECORD_NAME).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def remove_inplace_builds(modules: list[str], src: Path = SRC) -> None:
    """Extension modules left in src/ by an earlier compiled build would shadow the sources."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    for module in modules:
        source_of(module, src).with_suffix("").with_suffix(suffix).unlink(missing_ok=True)
    for shared in src.glob(f"*__mypyc{suffix}"):
        shared.unlink()


def compiler_missing() -> str | None:
    """Why no extension module can be built here, or None when a C compiler and Python.h work."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text("#include <Python.h>\nint guetteur_probe(void) { return 0; }\n")
        try:
            compiler.compile([str(probe)], output_dir=tmp, include_dirs=[sysconfig.get_paths()["include"]])
        except Exception as error:  # CompileError, or the compiler executable is missing
            return f"no working C compiler or Python headers ({str(error).strip()[:200]})"
    return None


def pure_reason() -> str | None:
    """Why this build stays pure Python, or None to compile."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return f"{PURE_ENV} is set"
    try:
        import mypyc.build  # noqa: F401
    except ImportError as error:
        return f"mypyc is not available ({error})"
    return compiler_missing()


def mypyc_extensions(modules: list[str]) -> list[Extension]:
    from mypyc.build import mypycify

    # mypy's own configuration in pyproject.toml loads the pydantic plugin, which the
    # isolated build environment does not have: compile with a configuration of our own,
    # which reports errors in the compiled modules only (`ruff`/`mypy` check the rest).
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as config:
        config.write("[mypy]\nignore_missing_imports = True\nfollow_imports = silent\n")
    cwd = os.getcwd()
    os.chdir(ROOT)  # mypycify writes its C files under build/ and names modules from src/
    try:
        paths = [str(source_of(m).relative_to(ROOT)) for m in modules]
        return list(mypycify([f"--config-file={config.name}", *paths], group_name="guetteur"))
    finally:
        os.chdir(cwd)
        os.unlink(config.name)


class OptionalBuildExt(build_ext):
    """build_ext that falls back to pure Python when compiling fails."""

    src = SRC

    def run(self) -> None:
        modules = compiled_module_names(self.src)
        inplace = bool(self.inplace)  # type: ignore[has-type]  # setuptools' run() clears it while building, and a failure leaves it so
        package_dir = self.src / "guetteur" if inplace else Path(self.build_lib) / "guetteur"
        try:
            super().run()
        except Exception as error:  # CompileError, LinkError, DistutilsExecError, OSError
            for ext in self.extensions:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            self.inplace = inplace
            if inplace:
                remove_inplace_builds(modules, self.src)
            reason = f"compiling failed ({str(error).strip()[:200]}): pure Python"
            say(reason)
            write_record(package_dir, False, reason, modules, self.src)
            return
        write_record(package_dir, True, "compiled with mypyc", modules, self.src)


BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}


def ext_modules(argv: list[str], src: Path = SRC) -> list[Extension]:
    """The extension modules to build; none for metadata steps (pip runs this file for each)."""
    if not BUILD_COMMANDS.intersection(argv[1:]):
        return []
    modules = compiled_module_names(src)
    reason = pure_reason()
    if reason is None:
        try:
            return mypyc_extensions(modules)
        except (Exception, SystemExit) as error:  # mypyc exits on a type error
            reason = f"mypyc failed ({str(error).strip()[:200]})"
    say(f"{reason}: installing pure Python (same behaviour, slower parsing)")
    remove_inplace_builds(modules, src)
    write_record(src / "guetteur", False, reason, modules, src)
    return []


if __name__ == "__main__":
    setup(ext_modules=ext_modules(sys.argv), cmdclass={"build_ext": OptionalBuildExt})
