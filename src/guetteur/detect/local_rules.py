"""Rules managed through the API and the console: `LocalRules`.

Everything lives in one folder (`detect.managed_dir`, by default `data_dir/rules`):

    local/<id>.yml       rules written by an admin (new rules, and override copies of built-in
                         ones). This folder is the last of the effective rule folders, so a
                         rule here replaces one with the same id from the built-in pack or
                         `detect.rules_dirs` (the later rule wins, `rules._finish`).
    proposals/<id>.yml   rules an analyst proposed; never loaded; an admin accepts (moved to
                         `local/`) or rejects (deleted) them.
    switches.json        `{"rule id": false|true}`: rules an admin turned off or back on. It
                         overrides `detect.disabled_rules`; every worker, the correlation stage
                         and the statistical detectors read it when they reload (their
                         `RuleWatcher` watches it with the rule files).

Every write is atomic (temporary file, fsync, rename, fsync of the folder), so a worker never
reads half a rule and a crash leaves the old file or the new one. A rule id names its file:
only ids made of letters, digits, `.`, `_` and `-` are accepted (no path can be built from
one), which covers Sigma's UUIDs and rule names.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import orjson

RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SWITCHES_FILE = "switches.json"
MAX_SWITCHES_BYTES = 4_194_304


def valid_rule_id(rule_id: str) -> bool:
    """Whether `rule_id` may name a file of ours (`RULE_ID`, not `.`-only)."""
    return bool(RULE_ID.match(rule_id)) and ".." not in rule_id


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: temporary file in the same folder, fsync, rename, fsync folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def read_switches(path: Path | None) -> dict[str, bool]:
    """The operator's switches (rule id -> enabled); empty when the file is absent or unreadable."""
    if path is None:
        return {}
    try:
        if path.stat().st_size > MAX_SWITCHES_BYTES:
            return {}
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): bool(v) for k, v in data.items() if isinstance(v, bool)}


def disabled_rules(configured: Iterable[str], switches_path: Path | None) -> set[str]:
    """Rule ids (or names) not to run: `detect.disabled_rules`, minus those an admin turned back
    on, plus those an admin turned off."""
    switches = read_switches(switches_path)
    off = {r for r in configured if switches.get(r) is not True}
    off.update(r for r, enabled in switches.items() if not enabled)
    return off


class LocalRules:
    """The managed rules folder (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.local_dir = root / "local"
        self.proposals_dir = root / "proposals"
        self.switches_path = root / SWITCHES_FILE
        self._switching = threading.Lock()  # switch() reads, changes and writes the whole file

    def _file(self, folder: Path, rule_id: str) -> Path:
        if not valid_rule_id(rule_id):
            raise ValueError(f"rule id {rule_id[:80]!r}: letters, digits, '.', '_' and '-' only (128 at most)")
        return folder / f"{rule_id}.yml"

    # -- local rules ------------------------------------------------------------------------

    def local_file(self, rule_id: str) -> Path:
        return self._file(self.local_dir, rule_id)

    def local_text(self, rule_id: str) -> str | None:
        try:
            return self.local_file(rule_id).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None

    def save(self, rule_id: str, text: str) -> Path:
        """Write (or replace) the local rule file of `rule_id`; the hot reload picks it up."""
        path = self.local_file(rule_id)
        write_atomically(path, text.encode("utf-8"))
        return path

    def delete(self, rule_id: str) -> bool:
        """Remove the local rule file of `rule_id`; False when there is none."""
        try:
            self.local_file(rule_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def local_ids(self) -> list[str]:
        if not self.local_dir.is_dir():
            return []
        return sorted(p.stem for p in self.local_dir.glob("*.yml") if valid_rule_id(p.stem))

    # -- proposals --------------------------------------------------------------------------

    def propose(self, rule_id: str, text: str) -> Path:
        path = self._file(self.proposals_dir, rule_id)
        write_atomically(path, text.encode("utf-8"))
        return path

    def proposal_text(self, rule_id: str) -> str | None:
        try:
            return self._file(self.proposals_dir, rule_id).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None

    def drop_proposal(self, rule_id: str) -> bool:
        try:
            self._file(self.proposals_dir, rule_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def proposal_files(self) -> list[Path]:
        if not self.proposals_dir.is_dir():
            return []
        return sorted(p for p in self.proposals_dir.glob("*.yml") if valid_rule_id(p.stem))

    # -- switches ---------------------------------------------------------------------------

    def switches(self) -> dict[str, bool]:
        return read_switches(self.switches_path)

    def switch(self, rule_id: str, enabled: bool) -> None:
        """Record that `rule_id` is on or off (read by every process at its next reload)."""
        with self._switching:
            switches = self.switches()
            switches[rule_id] = enabled
            write_atomically(self.switches_path, orjson.dumps(switches, option=orjson.OPT_SORT_KEYS))
