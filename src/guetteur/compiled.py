"""Which modules the build compiled with mypyc, and whether the running process uses them.

`COMPILED_MODULES` is the one list: `setup.py` reads it (without importing Guetteur) to
compile these modules, and the tests check that each is loaded from its extension module
when the build says it compiled them. The build records what it did in `compiled_build.json`
next to this file: compiled or not, why not, and the SHA-256 of each source it compiled, so
a compiled module older than its source (it would shadow the edited `.py`) is caught.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

# Hot, fully typed, per-event modules only (see docs/performance.md, "Compiled modules").
COMPILED_MODULES: tuple[str, ...] = (
    "guetteur.ecs",
    "guetteur.parse.__init__",
    "guetteur.parse.address",
    "guetteur.parse.community_id",
    "guetteur.parse.json_lines",
    "guetteur.parse.linux_auth",
    "guetteur.parse.netfilter",
    "guetteur.parse.postgresql",
    "guetteur.parse.python_logging",
    "guetteur.parse.severity",
    "guetteur.parse.syslog",
    "guetteur.parse.timefmt",
    "guetteur.parse.web_access",
    "guetteur.parse.zeek",
    "guetteur.pipeline.projection",
    "guetteur.pipeline.transfer",
    # The main process's per-record path: TCP framing and the correlation engine's thread.
    "guetteur.collect.framing",
    "guetteur.detect.clocks",
    "guetteur.detect.correlation",
    "guetteur.detect.windows",
    "guetteur.stats.batch",
    "guetteur.store.encoding",
    "guetteur.store.ids",
    "guetteur.detect.engine",
    "guetteur.detect.logsource",
    "guetteur.detect.prefilter",
    "guetteur.detect.view",
)

BUILD_RECORD = Path(__file__).with_name("compiled_build.json")


def import_name(module: str) -> str:
    """`guetteur.parse.__init__` is imported as `guetteur.parse`."""
    return module.removesuffix(".__init__")


def source_path(module: str, root: Path) -> Path:
    """The `.py` file of `module` under `root` (the folder holding the `guetteur` package)."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_record() -> dict[str, Any]:
    """What the last build did; `{"compiled": False, "reason": ...}` when it left no record."""
    try:
        record: dict[str, Any] = json.loads(BUILD_RECORD.read_text())
    except (OSError, ValueError):
        return {"compiled": False, "reason": "no build record (source checkout without a build)"}
    return record


def is_compiled(module: str) -> bool:
    """True when `module` runs from an extension module rather than its Python source."""
    file = getattr(importlib.import_module(import_name(module)), "__file__", None) or ""
    return not file.endswith((".py", ".pyc"))


def compiled_modules() -> list[str]:
    """The modules of `COMPILED_MODULES` that this process runs compiled."""
    return [module for module in COMPILED_MODULES if is_compiled(module)]


def describe() -> str:
    """One line for people installing: compiled or pure Python, and why."""
    record = build_record()
    if record["compiled"]:
        running = compiled_modules()
        return f"guetteur: {len(running)} of {len(COMPILED_MODULES)} hot modules compiled with mypyc"
    return f"guetteur: pure Python ({record['reason']}); parsing takes about 1.5x the CPU"


if __name__ == "__main__":
    print(describe())
